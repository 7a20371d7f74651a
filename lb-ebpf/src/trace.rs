//! Drop tracing (`lbctl trace`): while lbd sets `CFG_F_TRACE`, `lb` writes one
//! [`TraceEvent`] per packet that `TRACE_FILTER` selects (verdict, reason, flow, real server)
//! into the ring buffer `TRACE`, at most `max_per_sec` per CPU. Off, it costs one test of a
//! flag in the config `lb` reads anyway.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use lb_common::{CFG_F_TRACE, TRACE_F_PARSED, TraceEvent};

use crate::{
    maps::{CONFIG, TRACE, TRACE_FILTER, scratch},
    ptr,
    verdict::Verdict,
};

/// Reports `v` if tracing is on. `parsed`: the scratch packet belongs to this packet.
#[inline(always)]
pub fn emit(v: &Verdict, parsed: bool) {
    match CONFIG.get(0) {
        Some(c) if c.flags & CFG_F_TRACE != 0 => emit_outlined(v.action, v.reason, parsed as u32),
        _ => {}
    }
}

/// Equal addresses, word by word (an array comparison would call `bcmp`).
#[inline(always)]
fn same(a: &[u32; 4], b: &[u32; 4]) -> bool {
    a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3]
}

/// Out of line: its frame is only on the stack while tracing.
#[inline(never)]
fn emit_outlined(action: u32, reason: u32, parsed: u32) {
    let (Some(s), Some(f)) = (scratch(), TRACE_FILTER.get(0)) else {
        return;
    };
    // SAFETY: this CPU's scratch slot; nothing else uses it during this run.
    let s = unsafe { &mut *s };
    let parsed = parsed != 0 && s.pkt_ok != 0;
    let flow = &s.pkt.flow;
    if f.vip_family != 0
        && !(parsed
            && flow.family == f.vip_family
            && (same(&flow.dst, &f.vip) || same(&flow.src, &f.vip)))
    {
        return;
    }
    if f.client_family != 0
        && !(parsed
            && flow.family == f.client_family
            && (same(&flow.src, &f.client) || same(&flow.dst, &f.client)))
    {
        return;
    }
    if f.real != 0 && s.trace_real != f.real {
        return;
    }
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if now.wrapping_sub(s.trace_window_ns) >= 1_000_000_000 {
        s.trace_window_ns = now;
        s.trace_count = 0;
    }
    if f.max_per_sec != 0 && s.trace_count >= f.max_per_sec {
        return;
    }
    s.trace_count += 1;
    let Some(mut e) = TRACE.reserve::<TraceEvent>(0) else {
        // The buffer is full (lbd is behind): this event is lost.
        return;
    };
    let p = e.as_mut_ptr();
    // SAFETY: `p` is the reserved record, written field by field (the addresses word by
    // word: a struct copy from the scratch map would become a `memmove` call).
    unsafe {
        (*p).ts_ns = now;
        (*p).action = action;
        (*p).reason = reason;
        (*p).real = if parsed { s.trace_real } else { 0 };
        (*p).flags = if parsed { TRACE_F_PARSED } else { 0 };
        let fl = core::ptr::addr_of_mut!((*p).flow);
        if parsed {
            ptr::store_addr(core::ptr::addr_of_mut!((*fl).src) as *mut u8, &flow.src);
            ptr::store_addr(core::ptr::addr_of_mut!((*fl).dst) as *mut u8, &flow.dst);
            (*fl).sport = flow.sport;
            (*fl).dport = flow.dport;
            (*fl).proto = flow.proto;
            (*fl).family = flow.family;
        } else {
            ptr::store_addr(core::ptr::addr_of_mut!((*fl).src) as *mut u8, &[0; 4]);
            ptr::store_addr(core::ptr::addr_of_mut!((*fl).dst) as *mut u8, &[0; 4]);
            (*fl).sport = 0;
            (*fl).dport = 0;
            (*fl).proto = 0;
            (*fl).family = 0;
        }
        (*fl)._pad = [0; 2];
    }
    e.submit(0);
}
