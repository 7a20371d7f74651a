//! The live tier: client, director and real servers as network namespaces joined by veth
//! pairs and a bridge the tests create, lbd (and `lbd decap`) running for real with XDP in
//! native mode, real TCP/UDP traffic, lbctl against lbd's socket; asserting what the client
//! and the servers saw and what lbd reports. Nothing is routed out of the namespaces.
//!
//! Every test builds its own topology (namespaces, pins, work directory, names unique to it),
//! so tests run in parallel; `cargo test`'s default of one thread per core keeps two at a
//! time here.

mod atomicity;
mod balance;
mod ctl;
mod daemon;
mod failover;
mod flood;
mod forwarding;
mod ftp;
mod fuzz;
mod fwmark;
mod ha;
mod health;
mod json;
mod limits;
mod offload;
mod ops;
mod packaging;
mod port_zero;
mod restart;
mod reuse;
mod sctp;
mod states;
mod trace;
mod two_armed;
