//! The director's per-packet path, in the order the code takes it. `main.rs`'s `lb` first
//! takes VLAN tags out (`vlan.rs`) and, whatever happens, puts them back, counts the verdict
//! (`count.rs`) and traces it (`trace.rs`); in between, [`process`]:
//!
//! 1. `parse.rs`: Ethernet -> IPv4 | IPv6 (extension headers) -> TCP | UDP | ICMP, into the
//!    per-CPU scratch slot (`scratch.rs`); as soon as the addresses and the protocol are
//!    known, the address filter (`lookup.rs`): a TCP, UDP or SCTP packet with neither a VIP
//!    destination nor a `nat` real-server source goes to the host stack after two array
//!    reads, before the rest of the parse;
//! 2. ICMP and ICMPv6 leave by a tail call to `lb_icmp` ([`process_icmp`], `icmp.rs`);
//! 3. a later fragment follows its first fragment (`frag.rs`), a `nat` reply's straight back
//!    to the client (`xmit/nat.rs`);
//! 4. (the address filter, which runs inside stage 1);
//! 5. the connection table (`conn/`): a `nat` reply entry sends the packet back to the
//!    client (`xmit/nat.rs`); a known flow keeps its real server and follows its state (its
//!    second packet confirms it); a new one finds its service (`lookup.rs`), persistence
//!    template (`persist.rs`) or scheduler (`sched/`), and is recorded as unconfirmed; a new
//!    one no service takes may be an FTP data connection lbd's helper expects (`ftp.rs`).
//!    A new one is handed to `lb_new` ([`process_new`]) by a tail call;
//! 6. the real server (`lookup.rs`), the first fragment remembered (`frag.rs`), the
//!    service's and real server's counters (`stats.rs`);
//! 7. forwarding by the real server's method (`xmit/`: `tun.rs`, `dr.rs`, `nat.rs`, with the
//!    next hop from `route.rs`), a checksum the sender left to the hardware finished first
//!    (`partial.rs`): in `lb` for a flow the table knows and a `nat` reply, in `lb_xmit`
//!    ([`process_xmit`]), handed over by a tail call, for what `lb_new` took.
//!
//! Each stage returns `Result<_, Verdict>`; `Err` stops the chain with a counted verdict. The
//! tail calls exist for the verifier, which checks each program apart (see [`hand_over`]);
//! a packet of a known flow takes none (one cost it about 30 ns).

use aya_ebpf::programs::XdpContext;
use lb_common::{
    CFG_F_MARKS_WIDE, FRAG_F_REPLY, PROTO_ICMP, PROTO_ICMPV6, conn_time, prog_slot, reason,
};

use crate::{
    clock,
    conn::{self, Known},
    frag,
    ftp::{self, Expected},
    icmp,
    lookup::{config, maybe_ours, real_server, vip},
    maps::{PROGS, scratch},
    parse::{self, FRAG_LATER, Packet},
    scratch::{XMIT_FORWARD, XMIT_FROM_REAL, Xmit},
    stats,
    verdict::Verdict,
    vlan::{self, Tags},
    xmit::{self, nat, partial, route::Target},
};

