//! A verdict is an XDP action plus the reason counted for it.

use aya_ebpf::bindings::xdp_action;

use crate::maps::REASONS;

#[derive(Clone, Copy)]
pub struct Verdict {
    pub action: u32,
    pub reason: u32,
}

impl Verdict {
    #[inline(always)]
    pub const fn pass(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_PASS,
            reason,
        }
    }
    #[inline(always)]
    pub const fn drop(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_DROP,
            reason,
        }
    }
    #[inline(always)]
    pub const fn tx(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_TX,
            reason,
        }
    }
    #[inline(always)]
    pub const fn redirect(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_REDIRECT,
            reason,
        }
    }
}

/// The time `lb` stamps connections, templates, fragments and its next-hop cache with:
/// CLOCK_MONOTONIC at tick granularity (`bpf_ktime_get_coarse_ns`). lbd compares these
/// stamps with CLOCK_MONOTONIC; the coarse clock is never ahead of it and at most one tick
/// behind, which no timeout here notices. The precise clock reads the TSC, which costs a few
/// percent of a packet's time under a hypervisor.
#[inline(always)]
pub fn now() -> u64 {
    // SAFETY: a helper without arguments or preconditions.
    unsafe { aya_ebpf::helpers::bpf_ktime_get_coarse_ns() }
}

/// Bumps one reason counter (`lb_common::reason`).
#[inline(always)]
pub fn count(reason: u32) {
    if let Some(c) = REASONS.get_ptr_mut(reason) {
        // SAFETY: a per-CPU array slot, only this CPU writes it while this program runs.
        unsafe { *c += 1 };
    }
}

/// The verdict of a stage chain's result, whichever way it ended.
#[inline(always)]
pub fn of(r: Result<Verdict, Verdict>) -> Verdict {
    match r {
        Ok(v) => v,
        Err(v) => v,
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
