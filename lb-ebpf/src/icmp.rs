//! Stage `icmp`: echo requests to a VIP are answered by the director; ICMP errors about a
//! connection to a VIP (destination unreachable, fragmentation needed / packet too big, time
//! exceeded) go to the real server that owns the connection, which is the host that sent the
//! packet the error quotes (with `tun` and `dr` it answered the client as the VIP). Everything
//! else is the host stack's.

use aya_ebpf::{
    helpers::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use lb_common::{
    CFG_F_NAT, CONN_F_REPLY, FAMILY_V6, FWD_NAT, FlowKey, GlobalConfig, PROTO_TCP, PROTO_UDP,
    VipKey, reason,
};

use crate::{
    csum,
    director::{real_server, vip},
    forward::{self, Target},
    maps::{CONNS, SERVICES},
    nat,
    parse::{ETH_HLEN, ETH_P_IP, ETH_P_IPV6, IPV4_HLEN_MIN, IPV6_HLEN, Packet},
    ptr::{self, ptr_at},
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
/// ICMP "fragmentation needed" (destination unreachable code 4, RFC 1191).
const ICMP_FRAG_NEEDED: u8 = 4;
/// IPv4 "don't fragment" flag.
const IP_DF: u16 = 0x4000;
/// How much of the invoking IPv6 packet a "packet too big" quotes: its header and the start
/// of what follows (RFC 4443 asks for as much as fits in 1280 bytes; the client needs the
/// header and the ports to find the connection).
const QUOTE6: usize = 64;
/// The smallest MTU IPv6 allows (RFC 8200 5).
const IPV6_MIN_MTU: u32 = 1280;

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
    if SERVICES.get_ptr(&marker).is_none() {
        return Err(not_ours);
    }
    let icmp: *mut u16 = ptr_at::<[u8; 4]>(ctx, pkt.l4()).ok_or(not_ours)? as *mut u16;
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
            let ip: *mut u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, ETH_HLEN).ok_or(not_ours)? as *mut u8;
            let s = ip.add(8) as *mut [u32; 4];
            let d = ip.add(24) as *mut [u32; 4];
            let (sa, da) = (
                (ip.add(8) as *const [u32; 4]).read_unaligned(),
                (ip.add(24) as *const [u32; 4]).read_unaligned(),
            );
            s.write_unaligned(da);
            d.write_unaligned(sa);
            *ip.add(7) = REPLY_TTL;
        } else {
            let ip: *mut u8 =
                ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, ETH_HLEN).ok_or(not_ours)? as *mut u8;
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
    let inner = pkt.l4() + 8;
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
    let q = Quote { ip: inner, l4, v6 };
    let svc = match vip(&flow) {
        Ok(s) => s,
        // Not about a connection to a VIP: perhaps a `nat` real server's error about a
        // client's packet (its reply direction is in the table).
        Err(_) if cfg.flags & CFG_F_NAT != 0 => return nat_from_real(ctx, pkt, &flow, &q),
        Err(_) => return Err(no_flow),
    };
    let id = match CONNS.get_ptr(&flow) {
        // SAFETY: a plain read of a live entry.
        Some(c) => unsafe { (*c).real },
        // The entry may have expired: a hash-based scheduler's table gives the same real
        // server as long as the table did not change.
        None => sched::rehash(&flow, &svc).ok_or(no_flow)?,
    };
    let real = real_server(id)?;
    if real.method == FWD_NAT {
        return nat_to_real(ctx, pkt, cfg, &q, &Target { id, real }, flow.dport);
    }
    let now = crate::verdict::now();
    let v = forward::forward(ctx, pkt, &Target { id, real }, cfg, now)?;
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

