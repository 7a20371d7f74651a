//! `nat` (masquerading, ipvsadm `-m`): the destination address and port become the real
//! server's on the way in, and the real server's replies (the director is its gateway) get
//! the VIP and port back as their source on the way out. Checksums are updated incrementally
//! (RFC 1624); TTL is decremented, as a router does. SCTP's CRC32c covers no addresses: it
//! changes only with a port (`sctp.rs`).

use aya_ebpf::programs::XdpContext;
use lb_common::{FAMILY_V6, FRAG_F_REPLY, GlobalConfig, NextHop, PROTO_SCTP, PROTO_TCP, reason};

use super::route::{Target, client_next_hop, ethertype, next_hop, send};
use crate::{
    csum, frag, ftp,
    headers::{
        ETH_HLEN, IP_CSUM, IP_DADDR, IP_SADDR, IP_TTL, IP6_DADDR, IP6_HOPLIMIT, IP6_SADDR,
        IPV4_HLEN_MIN, IPV6_HLEN, TCP_CSUM, UDP_CSUM,
    },
    lookup::{nat_source, real_server},
    parse::{FRAG_FIRST, FRAG_LATER, Packet},
    ptr::{self, ptr_at},
    sctp, stats,
    verdict::Verdict,
};

/// Which end of the packet is rewritten.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum End {
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
    let nh = without_neigh(next_hop(ctx, to, cfg, now))?;
    let port = if to.real.port != 0 {
        to.real.port
    } else {
        pkt.flow.dport
    };
    rewrite(
        ctx,
        pkt,
        End::Destination,
        &to.real.addr,
        port,
        nh.is_some(),
    )?;
    let control = to.real.ftp_port != 0 && pkt.flow.dport == to.real.ftp_port;
    send_or_pass(ctx, nh, pkt, reason::TX, control)
}

/// A next hop, or None when the FIB knows the route but has no neighbour entry for it yet:
/// then the rewritten packet goes to the kernel, which resolves the neighbour and forwards
/// it (as IPVS's packets always are), instead of being dropped until lbd or someone else
/// happens to resolve it (a client's entry is flushed by a link flap, for one).
#[inline(always)]
fn without_neigh(r: Result<NextHop, Verdict>) -> Result<Option<NextHop>, Verdict> {
    match r {
        Ok(nh) => Ok(Some(nh)),
        Err(v) if v.reason == reason::DROP_FIB_NO_NEIGH => Ok(None),
        Err(v) => Err(v),
    }
}

/// Sends the rewritten frame to `nh`, or without a next hop hands it to the kernel
/// (`pass_no_neigh`; its Ethernet header is the one it came with, to this interface). A
/// packet of an FTP control connection (`control`, TCP) goes, addressed to its next hop, to
/// lbd's FTP helper instead, which sends it on.
#[inline(always)]
fn send_or_pass(
    ctx: &XdpContext,
    nh: Option<NextHop>,
    pkt: &Packet,
    tx_reason: u32,
    control: bool,
) -> Result<Verdict, Verdict> {
    match nh {
        Some(nh) => {
            let v = send(ctx, &nh, ethertype(pkt.flow.family), tx_reason)?;
            if control
                && pkt.flow.proto == PROTO_TCP
                && let Some(h) = ftp::to_helper()
            {
                return Ok(h);
            }
            Ok(v)
        }
        None => Ok(Verdict::pass(reason::PASS_NO_NEIGH)),
    }
}

/// A real server's reply of a `nat` connection to real server `real`: rewrite its source back
/// to the VIP and port (its real server entry's, or the connection's kept destination: see
/// `lookup::nat_source`) and send it toward the client.
#[inline(always)]
pub fn from_real(ctx: &XdpContext, pkt: &Packet, real: u32, now: u64) -> Result<Verdict, Verdict> {
    let r = real_server(real)?;
    let vaddr = nat_source(r, &pkt.flow)?;
    if pkt.frag == FRAG_FIRST {
        frag::remember(pkt, real, r.service, FRAG_F_REPLY, vaddr, now);
    }
    let control = r.ftp_port != 0 && pkt.flow.sport == r.ftp_port;
    reply(ctx, pkt, vaddr, r.vport, r.service, real, control, now)
}

/// Sends a real server's reply (or a later fragment of one: its ports are left alone) to the
/// client with the VIP and port as its source (`control`: through the FTP helper).
#[inline(always)]
pub fn reply(
    ctx: &XdpContext,
    pkt: &Packet,
    vaddr: &[u32; 4],
    vport: u16,
    service: u32,
    real: u32,
    control: bool,
    now: u64,
) -> Result<Verdict, Verdict> {
    // Toward the client: the reply's destination (cached per CPU, as a real server's).
    let nh = without_neigh(client_next_hop(
        ctx,
        pkt.flow.family,
        vaddr,
        &pkt.flow.dst,
        now,
    ))?;
    rewrite(ctx, pkt, End::Source, vaddr, vport, nh.is_some())?;
    stats::account_out(service, real, pkt.ip_len as u64);
    send_or_pass(ctx, nh, pkt, reason::NAT_REPLY, control)
}

