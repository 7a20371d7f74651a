//! Pure text formatting of lbd's answers, byte-for-byte as ipvsadm 1.31 prints the kernel's
//! IPVS table, one format a file (the functions of `ipvsadm.c` and `libipvs.c` each
//! reproduces are named in its documentation, with the C format strings):
//!
//! - `list.rs`: `-L` (`list_all`, `list_service`, `print_title`), and `entry.rs`: a service
//!   and its real servers in each variant (`print_service_entry`: default, `--stats`,
//!   `--rate`, `--thresholds`, `--persistent-conn`, `--tun-info`); `list_format.rs`: which
//!   variant;
//! - `save.rs`: `-S` (`print_service_entry` with `FMT_RULE`, `print_tunnel_rule`);
//! - `connections.rs`: `-L -c` (`list_conn`, `print_conn`);
//! - `timeouts.rs`: `-L --timeout` (`list_timeout`); `daemon.rs`: `-L --daemon`
//!   (`list_daemon`);
//! - `service.rs`: how a service is named in a listing and a rule; `names.rs`: ipvsadm's
//!   words for protocols, forwarding methods, scheduler flags and tunnels (`fwd_name`,
//!   `fwd_switch`, `print_sched_flags`, `fwd_tun_info`);
//! - `address.rs`: addresses and ports as text (`addrport_to_anyname`, glibc's `inet_ntop`);
//!   `lookup.rs`: the host and service names printed without `-n`;
//! - `sort.rs`: ipvsadm's order (`ipvs_cmp_services`, `ipvs_cmp_dests`, glibc's `qsort`);
//! - `largenum.rs`: counters (`print_largenum`);
//! - `proc.rs`: the kernel's own files, `/proc/net/ip_vs`, `ip_vs_conn`, `ip_vs_stats`,
//!   `ip_vs_stats_percpu` (`lbctl proc`), from the kernel's seq_file format strings;
//! - `status.rs`: `lbctl status`, and `top.rs`: a frame of `lbctl top` (lbctl's own).
//!
//! Nothing here does I/O except name lookups, and those go through a [`Resolve`] the caller
//! chooses ([`Numeric`] for `-n`): every function takes views and returns a `String`, so the
//! golden tests pin the exact output.

pub mod address;
pub mod connections;
pub mod daemon;
pub mod entry;
pub mod largenum;
pub mod list;
pub mod list_format;
pub mod lookup;
pub mod names;
pub mod proc;
pub mod save;
pub mod service;
pub mod sort;
pub mod status;
pub mod timeouts;
pub mod top;

#[cfg(test)]
mod fixtures;

pub use self::{
    address::{addrport, addrport_any, inet_ntop6},
    connections::connections,
    daemon::{SyncDaemon, daemons},
    entry::service_entry,
    largenum::largenum,
    list::{IPVS_VERSION, list_all, list_service, title},
    list_format::ListFormat,
    lookup::{Numeric, Resolve, SystemNames},
    names::{fwd_name, fwd_switch, protocol_name, sched_flags, tun_info},
    save::rules,
    status::status,
    timeouts::timeouts,
    top::{TopFrame, top},
};