/// Offsets of the addresses in an IPv4 / IPv6 header.
const IP4_SADDR: usize = 12;
const IP4_DADDR: usize = 16;
const IP6_SADDR: usize = 8;
const IP6_DADDR: usize = 24;

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
            let a = ip.add(if dst { IP4_DADDR } else { IP4_SADDR }) as *mut u32;
            let old = a.read_unaligned();
            let c = ip.add(10) as *mut u16;
            let old_c = c.read_unaligned();
            let new_c = csum::replace32(old_c, old, addr[0]);
            c.write_unaligned(new_c);
            a.write_unaligned(addr[0]);
            adj = csum::diff32(adj, old, addr[0]);
            adj = csum::diff32(adj, old_c as u32, new_c as u32);
        }
        let old_port = port_p.read_unaligned();
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
    end: nat::End,
    addr: &[u32; 4],
    port: u16,
) -> Result<(), Verdict> {
    let mut adj = rewrite_quote(ctx, q, end == nat::End::Source, addr, port)?;
    let outer = nat::rewrite_ip(ctx, pkt, end, addr)?;
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
        let c = c.add(1);
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
    let now = crate::verdict::now();
    let nh = forward::next_hop(ctx, to, cfg, now)?;
    let port = if to.real.port != 0 {
        to.real.port
    } else {
        vport
    };
    nat_rewrite(ctx, pkt, q, nat::End::Destination, &to.real.addr, port)?;
    forward::send(
        ctx,
        &nh,
        forward::ethertype(pkt.flow.family),
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
    let c = CONNS.get_ptr(reply).ok_or(no_flow)?;
    // SAFETY: a live entry; the fields are copied out at once.
    let (flags, vaddr, vport) = unsafe { ((*c).flags, (*c).vaddr, (*c).vport) };
    if flags & CONN_F_REPLY == 0 {
        return Err(no_flow);
    }
    // Toward the client: the error's destination.
    let nh = if q.v6 {
        forward::fib_v6(ctx, &vaddr, &pkt.flow.dst)?
    } else {
        forward::fib_v4(ctx, vaddr[0], pkt.flow.dst[0])?
    };
    nat_rewrite(ctx, pkt, q, nat::End::Source, &vaddr, vport)?;
    forward::send(
        ctx,
        &nh,
        forward::ethertype(pkt.flow.family),
        reason::ICMP_NAT_REPLY,
    )
}

/// The packet is too big for the path once encapsulated: answer the client with "fragmentation
/// needed" (IPv4 with DF) or "packet too big" (IPv6) carrying `mtu`, from the VIP, quoting the
/// packet's IP header and the first 8 bytes after it (IPv4) or its first 64 bytes (IPv6). An
/// IPv4 packet without DF is dropped: XDP cannot fragment.
#[inline(always)]
pub fn too_big(ctx: &XdpContext, pkt: &Packet, mtu: u32) -> Result<Verdict, Verdict> {
    let args = TooBig {
        l4_off: pkt.l4() as u32,
        mtu,
        family: pkt.flow.family as u32,
        src: pkt.flow.src,
        dst: pkt.flow.dst,
    };
    let v = too_big_outlined(ctx.ctx, &args);
    let v = Verdict {
        action: v as u32,
        reason: (v >> 32) as u32,
    };
    if v.reason == reason::ICMP_TOO_BIG_SENT {
        Ok(v)
    } else {
        Err(v)
    }
}

/// What [`too_big_outlined`] needs of the packet.
#[repr(C)]
struct TooBig {
    l4_off: u32,
    mtu: u32,
    family: u32,
    src: [u32; 4],
    dst: [u32; 4],
}

/// A rare path kept out of line: a BPF-to-BPF call has its own stack frame, so its locals do
/// not add to `lb`'s (512 bytes in all). Returns the verdict as action | reason << 32.
#[inline(never)]
fn too_big_outlined(raw: *mut aya_ebpf::bindings::xdp_md, args: &TooBig) -> u64 {
    let ctx = XdpContext::new(raw);
    let v = match build_too_big(&ctx, args) {
        Ok(v) | Err(v) => v,
    };
    v.action as u64 | (v.reason as u64) << 32
}

#[inline(always)]
fn build_too_big(ctx: &XdpContext, args: &TooBig) -> Result<Verdict, Verdict> {
    // The IP header is at ETH_HLEN (VLAN tags are out); the mask on the transport offset
    // changes nothing (parse bounds it) and is for the verifier, which reads it from memory.
    let (l3_off, l4_off, mtu) = (ETH_HLEN, args.l4_off as usize & 0x7ff, args.mtu);
    let too_big = Verdict::drop(reason::DROP_TOO_BIG);
    let eth: *const [u8; 12] = ptr_at(ctx, 0).ok_or(too_big)?;
    // SAFETY: in bounds.
    let macs = unsafe { eth.read_unaligned() };
    let v6 = args.family == FAMILY_V6 as u32;
    let (hdrs, quote) = if v6 {
        (IPV6_HLEN + 8, QUOTE6)
    } else {
        let w: *const [u16; 4] = ptr_at(ctx, l3_off).ok_or(too_big)?;
        // SAFETY: in bounds. Word 3 holds the flags.
        if u16::from_be(unsafe { w.read_unaligned() }[3]) & IP_DF == 0 {
            return Err(too_big);
        }
        // Packets with IP options (rare) are dropped rather than quoted: a fixed 28-byte
        // quote keeps this path simple enough for LLVM's BPF stack budget.
        if l4_off - l3_off != IPV4_HLEN_MIN {
            return Err(too_big);
        }
        (IPV4_HLEN_MIN + 8, IPV4_HLEN_MIN + 8)
    };
    // Make room for the new IP and ICMP headers before the invoking packet's IP header, then
    // cut the invoking packet after the part we quote.
    let grow = (ETH_HLEN + hdrs) as i32 - l3_off as i32;
    // SAFETY: moves ctx->data within the headroom.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -grow) } != 0 {
        return Err(Verdict::drop(reason::DROP_NO_HEADROOM));
    }
    let want = (ETH_HLEN + hdrs + quote) as i32;
    let have = (ctx.data_end() - ctx.data()) as i32;
    // SAFETY: shrinks the frame to bytes it already has (the packet was too big, so it is
    // longer than what we keep).
    if have > want && unsafe { bpf_xdp_adjust_tail(ctx.ctx, want - have) } != 0 {
        return Err(too_big);
    }
    // From the VIP (the packet's destination) to the client (its source).
    let (src, dst) = (&args.dst, &args.src);
    let mut hdr = [0u8; ETH_HLEN];
    hdr[..6].copy_from_slice(&macs[6..12]);
    hdr[6..12].copy_from_slice(&macs[..6]);
    if v6 {
        hdr[12..].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
        write_too_big6(ctx, &hdr, src, dst, mtu.max(IPV6_MIN_MTU))?;
    } else {
        hdr[12..].copy_from_slice(&ETH_P_IP.to_be_bytes());
        write_frag_needed4(ctx, &hdr, src[0], dst[0], mtu, quote)?;
    }
    Ok(Verdict::tx(reason::ICMP_TOO_BIG_SENT))
}