#[inline(always)]
pub fn process(ctx: &XdpContext, tags: &Tags) -> Result<Verdict, Verdict> {
    // The parsed packet lives in this CPU's scratch slot, not on the 512-byte stack.
    let scratch = scratch()
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::pass(reason::PASS_NOT_IP))?;
    let cfg = config()?;
    // The address filter runs inside the parse, as soon as the addresses are known: most of
    // what is not for a VIP (the host's own traffic) stops there, after two array reads; what
    // passes may still be nobody's (the filter has false positives). A wide firewall-mark
    // destination prefix is not in the filter: then every packet goes on (only while such a
    // mark is configured).
    let wide = cfg.flags & CFG_F_MARKS_WIDE != 0;
    let ours = |src: &[u32; 4], dst: &[u32; 4]| wide || maybe_ours(src, dst);
    // SAFETY: this CPU's slot, used by nothing else during this run.
    let pkt: &Packet = unsafe {
        (*scratch).pkt_ok = 0;
        (*scratch).trace_real = 0;
        (*scratch).csum.finished = 0;
        (*scratch).to_kernel = 0;
        (*scratch).unconfirmed_unread = 0;
        parse::parse(ctx, &mut (*scratch).pkt, ours)?;
        (*scratch).pkt_ok = 1;
        &(*scratch).pkt
    };
    if pkt.flow.proto == PROTO_ICMP || pkt.flow.proto == PROTO_ICMPV6 {
        // ICMP runs in a program of its own (`lb_icmp`), with a stack of its own.
        // SAFETY: this CPU's slot, as above.
        unsafe { (*scratch).tags = *tags };
        // SAFETY: a tail call into an XDP program; returns only if the slot is empty.
        unsafe { PROGS.tail_call(ctx, prog_slot::ICMP) };
        return Err(Verdict::pass(reason::PASS_ICMP));
    }
    // Read once: the connection entry (or the fragment's) and the next-hop cache share it.
    // SAFETY: this CPU's slot, as above.
    let now = clock::cached(unsafe { core::ptr::addr_of_mut!((*scratch).clock) });
    let (id, new) = if pkt.frag == FRAG_LATER {
        let e = frag::lookup(pkt, now)?;
        // SAFETY: points into this CPU's scratch slot, filled by the lookup.
        let e = unsafe { &*e };
        if e.flags & FRAG_F_REPLY != 0 {
            return nat::reply(ctx, pkt, &e.vaddr, 0, e.service, e.real, false, now);
        }
        (e.real, false)
    } else {
        // Stage `conn` first: a packet of an established flow (or a `nat` reply) is one
        // lookup; only a packet the table does not know needs its VIP's service.
        match conn::find(pkt, cfg, now) {
            // A `nat` reply is forwarded here too, without a tail call.
            Known::Reply(real) => return forward(ctx, pkt, XMIT_FROM_REAL, real, now),
            Known::Flow(real) => (real, false),
            Known::Nothing => return hand_over(ctx, tags, prog_slot::NEW, 0, 0, now),
        }
    };
    // A known flow is forwarded here, without a tail call (lb_xmit costs an established
    // packet about 30 ns: see `to_real`).
    to_real::<true>(ctx, tags, pkt, id, new, now)
}

/// `lb_new`: stage 5's second half, for the packet `lb` parsed (in the scratch slot) and the
/// connection table does not know: its service and scheduler, or an FTP data connection
/// lbd's helper expects.
#[inline(always)]
pub fn process_new(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let scratch = scratch()
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))?;
    // SAFETY: this CPU's slot; `lb` filled it just before the tail call.
    let (pkt, tags, now) = unsafe { (&(*scratch).pkt, (*scratch).tags, (*scratch).xmit.now) };
    let r = new_flow(ctx, &tags, pkt, now);
    vlan::push(ctx, &tags, r)
}

#[inline(always)]
fn new_flow(ctx: &XdpContext, tags: &Tags, pkt: &Packet, now: u64) -> Result<Verdict, Verdict> {
    let cfg = config()?;
    // The classifier runs here, for new flows only (as IPVS, which looks up a fwmark service
    // first when the packet has a mark): established flows never pay for it.
    let (id, new) = match vip::<true>(&pkt.flow, cfg) {
        Ok(svc) => {
            // A SYN `lb` did not look up in the unconfirmed table (flood mode): there, for a
            // service whose second SYN must find the first one's choice.
            let s = scratch()
                // Index 0 of a one-entry per-CPU array always exists; for the type checker.
                .ok_or(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))?;
            // SAFETY: this CPU's slot, used by nothing else during this run.
            let unread = unsafe { (*s).unconfirmed_unread } != 0;
            match if unread && !conn::stateless(&svc) {
                conn::find_unconfirmed(pkt, cfg, conn_time(now))
            } else {
                Known::Nothing
            } {
                Known::Nothing => conn::track_new(pkt, &svc, cfg, now)?,
                Known::Flow(real) => (real, false),
                Known::Reply(real) => {
                    return hand_over(ctx, tags, prog_slot::XMIT, XMIT_FROM_REAL, real, now);
                }
            }
        }
        // No service: perhaps an FTP data connection the helper expects.
        Err(miss) => match ftp::expected(&pkt.flow, cfg, now).ok_or(miss)? {
            Expected::Passive(real) => conn::track_passive(pkt, real, cfg, now)?,
            Expected::Active(real) => {
                conn::track_active(pkt, real, cfg, now)?;
                return hand_over(ctx, tags, prog_slot::XMIT, XMIT_FROM_REAL, real, now);
            }
        },
    };
    to_real::<false>(ctx, tags, pkt, id, new, now)
}

