//! Stage `schedule`: picks a real server for a new flow by the service's scheduler, dispatched
//! by scheduler code to its family:
//! - `table.rs`: table-driven (`rr`, `wrr`, `sh`, `dh`, `mh`), one slot of a table lbd
//!   computed;
//! - `counted.rs`: count-driven (`lc`, `wlc`, `sed`, `nq`, `fo`, `ovf`), a walk over the real
//!   servers' live connection counts;
//! - `locality.rs`: locality-based (`lblc`, `lblcr`), a destination's remembered real
//!   server(s), else the `wlc` choice;
//! - `twos.rs`: `twos`, two real servers drawn at random by weight, the less loaded taken.
//!
//! A real server over its upper connection threshold (`RealLimits::overloaded`) gets no new
//! connection from any scheduler, as in IPVS: `rr` and `wrr` move on along their sequence, `sh`
//! and `mh` take the next available slot with their `-fallback` flag and drop the connection
//! without it, `dh` drops it, the count-driven ones pass over it.

mod counted;
mod locality;
mod table;
mod twos;

use lb_common::{
    FlowKey, SCHED_DH, SCHED_FO, SCHED_LBLC, SCHED_LBLCR, SCHED_LC, SCHED_MH, SCHED_NQ, SCHED_OVF,
    SCHED_RR, SCHED_SED, SCHED_SH, SCHED_TWOS, SCHED_WLC, SCHED_WRR, Service, reason,
};

pub use self::table::rehash;
use crate::verdict::Verdict;

#[inline(always)]
pub fn schedule(flow: &FlowKey, svc: &Service, now: u64) -> Result<u32, Verdict> {
    if svc.table_len == 0 {
        return Err(Verdict::drop(reason::DROP_NO_REAL));
    }
    let id = match svc.sched {
        SCHED_RR | SCHED_WRR | SCHED_SH | SCHED_DH | SCHED_MH => table::pick(flow, svc),
        SCHED_LC | SCHED_WLC | SCHED_SED | SCHED_NQ | SCHED_FO | SCHED_OVF => {
            counted::least_loaded(svc.sched, svc.table_off, svc.table_len, 0)
        }
        SCHED_LBLC | SCHED_LBLCR => locality::pick(svc, now),
        SCHED_TWOS => twos::pick(svc.table_off, svc.table_len),
        // lbd writes no other code.
        _ => 0,
    };
    if id == 0 {
        Err(Verdict::drop(reason::DROP_NO_REAL))
    } else {
        Ok(id)
    }
}
