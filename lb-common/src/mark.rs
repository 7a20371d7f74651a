//! Firewall-mark services (ipvsadm `-f`): lb's own classifier, which plays the role of a
//! netfilter mark at XDP. lbd compiles the config's `marks` into [`map_name::MARKS`], an LPM
//! trie keyed by destination prefix whose value lists, in config order, the rules that can
//! match an address under that prefix (the prefix's own and those of every shorter prefix that
//! contains it), so that the longest prefix found holds every candidate and the first rule in
//! the config's order that matches wins, as with iptables. A marked packet's service is the
//! entry of [`map_name::SERVICES`] under [`fwmark_key`].

#[cfg(doc)]
use crate::{CFG_F_MARKS, map_name};
use crate::{FAMILY_V6, VipKey};

/// [`VipKey::proto`] of a firewall-mark service's entry in the services map (IP protocol 0 is
/// never a service's: lbd writes TCP, UDP, SCTP and the ICMP markers only).
pub const PROTO_FWMARK: u8 = 0;
/// Rules one destination prefix holds (its own and those of the prefixes containing it).
pub const MARK_RULES_MAX: usize = 16;
/// A mark destination prefix of at most this many addresses has each address's bit set in
/// the address filter; a wider one sets [`crate::CFG_F_MARKS_WIDE`].
pub const MARK_FILTER_MAX_ADDRS: u32 = 256;
/// Destination prefixes the classifier holds.
pub const MAX_MARK_PREFIXES: u32 = 1024;

/// The services map's key of the firewall-mark service `mark` of a family: the mark in
/// `addr[0]` (native byte order), port 0, protocol [`PROTO_FWMARK`].
#[inline(always)]
pub const fn fwmark_key(mark: u32, family: u8) -> VipKey {
    VipKey {
        addr: [mark, 0, 0, 0],
        port: 0,
        proto: PROTO_FWMARK,
        family,
    }
}

/// The data of [`map_name::MARKS`]'s key (an LPM trie's key is a 32-bit prefix length, the
/// number of bits of this data that matter, then the data): the family word's 32 bits first,
/// then the destination prefix's ([`mark_prefix_len`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MarkAddr {
    /// `FAMILY_V4` or `FAMILY_V6` as a word (so that the families never share a prefix).
    pub family: u32,
    /// Destination address, network byte order, masked to the prefix; IPv4 in `addr[0]`.
    pub addr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<MarkAddr>() == 20);

/// The LPM trie's prefix length of a destination prefix of `len` bits.
#[inline(always)]
pub const fn mark_prefix_len(len: u8) -> u32 {
    32 + len as u32
}

/// The trie's prefix length of one address of a family (what the data plane looks up).
#[inline(always)]
pub const fn mark_full_len(family: u8) -> u32 {
    mark_prefix_len(if family == FAMILY_V6 { 128 } else { 32 })
}

/// One rule of the classifier: protocol, destination port range, source prefix -> mark.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MarkRule {
    /// The mark a matching packet gets (never 0).
    pub mark: u32,
    /// IP protocol number; 0: any.
    pub proto: u8,
    /// Source prefix length; 0: any source.
    pub src_len: u8,
    pub _pad: u16,
    /// Destination port range, host byte order, inclusive; 0..=65535: any port.
    pub port_lo: u16,
    pub port_hi: u16,
    /// Source prefix, network byte order, already masked; IPv4 in `[0]`.
    pub src: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<MarkRule>() == 28);

/// The value of [`map_name::MARKS`]: the rules of one destination prefix, in config order.
/// Written by lbd (one update replaces the whole value, atomically to readers); read by `lb`
/// for a new flow while [`CFG_F_MARKS`] is set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkRules {
    /// Rules in use (the first `count` of `rules`).
    pub count: u32,
    pub rules: [MarkRule; MARK_RULES_MAX],
}
const _: () = assert!(core::mem::size_of::<MarkRules>() == 4 + 28 * MARK_RULES_MAX);
