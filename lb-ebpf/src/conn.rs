//! Stage `conn`: the connection table. An existing flow keeps its real server; a new one is
//! scheduled and recorded. Each entry follows its TCP state as far as the director sees it
//! (the client's packets), and the real servers' active / inactive counts follow the
//! entries, as IPVS keeps them.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use lb_common::{
    CFG_F_NO_CONN_TABLE, CONN_F_ONE_PACKET, CONN_F_REPLY, CONN_S_CLOSING, CONN_S_ESTABLISHED,
    CONN_S_SYN, CONN_S_UDP, CONN_TOUCH_NS, Conn, FlowKey, GlobalConfig, PROTO_TCP, RealServer,
    SVC_F_ONE_PACKET, Service, reason,
};

use crate::{
    count::count,
    headers::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN},
    maps::{CONNS, REAL_CONNS, REAL_LIMITS, scratch},
    parse::Packet,
    persist,
    ptr::zero_in_place,
    sched,
    verdict::Verdict,
};

/// [`track`]'s second result: the packet started a new connection.
pub const TRACK_NEW: u8 = 1;
/// [`track`]'s second result: the connection's entry was refreshed (at most once per
/// `CONN_TOUCH_NS`): the time to refresh what goes with it (a `nat` reply entry).
pub const TRACK_TOUCHED: u8 = 2;
/// With [`TRACK_NEW`]: the service schedules every datagram on its own (no entry was made).
pub const TRACK_ONE_PACKET: u8 = 4;

/// Stage `conn`, for a flow the table knows (the director looks the table up first, so an
/// established flow costs one lookup): follows its TCP state; returns [`TRACK_TOUCHED`] when
/// its entry was refreshed, else 0.
#[inline(always)]
pub fn established(c: &mut Conn, pkt: &Packet, now: u64) -> u8 {
    count(reason::CONN_HIT);
    // Two CPUs rarely see packets of one flow at once (RSS keeps a flow on one queue); if
    // they do, a state change may be counted twice, and lbd's reconciliation corrects it.
    if follow(c, pkt, now) {
        TRACK_TOUCHED
    } else {
        0
    }
}

/// Stage `conn`, for a flow the table does not know: a real server from persistence or the
/// scheduler, and the flow's entry; [`TRACK_NEW`] (with [`TRACK_ONE_PACKET`] when the
/// service schedules every datagram on its own).
#[inline(always)]
pub fn track_new(
    pkt: &Packet,
    svc: &Service,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<(u32, u8), Verdict> {
    // One-packet scheduling (ipvsadm -o, UDP only: lbd sets it for no other service): every
    // datagram is a new connection of its own and leaves no entry.
    let one_packet = svc.flags & SVC_F_ONE_PACKET != 0;
    let use_table = cfg.flags & CFG_F_NO_CONN_TABLE == 0 && !one_packet;
    let sticky = if svc.persist_timeout != 0 {
        persist::lookup(pkt, svc, now)
    } else {
        0
    };
    let real = if sticky != 0 {
        sticky
    } else {
        let real = sched::schedule(&pkt.flow, svc, now)?;
        if svc.persist_timeout != 0 {
            persist::store(pkt, svc, real, now);
        }
        real
    };
    count(reason::CONN_NEW);
    if use_table {
        let state = first_state(pkt);
        // On failure the flow is still forwarded; its next packet is scheduled again (to the
        // same real server while the table is unchanged).
        if insert_conn(&pkt.flow, real, svc.id, now, 0, 0, [0; 4], state) {
            add_count(real, state, 1);
            note_load(real);
        }
    }
    let how = if one_packet {
        TRACK_NEW | TRACK_ONE_PACKET
    } else {
        TRACK_NEW
    };
    Ok((real, how))
}

/// IPVS's `ip_vs_bind_dest`: a real server whose connections (active + inactive) reach its
/// upper threshold with this one is overloaded: no scheduler gives it new connections until
/// lbd's expiry takes it below the lower threshold.
#[inline(always)]
fn note_load(real: u32) {
    let Some(l) = REAL_LIMITS.get_ptr_mut(real) else {
        return;
    };
    // SAFETY: an array element; lbd rewrites it only to change the thresholds.
    let upper = unsafe { (*l).upper } as i64;
    if upper == 0 {
        return;
    }
    if let Some(c) = REAL_CONNS.get(real)
        && c.active + c.inactive >= upper
    {
        // SAFETY: as above.
        unsafe { (*l).overloaded = 1 };
    }
}

/// The state of a connection from its first packet. A TCP flow met mid-way (after a director
/// restart or failover) is taken as established, like IPVS's sloppy TCP.
#[inline(always)]
fn first_state(pkt: &Packet) -> u32 {
    if pkt.flow.proto != PROTO_TCP {
        CONN_S_UDP
    } else if pkt.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
        CONN_S_CLOSING
    } else if pkt.tcp_flags & TCP_SYN != 0 {
        CONN_S_SYN
    } else {
        CONN_S_ESTABLISHED
    }
}

