//! Counting reasons: one per-CPU counter per verdict and reason (`lb_common::reason`).

use crate::{maps::REASONS, verdict::Verdict};

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
