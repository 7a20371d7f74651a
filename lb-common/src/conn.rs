//! The connection table: a flow's 5-tuple -> its connection (real server, state, last packet).
//!
//! Two tables per family, IPVS's connections split by how far the director trusts them:
//! - the **confirmed** tables ([`map_name::CONNS`] for IPv4, keyed by the 16-byte
//!   [`ConnKey4`]; [`map_name::CONNS6`] for IPv6, keyed by the [`FlowKey`]), hash maps without
//!   LRU: an entry leaves only when lbd removes it (idle past its timeout, its real server
//!   removed or drained), never because another flow came;
//! - the **unconfirmed** table ([`map_name::CONNS_NEW`]), a small array of [`NewConn`] slots
//!   in buckets of [`NEW_CONN_WAYS`], where a flow's first packet is recorded; its second
//!   packet from the client promotes it into the confirmed table. A flood of first packets
//!   only churns this array (the oldest slot of a bucket goes first).
//!
//! A `nat` connection has a second entry for its replies (key: real server -> client, flag
//! [`CONN_F_REPLY`]); the VIP and port to restore come from its real server's entry
//! ([`crate::RealServer::vaddr`]), so the entry holds no address.

#[cfg(doc)]
use crate::map_name;
use crate::{FAMILY_V6, hash};

/// Default capacity of the IPv4 confirmed table; `lbd` may give another at load
/// (`conn_table_size`).
pub const DEFAULT_MAX_CONNS: u32 = 1_048_576;
/// Default capacity of the IPv6 confirmed table (`conn_table_size_v6`).
pub const DEFAULT_MAX_CONNS6: u32 = DEFAULT_MAX_CONNS / 4;

/// A flow as `lb` parses it (both families), and the key of [`map_name::CONNS6`].
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

impl FlowKey {
    /// Rewrites the key in place (the BPF side's scratch keys and slots): addresses `src`,
    /// `dst`, ports `(sport, dport)`, protocol and family `like`'s, padding zero.
    #[inline(always)]
    pub fn set(&mut self, src: &[u32; 4], dst: &[u32; 4], (sport, dport): (u16, u16), like: &Self) {
        let mut i = 0;
        while i < 4 {
            self.src[i] = src[i];
            self.dst[i] = dst[i];
            i += 1;
        }
        self.sport = sport;
        self.dport = dport;
        // proto, family and padding as one word: byte stores of zeros may become a memset
        // call on the BPF target.
        // SAFETY: `proto` starts a 4-aligned 4-byte run (proto, family, _pad) of FlowKey.
        unsafe {
            core::ptr::write_volatile(
                core::ptr::addr_of_mut!(self.proto) as *mut u32,
                like.proto as u32 | (like.family as u32) << 8,
            )
        };
    }
}

/// An IPv4 flow: the key of [`map_name::CONNS`] (16 bytes; the kernel hashes and compares
/// fewer words than for a [`FlowKey`]).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnKey4 {
    /// Network byte order.
    pub src: u32,
    /// Network byte order.
    pub dst: u32,
    /// Network byte order.
    pub sport: u16,
    /// Network byte order.
    pub dport: u16,
    pub proto: u8,
    pub _pad: [u8; 3],
}
const _: () = assert!(core::mem::size_of::<ConnKey4>() == 16);

impl ConnKey4 {
    /// The IPv4 key of `flow`.
    #[inline(always)]
    pub fn of(flow: &FlowKey) -> Self {
        ConnKey4 {
            src: flow.src[0],
            dst: flow.dst[0],
            sport: flow.sport,
            dport: flow.dport,
            proto: flow.proto,
            _pad: [0; 3],
        }
    }

    /// The flow of this key.
    pub fn flow(&self) -> FlowKey {
        FlowKey {
            src: [self.src, 0, 0, 0],
            dst: [self.dst, 0, 0, 0],
            sport: self.sport,
            dport: self.dport,
            proto: self.proto,
            family: crate::FAMILY_V4,
            _pad: [0; 2],
        }
    }
}

