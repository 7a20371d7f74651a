//! Stage `schedule`: picks a real server for a new flow from the service's table, which lbd
//! computed by the service's scheduler's rules. Only the choice of slot differs here: a hash
//! of the 5-tuple (`mh`), of the client address (`sh`) or of the destination address (`dh`),
//! or a rotating per-CPU cursor (`rr`, `wrr`).

use lb_common::{
    FlowKey, SCHED_DH, SCHED_RR, SCHED_SH, SCHED_WRR, Service,
    hash::{FLOW_HASH_SEED, addr_hash, flow_hash},
    reason,
};

use crate::{
    maps::{SCHED_CURSOR, SCHED_TABLE},
    verdict::Verdict,
};

#[inline(always)]
pub fn schedule(flow: &FlowKey, svc: &Service) -> Result<u32, Verdict> {
    let none = Verdict::drop(reason::DROP_NO_REAL);
    if svc.table_len == 0 {
        return Err(none);
    }
    let pick = match svc.sched {
        SCHED_SH => addr_hash(&flow.src, FLOW_HASH_SEED),
        SCHED_DH => addr_hash(&flow.dst, FLOW_HASH_SEED),
        SCHED_RR | SCHED_WRR => cursor(svc.id),
        _ => flow_hash(flow, FLOW_HASH_SEED),
    };
    let slot = svc.table_off + pick % svc.table_len;
    match SCHED_TABLE.get(slot) {
        Some(&id) if id != 0 => Ok(id),
        _ => Err(none),
    }
}

/// This CPU's position in a round-robin service's sequence, advanced by one. Per CPU, so no
/// two CPUs contend for it; each CPU walks the whole sequence in order (IPVS keeps one global
/// position under a lock).
#[inline(always)]
fn cursor(service: u32) -> u32 {
    match SCHED_CURSOR.get_ptr_mut(service) {
        // SAFETY: this CPU's slot.
        Some(c) => unsafe {
            let v = *c;
            *c = v.wrapping_add(1);
            v
        },
        None => 0,
    }
}
