//! Real servers: the value of `lb_reals` (address, forwarding method), their live connection
//! counts, thresholds and overload state, and the cached next hop toward each.

use crate::FAMILY_V6;
#[cfg(doc)]
use crate::{FAMILY_V4, map_name};

/// Real servers are counted per service (as ipvsadm lists them): one id per (service, real
/// server) pair, so per-service real-server counters need no second key.
pub const MAX_REALS: u32 = 131_072;
/// Forwarding methods (ipvsadm `-i`, `-g`, `-m`).
pub const FWD_TUN: u8 = 1;
pub const FWD_DR: u8 = 2;
pub const FWD_NAT: u8 = 3;
/// A real server of one service: the value of [`map_name::REALS`], indexed by real-server id.
/// Written by lbd before any table refers to the id; never rewritten while referenced (a
/// changed real server gets a new id), so readers never see a half-written entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealServer {
    /// Network byte order. IPv4 uses `addr[0]`.
    pub addr: [u32; 4],
    /// Network byte order; the destination port for `nat` (0 keeps the client's destination
    /// port: the service's, or any port of a port-0 service).
    pub port: u16,
    /// [`FAMILY_V4`] or [`FAMILY_V6`]; 0 marks an unused id.
    pub family: u8,
    /// `FWD_*`.
    pub method: u8,
    /// `REAL_F_*`.
    pub flags: u16,
    /// `tun` only: 0 for IP-in-IP; otherwise GUE (ipvsadm `--tun-type gue`) to this UDP
    /// destination port, network byte order.
    pub tun_port: u16,
    /// The service this real server belongs to: the service a connection to it is counted
    /// in; a restarted lbd also rebuilds its bookkeeping from the maps with it.
    pub service: u32,
    /// The service's port, network byte order: what a `nat` reply's source port becomes (0,
    /// a port-0 service's or an FTP service's: the reply keeps its port).
    pub vport: u16,
    /// A `nat` real server of an FTP service: the control port (network byte order), whose
    /// packets `lb` hands to lbd's FTP helper; `port` and `vport` are then 0, so that the
    /// data connections keep their ports. 0: no FTP.
    pub ftp_port: u16,
    /// The service's VIP, network byte order (IPv4 in `[0]`): what a `nat` reply's source
    /// address becomes.
    pub vaddr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<RealServer>() == 48);
/// [`RealServer::flags`]: removed from its service (its connections still drain to it, but
/// persistence templates no longer send new ones). Set by lbd.
pub const REAL_F_REMOVED: u16 = 1 << 0;
/// A `tun` real server reached through GRE (ipvsadm `--tun-type gre`, RFC 2784) rather than
/// IP-in-IP.
pub const REAL_F_GRE: u16 = 1 << 1;
/// A `nat` real server of a firewall-mark service: its `vaddr` is none, and each connection's
/// destination is in [`map_name::NAT_DESTS`] ([`crate::NatDest`]), where replies take their
/// source from.
pub const REAL_F_NAT_DEST: u16 = 1 << 2;
/// Active and inactive connection counts of one real server, as IPVS defines them (active:
/// established TCP; inactive: everything else). The value of the mmapable array
/// [`map_name::REAL_CONNS`], indexed by real-server id: `lb` adds and subtracts atomically as
/// connections start and change state; lbd subtracts what it expires and corrects the drift
/// left by entries the LRU evicted (also atomically, through the mapping). The count-driven
/// schedulers read it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealConns {
    pub active: i64,
    pub inactive: i64,
}
const _: () = assert!(core::mem::size_of::<RealConns>() == 16);
/// A cached next hop toward one real server: the value of the per-CPU array
/// [`map_name::NH_CACHE`], indexed by real-server id. Written and read by `lb` only: filled
/// from `bpf_fib_lookup` and trusted for [`NH_CACHE_TTL_NS`], so the FIB (about 70 ns a
/// lookup here) is consulted about once a second per real server and CPU, not per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: u32,
    pub smac: [u8; 6],
    pub dmac: [u8; 6],
    /// `bpf_ktime_get_ns` after which the entry must be looked up again; 0 = empty.
    pub expires_ns: u64,
    /// 1 when the destination itself is the next hop (on-link, no gateway): what `dr` needs.
    pub onlink: u8,
    pub _pad: u8,
    /// The path MTU toward the destination as the FIB reports it (`bpf_fib_lookup`'s
    /// `mtu_result`: the route's MTU, else the egress link's); 0 when it reported none.
    /// Tunnels are sized by it.
    pub mtu: u16,
    pub _pad2: [u8; 4],
    /// The source address the kernel's route toward a `tun` real server gives (its preferred
    /// source, `BPF_FIB_LOOKUP_SRC`) when the config names no `director` address of the
    /// family, network byte order, IPv4 in `[0]`: the tunnel's outer source. Otherwise the
    /// source the lookup was made with (the config's address, or zero).
    pub src: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<NextHop>() == 48);
