//! The one contract between lb's XDP programs (`lb-ebpf`) and user space (`lbd`, `lbctl`,
//! tests): map names and capacities, keys and values, flags and counter indices. One file per
//! subject: the maps themselves and their layout version (`maps.rs`, with the byte layouts
//! of their types in `layout.rs`), then what they hold: services (`service.rs`), schedulers
//! (`sched.rs`), real servers (`real.rs`), connections (`conn.rs`), IPVS's TCP and SCTP states
//! (`proto_tcp.rs`, `proto_sctp.rs`), persistence templates
//! (`persist.rs`), the locality table (`locality.rs`), fragments (`frag.rs`), the settings
//! (`config.rs`), FTP's expected data connections (`ftp.rs`), the address filter (`addr_filter.rs`), counters (`stats.rs`, `reason.rs`),
//! tracing (`trace.rs`), the benchmark shim (`bench.rs`); the flow hash (`hash.rs`); lbd's
//! control API (`api.rs`, user space only). Everything is re-exported here.
//!
//! Every type here is `#[repr(C)]`, `Copy`, has explicit padding and a compile-time size
//! assertion, and states the byte order of each multi-byte field. No `bool`, `Option` or enum
//! appears in a map value: the kernel side reads plain integers and compares them with the
//! constants below.
#![no_std]

#[cfg(any(feature = "user", test))]
extern crate std;

pub mod addr_filter;
pub mod bench;
pub mod config;
pub mod conn;
pub mod frag;
pub mod ftp;
pub mod hash;
pub mod layout;
pub mod locality;
pub mod maps;
pub mod mark;
pub mod persist;
pub mod proto_sctp;
pub mod proto_tcp;
pub mod real;
pub mod reason;
pub mod sched;
pub mod service;
pub mod stats;
pub mod trace;

pub use addr_filter::*;
pub use bench::*;
pub use config::*;
pub use conn::*;
pub use frag::*;
pub use ftp::*;
pub use locality::*;
pub use maps::{LAYOUT_FINGERPRINT, LAYOUT_VERSION, LayoutMeta, capacity, map_name, prog_slot};
pub use mark::*;
pub use persist::*;
pub use proto_sctp::*;
pub use proto_tcp::*;
pub use real::*;
pub use reason::*;
pub use sched::*;
pub use service::*;
pub use stats::*;
pub use trace::*;
/// Address families, as stored in keys and values (not the kernel's AF_* values).
pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;

/// IP protocol numbers used in keys.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_SCTP: u8 = 132;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_ICMPV6: u8 = 58;

#[cfg(feature = "user")]
mod user {
    use super::*;
    // SAFETY: all of these are repr(C), Copy, with explicit padding and no invalid bit patterns.
    unsafe impl aya::Pod for VipKey {}
    unsafe impl aya::Pod for MarkAddr {}
    unsafe impl aya::Pod for MarkRule {}
    unsafe impl aya::Pod for MarkRules {}
    unsafe impl aya::Pod for Service {}
    unsafe impl aya::Pod for RealServer {}
    unsafe impl aya::Pod for ExpectKey {}
    unsafe impl aya::Pod for Expect {}
    unsafe impl aya::Pod for FlowKey {}
    unsafe impl aya::Pod for Conn {}
    unsafe impl aya::Pod for ConnKey4 {}
    unsafe impl aya::Pod for NewConn {}
    unsafe impl aya::Pod for ConnCount {}
    unsafe impl aya::Pod for NatDest {}
    unsafe impl aya::Pod for Template {}
    unsafe impl aya::Pod for GlobalConfig {}
    unsafe impl aya::Pod for Stats {}
    unsafe impl aya::Pod for IfStats {}
    unsafe impl aya::Pod for BenchState {}
    unsafe impl aya::Pod for NextHop {}
    unsafe impl aya::Pod for ClientHop {}
    unsafe impl aya::Pod for RealConns {}
    unsafe impl aya::Pod for PersistKey {}
    unsafe impl aya::Pod for FragKey {}
    unsafe impl aya::Pod for FragEntry {}
    unsafe impl aya::Pod for DecapConfig {}
    unsafe impl aya::Pod for RealLimits {}
    unsafe impl aya::Pod for Locality {}
    unsafe impl aya::Pod for TraceFilter {}
    unsafe impl aya::Pod for TraceEvent {}
    unsafe impl aya::Pod for LayoutMeta {}
    unsafe impl aya::Pod for TwosDraw {}
}
