//! The table-driven schedulers, `rr`, `wrr`, `sh`, `dh` and `mh`: the service's table (lbd
//! computed it by the scheduler's rules: IPVS's interleaved weighted sequence, 256 buckets
//! filled by weight, a weighted Maglev table) is read at one slot, chosen by the service's
//! rotating position, shared by every CPU (`rr`, `wrr`) or by a hash of the client address (`sh`, `mh`; with its port
//! under their `-port` flag) or of the destination address (`dh`).

use core::{
    ffi::c_void,
    intrinsics::{AtomicOrdering, atomic_xadd},
};

use aya_ebpf::helpers::bpf_loop;
use lb_common::{
    FlowKey, MAX_SCHED_PROBES, SCHED_DH, SCHED_F_FALLBACK, SCHED_F_PORT, SCHED_MH, SCHED_RR,
    SCHED_SH, SCHED_WRR, Service, hash::sched_hash,
};

use crate::{
    lookup::{cell_id, overloaded},
    maps::{SCHED_CURSOR, scratch},
};

/// The table-driven schedulers: the slot by cursor or hash; if its real server is overloaded,
/// the next available one along the table for `rr`, `wrr` and the `-fallback` flags, else none.
#[inline(always)]
pub fn pick(flow: &FlowKey, svc: &Service) -> u32 {
    let rotating = svc.sched == SCHED_RR || svc.sched == SCHED_WRR;
    let start = if rotating {
        cursor(svc.id, svc.table_len)
    } else {
        sched_hash(flow, svc.sched, svc.sched_flags & SCHED_F_PORT != 0) % svc.table_len
    };
    let id = cell_id(svc.table_off.wrapping_add(start));
    if id == 0 || !overloaded(id) {
        return id;
    }
    if !rotating && svc.sched_flags & SCHED_F_FALLBACK == 0 {
        return 0;
    }
    let (id, steps) = probe(svc.table_off, svc.table_len, start);
    if rotating && id != 0 {
        // The sequence goes on after the real server taken, as IPVS's position does.
        advance(svc.id, steps);
    }
    id
}

/// The real server a hash-based scheduler (`mh`, `sh`, `dh`) gives a flow: the same choice
/// as when the flow started, as long as the table did not change. None for the others (their
/// choice depended on the moment). For ICMP errors about flows no longer in the table.
#[inline(always)]
pub fn rehash(flow: &FlowKey, svc: &Service) -> Option<u32> {
    if svc.table_len == 0 || !matches!(svc.sched, SCHED_MH | SCHED_SH | SCHED_DH) {
        return None;
    }
    let pick = sched_hash(flow, svc.sched, svc.sched_flags & SCHED_F_PORT != 0);
    match cell_id(svc.table_off.wrapping_add(pick % svc.table_len)) {
        0 => None,
        id => Some(id),
    }
}

/// The slot of a round-robin service's sequence that this connection takes: the service's one
/// position, shared by every CPU as IPVS's is (IPVS moves it under a lock; here one atomic
/// fetch-and-add takes the position and advances it, so two CPUs scheduling at once take
/// consecutive slots).
#[inline(always)]
fn cursor(service: u32, len: u32) -> u32 {
    let Some(c) = SCHED_CURSOR.get_ptr_mut(service) else {
        return 0;
    };
    let mut v: u64 = 1;
    // SAFETY: an array element, 8-aligned, only ever accessed atomically. The instruction is
    // BPF_ATOMIC | BPF_FETCH (Linux 5.12+), written out because the code generator, at the
    // CPU version rustc asks bpf-linker for (v1), selects only the add without fetch.
    unsafe {
        core::arch::asm!(
            "{v} = atomic_fetch_add((u64 *)({p} + 0), {v})",
            p = in(reg) c,
            v = inout(reg) v,
        )
    };
    // In 64 bits, so that the sequence runs on unbroken when the position passes 2^32.
    (v % len as u64) as u32
}

/// Moves a round-robin service's position `steps` slots on (past the real servers a probe
/// passed over), atomically.
#[inline(always)]
fn advance(service: u32, steps: u32) {
    if let Some(c) = SCHED_CURSOR.get_ptr_mut(service) {
        // SAFETY: as in `cursor`. The intrinsic with its result unused is the plain atomic
        // add (BPF_XADD) every BPF CPU version has.
        let _ = unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(c, steps as u64) };
    }
}

/// The first available real server after slot `start` of the table at `off` (wrapping), and
/// how many slots on it lies; (0, 0) when none is within [`MAX_SCHED_PROBES`] slots.
#[inline(always)]
fn probe(off: u32, len: u32, start: u32) -> (u32, u32) {
    let Some(scratch) = scratch() else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return (0, 0);
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*scratch).probe };
    st.off = off;
    st.len = len;
    st.start = start;
    st.found = 0;
    st.steps = 0;
    let n = if len - 1 < MAX_SCHED_PROBES {
        len - 1
    } else {
        MAX_SCHED_PROBES
    };
    // SAFETY: the callback matches bpf_loop's contract; it finds its state in the scratch map.
    unsafe { bpf_loop(n, probe_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above.
    unsafe { ((*scratch).probe.found, (*scratch).probe.steps) }
}

/// One slot of [`probe`]'s walk; returns 1 to stop, 0 to go on.
#[inline(never)]
extern "C" fn probe_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(scratch) = scratch() else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; probe filled it before the loop.
    let st = unsafe { &mut (*scratch).probe };
    if st.len == 0 {
        // Never: the table is not empty. Against a division by zero.
        return 1;
    }
    let steps = i.wrapping_add(1);
    let id = cell_id(st.off.wrapping_add((st.start.wrapping_add(steps)) % st.len));
    if id != 0 && !overloaded(id) {
        st.found = id;
        st.steps = steps;
        return 1;
    }
    0
}
