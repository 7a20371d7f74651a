//! Stage `conn`: the connection table, as IPVS's connections. A known flow keeps its real
//! server and follows IPVS's TCP or SCTP states (`lb_common::proto_tcp`, `proto_sctp`) by
//! the packets the director sees: the client's, and for `nat` the real server's replies too;
//! a new one is scheduled and recorded; the real servers' active / inactive counts follow the
//! entries, as IPVS keeps them.
//!
//! Admission, so that new-flow pressure never takes a confirmed connection's place: a flow's
//! first packet is recorded in the unconfirmed table (`unconfirmed.rs`, a slot array a flood
//! only churns); its second packet from the client (an ACK, for TCP; a chunk other than
//! INIT, for SCTP; any datagram, for UDP) confirms it into the connection table (`table.rs`,
//! hash maps without LRU: nothing but lbd removes their entries). Above a rate of new
//! connections, the hash schedulers' new flows are recorded nowhere (`flood.rs`). The counts
//! live in `counts.rs`; what lbd's sync sender is told of, in `changed.rs`.

mod changed;
mod counts;
mod flood;
pub mod table;

pub use flood::stateless;
mod unconfirmed;

use lb_common::{
    CFG_F_CONN_REUSE, CFG_F_CONN_REUSE_FIN_WAIT, CFG_F_NO_CONN_TABLE, CFG_F_SLOPPY_SCTP,
    CFG_F_SLOPPY_TCP, CONN_F_NOOUTPUT, CONN_F_ONE_PACKET, CONN_F_REPLY, CONN_F_SYNCED,
    CONN_F_WATCH_ACK, CONN_S_CLOSE, CONN_S_FIN_WAIT, CONN_S_NONE, CONN_S_SCTP_CLOSED,
    CONN_S_TIME_WAIT, CONN_S_UDP, CONN_TOUCH, Conn, FWD_NAT, FlowKey, GlobalConfig, NatDest,
    PROTO_SCTP, PROTO_TCP, REAL_F_NAT_DEST, RealServer, SCTP_CID_ABORT, SCTP_CID_INIT,
    SCTP_EV_DATA, SVC_F_ONE_PACKET, Service, TCP_DIR_INPUT, TCP_DIR_INPUT_ONLY, TCP_DIR_OUTPUT,
    reason, reply_ack_moves, sctp_next_state, tcp_next_state,
};

use crate::{
    count::count,
    headers::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN},
    lookup::{nat_source, real_server},
    maps::{NAT_DESTS, scratch},
    parse::Packet,
    persist, sched,
    verdict::Verdict,
};

/// What the tables know of a packet's flow.
pub enum Known {
    /// Nothing (or a closing connection that a SYN has just ended): a new flow.
    Nothing,
    /// A connection of the client: its real server.
    Flow(u32),
    /// A `nat` connection's reply from its real server: that real server.
    Reply(u32),
}

