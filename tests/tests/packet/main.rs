//! The packet tier: the real XDP object, its maps filled by the daemon's own apply code,
//! crafted packets run through `BPF_PROG_TEST_RUN` in a private network namespace (no traffic
//! leaves it). Single-packet behaviour is written as fixture tables (`lb_tests::fixture`:
//! input, verdict, exact output bytes with checksums recomputed independently, counter
//! changes); sequences (connection tracking, the schedulers' differential tests, the fuzz)
//! are code over the same shared fixtures.
//!
//! Every test builds its own harness (its own namespace and loaded object), so tests run in
//! parallel; the ones that depend on per-CPU state pin their thread.

mod admission;
mod conntrack;
mod dr_nat;
mod fixtures;
mod frag_vlan;
mod ftp;
mod fuzz;
mod fwmark;
mod gue_gre;
mod icmp;
mod interfaces;
mod ipv4;
mod ipv6;
mod mid_flow;
mod object;
mod partial;
mod port_zero;
mod real_ids;
mod reuse;
mod sched_limits;
mod schedulers;
mod sctp;
mod states;
mod synced;
mod tun_source;