/// A confirmed connection: the value of [`map_name::CONNS`] and [`map_name::CONNS6`] (16
/// bytes). Inserted by `lb` when a flow's second packet promotes it (or, for a `nat` reply
/// entry, with it); updated in place by `lb` on every packet that changes its state and at
/// most once per [`CONN_TOUCH`] otherwise; removed by lbd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conn {
    /// Real-server id the flow is bound to (its service is the real server's).
    pub real: u32,
    /// When a packet of the flow was last seen, in [`conn_time`] units.
    pub last_seen: u32,
    /// `CONN_S_*`: the connection's IPVS state (forward entries; see [`crate::proto_tcp`]).
    pub state: u8,
    /// `CONN_F_*`.
    pub flags: u8,
    pub _pad: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<Conn>() == 16);

/// A slot of the unconfirmed table [`map_name::CONNS_NEW`] (56 bytes): a flow's first packet,
/// or a `nat` connection's reply direction until the connection is confirmed. Written by `lb`
/// in place (its own slot array, no lock): `check` last, so that a reader on another CPU can
/// tell a slot being rewritten ([`NewConn::sealed`]); cleared by `lb` when it promotes the
/// flow and by lbd when it expires it (an atomic store of 0 into `check`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewConn {
    pub flow: FlowKey,
    /// Real-server id.
    pub real: u32,
    /// [`conn_time`] units.
    pub last_seen: u32,
    /// `CONN_S_*`.
    pub state: u8,
    /// `CONN_F_*`.
    pub flags: u8,
    pub _pad: u16,
    /// 0: empty. Otherwise [`NewConn::seal`] of the other fields, so a slot half rewritten
    /// by another CPU does not match.
    pub check: u32,
}
const _: () = assert!(core::mem::size_of::<NewConn>() == 56);

impl NewConn {
    /// The check word of the slot's fields (never 0).
    #[inline(always)]
    pub fn seal(&self) -> u32 {
        Self::seal_of(
            &self.flow,
            self.flags,
            self.real,
            self.last_seen,
            self.state,
        )
    }

    /// The check word a slot holding these fields has ([`NewConn::seal`]), computed from the
    /// values about to be written: the writer can then compute it alongside its check of
    /// the slot's old entry (two independent chains of multiplications, which the CPU runs
    /// side by side), not after it.
    #[inline(always)]
    pub fn seal_of(f: &FlowKey, flags: u8, real: u32, last_seen: u32, state: u8) -> u32 {
        #[inline(always)]
        fn m(h: u32, w: u32) -> u32 {
            (h ^ w).wrapping_mul(0x9e37_79b1).rotate_left(13)
        }
        let mut h = hash::FLOW_HASH_SEED ^ 0x5eed;
        h = m(h, f.src[0]);
        h = m(h, f.src[1]);
        h = m(h, f.src[2]);
        h = m(h, f.src[3]);
        h = m(h, f.dst[0]);
        h = m(h, f.dst[1]);
        h = m(h, f.dst[2]);
        h = m(h, f.dst[3]);
        h = m(h, (f.sport as u32) | ((f.dport as u32) << 16));
        h = m(
            h,
            (f.proto as u32) | ((f.family as u32) << 8) | ((flags as u32) << 16),
        );
        h = m(h, real);
        h = m(h, last_seen);
        h = m(h, state as u32);
        hash::fmix(h) | 1
    }

    /// Whether the slot holds an entry whose fields are all of one write.
    #[inline(always)]
    pub fn sealed(&self) -> bool {
        self.check != 0 && self.check == self.seal()
    }
}

/// Capacity of the unconfirmed table: [`NEW_CONN_BUCKETS`] buckets of [`NEW_CONN_WAYS`] slots.
pub const NEW_CONN_SLOTS: u32 = NEW_CONN_BUCKETS * NEW_CONN_WAYS;
/// Buckets of the unconfirmed table (a power of two).
pub const NEW_CONN_BUCKETS: u32 = 16_384;
/// Slots per bucket: a first packet takes a free slot of its flow's bucket, else the oldest.
pub const NEW_CONN_WAYS: u32 = 4;

