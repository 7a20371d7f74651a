//! Stage `icmp`: echo requests to a VIP are answered by the director; ICMP errors about a
//! connection to a VIP (destination unreachable, fragmentation needed / packet too big, time
//! exceeded) go to the real server that owns the connection, which is the host that sent the
//! packet the error quotes (with `tun` and `dr` it answered the client as the VIP). Everything
//! else is the host stack's.

use aya_ebpf::programs::XdpContext;
use lb_common::{
    CFG_F_NAT, CONN_F_REPLY, FAMILY_V6, FWD_NAT, FlowKey, GlobalConfig, PROTO_SCTP, PROTO_TCP,
    PROTO_UDP, VipKey, reason,
};

use crate::{
    clock, conn, csum,
    headers::{
        ETH_ALEN, ETH_HLEN, ICMP_CSUM, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHO_REPLY, ICMP_HLEN,
        ICMP_TIME_EXCEEDED, ICMPV6_DEST_UNREACH, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST,
        ICMPV6_PKT_TOOBIG, ICMPV6_TIME_EXCEED, IP_CSUM, IP_DADDR, IP_PROTO, IP_SADDR, IP_TTL,
        IP6_DADDR, IP6_HOPLIMIT, IP6_NEXTHDR, IP6_SADDR, IPV4_HLEN_MIN, IPV6_HLEN, OWN_TTL,
    },
    lookup::{is_vip_addr, nat_source, real_server, vip},
    parse::Packet,
    ptr::{self, ptr_at},
    sched,
    verdict::Verdict,
    xmit::{
        self,
        nat::{self, End},
        route::{self, Target},
    },
};

#[inline(always)]
pub fn handle(ctx: &XdpContext, pkt: &Packet, cfg: &GlobalConfig) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::PASS_ICMP);
    let h: *const [u8; 2] = ptr_at(ctx, pkt.l4()).ok_or(not_ours)?;
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
    if !is_vip_addr(&marker) {
        return Err(not_ours);
    }
    let icmp: *mut u16 = ptr_at::<[u8; 4]>(ctx, pkt.l4()).ok_or(not_ours)? as *mut u16;
    let eth: *mut [u8; 2 * ETH_ALEN] = ptr_at(ctx, 0).ok_or(not_ours)?;
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
        let c = icmp.add(ICMP_CSUM / 2);
        c.write_unaligned(csum::replace16(c.read_unaligned(), old, new));
        if v6 {
            let ip: *mut u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, ETH_HLEN).ok_or(not_ours)? as *mut u8;
            let s = ip.add(IP6_SADDR) as *mut [u32; 4];
            let d = ip.add(IP6_DADDR) as *mut [u32; 4];
            let (sa, da) = (
                (ip.add(IP6_SADDR) as *const [u32; 4]).read_unaligned(),
                (ip.add(IP6_DADDR) as *const [u32; 4]).read_unaligned(),
            );
            s.write_unaligned(da);
            d.write_unaligned(sa);
            *ip.add(IP6_HOPLIMIT) = OWN_TTL;
        } else {
            let ip: *mut u8 =
                ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, ETH_HLEN).ok_or(not_ours)? as *mut u8;
            let s = ip.add(IP_SADDR) as *mut u32;
            let d = ip.add(IP_DADDR) as *mut u32;
            let (sa, da) = (s.read_unaligned(), d.read_unaligned());
            s.write_unaligned(da);
            d.write_unaligned(sa);
            let ttl = ip.add(IP_TTL) as *mut u16;
            let old = ttl.read_unaligned();
            *ip.add(IP_TTL) = OWN_TTL;
            let new = ttl.read_unaligned();
            let c = ip.add(IP_CSUM) as *mut u16;
            c.write_unaligned(csum::replace16(c.read_unaligned(), old, new));
        }
        let mut m = eth.read_unaligned();
        let mut i = 0;
        while i < ETH_ALEN {
            m.swap(i, i + ETH_ALEN);
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
    let inner = pkt.l4() + ICMP_HLEN;
    let (proto, src, dst, l4) = if v6 {
        let ip: *const u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, inner).ok_or(no_flow)? as *const u8;
        // SAFETY: inside the 40 bytes checked above.
        unsafe {
            (
                *ip.add(IP6_NEXTHDR),
                (ip.add(IP6_SADDR) as *const [u32; 4]).read_unaligned(),
                (ip.add(IP6_DADDR) as *const [u32; 4]).read_unaligned(),
                inner + IPV6_HLEN,
            )
        }
    } else {
        let ip: *const u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, inner).ok_or(no_flow)? as *const u8;
        // SAFETY: inside the 20 bytes checked above.
        unsafe {
            (
                *ip.add(IP_PROTO),
                [(ip.add(IP_SADDR) as *const u32).read_unaligned(), 0, 0, 0],
                [(ip.add(IP_DADDR) as *const u32).read_unaligned(), 0, 0, 0],
                inner + ((*ip & 0x0f) as usize) * 4,
            )
        }
    };
    // SCTP's ports lie where TCP's and UDP's do (the quoted eight bytes hold them).
    if proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_SCTP {
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
    let q = Quote { ip: inner, l4, v6 };
    // A forward entry of the table names the connection's real server, whatever its service
    // (a firewall-mark service's too, which `vip` cannot find: `lb_icmp` does not classify).
    let id = match conn::lookup(&flow) {
        Some((real, flags)) if flags & CONN_F_REPLY == 0 => real,
        _ => {
            let svc = match vip::<false>(&flow, cfg) {
                Ok(s) => s,
                // Not about a connection to a VIP: perhaps a `nat` real server's error about
                // a client's packet (its reply direction is in the table).
                Err(_) if cfg.flags & CFG_F_NAT != 0 => {
                    return nat_from_real(ctx, pkt, &flow, &q);
                }
                Err(_) => return Err(no_flow),
            };
            // The entry may have expired: a hash-based scheduler's table gives the same real
            // server as long as the table did not change.
            sched::rehash(&flow, &svc).ok_or(no_flow)?
        }
    };
    // A copy: `lb_icmp`'s frame has room for it, and fewer registers to keep.
    let real = *real_server(id)?;
    if real.method == FWD_NAT {
        return nat_to_real(ctx, pkt, cfg, &q, &Target { id, real: &real }, flow.dport);
    }
    let now = clock::now();
    let v = xmit::forward_direct::<true>(ctx, pkt, &Target { id, real: &real }, cfg, now)?;
    Ok(Verdict {
        action: v.action,
        reason: reason::ICMP_ERROR_FORWARDED,
    })
}