/// Stage `conn`, first half: the packet's flow in the connection table, then in the
/// unconfirmed table. A confirmed connection follows its state; an unconfirmed one is
/// confirmed by its client's second packet; a `nat` reply moves its connection's state by
/// IPVS's output table. A SYN of a connection in TIME_WAIT or CLOSE ends it (IPVS's
/// `conn_reuse_mode`): the flow is new again.
#[inline(always)]
pub fn find(pkt: &Packet, cfg: &GlobalConfig, now_ns: u64) -> Known {
    let now = lb_common::conn_time(now_ns);
    if cfg.flags & CFG_F_NO_CONN_TABLE != 0 {
        return Known::Nothing;
    }
    if let Some(c) = table::get(&pkt.flow) {
        // SAFETY: a live element of a hash map, read and updated in place; two CPUs rarely see
        // packets of one flow at once (RSS keeps a flow on one queue), and if they do a state
        // change may be counted twice, which lbd's reconciliation corrects.
        let c = unsafe { &mut *c };
        let (real, state, flags) = (c.real, c.state, c.flags);
        if flags & CONN_F_REPLY != 0 {
            replied(pkt, real, now, Some(c));
            return Known::Reply(real);
        }
        if c.flags & CONN_F_SYNCED != 0 {
            // Another director's connection (lbd inserted it from a sync message) whose
            // traffic this director now carries: a failover, or the router moved the flow.
            // It joins this director's counts and is its own from now on: lbd sends it to
            // the others, and no sync message replaces it.
            c.flags &= !CONN_F_SYNCED;
            counts::add(real, state, 1);
            changed::report(&pkt.flow);
        }
        if reuses(pkt, state, flags, cfg) {
            // Read before the removal: the element may be reused at once.
            if table::remove(&pkt.flow) {
                counts::add(real, state, -1);
            }
            count(reason::CONN_REUSED);
            return Known::Nothing;
        }
        count(reason::CONN_HIT);
        follow(c, pkt, now);
        return Known::Flow(real);
    }
    if opens(pkt) && flood::active(cfg, now_ns) {
        // See `flood::active`: `lb_new` looks the unconfirmed table up if the service needs.
        if let Some(s) = scratch() {
            // SAFETY: this CPU's scratch slot, used by nothing else during this run.
            unsafe { (*s).unconfirmed_unread = 1 };
        }
        return Known::Nothing;
    }
    find_unconfirmed(pkt, cfg, now)
}

/// Stage `conn`, the unconfirmed table's part: the flow's first packets. Run by [`find`],
/// or by `lb_new` for a SYN [`find`] left out in flood mode, once its service is known to
/// record its new connections.
#[inline(always)]
pub fn find_unconfirmed(pkt: &Packet, cfg: &GlobalConfig, now: u32) -> Known {
    let Some(s) = unconfirmed::find(&pkt.flow) else {
        return Known::Nothing;
    };
    // SAFETY: a slot `find` returned (sealed, this flow's); copied out before any change.
    let (real, state, flags) = unsafe { ((*s).real, (*s).state, (*s).flags) };
    if flags & CONN_F_REPLY != 0 {
        // The handshake's replies (the slot is confirmed with its connection): every one is
        // looked at.
        replied(pkt, real, now, None);
        return Known::Reply(real);
    }
    if reuses(pkt, state, flags, cfg) {
        // SAFETY: as above.
        unsafe { unconfirmed::clear(s) };
        counts::add(real, state, -1);
        count(reason::CONN_REUSED);
        return Known::Nothing;
    }
    count(reason::CONN_HIT);
    let next = next_state(state, flags, pkt);
    if confirms(pkt) {
        match table::insert(&pkt.flow, real, next, flags & CONN_F_NOOUTPUT, now) {
            Ok(()) => {
                // SAFETY: as above.
                unsafe { unconfirmed::clear(s) };
                counts::moved(real, state, next);
                count(reason::CONN_PROMOTED);
                changed::report(&pkt.flow);
                if let Ok(r) = real_server(real)
                    && r.method == FWD_NAT
                {
                    confirm_reply(&pkt.flow, real, r, next, now);
                }
                return Known::Flow(real);
            }
            Err(table::Refused::Full) => count(reason::CONN_TABLE_FULL),
            Err(table::Refused::Failed) => count(reason::CONN_INSERT_FAILED),
        }
    }
    if next != state || now.wrapping_sub(last_seen(s)) > CONN_TOUCH {
        // SAFETY: as above.
        unsafe { unconfirmed::refresh(s, next, now) };
        counts::moved(real, state, next);
    }
    Known::Flow(real)
}

/// The slot's last-seen time.
#[inline(always)]
fn last_seen(s: *mut lb_common::NewConn) -> u32 {
    // SAFETY: a slot `unconfirmed::find` returned during this run.
    unsafe { (*s).last_seen }
}

