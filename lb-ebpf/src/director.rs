//! The director's per-packet path: parse -> vip -> conn -> schedule -> forward.
//! Each stage returns `Result<_, Verdict>`; `Err` stops the chain with a counted verdict.

use aya_ebpf::programs::XdpContext;
use lb_common::{
    ADDR_FILTER_WORDS, CFG_F_NO_CONN_TABLE, CONN_F_REPLY, FRAG_F_REPLY, FWD_NAT, FlowKey,
    GlobalConfig, PROTO_ICMP, PROTO_ICMPV6, RealServer, Service, Stats, VipKey,
    hash::addr_filter_bit, prog_slot, reason,
};

use crate::{
    conn,
    forward::{self, Target},
    frag, icmp,
    maps::{ADDR_FILTER, CONFIG, CONNS, PROGS, REAL_STATS, REALS, SCRATCH, SERVICES, SVC_STATS},
    nat,
    parse::{self, FRAG_LATER, Packet},
    verdict::Verdict,
    vlan::{self, Tags},
};

#[inline(always)]
pub fn process(ctx: &XdpContext, tags: &Tags) -> Result<Verdict, Verdict> {
    // The parsed packet lives in this CPU's scratch slot, not on the 512-byte stack.
    let scratch = SCRATCH
        .get_ptr_mut(0)
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::pass(reason::PASS_NOT_IP))?;
    // SAFETY: this CPU's slot, used by nothing else during this run.
    let pkt: &Packet = unsafe {
        (*scratch).pkt_ok = 0;
        (*scratch).trace_real = 0;
        parse::parse(ctx, &mut (*scratch).pkt)?;
        (*scratch).pkt_ok = 1;
        &(*scratch).pkt
    };
    let cfg = config()?;
    if pkt.flow.proto == PROTO_ICMP || pkt.flow.proto == PROTO_ICMPV6 {
        // ICMP runs in a program of its own (`lb_icmp`), with a stack of its own.
        // SAFETY: this CPU's slot, as above.
        unsafe { (*scratch).tags = *tags };
        // SAFETY: a tail call into an XDP program; returns only if the slot is empty.
        unsafe { PROGS.tail_call(ctx, prog_slot::ICMP) };
        return Err(Verdict::pass(reason::PASS_ICMP));
    }
    let now;
    let (service, id, how) = if pkt.frag == FRAG_LATER {
        now = crate::verdict::now();
        let e = frag::lookup(pkt, now)?;
        // SAFETY: points into this CPU's scratch slot, filled by the lookup.
        let e = unsafe { &*e };
        if e.flags & FRAG_F_REPLY != 0 {
            return nat::reply(ctx, pkt, &e.vaddr, 0, e.service, e.real);
        }
        (e.service, e.real, 0)
    } else {
        // Most of what is not for a VIP (the host's own traffic) stops here, after two array
        // reads; what passes may still be nobody's (the filter has false positives).
        if !maybe_ours(&pkt.flow) {
            return Err(Verdict::pass(reason::PASS_NOT_VIP));
        }
        // Read once: the connection entry and the next-hop cache share it.
        now = crate::verdict::now();
        // Stage `conn` first: a packet of an established flow (or a `nat` reply) is one
        // lookup; only a packet the table does not know needs its VIP's service.
        let known = if cfg.flags & CFG_F_NO_CONN_TABLE == 0 {
            CONNS.get_ptr_mut(&pkt.flow)
        } else {
            None
        };
        match known {
            // SAFETY: a live LRU element, read and updated in place (see conn::established).
            Some(c) if unsafe { (*c).flags } & CONN_F_REPLY != 0 => {
                return nat::from_real(ctx, pkt, c);
            }
            Some(c) => {
                // SAFETY: as above.
                let c = unsafe { &mut *c };
                let how = conn::established(c, pkt, now);
                (c.service, c.real, how)
            }
            None => {
                let svc = vip(&pkt.flow)?;
                let (id, how) = conn::track_new(pkt, &svc, cfg, now)?;
                (svc.id, id, how)
            }
        }
    };
    // SAFETY: this CPU's slot, as above.
    unsafe { (*scratch).trace_real = id };
    let to = Target {
        id,
        real: real_server(id)?,
    };
    // A nat connection's reply entry, made with the connection and made again each time the
    // connection's entry is refreshed: should the LRU have dropped it, replies find it again
    // within a second.
    if how != 0 && to.real.method == FWD_NAT {
        nat::track_reply(
            &pkt.flow,
            &to,
            service,
            now,
            how & conn::TRACK_ONE_PACKET != 0,
        );
    }
    frag::remember(pkt, id, service, 0, &[0; 4], now);
    account(service, id, pkt, how & conn::TRACK_NEW != 0);
    forward::forward(ctx, pkt, &to, cfg, now)
}