/// Where the quoted packet of an ICMP error lies.
struct Quote {
    /// Offset of its IP header.
    ip: usize,
    /// Offset of its transport header.
    l4: usize,
    v6: bool,
}

/// Rewrites the quoted packet of an ICMP error: its source (`dst == false`) or destination
/// address and port, and the quoted IPv4 header's checksum. Returns the change to the ICMP
/// checksum, as a one's-complement difference (the quoted bytes are part of the message).
/// The quoted transport checksum is left as it is, as IPVS leaves it (it may not even be in
/// the quote, and no stack checks it).
#[inline(always)]
fn rewrite_quote(
    ctx: &XdpContext,
    q: &Quote,
    dst: bool,
    addr: &[u32; 4],
    port: u16,
) -> Result<u16, Verdict> {
    let bad = Verdict::pass(reason::PASS_ICMP_NO_FLOW);
    let port_p: *mut u16 = ptr_at::<[u16; 2]>(ctx, q.l4).ok_or(bad)? as *mut u16;
    let mut adj = 0u16;
    // SAFETY: every access is inside a range checked just before it.
    unsafe {
        let port_p = if dst { port_p.add(1) } else { port_p };
        if q.v6 {
            let ip: *mut u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, q.ip).ok_or(bad)? as *mut u8;
            let a = ip.add(if dst { IP6_DADDR } else { IP6_SADDR }) as *mut [u32; 4];
            let old = a.read_unaligned();
            let mut i = 0;
            while i < 4 {
                adj = csum::diff32(adj, old[i], addr[i]);
                i += 1;
            }
            ptr::store_addr(a as *mut u8, addr);
        } else {
            let ip: *mut u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, q.ip).ok_or(bad)? as *mut u8;
            let a = ip.add(if dst { IP_DADDR } else { IP_SADDR }) as *mut u32;
            let old = a.read_unaligned();
            let c = ip.add(IP_CSUM) as *mut u16;
            let old_c = c.read_unaligned();
            let new_c = csum::replace32(old_c, old, addr[0]);
            c.write_unaligned(new_c);
            a.write_unaligned(addr[0]);
            adj = csum::diff32(adj, old, addr[0]);
            adj = csum::diff32(adj, old_c as u32, new_c as u32);
        }
        let old_port = port_p.read_unaligned();
        // Port 0 (a port-0 service's VIP port): the quoted port is already the client's.
        let port = if port == 0 { old_port } else { port };
        port_p.write_unaligned(port);
        adj = csum::diff32(adj, old_port as u32, port as u32);
    }
    Ok(adj)
}

