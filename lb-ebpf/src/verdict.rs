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
