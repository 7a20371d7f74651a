//! lbd's library: everything the daemon does, so that tests and benchmarks drive the same
//! code the binary runs.

pub mod config;
pub mod conntrack;
pub mod daemon;
pub mod dataplane;
pub mod health;
pub mod maglev;
pub mod metrics;
pub mod neigh;
pub mod netns;
pub mod sched;
pub mod state;
pub mod trace;
