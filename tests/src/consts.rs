//! The tests' constants, once: XDP actions, the addresses of the test world, MACs and ports.
//!
//! Addresses are from 198.18.0.0/15 (RFC 2544's benchmarking range) and 2001:2::/48
//! (RFC 5180's); they exist only inside the network namespaces the tests create.
//!
//! ```text
//!   198.18.0.0/24   the director's link: DIRECTOR .2, CLIENT .10, real servers .11.., LOCAL_CLIENT .77
//!   198.18.1.100    VIP                        2001:2:0:1::100   VIP6
//!   198.18.5.7      REMOTE_CLIENT (routed)     2001:2:0:5::7     REMOTE_CLIENT6
//!   198.18.9.1      ROUTER (sends ICMP errors) 2001:2:0:9::1     ROUTER6
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---- XDP actions (enum xdp_action, include/uapi/linux/bpf.h) ----

pub const XDP_ABORTED: u32 = 0;
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;

// ---- the director ----

/// The director's address on its link (the outer source of IPv4 tunnels).
pub const DIRECTOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The director's IPv6 address.
pub const DIRECTOR6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

// ---- services ----

/// The virtual address of the tests' services.
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
/// The IPv6 virtual address.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
/// The port of the live topology's services.
pub const VIP_PORT: u16 = 80;
/// The UDP port of GUE tunnels (live `Method::Gue`, `lbd decap --gue-port`).
pub const GUE_PORT: u16 = 6080;
/// The port `nat` real servers of the live topology listen on (the director rewrites
/// [`VIP_PORT`] to it).
pub const NAT_PORT: u16 = 8080;

// ---- clients ----

/// The live topology's client, on the director's link.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x10);
/// A client behind a router (its replies go through the default route).
pub const REMOTE_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 7);
pub const REMOTE_CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, 7);
/// A client on the director's link, with a neighbour entry (the packet tests' `nat` client:
/// the director sends its replies straight to its MAC).
pub const LOCAL_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);
pub const LOCAL_CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x77);
/// The MAC frames from clients carry.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0, 0x01];

// ---- real servers and routers ----

/// Real server `i`'s address on the director's link: 198.18.0.(11 + i).
pub const fn real_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 11 + i as u8)
}

/// Real server `i`'s IPv6 address: 2001:2::(11 + i) (hex).
pub const fn real_addr6(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x11 + i as u16)
}

/// The first three real servers, the packet tests' usual set.
pub const REALS: [Ipv4Addr; 3] = [real_addr(0), real_addr(1), real_addr(2)];

/// A router on the director's link, toward [`REMOTE_REAL`]'s network.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
/// A real server behind [`GATEWAY`] (not on the director's link).
pub const REMOTE_REAL: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 5);
/// A router on the way that reports errors (ICMP) about a flow.
pub const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);
pub const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 9, 0, 0, 0, 1);

/// The MAC the packet harness gives neighbour `addr` in its neighbour table (02:aa + the
/// IPv4 address, 02:bb + the IPv6 address's last 4 bytes).
pub fn real_mac(addr: impl Into<IpAddr>) -> [u8; 6] {
    match addr.into() {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0xaa, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0xbb, o[12], o[13], o[14], o[15]]
        }
    }
}
