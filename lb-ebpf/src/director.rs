//! The director's per-packet path, in the order the code takes it. `main.rs`'s `lb` first
//! takes VLAN tags out (`vlan.rs`) and, whatever happens, puts them back, counts the verdict
//! (`count.rs`) and traces it (`trace.rs`); in between, [`process`]:
//!
//! 1. `parse.rs`: Ethernet -> IPv4 | IPv6 (extension headers) -> TCP | UDP | ICMP, into the
//!    per-CPU scratch slot (`scratch.rs`);
//! 2. ICMP and ICMPv6 leave by a tail call to `lb_icmp` ([`process_icmp`], `icmp.rs`);
//! 3. a later fragment follows its first fragment (`frag.rs`), a `nat` reply's straight back
//!    to the client (`xmit/nat.rs`);
//! 4. the address filter (`lookup.rs`): neither a VIP destination nor a `nat` real-server
//!    source goes to the host stack after two array reads;
//! 5. the connection table (`conn/`): a `nat` reply entry sends the packet back to the
//!    client (`xmit/nat.rs`); a known flow keeps its real server and follows its state (its
//!    second packet confirms it); a new one finds its service (`lookup.rs`), persistence
//!    template (`persist.rs`) or scheduler (`sched/`), and is recorded as unconfirmed; a new
//!    one no service takes may be an FTP data connection lbd's helper expects (`ftp.rs`);
//! 6. the real server (`lookup.rs`), the first fragment remembered (`frag.rs`), the
//!    service's and real server's counters (`stats.rs`);
//! 7. forwarding by the real server's method (`xmit/`: `tun.rs`, `dr.rs`, `nat.rs`, with the
//!    next hop from `route.rs`), a checksum the sender left to the hardware finished first
//!    (`partial.rs`).
//!
//! Each stage returns `Result<_, Verdict>`; `Err` stops the chain with a counted verdict.

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
    // SAFETY: this CPU's slot, used by nothing else during this run.
    let pkt: &Packet = unsafe {
        (*scratch).pkt_ok = 0;
        (*scratch).trace_real = 0;
        (*scratch).csum.finished = 0;
        (*scratch).to_kernel = 0;
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
    let (id, new) = if pkt.frag == FRAG_LATER {
        now = clock::now();
        let e = frag::lookup(pkt, now)?;
        // SAFETY: points into this CPU's scratch slot, filled by the lookup.
        let e = unsafe { &*e };
        if e.flags & FRAG_F_REPLY != 0 {
            return nat::reply(ctx, pkt, &e.vaddr, 0, e.service, e.real, false);
        }
        (e.real, false)
    } else {
        // Most of what is not for a VIP (the host's own traffic) stops here, after two array
        // reads; what passes may still be nobody's (the filter has false positives).
        if !maybe_ours(&pkt.flow) {
            return Err(Verdict::pass(reason::PASS_NOT_VIP));
        }
        // Read once: the connection entry and the next-hop cache share it.
        now = clock::now();
        // Stage `conn` first: a packet of an established flow (or a `nat` reply) is one
        // lookup; only a packet the table does not know needs its VIP's service.
        match conn::find(pkt, cfg, conn_time(now)) {
            Known::Reply(real) => {
                partial::before_send(ctx, pkt)?;
                return nat::from_real(ctx, pkt, real);
            }
            Known::Flow(real) => (real, false),
            // The classifier (`vip::<true>`) is not called from `lb` yet: with it the program
            // takes more than the verifier's 1,000,000 steps (measured 2026-12-04; it needs a
            // tail call of its own). Firewall-mark services are refused by the config's
            // validation until then.
            Known::Nothing => match vip::<false>(&pkt.flow, cfg) {
                Ok(svc) => conn::track_new(pkt, &svc, cfg, now)?,
                // No service: perhaps an FTP data connection the helper expects.
                Err(miss) => match ftp::expected(&pkt.flow, cfg, now).ok_or(miss)? {
                    Expected::Passive(real) => conn::track_passive(pkt, real, cfg, now)?,
                    Expected::Active(real) => {
                        conn::track_active(pkt, real, cfg, now)?;
                        return nat::from_real(ctx, pkt, real);
                    }
                },
            },
        }
    };
    // SAFETY: this CPU's slot, as above.
    unsafe { (*scratch).trace_real = id };
    let to = Target {
        id,
        real: real_server(id)?,
    };
    let service = to.real.service;
    frag::remember(pkt, id, service, 0, &[0; 4], now);
    stats::account(service, id, pkt, new);
    partial::before_send(ctx, pkt)?;
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
