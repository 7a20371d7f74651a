//! lbd's library: everything the daemon does, so that tests and benchmarks drive the same
//! code the binary runs.

pub mod config;
pub mod conntrack;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod estimator;
pub mod health;
pub mod maglev;
pub mod metrics;
pub mod neigh;
pub mod netns;
pub mod ops;
pub mod sched;
pub mod schema;
pub mod state;
pub mod trace;