#[inline(always)]
fn write_frag_needed4(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: u32,
    dst: u32,
    mtu: u32,
    quote: usize,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let head: *mut [u8; ETH_HLEN + IPV4_HLEN_MIN + 8] = ptr_at(ctx, 0).ok_or(bad)?;
    // The ICMP checksum covers the ICMP header and the quote; the quote is read from the
    // packet a 16-bit word at a time, at most 68 bytes (a 60-byte header and 8 more).
    let icmp_off = ETH_HLEN + IPV4_HLEN_MIN;
    let mtu16 = (mtu.min(u16::MAX as u32) as u16).to_be_bytes();
    let mut sum: u32 = ((ICMP_DEST_UNREACH as u32) << 8 | ICMP_FRAG_NEEDED as u32)
        + u16::from_be_bytes(mtu16) as u32;
    // The quote: the invoking IPv4 header (no options) and 8 bytes.
    let q = ptr_at::<[u16; 14]>(ctx, icmp_off + 8).ok_or(bad)? as *const u16;
    let mut i = 0;
    while i < 14 {
        // SAFETY: inside the 28 bytes checked above. Volatile: see write_too_big6.
        let w = unsafe { core::ptr::read_volatile(q.add(i) as *const [u8; 2]) };
        sum += u16::from_be_bytes(w) as u32;
        i += 1;
    }
    let icmp_csum = !fold(sum);
    let tot = (IPV4_HLEN_MIN + 8 + quote) as u16;
    let (sa, da) = (u32::from_be(src), u32::from_be(dst));
    let ttl_proto = ((REPLY_TTL as u16) << 8) | lb_common::PROTO_ICMP as u16;
    let ip_sum = 0x4500u32
        + tot as u32
        + ttl_proto as u32
        + (sa >> 16)
        + (sa & 0xffff)
        + (da >> 16)
        + (da & 0xffff);
    let ip_csum = !fold(ip_sum);
    let p = head as *mut u8;
    // SAFETY: every write is inside the 42 bytes checked above (after both adjustments).
    // Written in place, field by field, to keep this rare path's stack small.
    unsafe {
        (p as *mut [u8; ETH_HLEN]).write_unaligned(*eth);
        let ip = p.add(ETH_HLEN);
        (ip as *mut u16).write_unaligned(0x4500u16.to_be());
        (ip.add(2) as *mut u16).write_unaligned(tot.to_be());
        (ip.add(4) as *mut u32).write_unaligned(0);
        (ip.add(8) as *mut u16).write_unaligned(ttl_proto.to_be());
        (ip.add(10) as *mut u16).write_unaligned(ip_csum.to_be());
        (ip.add(12) as *mut u32).write_unaligned(src);
        (ip.add(16) as *mut u32).write_unaligned(dst);
        let icmp = p.add(icmp_off);
        *icmp = ICMP_DEST_UNREACH;
        *icmp.add(1) = ICMP_FRAG_NEEDED;
        (icmp.add(2) as *mut u16).write_unaligned(icmp_csum.to_be());
        (icmp.add(4) as *mut u16).write_unaligned(0);
        (icmp.add(6) as *mut [u8; 2]).write_unaligned(mtu16);
    }
    Ok(())
}

