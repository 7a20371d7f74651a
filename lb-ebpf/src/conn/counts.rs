//! The real servers' active and inactive connection counts as IPVS keeps them (active:
//! ESTABLISHED and the handshake's TCP states, `lb_common::conn_active`; inactive: every other
//! state), and the overload mark of their upper
//! threshold. `lb` moves them as connections start, change state and are forgotten; lbd
//! takes off what it expires and corrects what races left behind.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use lb_common::conn_active;

use crate::maps::{REAL_CONNS, REAL_LIMITS};

/// Adds `n` to the real server's active or inactive count (by `state`), atomically: lbd and other CPUs update the same counters.
#[inline(always)]
pub fn add(real: u32, state: u8, n: i64) {
    if let Some(rc) = REAL_CONNS.get_ptr_mut(real) {
        // SAFETY: an array element, 8-aligned; only ever accessed atomically.
        let slot = unsafe {
            if conn_active(state) {
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

/// A connection of `real` went from state `from` to `to`: moves it between the counts when
/// it changes class (active / inactive).
#[inline(always)]
pub fn moved(real: u32, from: u8, to: u8) {
    if conn_active(from) != conn_active(to) {
        add(real, from, -1);
        add(real, to, 1);
    }
}

/// IPVS's `ip_vs_bind_dest`: a real server whose connections (active + inactive) reach its
/// upper threshold with this one is overloaded: no scheduler gives it new connections until
/// lbd's expiry takes it below the lower threshold.
#[inline(always)]
pub fn note_load(real: u32) {
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
