//! lbd's library: everything the daemon does, so that tests and benchmarks drive the same
//! code the binary runs.
//!
//! The modules are layers; each imports only from those below it (`tests/layers.rs` checks):
//!
//! | layer | modules | what |
//! | --- | --- | --- |
//! | 0 | [`dataplane`] | the XDP object and its maps: load, adopt, pin, attach; `apply(&Plan)`, the one way to the maps |
//! | 1 | [`plan`] | the desired state (one owner) and its overlays, ids and table regions, the table builders, the compiler to a `Plan` |
//! | 2 | [`health`], [`expiry`], [`estimator`], [`host`] | services that change the desired state through `plan` or keep the data plane's tables |
//! | 3 | [`context`] | the shared context of the daemon and the listings made from it |
//! | 4 | [`control`], [`metrics`], [`trace`] | the doors: the control socket, the metrics endpoint, trace streams |
//! | 5 | [`run`] | start-up and shut-down: the threads and signals that wire the rest |
//!
//! The config, its validation and the names of things are the typed model in `lb-model`;
//! the kernel contract is `lb-common`.

pub mod context;
pub mod control;
pub mod dataplane;
pub mod estimator;
pub mod expiry;
pub mod health;
pub mod host;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod trace;

// The paths the integration tests and the benchmark (`tests/`) used before the daemon was
// layered. They go when those move to the paths above (with the tests' own restructuring);
// nothing in lbd uses them.
#[doc(hidden)]
pub mod config {
    pub use lb_model::{Protocol, config::*};
}
#[doc(hidden)]
pub mod state {
    pub use lb_model::addr::{addr_of, addr_words, vip_key};

    pub use crate::plan::{ApplyError, ApplyReport, Planner as State};
}
#[doc(hidden)]
pub mod conntrack {
    pub use crate::expiry::*;
}
#[doc(hidden)]
pub mod maglev {
    pub use crate::plan::maglev::*;
}
#[doc(hidden)]
pub mod daemon {
    /// See [`crate::dataplane::Dataplane::referenced_real_ids`].
    pub fn referenced_real_ids(dp: &crate::dataplane::Dataplane) -> std::collections::HashSet<u32> {
        dp.referenced_real_ids()
    }
}
#[doc(hidden)]
pub mod sched {
    pub use crate::plan::sched::*;
    use crate::plan::{maglev::Backend, sched};

    /// [`sched::table`] by scheduler name.
    pub fn table(
        name: &str,
        mh_size: u32,
        backends: &[Backend<'_>],
    ) -> Result<Vec<u32>, SchedError> {
        sched::table(name.parse().expect("a scheduler name"), mh_size, backends)
    }

    /// [`sched::cells`] by scheduler name.
    pub fn cells(
        name: &str,
        mh_size: u32,
        backends: &[Backend<'_>],
    ) -> Result<Vec<u64>, SchedError> {
        sched::cells(name.parse().expect("a scheduler name"), mh_size, backends)
    }
}
