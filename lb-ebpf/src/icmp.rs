//! Stage `icmp`: echo requests to a VIP are answered by the director; ICMP errors about a
//! connection to a VIP (destination unreachable, fragmentation needed / packet too big, time
//! exceeded) go to the real server that owns the connection, which is the host that sent the
//! packet the error quotes (with `tun` and `dr` it answered the client as the VIP). Everything
//! else is the host stack's.

use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::XdpContext};
use lb_common::{FAMILY_V6, FWD_NAT, FlowKey, GlobalConfig, PROTO_TCP, PROTO_UDP, VipKey, reason};

use crate::{
    csum,
    director::{real_server, vip},
    forward::{self, Target},
    maps::{CONNS, SERVICES},
    parse::{IPV4_HLEN_MIN, IPV6_HLEN, Packet},
    ptr::ptr_at,
    sched,
    verdict::Verdict,
};

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_ECHO: u8 = 8;
const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMPV6_DEST_UNREACH: u8 = 1;
const ICMPV6_PKT_TOOBIG: u8 = 2;
const ICMPV6_TIME_EXCEED: u8 = 3;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
/// TTL / hop limit of the echo replies the director sends.
const REPLY_TTL: u8 = 64;

#[inline(always)]
pub fn handle(ctx: &XdpContext, pkt: &Packet, cfg: &GlobalConfig) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::PASS_ICMP);
    let h: *const [u8; 2] = ptr_at(ctx, pkt.l4_off).ok_or(not_ours)?;
    // SAFETY: in bounds (parse also required the 8-byte ICMP header).
    let [ty, _code] = unsafe { h.read_unaligned() };
    let v6 = pkt.flow.family == FAMILY_V6;
    if (!v6 && ty == ICMP_ECHO) || (v6 && ty == ICMPV6_ECHO_REQUEST) {
        return echo(ctx, pkt, v6);
    }
    let error = if v6 {
        ty == ICMPV6_DEST_UNREACH || ty == ICMPV6_PKT_TOOBIG || ty == ICMPV6_TIME_EXCEED
    } else {
        ty == ICMP_DEST_UNREACH || ty == ICMP_TIME_EXCEEDED
    };
    if !error {
        return Err(not_ours);
    }
    to_owner(ctx, pkt, cfg, v6)
}

/// Answers an echo request to a VIP address: addresses swapped, type turned into a reply,
/// fresh TTL, checksums updated, sent back where it came from.
#[inline(always)]
fn echo(ctx: &XdpContext, pkt: &Packet, v6: bool) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::PASS_ICMP);
    let marker = VipKey {
        addr: pkt.flow.dst,
        port: 0,
        proto: pkt.flow.proto,
        family: pkt.flow.family,
    };
    if SERVICES.get_ptr(&marker).is_none() {
        return Err(not_ours);
    }
    let icmp: *mut u16 = ptr_at::<[u8; 4]>(ctx, pkt.l4_off).ok_or(not_ours)? as *mut u16;
    let eth: *mut [u8; 12] = ptr_at(ctx, 0).ok_or(not_ours)?;
    let reply_type = if v6 {
        ICMPV6_ECHO_REPLY
    } else {
        ICMP_ECHO_REPLY
    };
    // SAFETY: every access is inside a range checked here or by parse (the IP header).
    unsafe {
        // Type and code are the checksum's first word; the pseudo-header (IPv6) keeps its sum
        // when source and destination swap.
        let old = icmp.read_unaligned();
        let bytes = old.to_ne_bytes();
        let new = u16::from_ne_bytes([reply_type, bytes[1]]);
        icmp.write_unaligned(new);
        let c = icmp.add(1);
        c.write_unaligned(csum::replace16(c.read_unaligned(), old, new));
        if v6 {
            let ip: *mut u8 =
                ptr_at::<[u8; IPV6_HLEN]>(ctx, pkt.l3_off).ok_or(not_ours)? as *mut u8;
            let s = ip.add(8) as *mut [u32; 4];
            let d = ip.add(24) as *mut [u32; 4];
            let (sa, da) = (s.read_unaligned(), d.read_unaligned());
            s.write_unaligned(da);
            d.write_unaligned(sa);
            *ip.add(7) = REPLY_TTL;
        } else {
            let ip: *mut u8 =
                ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, pkt.l3_off).ok_or(not_ours)? as *mut u8;
            let s = ip.add(12) as *mut u32;
            let d = ip.add(16) as *mut u32;
            let (sa, da) = (s.read_unaligned(), d.read_unaligned());
            s.write_unaligned(da);
            d.write_unaligned(sa);
            let ttl = ip.add(8) as *mut u16;
            let old = ttl.read_unaligned();
            *ip.add(8) = REPLY_TTL;
            let new = ttl.read_unaligned();
            let c = ip.add(10) as *mut u16;
            c.write_unaligned(csum::replace16(c.read_unaligned(), old, new));
        }
        let mut m = eth.read_unaligned();
        let mut i = 0;
        while i < 6 {
            m.swap(i, i + 6);
            i += 1;
        }
        eth.write_unaligned(m);
    }
    Ok(Verdict::tx(reason::ICMP_ECHO_REPLY))
}