/// Whether the client's packet confirms its flow: for TCP, an ACK that is no SYN (the
/// handshake's last packet, or any later one); for SCTP, a packet whose first chunk is no
/// INIT (the COOKIE ECHO, or any later one); for UDP, any second datagram.
#[inline(always)]
fn confirms(pkt: &Packet) -> bool {
    match pkt.flow.proto {
        PROTO_TCP => pkt.tcp_flags & (TCP_ACK | TCP_SYN) == TCP_ACK,
        PROTO_SCTP => pkt.chunk != SCTP_CID_INIT,
        _ => true,
    }
}

/// IPVS's `conn_reuse_mode` (`is_new_conn_expected`): a SYN (no ACK) of a connection in
/// TIME_WAIT or CLOSE is a new connection on the same tuple; with the mode's bit 2, so is one
/// of a `dr` / `tun` connection in FIN_WAIT. An INIT of an SCTP association in CLOSED is a
/// new association.
#[inline(always)]
fn reuses(pkt: &Packet, state: u8, flags: u8, cfg: &GlobalConfig) -> bool {
    if pkt.flow.proto == PROTO_SCTP {
        return cfg.flags & CFG_F_CONN_REUSE != 0
            && pkt.chunk == SCTP_CID_INIT
            && state == CONN_S_SCTP_CLOSED;
    }
    cfg.flags & CFG_F_CONN_REUSE != 0
        && pkt.flow.proto == PROTO_TCP
        && pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
        && (state == CONN_S_TIME_WAIT
            || state == CONN_S_CLOSE
            || (state == CONN_S_FIN_WAIT
                && flags & CONN_F_NOOUTPUT != 0
                && cfg.flags & CFG_F_CONN_REUSE_FIN_WAIT != 0))
}

/// A `nat` real server's reply (its entry found, for real server `real`; `entry`, the entry
/// when it is a confirmed one): moves the client's connection by IPVS's output table. A plain
/// ACK (with data or not) of a confirmed reply entry is looked at only when the entry is marked
/// [`CONN_F_WATCH_ACK`] (the connection is in a state such a packet moves), so that replies'
/// common case costs no second lookup.
#[inline(always)]
fn replied(pkt: &Packet, real: u32, now: u32, entry: Option<&mut Conn>) {
    // IPVS's output table moves no SCTP association on a DATA-class packet but out of NONE,
    // which no association lb holds is in: only the other chunks are looked at.
    if pkt.flow.proto == PROTO_SCTP && pkt.sctp_event == SCTP_EV_DATA
        || pkt.flow.proto != PROTO_TCP && pkt.flow.proto != PROTO_SCTP
    {
        return;
    }
    // A TCP ACK (with data or not) without SYN, FIN or RST. (A segment without any of the
    // four moves every state to CLOSE: it is looked at.)
    let plain = pkt.flow.proto == PROTO_TCP
        && pkt.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK) == TCP_ACK;
    if plain
        && entry
            .as_ref()
            .is_some_and(|e| e.flags & CONN_F_WATCH_ACK == 0)
    {
        return;
    }
    let Some(key) = forward_key(&pkt.flow, real) else {
        return;
    };
    if let Some(c) = table::get(key) {
        // SAFETY: a live element, updated in place as in `find`.
        let c = unsafe { &mut *c };
        if c.flags & CONN_F_REPLY == 0 && c.real == real {
            let mut moved = false;
            if c.flags & CONN_F_SYNCED != 0 {
                // Another director's connection this one now carries (as in `find`).
                c.flags &= !CONN_F_SYNCED;
                counts::add(real, c.state, 1);
                moved = true;
            }
            let next = reply_next(pkt, c.state);
            if next != c.state {
                counts::moved(real, c.state, next);
                c.state = next;
                c.last_seen = now;
                moved = true;
            }
            if moved {
                changed::report(key);
            }
            if let Some(e) = entry {
                watch(e, next);
            }
        }
        return;
    }
    let Some(s) = unconfirmed::find(key) else {
        return;
    };
    // SAFETY: a slot `find` returned (sealed, this flow's); copied out before any change.
    let (r, state, flags) = unsafe { ((*s).real, (*s).state, (*s).flags) };
    if flags & CONN_F_REPLY == 0 && r == real {
        let next = reply_next(pkt, state);
        if next != state {
            // SAFETY: as above.
            unsafe { unconfirmed::refresh(s, next, now) };
            counts::moved(real, state, next);
        }
        if let Some(e) = entry {
            watch(e, next);
        }
    }
}

