//! Fragments: where the later fragments of a datagram go (the real server its first fragment went
//! to).

#[cfg(doc)]
use crate::map_name;

/// The key of [`map_name::FRAGS`]: one fragmented datagram (RFC 791 / RFC 8200 4.5: source,
/// destination, protocol and identification).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Network byte order. IPv4 uses `[0]`.
    pub src: [u32; 4],
    /// Network byte order. IPv4 uses `[0]`.
    pub dst: [u32; 4],
    /// The IP identification as it lies in the packet (IPv4: 16 bits, in the low half).
    pub id: u32,
    /// The transport protocol (IPv6: the fragment header's next header).
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<FragKey>() == 40);
/// Where the later fragments of a datagram go (value of [`map_name::FRAGS`]): written by `lb`
/// when it forwards a first fragment, read by `lb` for the later ones. Entries older than
/// [`FRAG_TIMEOUT_NS`] are ignored; the LRU map drops the oldest when full.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragEntry {
    /// Real-server id.
    pub real: u32,
    pub service: u32,
    /// [`FRAG_F_REPLY`]: a `nat` real server's reply, to be given `vaddr` as its source.
    pub flags: u32,
    pub _pad: u32,
    /// `bpf_ktime_get_ns` when the first fragment passed.
    pub created_ns: u64,
    /// The VIP (network byte order), for [`FRAG_F_REPLY`] entries.
    pub vaddr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<FragEntry>() == 40);
pub const FRAG_F_REPLY: u32 = 1 << 0;
/// How long the later fragments of a datagram are matched to its first: Linux's IPv4
/// reassembly timeout (`ipfrag_time`).
pub const FRAG_TIMEOUT_NS: u64 = 30_000_000_000;
/// Capacity of the fragment table.
pub const FRAG_TABLE_SIZE: u32 = 16_384;
