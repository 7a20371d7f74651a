//! The programs' clock.

use aya_ebpf::helpers::{bpf_jiffies64, bpf_ktime_get_coarse_ns};

/// The time `lb` stamps connections, templates, fragments and its next-hop cache with:
/// CLOCK_MONOTONIC at tick granularity (`bpf_ktime_get_coarse_ns`). lbd compares these
/// stamps with CLOCK_MONOTONIC; the coarse clock is never ahead of it and at most one tick
/// behind, which no timeout here notices. The precise clock reads the TSC, which costs a few
/// percent of a packet's time under a hypervisor.
#[inline(always)]
pub fn now() -> u64 {
    // SAFETY: a helper without arguments or preconditions.
    unsafe { bpf_ktime_get_coarse_ns() }
}

/// A CPU's last reading of the coarse clock, and the tick (`jiffies`) it holds for.
#[repr(C)]
pub struct Cache {
    pub jiffies: u64,
    pub ns: u64,
}

/// [`now`], read at most about once a tick on a CPU: the coarse clock only moves when the
/// tick advances `jiffies`, which the verifier reads inline (two instructions), where the
/// clock's helper call costs about 10 ns a packet (measured here: 9% of an established
/// flow's time in `lb`).
///
/// The kernel advances `jiffies` just before the coarse clock, so a reading between the two
/// is the old time: it is not kept for the tick, and the next packet reads the clock again,
/// until it has moved. So the result is the coarse clock, at most a tick behind it, never
/// ahead, and never behind an earlier result of this CPU's.
#[inline(always)]
pub fn cached(cache: *mut Cache) -> u64 {
    // SAFETY: helpers without arguments or preconditions; `cache` is this CPU's, which
    // nothing else touches while this program runs.
    unsafe {
        let j = bpf_jiffies64();
        if (*cache).jiffies == j {
            return (*cache).ns;
        }
        let ns = bpf_ktime_get_coarse_ns();
        if ns != (*cache).ns {
            (*cache).jiffies = j;
            (*cache).ns = ns;
        }
        ns
    }
}