/// The state a `nat` real server's reply moves its connection in `state` to (IPVS's output
/// table of its protocol).
#[inline(always)]
fn reply_next(pkt: &Packet, state: u8) -> u8 {
    if pkt.flow.proto == PROTO_SCTP {
        sctp_next_state(TCP_DIR_OUTPUT, pkt.sctp_event, state)
    } else {
        tcp_next_state(TCP_DIR_OUTPUT, pkt.tcp_flags, state)
    }
}

/// The client's flow (client -> VIP) of a `nat` reply from real server `real`, built in this
/// CPU's scratch slot: the reply reversed, with its real server's VIP (or the connection's
/// kept destination, `lookup::nat_source`) and port (a port-0
/// service's port is the real server's, which is the client's destination port).
#[inline(always)]
fn forward_key(reply: &FlowKey, real: u32) -> Option<&'static FlowKey> {
    let r = real_server(real).ok()?;
    let vaddr = nat_source(r, reply).ok()?;
    let s = scratch()?;
    // SAFETY: this CPU's scratch slot, used by nothing else during this run (`reply_key`
    // shares the slot, and never runs in the same packet as this).
    let k = unsafe { &mut (*s).reply };
    let dport = if r.vport != 0 { r.vport } else { reply.sport };
    k.set(&reply.dst, vaddr, (reply.dport, dport), reply);
    Some(k)
}

/// Stage `conn`, second half, for a flow the tables do not know: a real server from
/// persistence or the scheduler, and the flow recorded in the unconfirmed table (with
/// one-packet scheduling, nothing but a `nat` reply's slot). Returns the real server, and
/// whether the packet started a connection (a RST passed on is none).
///
/// A TCP packet other than a SYN (a flow lb never saw, or forgot) is scheduled only by the
/// hash schedulers (`sh`, `dh`, `mh`: the choice every director makes for the flow) or with
/// `sloppy_tcp`; any other scheduler would pick a real server that knows nothing of the
/// connection and resets it, so the packet is dropped (`drop_tcp_mid_flow`). A RST of an
/// unknown flow is never scheduled (IPVS's rule); the hash schedulers pass it on unrecorded.
/// SCTP likewise: an INIT is a new association; another first chunk is scheduled only by the
/// hash schedulers or with `sloppy_sctp` (else `drop_sctp_mid_flow`), an ABORT never (IPVS's
/// `sctp_conn_schedule`).
#[inline(always)]
pub fn track_new(
    pkt: &Packet,
    svc: &Service,
    cfg: &GlobalConfig,
    now_ns: u64,
) -> Result<(u32, bool), Verdict> {
    let hashed = flood::stateless(svc);
    let mut record = cfg.flags & CFG_F_NO_CONN_TABLE == 0;
    let mut rst = false;
    if pkt.flow.proto == PROTO_TCP && pkt.tcp_flags & TCP_SYN == 0 {
        rst = pkt.tcp_flags & TCP_RST != 0;
        if !hashed && (rst || cfg.flags & CFG_F_SLOPPY_TCP == 0) {
            return Err(Verdict::drop(reason::DROP_TCP_MID_FLOW));
        }
        count(reason::TCP_MID_FLOW);
        record &= !rst;
    } else if pkt.flow.proto == PROTO_SCTP && pkt.chunk != SCTP_CID_INIT {
        rst = pkt.chunk == SCTP_CID_ABORT;
        if !hashed && (rst || cfg.flags & CFG_F_SLOPPY_SCTP == 0) {
            return Err(Verdict::drop(reason::DROP_SCTP_MID_FLOW));
        }
        count(reason::SCTP_MID_FLOW);
        record &= !rst;
    }
    // One-packet scheduling (ipvsadm -o, UDP only: lbd sets it for no other service): every
    // datagram is a new connection of its own and leaves no entry.
    let one_packet = svc.flags & SVC_F_ONE_PACKET != 0;
    let sticky = if svc.persist_timeout != 0 {
        persist::lookup(pkt, svc, now_ns)
    } else {
        0
    };
    let real = if sticky != 0 {
        sticky
    } else {
        let real = sched::schedule(&pkt.flow, svc, now_ns)?;
        if svc.persist_timeout != 0 {
            persist::store(pkt, svc, real, now_ns);
        }
        real
    };
    if rst {
        // Passed on to the hash's real server: no connection, nothing recorded.
        return Ok((real, false));
    }
    count(reason::CONN_NEW);
    let flooding = record && flood::note(cfg, now_ns);
    if flooding && hashed {
        count(reason::CONN_FLOOD);
        record = false;
    }
    if record {
        record_new(pkt, real, one_packet, lb_common::conn_time(now_ns))?;
    }
    Ok((real, true))
}

