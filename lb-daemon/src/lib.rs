//! lbd's library: everything the daemon does, so that tests and benchmarks drive the same
//! code the binary runs.
//!
//! The modules are layers; each imports only from those below it (`tests/layers.rs` checks):
//!
//! | layer | modules | what |
//! | --- | --- | --- |
//! | 0 | [`dataplane`] | the XDP object and its maps: load, adopt, pin, attach; `apply(&Plan)`, the one way to the maps |
//! | 1 | [`plan`] | the desired state (one owner) and its overlays, ids and table regions, the table builders, the compiler to a `Plan` |
//! | 2 | [`health`], [`expiry`], [`estimator`], [`host`], [`sync`], [`bgp`], [`ftp`] | services that change the desired state through `plan`, keep the data plane's tables, announce the VIPs, or help FTP through a `nat` VIP |
//! | 3 | [`context`] | the shared context of the daemon and the listings made from it |
//! | 4 | [`control`], [`metrics`], [`trace`] | the doors: the control socket, the metrics endpoint, trace streams |
//! | 5 | [`run`] | start-up and shut-down: the threads and signals that wire the rest |
//!
//! The config, its validation and the names of things are the typed model in `lb-model`;
//! the kernel contract is `lb-common`.

pub mod bgp;
pub mod context;
pub mod control;
pub mod dataplane;
pub mod estimator;
pub mod expiry;
pub mod ftp;
pub mod health;
pub mod host;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod sync;
pub mod trace;
