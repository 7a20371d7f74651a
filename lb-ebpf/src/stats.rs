//! Per-service and per-real-server traffic counters (ipvsadm `--stats`: Conns, InPkts,
//! OutPkts, InBytes, OutBytes), per CPU; lbd sums them.

use lb_common::Stats;

use crate::{
    maps::{REAL_STATS, SVC_STATS},
    parse::Packet,
};

/// A packet toward a real server: Conns (when it started a connection), InPkts, InBytes.
#[inline(always)]
pub fn account(service: u32, real_id: u32, pkt: &Packet, new: bool) {
    let bytes = pkt.ip_len as u64;
    let conns = new as u64;
    if let Some(s) = SVC_STATS.get_ptr_mut(service) {
        // SAFETY: per-CPU slot, written only by this CPU.
        unsafe { bump(s, conns, bytes) };
    }
    if let Some(s) = REAL_STATS.get_ptr_mut(real_id) {
        // SAFETY: as above.
        unsafe { bump(s, conns, bytes) };
    }
}

#[inline(always)]
unsafe fn bump(s: *mut Stats, conns: u64, bytes: u64) {
    unsafe {
        (*s).conns += conns;
        (*s).in_pkts += 1;
        (*s).in_bytes += bytes;
    }
}

/// A `nat` real server's reply toward the client: OutPkts, OutBytes.
#[inline(always)]
pub fn account_out(service: u32, real: u32, bytes: u64) {
    if let Some(s) = SVC_STATS.get_ptr_mut(service) {
        // SAFETY: per-CPU slot.
        unsafe { bump_out(s, bytes) };
    }
    if let Some(s) = REAL_STATS.get_ptr_mut(real) {
        // SAFETY: per-CPU slot.
        unsafe { bump_out(s, bytes) };
    }
}

#[inline(always)]
unsafe fn bump_out(s: *mut Stats, bytes: u64) {
    unsafe {
        (*s).out_pkts += 1;
        (*s).out_bytes += bytes;
    }
}
