//! Lookups of what lbd configured: the address filter, the VIP's service, the director-wide
//! settings, a real server, its overload mark and a scheduler-table cell. Each reads one map
//! and copies out or points into what it found.

use lb_common::{
    ADDR_FILTER_WORDS, FlowKey, GlobalConfig, RealServer, Service, VipKey, hash::addr_filter_bit,
    reason,
};

use crate::{
    maps::{ADDR_FILTER, CONFIG, REAL_LIMITS, REALS, SCHED_TABLE, SERVICES},
    verdict::Verdict,
};

/// The address filter: the destination may be a VIP, or the source a `nat` real server.
#[inline(always)]
pub fn maybe_ours(flow: &FlowKey) -> bool {
    filter_bit(addr_filter_bit(&flow.dst), 0)
        || filter_bit(addr_filter_bit(&flow.src), ADDR_FILTER_WORDS)
}

#[inline(always)]
fn filter_bit(bit: u32, base: u32) -> bool {
    match ADDR_FILTER.get(base + (bit >> 6)) {
        Some(w) => *w & (1u64 << (bit & 63)) != 0,
        // Every index below the map's size exists; a miss would mean no filter: let it on.
        None => true,
    }
}

/// Stage `vip`: (destination address, port, protocol) -> service; else the VIP's port-0
/// service (ipvsadm `-t VIP:0 -p`, every port of the VIP and protocol), which a service of
/// the exact port overrides, as in IPVS (`__ip_vs_service_find` then the port-0 find). A
/// miss of both leaves the packet to the host stack. Only a new flow to a VIP's address
/// comes here: the second lookup costs nothing to established flows or to the host's own
/// traffic, which leave at the connection table or the address filter.
#[inline(always)]
pub fn vip(flow: &FlowKey) -> Result<Service, Verdict> {
    let mut key = VipKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    if let Some(s) = SERVICES.get_ptr(&key) {
        // SAFETY: copied out at once; the map is NO_PREALLOC, so the element stays valid
        // (RCU) even if lbd replaces it meanwhile.
        return Ok(unsafe { *s });
    }
    key.port = 0;
    match SERVICES.get_ptr(&key) {
        // SAFETY: as above. Port 0 of TCP / UDP is never a marker (those are ICMP's).
        Some(s) => Ok(unsafe { *s }),
        None => Err(Verdict::pass(reason::PASS_NOT_VIP)),
    }
}

/// Whether a VIP address has a marker entry (lbd writes one per VIP address, key port 0 and
/// protocol ICMP / ICMPv6, so that `lb` answers pings to every VIP).
#[inline(always)]
pub fn is_vip_addr(marker: &VipKey) -> bool {
    SERVICES.get_ptr(marker).is_some()
}

/// The director-wide settings, read in place (the array's one element never moves).
#[inline(always)]
pub fn config() -> Result<&'static GlobalConfig, Verdict> {
    // Index 0 of a one-entry array always exists; the error is for the type checker.
    CONFIG.get(0).ok_or(Verdict::pass(reason::PASS_NOT_IP))
}

/// The real server behind an id (a table cell, a connection entry), in place: lbd never
/// rewrites an entry while anything names its id (a changed real server gets a new one), and
/// a copy would take 48 bytes of the 512-byte stack.
#[inline(always)]
pub fn real_server(id: u32) -> Result<&'static RealServer, Verdict> {
    match REALS.get(id) {
        Some(r) if r.family != 0 => Ok(r),
        _ => Err(Verdict::drop(reason::DROP_BAD_REAL)),
    }
}

/// Whether a real server is over its upper connection threshold (IPVS's
/// `IP_VS_DEST_F_OVERLOAD`).
#[inline(always)]
pub fn overloaded(id: u32) -> bool {
    matches!(REAL_LIMITS.get(id), Some(l) if l.overloaded != 0)
}

/// The real-server id in scheduler-table slot `i`; 0 if unset.
#[inline(always)]
pub fn cell_id(i: u32) -> u32 {
    match SCHED_TABLE.get(i) {
        Some(&cell) => cell as u32,
        None => 0,
    }
}