/// `lb_icmp`: the packet `lb` parsed (in the scratch slot), when it is ICMP.
#[inline(always)]
pub fn process_icmp(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let scratch = SCRATCH
        .get_ptr_mut(0)
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::pass(reason::PASS_ICMP))?;
    // SAFETY: this CPU's slot; `lb` filled it just before the tail call.
    let (pkt, tags) = unsafe { (&(*scratch).pkt, (*scratch).tags) };
    let r = match config() {
        Ok(cfg) => icmp::handle(ctx, pkt, cfg),
        Err(v) => Err(v),
    };
    vlan::push(ctx, &tags, r)
}

/// The address filter: the destination may be a VIP, or the source a `nat` real server.
#[inline(always)]
fn maybe_ours(flow: &FlowKey) -> bool {
    filter_bit(addr_filter_bit(&flow.dst), 0)
        || filter_bit(addr_filter_bit(&flow.src), ADDR_FILTER_WORDS)
}

#[inline(always)]
fn filter_bit(bit: u32, base: u32) -> bool {
    match ADDR_FILTER.get(base + (bit >> 6)) {
        Some(w) => *w & (1u64 << (bit & 63)) != 0,
        // Every index below the map's size exists; a miss would mean no filter: let it on.
        None => true,
    }
}

/// Stage `vip`: (destination address, port, protocol) -> service; a miss leaves the packet to
/// the host stack.
#[inline(always)]
pub fn vip(flow: &FlowKey) -> Result<Service, Verdict> {
    let key = VipKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    match SERVICES.get_ptr(key) {
        // SAFETY: copied out at once; the map is NO_PREALLOC, so the element stays valid
        // (RCU) even if lbd replaces it meanwhile.
        Some(s) => Ok(unsafe { *s }),
        None => Err(Verdict::pass(reason::PASS_NOT_VIP)),
    }
}

/// The director-wide settings, read in place (the array's one element never moves).
#[inline(always)]
fn config() -> Result<&'static GlobalConfig, Verdict> {
    // Index 0 of a one-entry array always exists; the error is for the type checker.
    CONFIG.get(0).ok_or(Verdict::pass(reason::PASS_NOT_IP))
}

#[inline(always)]
pub fn real_server(id: u32) -> Result<RealServer, Verdict> {
    match REALS.get(id) {
        Some(r) if r.family != 0 => Ok(*r),
        _ => Err(Verdict::drop(reason::DROP_BAD_REAL)),
    }
}

/// Per-service and per-real-server counters (ipvsadm `--stats`: Conns, InPkts, InBytes).
#[inline(always)]
fn account(service: u32, real_id: u32, pkt: &Packet, new: bool) {
    let bytes = pkt.ip_len as u64;
    let conns = new as u64;
    if let Some(s) = SVC_STATS.get_ptr_mut(service) {
        // SAFETY: per-CPU slot, written only by this CPU.
        unsafe { bump(s, conns, bytes) };
    }
    if let Some(s) = REAL_STATS.get_ptr_mut(real_id) {
        // SAFETY: as above.
        unsafe { bump(s, conns, bytes) };
    }
}

#[inline(always)]
unsafe fn bump(s: *mut Stats, conns: u64, bytes: u64) {
    unsafe {
        (*s).conns += conns;
        (*s).in_pkts += 1;
        (*s).in_bytes += bytes;
    }
}