#[inline(always)]
fn write_too_big6(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: &[u32; 4],
    dst: &[u32; 4],
    mtu: u32,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let icmp_off = ETH_HLEN + IPV6_HLEN;
    let head: *mut u8 =
        ptr_at::<[u8; ETH_HLEN + IPV6_HLEN + 8 + QUOTE6]>(ctx, 0).ok_or(bad)? as *mut u8;
    let plen = (8 + QUOTE6) as u32;
    // Pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header.
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 4 {
        sum += (src[i] & 0xffff) + (src[i] >> 16) + (dst[i] & 0xffff) + (dst[i] >> 16);
        i += 1;
    }
    // The address words above are summed as they lie in memory (network order); so is
    // everything below, each 16-bit value taken in the same byte order.
    let ne = |v: u16| u16::from_ne_bytes(v.to_be_bytes()) as u32;
    sum += ne((plen >> 16) as u16) + ne(plen as u16) + ne(lb_common::PROTO_ICMPV6 as u16);
    sum += ne((ICMPV6_PKT_TOOBIG as u16) << 8);
    sum += ne((mtu >> 16) as u16) + ne(mtu as u16);
    let quote = head.wrapping_add(icmp_off + 8) as *const u16;
    let mut k = 0;
    while k < QUOTE6 / 2 {
        // SAFETY: the quote lies inside the range checked above. Volatile: otherwise LLVM
        // hoists all 64 byte loads ahead of the sum and spills them past the 512-byte stack.
        sum += unsafe { core::ptr::read_volatile(quote.add(k) as *const [u8; 2]) }
            .iter()
            .fold(0u16, |a, b| a << 8 | *b as u16)
            .to_be() as u32;
        k += 1;
    }
    let c = !fold(sum);
    // SAFETY: every write is inside the range checked above.
    unsafe {
        (head as *mut [u8; ETH_HLEN]).write_unaligned(*eth);
        let ip = head.add(ETH_HLEN);
        (ip as *mut u32).write_unaligned((6u32 << 28).to_be());
        (ip.add(4) as *mut u16).write_unaligned((plen as u16).to_be());
        *ip.add(6) = lb_common::PROTO_ICMPV6;
        *ip.add(7) = REPLY_TTL;
        (ip.add(8) as *mut [u32; 4]).write_unaligned(*src);
        (ip.add(24) as *mut [u32; 4]).write_unaligned(*dst);
        let icmp = head.add(icmp_off);
        *icmp = ICMPV6_PKT_TOOBIG;
        *icmp.add(1) = 0;
        (icmp.add(2) as *mut u16).write_unaligned(c);
        (icmp.add(4) as *mut u32).write_unaligned(mtu.to_be());
    }
    Ok(())
}

#[inline(always)]
fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}
