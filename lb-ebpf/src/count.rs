//! Counting reasons: one per-CPU counter per verdict and reason (`lb_common::reason`); and
//! per interface, the packets that arrive and their verdicts (`lb_common::IfStats`).

use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use lb_common::{IF_STATS_DIRECT, IfStats};

use crate::{
    maps::{IF_STATS, IF_STATS_FAR, REASONS},
    ptr::ptr_at,
    verdict::Verdict,
};

/// The counters of the interface the packet arrived on, or None where lbd made none (an
/// interface it is not attached to, e.g. BPF_PROG_TEST_RUN's loopback). A small index is a
/// slot of the direct array (an inlined read), a larger one an entry of the hash.
#[inline(always)]
pub fn interface(ctx: &XdpContext) -> Option<*mut IfStats> {
    // SAFETY: the context the kernel passed; reading a field of it.
    let ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
    let s = if ifindex < IF_STATS_DIRECT {
        IF_STATS.get_ptr_mut(ifindex)
    } else {
        IF_STATS_FAR.get_ptr_mut(ifindex)
    }?;
    // SAFETY: a per-CPU map value; lbd writes `counted` before it attaches `lb`.
    (unsafe { (*s).counted } != 0).then_some(s)
}

/// Counts a packet arriving (and its bytes) on its interface; returns whether the frame is
/// for another host (see [`other_host`]).
///
/// The counters' pointer is not kept for [`verdict`], which looks it up again: it points into
/// one of two maps, and the verifier, which cannot merge the two kinds of pointer, would
/// walk the whole program once for each.
#[inline(always)]
pub fn arrival(ctx: &XdpContext) -> bool {
    let Some(s) = interface(ctx) else {
        return false;
    };
    let len = ctx.data_end().saturating_sub(ctx.data()) as u64;
    // SAFETY: a per-CPU map value, only this CPU writes it while this program runs.
    unsafe {
        (*s).packets += 1;
        (*s).bytes += len;
    }
    other_host(ctx, s)
}

/// Whether the frame is a unicast one to another MAC address than its interface's (which lbd
/// wrote into the interface's counters; none written: no check).
#[inline(always)]
fn other_host(ctx: &XdpContext, s: *mut IfStats) -> bool {
    let Some(dst) = ptr_at::<[u8; 6]>(ctx, 0) else {
        return false;
    };
    // SAFETY: a per-CPU map value (lbd writes the address before lb is attached) and the
    // six bytes checked above.
    let (mine, dst) = unsafe { ((*s).mac, dst.read_unaligned()) };
    // The I/G bit: multicast and broadcast frames are every host's.
    mine != [0; 6] && dst[0] & 1 == 0 && dst != mine
}

/// Counts the XDP action a packet ends with on its interface's counters.
#[inline(always)]
pub fn verdict(ctx: &XdpContext, action: u32) {
    let Some(s) = interface(ctx) else { return };
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