/// The bucket of `flow` in the unconfirmed table (both sides compute it: `lb` to find and
/// record, lbd to find a slot it removes).
#[inline(always)]
pub fn new_conn_bucket(flow: &FlowKey) -> u32 {
    let mut x = flow.src[0] ^ flow.dst[0].rotate_left(7);
    if flow.family == FAMILY_V6 {
        x ^= flow.src[1] ^ flow.src[2] ^ flow.src[3];
        x ^= (flow.dst[1] ^ flow.dst[2] ^ flow.dst[3]).rotate_left(7);
    }
    x ^= ((flow.sport as u32) << 16 | flow.dport as u32).rotate_left(19) ^ flow.proto as u32;
    hash::fmix(x) & (NEW_CONN_BUCKETS - 1)
}

/// [`Conn::flags`]: this entry is the reply direction of a `nat` connection.
pub const CONN_F_REPLY: u8 = 1 << 0;
/// [`Conn::flags`], with [`CONN_F_REPLY`]: the reply direction of a one-packet service's
/// datagrams, which have no forward entry: lbd expires it by the UDP timeout alone.
pub const CONN_F_ONE_PACKET: u8 = 1 << 1;
/// [`Conn::flags`] of a forward entry: lbd inserted it from another director's sync message
/// (IPVS's `IP_VS_CONN_F_SYNC`). `lb` forwards it like any other; lbd leaves it out of the real
/// server's active / inactive counts (the director that scheduled it counts it) and never sends
/// it back out. The first packet `lb` forwards by it clears the flag and counts the connection:
/// this director carries it from then on.
pub const CONN_F_SYNCED: u8 = 1 << 2;
/// [`Conn::flags`] of a forward entry: the connection's replies do not pass the director
/// (its real server is `dr` or `tun`; IPVS's `IP_VS_CONN_F_NOOUTPUT`), so its client's
/// packets move it by IPVS's input-only table ([`crate::TCP_DIR_INPUT_ONLY`]).
pub const CONN_F_NOOUTPUT: u8 = 1 << 3;
/// [`Conn::flags`] of a confirmed `nat` reply entry: its connection is in a state a real
/// server's plain ACK moves (IPVS's output table: NONE, SYN_RECV, LISTEN, SYNACK; see
/// [`crate::reply_ack_moves`]), so `lb` looks the connection up for such replies too (for
/// any other, only for a reply with SYN, FIN or RST). Kept by `lb` as the connection's state
/// changes.
pub const CONN_F_WATCH_ACK: u8 = 1 << 4;
/// The destination a client used for a `nat` connection of a firewall-mark service: the
/// value of [`map_name::NAT_DESTS`], keyed by the connection's reply direction (real server
/// -> client, a [`FlowKey`]). A firewall-mark service has no one VIP (any address the
/// classifier marks is its), so its real servers' entries ([`crate::REAL_F_NAT_DEST`]) hold
/// none: the address a reply's source becomes is kept per connection here (the port is the
/// real server's, which keeps the client's destination port). Inserted by `lb` with the
/// connection's first packet (before its reply slot), or by lbd with a synced connection;
/// read by `lb` for every reply and ICMP error of such a connection; removed by lbd once the
/// connection's reply entry is gone (its expiry pass, [`NAT_DEST_GRACE`] after `since`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatDest {
    /// Network byte order. IPv4 uses `[0]`.
    pub addr: [u32; 4],
    /// When it was inserted, in [`conn_time`] units.
    pub since: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<NatDest>() == 24);

/// How long lbd leaves a [`NatDest`] without a reply entry (`lb` inserts it just before the
/// connection's reply slot, and a flood may take the slot): 5 s in [`conn_time`] units.
pub const NAT_DEST_GRACE: u32 = (5_000_000_000u64 >> CONN_TIME_SHIFT) as u32;

