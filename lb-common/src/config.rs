//! Settings lbd gives the programs: the director's (`lb_config`) and the real-server side's
//! (`lb_decap_cfg`).

#[cfg(doc)]
use crate::{TraceFilter, map_name};

/// [`GlobalConfig::flags`]: skip the connection table entirely (no lookup, no insert), so
/// that every packet is scheduled as a new flow. Only `cargo xtask bench` sets it, to measure
/// the new-flow path with `BPF_PROG_TEST_RUN` repeats.
pub const CFG_F_NO_CONN_TABLE: u32 = 1 << 0;
/// [`GlobalConfig::flags`]: some real server uses `nat`, so an ICMP error about no VIP's
/// connection may be a `nat` real server's about a client's packet (`lb_icmp` looks its reply
/// entry up). Set by lbd. (Other packets need no flag: the connection table is looked up
/// first, and the address filter decides which packets get that far.)
pub const CFG_F_NAT: u32 = 1 << 1;
/// [`GlobalConfig::flags`]: `lbctl trace` is running: `lb` reports its decisions for the
/// packets [`TraceFilter`] selects into [`map_name::TRACE`]. Set and cleared by lbd.
pub const CFG_F_TRACE: u32 = 1 << 2;
/// [`GlobalConfig::flags`]: IPVS's `sloppy_tcp`: a TCP packet other than a SYN of a flow lb
/// does not hold is scheduled as a new connection by every scheduler (without it, only by the
/// hash schedulers `sh`, `dh`, `mh`, whose choice is the same on every director; the others
/// drop it). Set by lbd from the config.
pub const CFG_F_SLOPPY_TCP: u32 = 1 << 3;
/// [`GlobalConfig::flags`]: IPVS's `conn_reuse_mode` (non-zero): a SYN of a connection in
/// TIME_WAIT or CLOSE ends it and starts a new connection, scheduled and counted anew. Set by
/// lbd from the config.
pub const CFG_F_CONN_REUSE: u32 = 1 << 4;
/// Some service has an FTP helper (`ftp`): a new flow that no service takes may be a data
/// connection the helper expects ([`crate::map_name::FTP_EXPECT`]).
pub const CFG_F_FTP: u32 = 1 << 5;
/// [`GlobalConfig::flags`], with [`CFG_F_CONN_REUSE`]: `conn_reuse_mode`'s bit 2 (value 2):
/// also a SYN of a `dr` / `tun` connection in FIN_WAIT, the last state the director sees of
/// those. Set by lbd from the config.
pub const CFG_F_CONN_REUSE_FIN_WAIT: u32 = 1 << 6;
/// [`GlobalConfig::flags`]: IPVS's `sloppy_sctp`: an SCTP packet whose first chunk is no INIT,
/// of an association lb does not hold, is scheduled as a new association by every scheduler
/// (an ABORT never is). Set by lbd from the config.
pub const CFG_F_SLOPPY_SCTP: u32 = 1 << 7;
/// [`GlobalConfig::flags`]: firewall marks are configured: a new flow is classified
/// ([`crate::map_name::MARKS`]) before its VIP's service is looked up, and a marked one goes to
/// its firewall-mark service (IPVS looks a marked packet's fwmark service up first). Set by
/// lbd when some mark has a service; without it, no packet pays for the classifier.
pub const CFG_F_MARKS: u32 = 1 << 8;
/// [`GlobalConfig::flags`], with [`CFG_F_MARKS`]: some mark's destination prefix is wider than
/// the address filter is given address by address (more than
/// [`crate::MARK_FILTER_MAX_ADDRS`] addresses): every packet that is not a VIP's goes on to the
/// connection table and the classifier. Set by lbd.
pub const CFG_F_MARKS_WIDE: u32 = 1 << 9;
/// lbd's sync sender runs (`--start-daemon master`): `lb` reports each connection it
/// confirms, moves to another state or takes over from another director in `lb_sync_events`,
/// so that the sender reads those entries instead of the whole table.
pub const CFG_F_SYNC_EVENTS: u32 = 1 << 10;
/// Director-wide settings: the single entry of [`map_name::CONFIG`]. Written by lbd at start
/// and on config change; read by `lb` per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalConfig {
    /// The director's IPv4 address, network byte order: the outer source of IPIP packets.
    pub src4: u32,
    /// `CFG_F_*`.
    pub flags: u32,
    /// The director's IPv6 address, network byte order (for IPv6 tunnels).
    pub src6: [u32; 4],
    /// MTU of the director's interface: an encapsulated packet longer than this is not sent.
    /// 0 means unknown (no check).
    pub mtu: u32,
    /// IPVS's `lblcr_expiration` in seconds: an `lblcr` server set unchanged this long loses
    /// its most loaded member on its next use (lbd removes mappings idle this long).
    pub lblcr_expiration_s: u32,
    /// Flood mode: above this many new connections on one CPU within one window of
    /// 2^[`FLOOD_WINDOW_SHIFT`] ns, new connections of hash-scheduled services are forwarded
    /// by the hash and recorded nowhere (Katran's flood mode); 0: never. lbd computes it from
    /// the config's `flood_rate` (new connections per second per CPU).
    pub flood_window_max: u32,
    pub _pad: u32,
}
/// Flood mode's window: 2^27 ns (about 134 ms).
pub const FLOOD_WINDOW_SHIFT: u32 = 27;
/// [`GlobalConfig::flood_window_max`] for a rate of new connections per second (0: off).
pub const fn flood_window_max(rate_per_sec: u32) -> u32 {
    if rate_per_sec == 0 {
        0
    } else {
        let w = (rate_per_sec as u64 * (1u64 << FLOOD_WINDOW_SHIFT)) / 1_000_000_000;
        if w == 0 { 1 } else { w as u32 }
    }
}
const _: () = assert!(core::mem::size_of::<GlobalConfig>() == 40);
/// The default of [`GlobalConfig::flood_rate`] (Katran's default connection rate limit per
/// CPU before it bypasses its LRU).
pub const DEFAULT_FLOOD_RATE: u32 = 125_000;
/// The decapsulating program's settings (value of the one-entry array
/// [`map_name::DECAP_CONFIG`]): written by `lbd decap`, read by `decap`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecapConfig {
    /// UDP destination port of GUE encapsulation (network byte order); 0: GUE is not
    /// decapsulated.
    pub gue_port: u16,
    pub _pad: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<DecapConfig>() == 8);
