//! `lbctl trace`: which packets `lb` reports, and what it reports of each.

use crate::FlowKey;
#[cfg(doc)]
use crate::{CFG_F_TRACE, map_name};

/// Which packets `lb` reports while [`CFG_F_TRACE`] is set (value of the one-entry array
/// [`map_name::TRACE_FILTER`]): written by lbd for `lbctl trace`, read by `lb`. An address
/// filter with family 0, or `real` 0, matches everything.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceFilter {
    /// A VIP (network byte order): packets to it, and `nat` replies from it.
    pub vip: [u32; 4],
    /// A client address: packets from it or to it.
    pub client: [u32; 4],
    /// A real-server id: packets forwarded to it.
    pub real: u32,
    pub vip_family: u8,
    pub client_family: u8,
    pub _pad: [u8; 2],
    /// At most this many events per second and CPU (0: no limit).
    pub max_per_sec: u32,
    pub _pad2: u32,
}
const _: () = assert!(core::mem::size_of::<TraceFilter>() == 48);
/// One decision of `lb` (a record of the ring buffer [`map_name::TRACE`]): written by `lb`,
/// read by lbd for `lbctl trace`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceEvent {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    /// The packet's 5-tuple as parsed (zero when [`TRACE_F_PARSED`] is not set).
    pub flow: FlowKey,
    /// The XDP action.
    pub action: u32,
    /// `lb_common::reason`.
    pub reason: u32,
    /// The real-server id it was forwarded to (0: none).
    pub real: u32,
    /// `TRACE_F_*`.
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<TraceEvent>() == 64);
/// [`TraceEvent::flags`]: the packet was parsed (the flow is valid).
pub const TRACE_F_PARSED: u32 = 1 << 0;