/// Not stored: marks, in lbd's listings, a connection that is still in the unconfirmed table.
pub const CONN_F_UNCONFIRMED: u8 = 1 << 7;

/// Connection times: CLOCK_MONOTONIC nanoseconds >> [`CONN_TIME_SHIFT`] (16.8 ms units) in 32
/// bits, which wrap after 2.2 years; ages are taken with wrapping arithmetic, so they are
/// right up to 1.1 years (an entry idle that long without lbd running may look young again).
pub const CONN_TIME_SHIFT: u32 = 24;
/// [`conn_time`] of a CLOCK_MONOTONIC time in nanoseconds.
#[inline(always)]
pub fn conn_time(ns: u64) -> u32 {
    (ns >> CONN_TIME_SHIFT) as u32
}
/// How often `lb` refreshes [`Conn::last_seen`] of a busy flow, in [`conn_time`] units (about
/// a second).
pub const CONN_TOUCH: u32 = (1_000_000_000u64 >> CONN_TIME_SHIFT) as u32;
/// The time lbd's timeouts are compared with, for an entry stamped `t` (in [`conn_time`]
/// units), at CLOCK_MONOTONIC `now_ns`: its idle time in nanoseconds, wrapping as `lb`'s stamps
/// do (at most the true idle time). A stamp later than `now_ns` (lbd read its clock, then `lb`
/// stamped the entry while lbd was walking the table) is idle 0, not 2.2 years: the difference
/// is taken as signed, so ages are right up to 1.1 years (see [`CONN_TIME_SHIFT`]).
pub fn idle_ns(now_ns: u64, t: u32) -> u64 {
    let age = conn_time(now_ns).wrapping_sub(t) as i32;
    (age.max(1) as u64 - 1) << CONN_TIME_SHIFT
}

/// An entry's age at `now` (both in [`conn_time`] units) for `lb`'s comparisons: a stamp
/// another CPU made after `now` was read is age 0, not the oldest there is.
#[inline(always)]
pub fn conn_age(now: u32, t: u32) -> u32 {
    (now.wrapping_sub(t) as i32).max(0) as u32
}

/// Entries of the confirmed tables: the value of [`map_name::CONN_COUNT`] (index 0: IPv4,
/// 1: IPv6), an mmapable array kept atomically: `lb` adds one for each entry it inserts, lbd
/// takes one off for each it removes. lbd's status and metrics read it instead of walking the
/// tables.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnCount {
    pub entries: i64,
}
const _: () = assert!(core::mem::size_of::<ConnCount>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: u64 = 1 << CONN_TIME_SHIFT;

    #[test]
    fn idle_time_of_past_and_future_stamps() {
        let now = 1_000_000 * TICK + 5;
        let t = conn_time(now);
        // Stamped in the tick lbd reads, or the one before: less than a tick idle, taken as 0.
        assert_eq!(idle_ns(now, t), 0);
        assert_eq!(idle_ns(now, t - 1), 0);
        assert_eq!(idle_ns(now, t - 11), 10 * TICK);
        // Stamped by `lb` after lbd read its clock (the walk takes longer than a tick): idle
        // 0, never a wrapped-around 2.2 years that would expire a connection just seen.
        assert_eq!(idle_ns(now, t + 1), 0);
        assert_eq!(idle_ns(now, t + 1000), 0);
        // Across the wrap of the 32-bit stamps.
        let wrapped = (u32::MAX as u64 + 3) * TICK;
        assert_eq!(idle_ns(wrapped, u32::MAX - 8), 10 * TICK);
        assert_eq!(idle_ns(wrapped, conn_time(wrapped).wrapping_add(2)), 0);
    }

    #[test]
    fn age_of_future_stamps_is_zero() {
        assert_eq!(conn_age(100, 40), 60);
        assert_eq!(conn_age(100, 101), 0);
        assert_eq!(conn_age(3, u32::MAX), 4);
        assert_eq!(conn_age(u32::MAX, 2), 0);
    }
}
