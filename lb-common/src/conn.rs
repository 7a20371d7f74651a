//! The connection table: a flow's 5-tuple -> its connection (real server, state, a `nat` reply's
//! VIP).

#[cfg(doc)]
use crate::map_name;

/// Default capacity of the connection table (an LRU hash); `lbd` may override it at load.
pub const DEFAULT_MAX_CONNS: u32 = 1_048_576;
/// A connection (flow) as the director sees it: the key of [`map_name::CONNS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Client address, network byte order. IPv4 uses `[0]`.
    pub src: [u32; 4],
    /// VIP, network byte order. IPv4 uses `[0]`.
    pub dst: [u32; 4],
    /// Network byte order.
    pub sport: u16,
    /// Network byte order.
    pub dport: u16,
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<FlowKey>() == 40);
/// A tracked connection: the value of [`map_name::CONNS`]. Inserted by `lb` on a new flow;
/// read by `lb` for every later packet of the flow; read (and, later, expired) by lbd.
///
/// A `nat` connection has two entries: the client's direction, and the real server's reply
/// direction (key: real server -> client, flag [`CONN_F_REPLY`]), whose `vaddr`/`vport` say
/// what to rewrite the reply's source back to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conn {
    /// Real-server id the flow is bound to.
    pub real: u32,
    /// Service id, so lbd can account connections without a reverse lookup.
    pub service: u32,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when a packet of the flow was last seen, to a
    /// second: `lb` rewrites it at most once a second per flow. lbd expires entries by it.
    pub last_seen_ns: u64,
    /// `CONN_F_*`.
    pub flags: u16,
    /// The VIP's port, network byte order (reply entries).
    pub vport: u16,
    /// `CONN_S_*`: the connection's state as the director sees it (forward entries).
    pub state: u32,
    /// The VIP, network byte order, IPv4 in `[0]` (reply entries).
    pub vaddr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<Conn>() == 40);
/// [`Conn::flags`]: this entry is the reply direction of a `nat` connection.
pub const CONN_F_REPLY: u16 = 1 << 0;
/// [`Conn::flags`], with [`CONN_F_REPLY`]: the reply direction of a one-packet service's
/// datagrams, which have no forward entry: lbd expires it by the UDP timeout alone.
pub const CONN_F_ONE_PACKET: u16 = 1 << 1;
/// [`Conn::state`], from the client's packets (all the director sees with `tun` and `dr`):
/// a TCP connection that has sent SYN but no ACK yet (IPVS's SYN_RECV).
pub const CONN_S_SYN: u32 = 1;
/// TCP, an ACK seen after the handshake: what IPVS counts as an active connection.
pub const CONN_S_ESTABLISHED: u32 = 2;
/// TCP, FIN or RST seen: closing.
pub const CONN_S_CLOSING: u32 = 3;
/// UDP (no states; counted as inactive, as IPVS does).
pub const CONN_S_UDP: u32 = 4;
/// How often `lb` refreshes [`Conn::last_seen_ns`] of a busy flow.
pub const CONN_TOUCH_NS: u64 = 1_000_000_000;