/// Records a new connection of the client's `pkt` to real server `real` in the unconfirmed
/// table (with one-packet scheduling, only its reply slot). A `dr` / `tun` connection is
/// marked [`CONN_F_NOOUTPUT`]: its replies never pass. A `nat` connection of a firewall-mark
/// service keeps its destination first, for its replies (`keep_dest`): when it cannot, the
/// packet is dropped and nothing is recorded.
#[inline(always)]
fn record_new(pkt: &Packet, real: u32, one_packet: bool, now: u32) -> Result<(), Verdict> {
    let Ok(r) = real_server(real) else {
        return Ok(());
    };
    let nat = r.method == FWD_NAT;
    if nat && r.flags & REAL_F_NAT_DEST != 0 {
        let key = reply_key(&pkt.flow, r).ok_or(Verdict::drop(reason::DROP_NAT_DEST_FULL))?;
        keep_dest(key, &pkt.flow.dst, now)?;
    }
    if !one_packet {
        let flags = if nat { 0 } else { CONN_F_NOOUTPUT };
        let state = first_state(pkt, flags);
        unconfirmed::record(&pkt.flow, real, state, flags, now);
        counts::add(real, state, 1);
        counts::note_load(real);
    }
    // A nat connection's replies are rewritten back to the VIP from its first packet on (the
    // real server answers a SYN before the client confirms it): their direction gets a slot
    // too. A one-packet service's, which has no connection, lasts as long as its slot.
    if nat {
        let flags = if one_packet {
            CONN_F_REPLY | CONN_F_ONE_PACKET
        } else {
            CONN_F_REPLY
        };
        if let Some(key) = reply_key(&pkt.flow, r) {
            unconfirmed::record(key, real, 0, flags, now);
        }
    }
    Ok(())
}

/// Keeps the destination `dst` a client opened a `nat` connection of a firewall-mark service
/// to, under the connection's reply direction `reply` (a reused tuple's replaces the old).
#[inline(always)]
fn keep_dest(reply: &FlowKey, dst: &[u32; 4], now: u32) -> Result<(), Verdict> {
    let d = NatDest {
        addr: *dst,
        since: now,
        _pad: 0,
    };
    NAT_DESTS
        .insert(reply, &d, 0)
        .map_err(|_| Verdict::drop(reason::DROP_NAT_DEST_FULL))
}