/// An ICMP error about a `nat` connection, rewritten for the other side: the outer `end`
/// address becomes `addr`, and the quoted packet's other end (the error quotes a packet that
/// went the opposite way) becomes `addr` and `port`; the checksums follow. ICMPv6's checksum
/// covers the outer addresses too (RFC 4443 2.3).
#[inline(always)]
fn nat_rewrite(
    ctx: &XdpContext,
    pkt: &Packet,
    q: &Quote,
    end: End,
    addr: &[u32; 4],
    port: u16,
) -> Result<(), Verdict> {
    let mut adj = rewrite_quote(ctx, q, end == End::Source, addr, port)?;
    let outer = nat::rewrite_ip(ctx, pkt, end, addr, true)?;
    if q.v6 {
        adj = csum::add(adj, outer);
    }
    fix_icmp_csum(ctx, pkt, adj)
}

/// Applies a difference to the ICMP message's checksum.
#[inline(always)]
fn fix_icmp_csum(ctx: &XdpContext, pkt: &Packet, adj: u16) -> Result<(), Verdict> {
    let c: *mut u16 = ptr_at::<[u16; 2]>(ctx, pkt.l4())
        .ok_or(Verdict::pass(reason::PASS_ICMP_NO_FLOW))? as *mut u16;
    // SAFETY: checked just above; the checksum is the second word.
    unsafe {
        let c = c.add(ICMP_CSUM / 2);
        c.write_unaligned(csum::adjust(c.read_unaligned(), adj));
    }
    Ok(())
}

/// An error about a `nat` connection, sent to the VIP by the client's side (its quote is
/// what the director sent as VIP:port): for the real server it must be about its own
/// address and port, and addressed to it. As IPVS does (`ip_vs_nat_icmp`): the outer
/// destination, the quoted source address and port and the checksums are rewritten.
#[inline(always)]
fn nat_to_real(
    ctx: &XdpContext,
    pkt: &Packet,
    cfg: &GlobalConfig,
    q: &Quote,
    to: &Target,
    vport: u16,
) -> Result<Verdict, Verdict> {
    let now = clock::now();
    let nh = route::next_hop(ctx, to, cfg, now)?;
    let port = if to.real.port != 0 {
        to.real.port
    } else {
        vport
    };
    nat_rewrite(ctx, pkt, q, End::Destination, &to.real.addr, port)?;
    route::send(
        ctx,
        &nh,
        route::ethertype(pkt.flow.family),
        reason::ICMP_ERROR_FORWARDED,
    )
}

/// An error a `nat` real server sent about a client's packet (its quote is client ->
/// real server): the client must see it come from the VIP, about its packet to VIP:port.
/// `reply` is the quoted packet's reverse, the key of the connection's reply direction.
#[inline(always)]
fn nat_from_real(
    ctx: &XdpContext,
    pkt: &Packet,
    reply: &FlowKey,
    q: &Quote,
) -> Result<Verdict, Verdict> {
    let no_flow = Verdict::pass(reason::PASS_ICMP_NO_FLOW);
    let (real, flags) = conn::lookup(reply).ok_or(no_flow)?;
    if flags & CONN_F_REPLY == 0 {
        return Err(no_flow);
    }
    // The VIP and port to restore: the real server's service's (or the connection's kept
    // destination).
    let r = real_server(real).map_err(|_| no_flow)?;
    let (vaddr, vport) = (nat_source(r, reply)?, r.vport);
    // Toward the client: the error's destination.
    let nh = if q.v6 {
        route::fib_v6(ctx, vaddr, &pkt.flow.dst)?
    } else {
        route::fib_v4(ctx, vaddr[0], pkt.flow.dst[0])?
    };
    nat_rewrite(ctx, pkt, q, End::Source, vaddr, vport)?;
    route::send(
        ctx,
        &nh,
        route::ethertype(pkt.flow.family),
        reason::ICMP_NAT_REPLY,
    )
}
