//! Stage `schedule`: picks a real server for a new flow from the service's table, which lbd
//! computed (a Maglev lookup table for `mh`).

use lb_common::{
    FlowKey, Service,
    hash::{FLOW_HASH_SEED, flow_hash},
    reason,
};

use crate::{maps::SCHED_TABLE, verdict::Verdict};

#[inline(always)]
pub fn schedule(flow: &FlowKey, svc: &Service) -> Result<u32, Verdict> {
    let none = Verdict::drop(reason::DROP_NO_REAL);
    if svc.table_len == 0 {
        return Err(none);
    }
    let slot = svc.table_off + flow_hash(flow, FLOW_HASH_SEED) % svc.table_len;
    match SCHED_TABLE.get(slot) {
        Some(&id) if id != 0 => Ok(id),
        _ => Err(none),
    }
}
