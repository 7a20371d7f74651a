//! Counting reasons: one per-CPU counter per verdict and reason (`lb_common::reason`); and
//! per interface, the packets that arrive and their verdicts (`lb_common::IfStats`).

use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use lb_common::IfStats;

use crate::{
    maps::{IF_STATS, REASONS},
    verdict::Verdict,
};

/// The counters of the interface the packet arrived on, or None where lbd made none (an
/// interface it is not attached to, e.g. BPF_PROG_TEST_RUN's loopback).
#[inline(always)]
pub fn interface(ctx: &XdpContext) -> Option<*mut IfStats> {
    // SAFETY: the context the kernel passed; reading a field of it.
    let ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
    IF_STATS.get_ptr_mut(ifindex)
}

/// Counts a packet arriving (and its bytes) on its interface; returns the interface's counters
/// for [`verdict`].
#[inline(always)]
pub fn arrival(ctx: &XdpContext) -> Option<*mut IfStats> {
    let s = interface(ctx)?;
    let len = ctx.data_end().saturating_sub(ctx.data()) as u64;
    // SAFETY: a per-CPU hash value, only this CPU writes it while this program runs.
    unsafe {
        (*s).packets += 1;
        (*s).bytes += len;
    }
    Some(s)
}

/// Counts the XDP action a packet ends with on its interface's counters.
#[inline(always)]
pub fn verdict(s: Option<*mut IfStats>, action: u32) {
    let Some(s) = s else { return };
    // SAFETY: as in `arrival`.
    unsafe {
        match action {
            xdp_action::XDP_ABORTED => (*s).aborted += 1,
            xdp_action::XDP_DROP => (*s).drop += 1,
            xdp_action::XDP_PASS => (*s).pass += 1,
            xdp_action::XDP_TX => (*s).tx += 1,
            _ => (*s).redirect += 1,
        }
    }
}

/// Bumps one reason counter (`lb_common::reason`).
#[inline(always)]
pub fn count(reason: u32) {
    if let Some(c) = REASONS.get_ptr_mut(reason) {
        // SAFETY: a per-CPU array slot, only this CPU writes it while this program runs.
        unsafe { *c += 1 };
    }
}

/// Turns a stage chain's result into the XDP action, counting the reason. `Ok` and `Err` both
/// carry a verdict: `Err` stopped early (pass or drop), `Ok` went all the way (forwarded).
#[inline(always)]
pub fn finish(r: Result<Verdict, Verdict>) -> u32 {
    let v = match r {
        Ok(v) => v,
        Err(v) => v,
    };
    count(v.reason);
    v.action
}