/// Whether a TCP packet opens a connection (SYN without ACK).
#[inline(always)]
fn opens(pkt: &Packet) -> bool {
    pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

/// Stage `conn` for an FTP data connection lbd's helper expects (`ftp.rs`), passive mode:
/// the client's SYN to the VIP's announced port goes to the control connection's real server
/// (which keeps the port: its entry has none) and is recorded as any new connection.
#[inline(always)]
pub fn track_passive(
    pkt: &Packet,
    real: u32,
    cfg: &GlobalConfig,
    now_ns: u64,
) -> Result<(u32, bool), Verdict> {
    if !opens(pkt) {
        return Err(Verdict::drop(reason::DROP_TCP_MID_FLOW));
    }
    count(reason::CONN_NEW);
    if cfg.flags & CFG_F_NO_CONN_TABLE == 0 {
        record_new(pkt, real, false, lb_common::conn_time(now_ns))?;
    }
    Ok((real, true))
}

/// Stage `conn` for an FTP data connection lbd's helper expects, active mode: the real
/// server's SYN to the port the client named. Recorded as the client's connection to the VIP
/// (client:P -> VIP:X, the real server's own port X kept both ways) and its reply direction
/// (this packet's); the packet then leaves as a reply, from the VIP.
#[inline(always)]
pub fn track_active(
    pkt: &Packet,
    real: u32,
    cfg: &GlobalConfig,
    now_ns: u64,
) -> Result<(), Verdict> {
    if !opens(pkt) {
        return Err(Verdict::drop(reason::DROP_TCP_MID_FLOW));
    }
    let r = real_server(real)?;
    count(reason::CONN_NEW);
    if cfg.flags & CFG_F_NO_CONN_TABLE != 0 {
        return Ok(());
    }
    let s = scratch().ok_or(Verdict::drop(reason::DROP_BAD_REAL))?;
    let now = lb_common::conn_time(now_ns);
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let k = unsafe { &mut (*s).active };
    k.set(
        &pkt.flow.dst,
        &r.vaddr,
        (pkt.flow.dport, pkt.flow.sport),
        &pkt.flow,
    );
    // The real server's SYN, as IPVS's output table moves a new connection: SYN_SENT.
    let state = tcp_next_state(TCP_DIR_OUTPUT, pkt.tcp_flags, CONN_S_NONE);
    unconfirmed::record(k, real, state, 0, now);
    counts::add(real, state, 1);
    unconfirmed::record(&pkt.flow, real, 0, CONN_F_REPLY, now);
    Ok(())
}

/// Marks a confirmed reply entry [`CONN_F_WATCH_ACK`] while its connection's `state` is one
/// a plain ACK of the real server's moves, and unmarks it otherwise.
#[inline(always)]
fn watch(reply: &mut Conn, state: u8) {
    let want = if reply_ack_moves(state) {
        CONN_F_WATCH_ACK
    } else {
        0
    };
    if reply.flags & CONN_F_WATCH_ACK != want {
        reply.flags = reply.flags & !CONN_F_WATCH_ACK | want;
    }
}

/// A client's packet moved a confirmed `nat` connection (of real server `real`) from `from`
/// to `to`: its reply entry follows when that changes whether a plain ACK reply is looked at
/// (rare: a SYN on a connection closing, and the ACK after it).
#[inline(always)]
fn rewatch(flow: &FlowKey, real: u32, from: u8, to: u8) {
    if reply_ack_moves(from) == reply_ack_moves(to) {
        return;
    }
    let Ok(r) = real_server(real) else {
        return;
    };
    let Some(key) = reply_key(flow, r) else {
        return;
    };
    if let Some(e) = table::get(key) {
        // SAFETY: a live element, updated in place as in `find`.
        let e = unsafe { &mut *e };
        if e.flags & CONN_F_REPLY != 0 && e.real == real {
            watch(e, to);
        }
    }
}

/// A confirmed `nat` connection's reply entry (real server -> client), for a connection in
/// `state`. Refused only when the table is full, which is counted; the reply slot then
/// serves while it lives.
#[inline(always)]
fn confirm_reply(flow: &FlowKey, real_id: u32, real: &RealServer, state: u8, now: u32) {
    let Some(key) = reply_key(flow, real) else {
        return;
    };
    let watch = if reply_ack_moves(state) {
        CONN_F_WATCH_ACK
    } else {
        0
    };
    match table::insert(key, real_id, 0, CONN_F_REPLY | watch, now) {
        Ok(()) => {}
        Err(table::Refused::Full) => count(reason::CONN_TABLE_FULL),
        Err(table::Refused::Failed) => count(reason::CONN_INSERT_FAILED),
    }
}

/// The reply direction of a client's flow to a `nat` real server (real server -> client),
/// built in this CPU's scratch slot.
#[inline(always)]
fn reply_key(flow: &FlowKey, real: &RealServer) -> Option<&'static FlowKey> {
    let s = scratch()?;
    let rport = if real.port != 0 {
        real.port
    } else {
        flow.dport
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let k = unsafe { &mut (*s).reply };
    k.set(&real.addr, &flow.src, (rport, flow.sport), flow);
    Some(k)
}

/// The state of a connection (with entry flags `flags`) from its first packet, as IPVS moves
/// a new connection out of NONE: a SYN is SYN_RECV; a TCP flow met mid-way (after a director
/// restart or failover; see [`track_new`] for who schedules it) ESTABLISHED by an ACK. An
/// SCTP INIT is INIT1 (`parse` found an SCTP packet's first states: here, after the
/// scheduler, every scheduler's path would compute them again for the verifier).
#[inline(always)]
fn first_state(pkt: &Packet, flags: u8) -> u8 {
    match pkt.flow.proto {
        PROTO_TCP => tcp_next_state(input_dir(flags), pkt.tcp_flags, CONN_S_NONE),
        PROTO_SCTP if flags & CONN_F_NOOUTPUT != 0 => pkt.sctp_first_noout,
        PROTO_SCTP => pkt.sctp_first,
        _ => CONN_S_UDP,
    }
}

/// The state a client's packet takes a connection in `state` (entry flags `flags`) to.
#[inline(always)]
fn next_state(state: u8, flags: u8, pkt: &Packet) -> u8 {
    match pkt.flow.proto {
        PROTO_TCP => tcp_next_state(input_dir(flags), pkt.tcp_flags, state),
        PROTO_SCTP => sctp_next_state(input_dir(flags), pkt.sctp_event, state),
        _ => state,
    }
}

/// IPVS's table for a client's packet: the input-only one when the connection's replies do
/// not pass the director.
#[inline(always)]
fn input_dir(flags: u8) -> u8 {
    if flags & CONN_F_NOOUTPUT != 0 {
        TCP_DIR_INPUT_ONLY
    } else {
        TCP_DIR_INPUT
    }
}

/// Moves a confirmed entry's state on (and its counts with it) and refreshes its last-seen
/// time at most once per `CONN_TOUCH`.
#[inline(always)]
fn follow(c: &mut Conn, pkt: &Packet, now: u32) {
    let next = next_state(c.state, c.flags, pkt);
    if next != c.state {
        if c.flags & CONN_F_NOOUTPUT == 0 && c.flags & CONN_F_REPLY == 0 {
            rewatch(&pkt.flow, c.real, c.state, next);
        }
        counts::moved(c.real, c.state, next);
        c.state = next;
        c.last_seen = now;
        changed::report(&pkt.flow);
    } else if now.wrapping_sub(c.last_seen) > CONN_TOUCH {
        c.last_seen = now;
    }
}

/// The real server of a connection the tables hold for `flow` (confirmed or not), and its
/// flags: what an ICMP error about the flow needs.
#[inline(always)]
pub fn lookup(flow: &FlowKey) -> Option<(u32, u8)> {
    if let Some(c) = table::get(flow) {
        // SAFETY: a live element, read only.
        return Some(unsafe { ((*c).real, (*c).flags) });
    }
    let s = unconfirmed::find(flow)?;
    // SAFETY: a slot `find` returned, read only.
    Some(unsafe { ((*s).real, (*s).flags) })
}
