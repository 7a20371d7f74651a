//! `nat` (masquerading, ipvsadm `-m`): the destination address and port become the real
//! server's on the way in, and the real server's replies (the director is its gateway) get
//! the VIP and port back as their source on the way out. Checksums are updated incrementally
//! (RFC 1624); TTL is decremented, as a router does.

use aya_ebpf::programs::XdpContext;
use lb_common::{CONN_F_REPLY, FlowKey, GlobalConfig, PROTO_TCP, Stats, reason};

use crate::{
    csum,
    director::insert_conn,
    forward::{Target, fib_v4, next_hop_v4, send},
    maps::{CONNS, REAL_STATS, SVC_STATS},
    parse::Packet,
    ptr::ptr_at,
    verdict::Verdict,
};

/// Offsets in the IPv4 header.
const IP_TTL: usize = 8;
const IP_CSUM: usize = 10;
const IP_SADDR: usize = 12;
const IP_DADDR: usize = 16;
/// Offsets of the checksum in the TCP and UDP headers.
const TCP_CSUM: usize = 16;
const UDP_CSUM: usize = 6;

/// Which end of the packet is rewritten.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Source,
    Destination,
}

/// The client's direction: VIP:port -> real server address:port.
#[inline(always)]
pub fn to_real(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    let nh = next_hop_v4(ctx, to, cfg.src4, now)?;
    let port = if to.real.port != 0 {
        to.real.port
    } else {
        pkt.flow.dport
    };
    rewrite(ctx, pkt, End::Destination, to.real.addr[0], port)?;
    send(ctx, &nh, reason::TX)
}

/// Records the reply direction of a new `nat` connection: real server -> client, with the VIP
/// to restore.
#[inline(always)]
pub fn track_reply(flow: &FlowKey, to: &Target, service: u32, now: u64) {
    let rport = if to.real.port != 0 {
        to.real.port
    } else {
        flow.dport
    };
    let key = FlowKey {
        src: to.real.addr,
        dst: flow.src,
        sport: rport,
        dport: flow.sport,
        proto: flow.proto,
        family: flow.family,
        _pad: [0; 2],
    };
    insert_conn(
        &key,
        to.id,
        service,
        now,
        CONN_F_REPLY,
        flow.dport,
        flow.dst,
    );
}

/// A packet for no VIP may be a real server's reply of a `nat` connection: rewrite its source
/// back to the VIP and send it toward the client. `Err(not_ours)` when it is not one.
#[inline(always)]
pub fn from_real(ctx: &XdpContext, pkt: &Packet, not_ours: Verdict) -> Result<Verdict, Verdict> {
    let Some(c) = CONNS.get_ptr(&pkt.flow) else {
        return Err(not_ours);
    };
    // SAFETY: copied out at once.
    let c = unsafe { *c };
    if c.flags & CONN_F_REPLY == 0 {
        return Err(not_ours);
    }
    // Toward the client: the reply's destination.
    let nh = fib_v4(ctx, c.vaddr[0], pkt.flow.dst[0])?;
    rewrite(ctx, pkt, End::Source, c.vaddr[0], c.vport)?;
    account_out(c.service, c.real, pkt.ip_len as u64);
    send(ctx, &nh, reason::NAT_REPLY)
}

/// Replaces the source or destination address and port, decrements TTL, and fixes the IP and
/// TCP/UDP checksums. Everything is read and checked before anything is written.
#[inline(always)]
fn rewrite(ctx: &XdpContext, pkt: &Packet, end: End, addr: u32, port: u16) -> Result<(), Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    let ip: *mut u8 = ptr_at::<[u8; 20]>(ctx, pkt.l3_off).ok_or(bad)? as *mut u8;
    let l4: *mut u8 = ptr_at::<[u8; 8]>(ctx, pkt.l4_off).ok_or(bad)? as *mut u8;
    let tcp = pkt.flow.proto == PROTO_TCP;
    let l4_csum_off = if tcp { TCP_CSUM } else { UDP_CSUM };
    // The TCP checksum lies beyond the first 8 bytes: its own check (parse already required
    // the full 20-byte TCP header; this one is for the verifier).
    let l4_csum: *mut u16 = ptr_at::<u16>(ctx, pkt.l4_off + l4_csum_off).ok_or(bad)? as *mut u16;
    let (addr_off, port_off) = match end {
        End::Source => (IP_SADDR, 0),
        End::Destination => (IP_DADDR, 2),
    };
    // SAFETY: every pointer below is inside the ranges checked above.
    unsafe {
        let ttl_word = ip.add(IP_TTL) as *mut u16;
        let old_ttl_word = ttl_word.read_unaligned();
        if *ip.add(IP_TTL) <= 1 {
            return Err(Verdict::pass(reason::PASS_TTL_EXCEEDED));
        }
        let addr_p = ip.add(addr_off) as *mut u32;
        let port_p = l4.add(port_off) as *mut u16;
        let ip_csum_p = ip.add(IP_CSUM) as *mut u16;
        let old_addr = addr_p.read_unaligned();
        let old_port = port_p.read_unaligned();

        *ip.add(IP_TTL) -= 1;
        let new_ttl_word = ttl_word.read_unaligned();
        let mut ipc = ip_csum_p.read_unaligned();
        ipc = csum::replace16(ipc, old_ttl_word, new_ttl_word);
        ipc = csum::replace32(ipc, old_addr, addr);
        ip_csum_p.write_unaligned(ipc);
        addr_p.write_unaligned(addr);
        port_p.write_unaligned(port);

        // The TCP/UDP checksum covers the pseudo-header's address and the port. A UDP
        // checksum of 0 means "none" (RFC 768) and stays 0.
        let old = l4_csum.read_unaligned();
        if tcp || old != 0 {
            let mut c = csum::replace32(old, old_addr, addr);
            c = csum::replace16(c, old_port, port);
            if !tcp && c == 0 {
                c = 0xffff;
            }
            l4_csum.write_unaligned(c);
        }
    }
    Ok(())
}

/// ipvsadm's OutPkts/OutBytes, per service and real server.
#[inline(always)]
fn account_out(service: u32, real: u32, bytes: u64) {
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
