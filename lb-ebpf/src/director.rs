//! The director's per-packet path: parse -> vip -> conn -> schedule -> forward.
//! Each stage returns `Result<_, Verdict>`; `Err` stops the chain with a counted verdict.

use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::XdpContext};
use lb_common::{
    CFG_F_NAT, FWD_NAT, FlowKey, GlobalConfig, PROTO_ICMP, PROTO_ICMPV6, RealServer, Service,
    Stats, VipKey, reason,
};

use crate::{
    conn,
    forward::{self, Target},
    icmp,
    maps::{CONFIG, REAL_STATS, REALS, SERVICES, SVC_STATS},
    nat,
    parse::{self, Packet},
    verdict::Verdict,
};

#[inline(always)]
pub fn process(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let pkt = parse::parse(ctx)?;
    let cfg = config();
    if pkt.flow.proto == PROTO_ICMP || pkt.flow.proto == PROTO_ICMPV6 {
        return icmp::handle(ctx, &pkt, &cfg);
    }
    let svc = match vip(&pkt.flow) {
        Ok(s) => s,
        Err(not_vip) if cfg.flags & CFG_F_NAT != 0 => {
            return nat::from_real(ctx, &pkt, not_vip);
        }
        Err(v) => return Err(v),
    };
    // SAFETY: helper without preconditions. Read once: the connection entry and the
    // next-hop cache share it.
    let now = unsafe { bpf_ktime_get_ns() };
    let (id, new) = conn::track(&pkt, &svc, &cfg, now)?;
    let to = Target {
        id,
        real: real_server(id)?,
    };
    if new && to.real.method == FWD_NAT {
        nat::track_reply(&pkt.flow, &to, svc.id, now);
    }
    account(&svc, id, &pkt, new);
    forward::forward(ctx, &pkt, &to, &cfg, now)
}

/// Stage `vip`: (destination address, port, protocol) -> service; a miss leaves the packet to
/// the host stack.
#[inline(always)]
pub fn vip(flow: &FlowKey) -> Result<Service, Verdict> {
    let key = VipKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    match SERVICES.get_ptr(key) {
        // SAFETY: copied out at once; the map is NO_PREALLOC, so the element stays valid
        // (RCU) even if lbd replaces it meanwhile.
        Some(s) => Ok(unsafe { *s }),
        None => Err(Verdict::pass(reason::PASS_NOT_VIP)),
    }
}

#[inline(always)]
fn config() -> GlobalConfig {
    match CONFIG.get(0) {
        Some(c) => *c,
        // Index 0 of a one-entry array always exists; this arm exists for the type checker.
        None => GlobalConfig::default(),
    }
}

#[inline(always)]
pub fn real_server(id: u32) -> Result<RealServer, Verdict> {
    match REALS.get(id) {
        Some(r) if r.family != 0 => Ok(*r),
        _ => Err(Verdict::drop(reason::DROP_BAD_REAL)),
    }
}

/// Per-service and per-real-server counters (ipvsadm `--stats`: Conns, InPkts, InBytes).
#[inline(always)]
fn account(svc: &Service, real_id: u32, pkt: &Packet, new: bool) {
    let bytes = pkt.ip_len as u64;
    let conns = new as u64;
    if let Some(s) = SVC_STATS.get_ptr_mut(svc.id) {
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