/// Moves an existing entry's state on (and its counts with it) and refreshes its last-seen
/// time at most once a second.
#[inline(always)]
fn follow(c: &mut Conn, pkt: &Packet, now: u64) -> bool {
    let mut next = c.state;
    if pkt.flow.proto == PROTO_TCP {
        let f = pkt.tcp_flags;
        if f & (TCP_FIN | TCP_RST) != 0 {
            next = CONN_S_CLOSING;
        } else if f & TCP_SYN != 0 && f & TCP_ACK == 0 && c.state == CONN_S_CLOSING {
            // A new connection reusing the 5-tuple of one that closed.
            next = CONN_S_SYN;
        } else if f & TCP_ACK != 0 && f & TCP_SYN == 0 && c.state == CONN_S_SYN {
            next = CONN_S_ESTABLISHED;
        }
    }
    let stale = now.wrapping_sub(c.last_seen_ns) > CONN_TOUCH_NS;
    if next != c.state {
        add_count(c.real, c.state, -1);
        add_count(c.real, next, 1);
        c.state = next;
        c.last_seen_ns = now;
    } else if stale {
        c.last_seen_ns = now;
    }
    stale
}

/// Adds `n` to the real server's active (established TCP) or inactive (any other state)
/// count, atomically: lbd and other CPUs update the same counters.
#[inline(always)]
fn add_count(real: u32, state: u32, n: i64) {
    if let Some(rc) = REAL_CONNS.get_ptr_mut(real) {
        // SAFETY: an array element, 8-aligned; only ever accessed atomically.
        let slot = unsafe {
            if state == CONN_S_ESTABLISHED {
                core::ptr::addr_of_mut!((*rc).active)
            } else {
                core::ptr::addr_of_mut!((*rc).inactive)
            }
        };
        // SAFETY: as above. The BPF target has no compare-and-swap, so core's atomics offer no
        // read-modify-write; the intrinsic with its result unused is the plain atomic add
        // (BPF_XADD) every BPF CPU version has.
        let _ = unsafe { atomic_xadd::<i64, i64, { AtomicOrdering::Relaxed }>(slot, n) };
    }
}

/// Records the reply direction of a new `nat` connection to real server `real_id`: real server
/// -> client, with the VIP to restore. Made with the connection and made again each time the
/// connection's entry is refreshed: should the LRU have dropped it, replies find it again
/// within a second.
#[inline(always)]
pub fn insert_reply(
    flow: &FlowKey,
    real_id: u32,
    real: &RealServer,
    service: u32,
    now: u64,
    one_packet: bool,
) {
    let rport = if real.port != 0 {
        real.port
    } else {
        flow.dport
    };
    let key = FlowKey {
        src: real.addr,
        dst: flow.src,
        sport: rport,
        dport: flow.sport,
        proto: flow.proto,
        family: flow.family,
        _pad: [0; 2],
    };
    insert_conn(
        &key,
        real_id,
        service,
        now,
        if one_packet {
            CONN_F_REPLY | CONN_F_ONE_PACKET
        } else {
            CONN_F_REPLY
        },
        flow.dport,
        flow.dst,
        0,
    );
}

/// Inserts a connection entry (counting a failure); true when inserted. The entry is built in
/// place through a pointer: a by-value struct with zero fields turns into a `memset` call on
/// the BPF target.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn insert_conn(
    key: &FlowKey,
    real: u32,
    service: u32,
    now: u64,
    flags: u16,
    vport: u16,
    vaddr: [u32; 4],
    state: u32,
) -> bool {
    let Some(scratch) = scratch() else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return false;
    };
    // SAFETY: this CPU's scratch Conn (40 bytes, 8-aligned), zeroed then filled in place; the
    // map update copies it.
    let p: *mut Conn = unsafe { core::ptr::addr_of_mut!((*scratch).conn) };
    let ok = unsafe {
        zero_in_place(p);
        (*p).real = real;
        (*p).service = service;
        (*p).last_seen_ns = now;
        (*p).flags = flags;
        (*p).vport = vport;
        (*p).state = state;
        // Volatile, word by word: LLVM turns stores of words it knows to be zero (IPv4 uses
        // only vaddr[0]) into a memset call.
        let v = core::ptr::addr_of_mut!((*p).vaddr) as *mut u32;
        let mut i = 0;
        while i < 4 {
            v.add(i).write_volatile(vaddr[i]);
            i += 1;
        }
        CONNS.insert(key, &*p, 0).is_ok()
    };
    if !ok {
        count(reason::CONN_INSERT_FAILED);
    }
    ok
}