/// Replaces the source or destination address and port (port 0: keeps it), decrements TTL / hop limit (with
/// `ttl`; a packet handed to the kernel has it decremented there), and fixes the IPv4 and
/// TCP/UDP checksums (a finished partial one as `partial.rs` says). Everything is checked
/// before anything is written.
/// A later fragment has no transport header: only its address changes (the first
/// fragment's checksum update covers the whole datagram).
#[inline(always)]
fn rewrite(
    ctx: &XdpContext,
    pkt: &Packet,
    end: End,
    addr: &[u32; 4],
    port: u16,
    ttl: bool,
) -> Result<(), Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    let tcp = pkt.flow.proto == PROTO_TCP;
    let l4_csum_off = if tcp { TCP_CSUM } else { UDP_CSUM };
    let later = pkt.frag == FRAG_LATER;
    // Checked before the IP header is touched (and again below, for the verifier): a
    // failure must leave the packet as it came. parse already required the full TCP / UDP
    // header, so these cannot fail on a packet parse accepted.
    if !later && ptr_at::<[u8; 8]>(ctx, pkt.l4()).is_none() {
        return Err(bad);
    }
    // A checksum the sender left for the hardware was finished before (`partial.rs`); a
    // packet handed to the kernel gets it back as a pseudo-header sum, of the new addresses,
    // which the kernel still knows to finish.
    let partial = !ttl && !later && super::partial::finished();
    // The one's-complement difference the address change makes to the pseudo-header.
    let adj = rewrite_ip(ctx, pkt, end, addr, ttl)?;
    if later {
        return Ok(());
    }
    if pkt.flow.proto == PROTO_SCTP {
        // Never a fragment (`parse` passes those); the port 0 case as below.
        let port_off = if end == End::Source { 0 } else { 2 };
        let port = if port != 0 {
            port
        } else if end == End::Source {
            pkt.flow.sport
        } else {
            pkt.flow.dport
        };
        let len = (pkt.ip_len as usize + ETH_HLEN).saturating_sub(pkt.l4());
        return sctp::set_port(ctx, pkt.l4(), port_off, port, len).ok_or(bad);
    }
    let l4: *mut u8 = ptr_at::<[u8; 8]>(ctx, pkt.l4()).ok_or(bad)? as *mut u8;
    let l4_csum: *mut u16 = ptr_at::<u16>(ctx, pkt.l4() + l4_csum_off).ok_or(bad)?;
    let port_p = if end == End::Source {
        l4
    } else {
        l4.wrapping_add(2)
    } as *mut u16;
    // SAFETY: both pointers were checked just above.
    unsafe {
        let old_port = port_p.read_unaligned();
        // Port 0: a port-0 service's reply keeps its port (its real server's port is the
        // client's destination port).
        let port = if port == 0 { old_port } else { port };
        let old_l4c = l4_csum.read_unaligned();
        port_p.write_unaligned(port);
        // A UDP checksum of 0 means "none" (RFC 768; not allowed over IPv6, RFC 8200 8.1)
        // and stays 0.
        if partial {
            // A pseudo-header sum: the addresses are in it, the ports are not.
            l4_csum.write_unaligned(csum::add(super::partial::pseudo_sum(pkt), adj));
        } else if tcp || old_l4c != 0 {
            let mut c = csum::replace16(csum::adjust(old_l4c, adj), old_port, port);
            if !tcp && c == 0 {
                c = 0xffff;
            }
            l4_csum.write_unaligned(c);
        }
    }
    Ok(())
}

/// The IP half of [`rewrite`]: TTL / hop limit (with `ttl`) and the address (and IPv4's
/// header checksum). Returns the address change as a one's-complement difference for the
/// transport checksum.
#[inline(always)]
pub fn rewrite_ip(
    ctx: &XdpContext,
    pkt: &Packet,
    end: End,
    addr: &[u32; 4],
    ttl: bool,
) -> Result<u16, Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    if pkt.flow.family == FAMILY_V6 {
        let ip: *mut u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, ETH_HLEN).ok_or(bad)? as *mut u8;
        // SAFETY: every access below is inside the 40 bytes checked above.
        unsafe {
            if ttl {
                if *ip.add(IP6_HOPLIMIT) <= 1 {
                    return Err(Verdict::pass(reason::PASS_TTL_EXCEEDED));
                }
                *ip.add(IP6_HOPLIMIT) -= 1;
            }
            let a = ip.add(if end == End::Source {
                IP6_SADDR
            } else {
                IP6_DADDR
            }) as *mut [u32; 4];
            let old = (a as *const u8 as *const [u32; 4]).read_unaligned();
            let mut adj = 0u16;
            let mut i = 0;
            while i < 4 {
                adj = csum::diff32(adj, old[i], addr[i]);
                i += 1;
            }
            ptr::store_addr(a as *mut u8, addr);
            Ok(adj)
        }
    } else {
        let ip: *mut u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, ETH_HLEN).ok_or(bad)? as *mut u8;
        // SAFETY: every access below is inside the 20 bytes checked above.
        unsafe {
            if ttl && *ip.add(IP_TTL) <= 1 {
                return Err(Verdict::pass(reason::PASS_TTL_EXCEEDED));
            }
            let ttl_word = ip.add(IP_TTL) as *mut u16;
            let old_ttl_word = ttl_word.read_unaligned();
            if ttl {
                *ip.add(IP_TTL) -= 1;
            }
            let new_ttl_word = ttl_word.read_unaligned();
            let a = ip.add(if end == End::Source {
                IP_SADDR
            } else {
                IP_DADDR
            }) as *mut u32;
            let old = (a as *const u8 as *const u32).read_unaligned();
            let ipc_p = ip.add(IP_CSUM) as *mut u16;
            let mut ipc = ipc_p.read_unaligned();
            ipc = csum::replace16(ipc, old_ttl_word, new_ttl_word);
            ipc = csum::replace32(ipc, old, addr[0]);
            ipc_p.write_unaligned(ipc);
            a.write_unaligned(addr[0]);
            Ok(csum::diff32(0, old, addr[0]))
        }
    }
}
