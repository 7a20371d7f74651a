//! Stage `conn`: the connection table. An existing flow keeps its real server; a new one is
//! scheduled and recorded. Each entry follows its TCP state as far as the director sees it
//! (the client's packets), and the real servers' active / inactive counts follow the
//! entries, as IPVS keeps them.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use lb_common::{
    CFG_F_NO_CONN_TABLE, CONN_S_CLOSING, CONN_S_ESTABLISHED, CONN_S_SYN, CONN_S_UDP, CONN_TOUCH_NS,
    Conn, FAMILY_V4, FlowKey, GlobalConfig, PROTO_TCP, PersistKey, REAL_F_REMOVED,
    SVC_F_ONE_PACKET, Service, reason,
};

use crate::{
    maps::{CONNS, PERSIST, REAL_CONNS, REAL_LIMITS, REALS, SCRATCH},
    parse::Packet,
    ptr::zero_in_place,
    sched,
    verdict::{Verdict, count},
};

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

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
        persist_lookup(pkt, svc, now)
    } else {
        0
    };
    let real = if sticky != 0 {
        sticky
    } else {
        let real = sched::schedule(&pkt.flow, svc, now)?;
        if svc.persist_timeout != 0 {
            persist_store(pkt, svc, real, now);
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

/// Persistence (ipvsadm `-p`): the real server of a live template for the client's network
/// (while that real server still exists, even quiesced, as in IPVS), refreshed; 0 when there
/// is none. Out of line, like [`persist_store`]: `lb`'s own frame has no room left.
#[inline(never)]
fn persist_lookup(pkt: &Packet, svc: &Service, now: u64) -> u32 {
    let Some(key) = persist_key(pkt, svc) else {
        return 0;
    };
    let Some(t) = PERSIST.get_ptr_mut(key) else {
        return 0;
    };
    // SAFETY: a live LRU element; only its time is written.
    let t = unsafe { &mut *t };
    // A removed real server keeps its connections, not its clients' future ones.
    if REALS
        .get(t.real)
        .map(|r| r.family != 0 && r.flags & REAL_F_REMOVED == 0)
        .unwrap_or(false)
    {
        t.last_seen_ns = now;
        count(reason::PERSIST_HIT);
        t.real
    } else {
        0
    }
}

/// Creates (or replaces) the client network's template: its new connections go to `real`.
#[inline(never)]
fn persist_store(pkt: &Packet, svc: &Service, real: u32, now: u64) {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    let Some(key) = persist_key(pkt, svc) else {
        return;
    };
    // SAFETY: this CPU's scratch Conn, zeroed then filled in place; the update copies it.
    unsafe {
        let p = core::ptr::addr_of_mut!((*scratch).conn);
        zero_in_place(p);
        (*p).real = real;
        (*p).service = svc.id;
        (*p).last_seen_ns = now;
        let _ = PERSIST.insert(key, &*p, 0);
    }
}

/// The template key of the packet's client network, built in the scratch map: the service
/// and the client address with only the service's persistence prefix kept.
#[inline(always)]
fn persist_key(pkt: &Packet, svc: &Service) -> Option<&'static PersistKey> {
    let scratch = SCRATCH.get_ptr_mut(0)?;
    let bits = if pkt.flow.family == FAMILY_V4 {
        svc.persist_prefix.min(32) as u32
    } else {
        svc.persist_prefix.min(128) as u32
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let k = unsafe { &mut (*scratch).pkey };
    k.service = svc.id;
    // The family and its 3 padding bytes as one aligned word: a 3-byte zero fill becomes a
    // memset call on the BPF target.
    // SAFETY: `family` starts a 4-byte-aligned 4-byte run (family + _pad) of PersistKey.
    unsafe {
        core::ptr::write_volatile(
            core::ptr::addr_of_mut!(k.family) as *mut u32,
            pkt.flow.family as u32,
        )
    };
    let mut i = 0;
    while i < 4 {
        let start = i as u32 * 32;
        let keep = if bits >= start + 32 {
            u32::MAX
        } else if bits <= start {
            0
        } else {
            u32::MAX << (32 - (bits - start))
        };
        k.addr[i] = pkt.flow.src[i] & keep.to_be();
        i += 1;
    }
    Some(k)
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

/// Inserts a connection entry (counting a failure); true when inserted. The entry is built in
/// place through a pointer: a by-value struct with zero fields turns into a `memset` call on
/// the BPF target.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn insert_conn(
    key: &FlowKey,
    real: u32,
    service: u32,
    now: u64,
    flags: u16,
    vport: u16,
    vaddr: [u32; 4],
    state: u32,
) -> bool {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
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