/// Forwards an ICMP error to the real server of the connection it is about. The quoted packet
/// is what the real server sent (VIP -> client), so the connection's key is its reverse. Only
/// 8 bytes of the quoted transport header are guaranteed (RFC 792): the ports, nothing more.
#[inline(always)]
fn to_owner(
    ctx: &XdpContext,
    pkt: &Packet,
    cfg: &GlobalConfig,
    v6: bool,
) -> Result<Verdict, Verdict> {
    let no_flow = Verdict::pass(reason::PASS_ICMP_NO_FLOW);
    let inner = pkt.l4_off + 8;
    let (proto, src, dst, l4) = if v6 {
        let ip: *const u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, inner).ok_or(no_flow)? as *const u8;
        // SAFETY: inside the 40 bytes checked above.
        unsafe {
            (
                *ip.add(6),
                (ip.add(8) as *const [u32; 4]).read_unaligned(),
                (ip.add(24) as *const [u32; 4]).read_unaligned(),
                inner + IPV6_HLEN,
            )
        }
    } else {
        let ip: *const u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, inner).ok_or(no_flow)? as *const u8;
        // SAFETY: inside the 20 bytes checked above.
        unsafe {
            (
                *ip.add(9),
                [(ip.add(12) as *const u32).read_unaligned(), 0, 0, 0],
                [(ip.add(16) as *const u32).read_unaligned(), 0, 0, 0],
                inner + ((*ip & 0x0f) as usize) * 4,
            )
        }
    };
    if proto != PROTO_TCP && proto != PROTO_UDP {
        return Err(no_flow);
    }
    let ports: *const [u16; 2] = ptr_at(ctx, l4).ok_or(no_flow)?;
    // SAFETY: in bounds (checked above).
    let ports = unsafe { ports.read_unaligned() };
    let flow = FlowKey {
        src: dst,
        dst: src,
        sport: ports[1],
        dport: ports[0],
        proto,
        family: pkt.flow.family,
        _pad: [0; 2],
    };
    let svc = vip(&flow).map_err(|_| no_flow)?;
    let id = match CONNS.get_ptr(&flow) {
        // SAFETY: a plain read of a live entry.
        Some(c) => unsafe { (*c).real },
        // The entry may have expired: the scheduler's table gives the same real server as
        // long as the table did not change.
        None => sched::schedule(&flow, &svc).map_err(|_| no_flow)?,
    };
    let real = real_server(id)?;
    if real.method == FWD_NAT {
        // Masquerading would also need the quoted packet rewritten: left to a later change.
        return Err(no_flow);
    }
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let v = forward::forward(ctx, pkt, &Target { id, real }, cfg, now)?;
    Ok(Verdict {
        action: v.action,
        reason: reason::ICMP_ERROR_FORWARDED,
    })
}
