//! The programs' clock.

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
