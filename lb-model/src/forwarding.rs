//! IPVS's forwarding methods (ipvsadm `-i`, `-g`, `-m`) and the tunnel types and checksum
//! modes of `tun` (`--tun-type`, `--tun-nocsum`, `--tun-csum`, `--tun-remcsum`), with their
//! kernel codes.

use lb_common::{FWD_DR, FWD_NAT, FWD_TUN};

use crate::names::{Named, named_impls};

/// How a packet reaches its real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forwarding {
    /// `tun` (ipvsadm `-i`): an outer IP header (IPIP, GUE or GRE).
    Tun,
    /// `dr` (ipvsadm `-g`, its default): direct routing, the destination MAC rewritten.
    Dr,
    /// `nat` (ipvsadm `-m`): masquerading, destination address and port rewritten.
    Nat,
}

impl Named for Forwarding {
    const KIND: &'static str = "forwarding method";
    const ALL: &'static [Self] = &[Self::Tun, Self::Dr, Self::Nat];
    fn name(self) -> &'static str {
        match self {
            Self::Tun => "tun",
            Self::Dr => "dr",
            Self::Nat => "nat",
        }
    }
}
named_impls!(Forwarding);

impl Default for Forwarding {
    /// ipvsadm's default (`-g`).
    fn default() -> Self {
        Self::Dr
    }
}

impl Forwarding {
    /// The `FWD_*` code.
    pub fn code(self) -> u8 {
        match self {
            Self::Tun => FWD_TUN,
            Self::Dr => FWD_DR,
            Self::Nat => FWD_NAT,
        }
    }

    /// The method of a `FWD_*` code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.code() == code)
    }

    /// Only `nat` rewrites the destination port; `tun` and `dr` forward the packet unchanged.
    pub fn may_change_port(self) -> bool {
        self == Self::Nat
    }

    /// Only `tun` may reach a real server of the other address family.
    pub fn crosses_families(self) -> bool {
        self == Self::Tun
    }
}

/// The encapsulation of a `tun` real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunType {
    /// IPIP, IPv6-in-IPv6, or across families, by the real server's address (the default).
    Ipip,
    /// UDP to the real server's `tun_port`, then GUE.
    Gue,
    /// GRE (RFC 2784).
    Gre,
}

impl Named for TunType {
    const KIND: &'static str = "tunnel type";
    const ALL: &'static [Self] = &[Self::Ipip, Self::Gue, Self::Gre];
    fn name(self) -> &'static str {
        match self {
            Self::Ipip => "ipip",
            Self::Gue => "gue",
            Self::Gre => "gre",
        }
    }
}
named_impls!(TunType);

impl TunType {
    /// The checksum modes this tunnel type has.
    pub fn csum_modes(self) -> &'static [TunCsum] {
        match self {
            Self::Ipip => &[],
            Self::Gue => &[TunCsum::Nocsum, TunCsum::Csum, TunCsum::Remcsum],
            Self::Gre => &[TunCsum::Nocsum, TunCsum::Csum],
        }
    }
}

/// The checksum mode of a GUE or GRE tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunCsum {
    /// No checksum (GUE's UDP checksum 0, GRE without its optional checksum): the default.
    Nocsum,
    /// A checksum.
    Csum,
    /// GUE's remote checksum offload.
    Remcsum,
}

impl Named for TunCsum {
    const KIND: &'static str = "checksum mode";
    const ALL: &'static [Self] = &[Self::Nocsum, Self::Csum, Self::Remcsum];
    fn name(self) -> &'static str {
        match self {
            Self::Nocsum => "nocsum",
            Self::Csum => "csum",
            Self::Remcsum => "remcsum",
        }
    }
}
named_impls!(TunCsum);

impl TunCsum {
    /// What lb sends: only `nocsum` is implemented.
    pub fn is_implemented(self) -> bool {
        self == Self::Nocsum
    }
}