/// A `dr` packet dropped for want of its real server's neighbour entry (`drop_fib_no_neigh`):
/// the record `lb` writes into the ring buffer [`map_name::NEIGH_MISS`] so that lbd has the
/// kernel resolve that real server at once (the packet itself is lost: the kernel cannot
/// forward a frame addressed to the VIP, one of its own addresses).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighMiss {
    /// The real server's address, network byte order, IPv4 in `[0]`.
    pub addr: [u32; 4],
    /// Its id.
    pub real: u32,
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
    pub _pad: [u8; 3],
}
const _: () = assert!(core::mem::size_of::<NeighMiss>() == 24);
/// How long `lb` trusts a cached next hop. A real server's MAC or route change is picked up
/// within this time.
pub const NH_CACHE_TTL_NS: u64 = 1_000_000_000;
/// A cached next hop toward a client: the value of the per-CPU array
/// [`map_name::CLIENT_NH`], in the slot [`client_nh_slot`] gives the client's address.
/// Written and read by `lb` only: a `nat` real server's reply goes to its client by it for
/// [`NH_CACHE_TTL_NS`] instead of a `bpf_fib_lookup` a packet (about 70 ns here). A slot
/// holds one lookup's input (client, source, ingress interface) and result; another client
/// of the same slot replaces it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientHop {
    /// The client's address (the lookup's destination), network order, IPv4 in `[0]` (the
    /// other words then unused).
    pub dst: [u32; 4],
    /// The VIP the reply leaves with (the lookup's source), as `dst`.
    pub src: [u32; 4],
    /// The interface the reply came in on (the lookup's input interface).
    pub ifindex: u32,
    /// [`FAMILY_V4`] or [`FAMILY_V6`]; 0: empty.
    pub family: u8,
    pub _pad: [u8; 3],
    pub nh: NextHop,
}
const _: () = assert!(core::mem::size_of::<ClientHop>() == 88);
/// Slots of [`map_name::CLIENT_NH`] (a power of two), per CPU.
pub const CLIENT_NH_SLOTS: u32 = 256;
/// The slot of [`map_name::CLIENT_NH`] a client address of `family` takes (network order,
/// IPv4 in `[0]`, whose other words are not read): a multiplicative hash of its words.
#[inline(always)]
pub const fn client_nh_slot(family: u8, dst: &[u32; 4]) -> u32 {
    let x = if family == FAMILY_V6 {
        dst[0] ^ dst[1].rotate_left(8) ^ dst[2].rotate_left(16) ^ dst[3].rotate_left(24)
    } else {
        dst[0]
    };
    x.wrapping_mul(0x9e37_79b1) >> (32 - CLIENT_NH_SLOTS.trailing_zeros())
}
/// Connection thresholds of one real server (ipvsadm `-x`, `-y`) and its overload state, as
/// IPVS keeps them (`IP_VS_DEST_F_OVERLOAD`): the value of [`map_name::REAL_LIMITS`], indexed
/// by real-server id. lbd writes the thresholds; `lb` sets `overloaded` when a new connection
/// brings the real server's active + inactive connections to `upper` (IPVS's
/// `ip_vs_bind_dest`), and lbd clears it when its expiry takes them below `lower`, or below
/// three quarters of `upper` when `lower` is 0 (IPVS's `ip_vs_unbind_dest`). An overloaded real
/// server gets no new connection from any scheduler.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealLimits {
    /// 0: no upper threshold.
    pub upper: u32,
    /// 0: three quarters of `upper`.
    pub lower: u32,
    /// Non-zero while overloaded.
    pub overloaded: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<RealLimits>() == 16);
impl RealLimits {
    /// IPVS's rule for clearing the overload flag (`ip_vs_unbind_dest`): below the lower
    /// threshold, or below three quarters of the upper one when there is no lower.
    pub const fn may_clear(&self, total: u64) -> bool {
        if self.lower != 0 {
            total < self.lower as u64
        } else if self.upper != 0 {
            total * 4 < self.upper as u64 * 3
        } else {
            true
        }
    }
}