/// Stage 6, then stage 7: the packet goes to real server `id` (`new`: a connection just
/// scheduled). `INLINE`: stage 7 runs in this program (`lb`, for a flow the table knows:
/// the tail call and the second program's lookups cost an established packet about 30 ns);
/// otherwise it is handed to `lb_xmit` (from `lb_new`, whose own checks leave no room).
#[inline(always)]
fn to_real<const INLINE: bool>(
    ctx: &XdpContext,
    tags: &Tags,
    pkt: &Packet,
    id: u32,
    new: bool,
    now: u64,
) -> Result<Verdict, Verdict> {
    let scratch = scratch()
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))?;
    // SAFETY: this CPU's slot, used by nothing else during this run.
    unsafe { (*scratch).trace_real = id };
    let service = real_server(id)?.service;
    frag::remember(pkt, id, service, 0, &[0; 4], now);
    stats::account(service, id, pkt, new);
    if INLINE {
        return forward(ctx, pkt, XMIT_FORWARD, id, now);
    }
    hand_over(ctx, tags, prog_slot::XMIT, XMIT_FORWARD, id, now)
}

/// The rest of the path runs in programs of their own, by tail call (`slot`, of
/// `lb_common::prog_slot`): `lb_new` for a flow the table does not know, `lb_xmit` for
/// stage 7 of what `lb_new` took. The verifier checks each program once, not once for every
/// path into it (one program held them all at over 900,000 of the 1,000,000 verifier steps
/// allowed). The
/// scratch slot carries what the next program needs: the VLAN tags, and `kind`, `real`
/// and `now` for `lb_xmit`.
#[inline(always)]
fn hand_over(
    ctx: &XdpContext,
    tags: &Tags,
    slot: u32,
    kind: u32,
    real: u32,
    now: u64,
) -> Result<Verdict, Verdict> {
    let scratch = scratch()
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))?;
    // SAFETY: this CPU's slot, used by nothing else during this run.
    unsafe {
        (*scratch).tags = *tags;
        (*scratch).xmit = Xmit { kind, real, now };
    }
    // SAFETY: a tail call into an XDP program; returns only if the slot is empty (lbd fills
    // every slot before it attaches `lb`, so this does not happen).
    unsafe { PROGS.tail_call(ctx, slot) };
    Err(Verdict::drop(reason::DROP_TAIL_CALL))
}

/// `lb_xmit`: stage 7 for the packet `lb` parsed (in the scratch slot) and found a real
/// server for: a checksum the sender left to the hardware finished first (`partial.rs`),
/// then the real server's method, or a `nat` reply's way back to the client.
#[inline(always)]
pub fn process_xmit(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let scratch = scratch()
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        .ok_or(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))?;
    // SAFETY: this CPU's slot; `lb` filled it just before the tail call.
    let (pkt, tags, xmit) = unsafe { (&(*scratch).pkt, (*scratch).tags, &(*scratch).xmit) };
    let (kind, id, now) = (xmit.kind, xmit.real, xmit.now);
    let r = forward(ctx, pkt, kind, id, now);
    vlan::push(ctx, &tags, r)
}

#[inline(always)]
fn forward(
    ctx: &XdpContext,
    pkt: &Packet,
    kind: u32,
    id: u32,
    now: u64,
) -> Result<Verdict, Verdict> {
    let cfg = config()?;
    partial::before_send(ctx, pkt)?;
    if kind == XMIT_FROM_REAL {
        return nat::from_real(ctx, pkt, id, now);
    }
    let to = Target {
        id,
        real: real_server(id)?,
    };
    xmit::forward(ctx, pkt, &to, cfg, now)
}

/// `lb_icmp`: the packet `lb` parsed (in the scratch slot), when it is ICMP.
#[inline(always)]
pub fn process_icmp(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let scratch = scratch()
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
