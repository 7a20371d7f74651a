//! Fuzzing `lb` through `BPF_PROG_TEST_RUN`, checking what comes out. 100,000 random and
//! mutated packets per run from a fixed seed (reproducible; `LB_FUZZ_SEED` explores others,
//! `LB_FUZZ_PACKETS` runs more: `cargo xtask fuzz` runs 1,000,000). No packet may make the
//! program abort, and:
//! - a passed packet leaves byte for byte as it came (VLAN tags included);
//! - a packet we built intact for a service leaves exactly as that service's forwarding
//!   method makes it, built here independently (`lb_tests::expect`): IPIP / IPv6 tunnels,
//!   GUE and GRE to one of its real servers; direct routing with only the MACs changed;
//!   `nat` with the real server's address and port, TTL one less, valid checksums;
//! - a `nat` real server's reply to a client leaves from the VIP and the service's port, TTL
//!   one less, valid checksums, toward the client's router;
//! - every other transmitted frame is well formed (header checksum, lengths, transport
//!   checksums when the input had them; a tunnel carries the input's packet unchanged);
//! - the reason counters add up to the packets sent, verdict by verdict.
//!
//! A second run fills a small connection table with many more flows than it holds: every
//! packet still reaches the real server its hash names, and the table holds at most its
//! capacity (what was evicted or refused is scheduled again).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use lb_tests::{
    config::{ConfigBuilder, RealBuilder, config, real, service_key, tcp_service, udp_service},
    consts::{
        CLIENT_MAC, DIRECTOR, DIRECTOR6, GATEWAY, GATEWAY6, VIP, VIP6, XDP_ABORTED, XDP_DROP,
        XDP_PASS, XDP_REDIRECT, XDP_TX, real_addr, real_addr6, real_mac,
    },
    expect::{Encap, tunnelled},
    flow::flow_key,
    packet::{
        ETH_P_IP, ETH_P_IPV6, IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP,
        Ipv4, Ipv6, TCP_ACK, TCP_SYN, csum, eth, hex, ipv4_csum_ok, ipv6_upper_layer, l4_csum_ok,
        tcp, tcp_ip, udp,
    },
    pin_to_cpu0, require_root,
    testrun::Harness,
};

/// CI's run; `cargo xtask fuzz` sets `LB_FUZZ_PACKETS` for the long one.
const CI_PACKETS: usize = 100_000;
const REAL4: Ipv4Addr = real_addr(0);
const REAL6: Ipv6Addr = real_addr6(0);
const REAL4B: Ipv4Addr = real_addr(1);
/// Where the fuzz's clients are: behind the director's router, one network per family.
const CLIENT_NET: &str = "198.18.5.0/24";
const CLIENT_NET6: &str = "2001:2:0:5::/64";
/// A port with no service on either VIP.
const NO_SERVICE_PORT: u16 = 85;

/// How a service forwards.
#[derive(Clone, Copy, Debug)]
enum Method {
    Tun(Encap),
    Dr,
    /// To this port of its (only) real server.
    Nat(u16),
}

struct Service {
    proto: u8,
    vip: IpAddr,
    port: u16,
    method: Method,
    reals: Vec<IpAddr>,
}

/// Every forwarding method for both families and both protocols, on ports 80..=84 of each
/// VIP: IPIP / IPv6 tunnels (across families too), direct routing, nat, GUE, GRE.
fn catalogue() -> Vec<Service> {
    use Method::*;
    let s = |proto, vip: IpAddr, port, method, reals: &[IpAddr]| Service {
        proto,
        vip,
        port,
        method,
        reals: reals.to_vec(),
    };
    let (v4, v6) = (IpAddr::from(VIP), IpAddr::from(VIP6));
    let (r4, r6, r4b) = (REAL4.into(), REAL6.into(), REAL4B.into());
    vec![
        s(IPPROTO_TCP, v4, 80, Tun(Encap::Ip), &[r4, r6]),
        s(IPPROTO_TCP, v4, 81, Dr, &[r4]),
        s(IPPROTO_UDP, v4, 82, Nat(9082), &[r4]),
        s(IPPROTO_UDP, v4, 83, Tun(Encap::Gue(6080)), &[r4b]),
        s(IPPROTO_TCP, v4, 84, Tun(Encap::Gre), &[r6]),
        s(IPPROTO_TCP, v6, 80, Tun(Encap::Ip), &[r6, r4]),
        s(IPPROTO_UDP, v6, 81, Dr, &[r6]),
        s(IPPROTO_TCP, v6, 82, Nat(9082), &[r6]),
        s(IPPROTO_TCP, v6, 83, Tun(Encap::Gue(6081)), &[r6]),
        s(IPPROTO_UDP, v6, 84, Tun(Encap::Gre), &[r4b]),
    ]
}

fn config_of(cat: &[Service], table: u32) -> ConfigBuilder {
    let mut c = config().conn_table_size(table);
    for s in cat {
        let reals: Vec<RealBuilder> = s
            .reals
            .iter()
            .map(|&a| match s.method {
                Method::Tun(Encap::Ip) => real(a).tun(),
                Method::Tun(Encap::Gue(p)) => real(a).gue(p),
                Method::Tun(Encap::Gre) => real(a).gre(),
                Method::Dr => real(a).dr(),
                Method::Nat(p) => real(a).port(p).nat(),
            })
            .collect();
        let svc = if s.proto == IPPROTO_TCP {
            tcp_service(s.vip, s.port)
        } else {
            udp_service(s.vip, s.port)
        };
        c = c.service(svc.mh(251).reals(reals));
    }
    c
}

/// The director with the catalogue's services; its clients' networks routed through
/// [`GATEWAY`] / [`GATEWAY6`] (where `nat` replies go).
fn director(cat: &[Service], table: u32) -> Harness {
    let n: [IpAddr; 5] = [
        REAL4.into(),
        REAL6.into(),
        REAL4B.into(),
        GATEWAY.into(),
        GATEWAY6.into(),
    ];
    let h = Harness::new(&config_of(cat, table), &n);
    h.ns.ip(&["route", "add", CLIENT_NET, "via", &GATEWAY.to_string()]);
    h.ns.ip(&[
        "-6",
        "route",
        "add",
        CLIENT_NET6,
        "via",
        &GATEWAY6.to_string(),
    ]);
    h
}

/// What the generator built: the packet's flow as it was sent intact.
#[derive(Clone, Copy, Debug)]
struct Built {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    /// A fragment (first or later): its transport checksum spans the datagram.
    fragment: bool,
    /// A `nat` real server's reply (source: the real server).
    reply: bool,
}

/// A `nat` connection as a reply from its real server would name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ReplyKey {
    real: IpAddr,
    rport: u16,
    client: IpAddr,
    cport: u16,
    proto: u8,
}

/// A transport segment with a valid checksum (a UDP checksum that sums to zero is sent as
/// 0xffff, RFC 768: 0 would mean none).
fn l4(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    if proto == IPPROTO_TCP {
        tcp(src, dst, sport, dport, flags, payload)
    } else {
        let mut u = udp(src, dst, sport, dport, payload);
        if u[6..8] == [0, 0] {
            u[6..8].copy_from_slice(&[0xff, 0xff]);
        }
        u
    }
}

/// An IP packet from `src` to `dst` around `seg`, with random header fields (IPv4 options
/// and fragments, IPv6 extension headers).
fn ip_around(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    seg: &[u8],
    r: &mut fastrand::Rng,
) -> (Vec<u8>, bool) {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ip = Ipv4::new(s, d, proto);
            ip.tos = r.u8(..);
            ip.ttl = 1 + r.u8(..255);
            if r.u8(..100) < 20 {
                ip.options = vec![1; 4 * (1 + r.usize(..10))];
            }
            let mut fragment = false;
            if r.u8(..100) < 10 {
                // A fragment: first (MF) or later (offset), of some datagram.
                ip.frag = if r.bool() {
                    0x2000
                } else {
                    1 + r.u16(..0x1fff)
                };
                ip.id = r.u16(..8);
                fragment = true;
            }
            (ip.build(seg), fragment)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ip = Ipv6::new(s, d, proto);
            ip.tclass = r.u8(..);
            ip.hop_limit = 1 + r.u8(..255);
            for _ in 0..r.usize(..4) {
                ip.ext.push((60, vec![0, 0, 1, 4, 0, 0, 0, 0]));
            }
            (ip.build(seg), false)
        }
        _ => unreachable!("one family"),
    }
}

fn client(v4: bool, r: &mut fastrand::Rng) -> IpAddr {
    if v4 {
        Ipv4Addr::new(198, 18, 5, r.u8(..)).into()
    } else {
        Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, r.u16(..)).into()
    }
}

/// A well-formed packet: mostly a client's toward a VIP (a service, another protocol than
/// the service's, a port without service), sometimes a `nat` real server's reply to a
/// client it serves (or to one it does not), sometimes for an address that is no VIP.
fn valid_packet(h: &Harness, r: &mut fastrand::Rng, nat_flows: &[ReplyKey]) -> (Vec<u8>, Built) {
    let proto = if r.u8(..100) < 60 {
        IPPROTO_TCP
    } else {
        IPPROTO_UDP
    };
    let flags = r.u8(..);
    let payload = vec![0x5a; r.usize(..64)];
    let kind = r.u8(..100);
    if kind < 12 && !nat_flows.is_empty() {
        // A nat real server's reply: to a connection it has (mostly), or a stray one.
        let mut k = nat_flows[r.usize(..nat_flows.len())];
        if r.u8(..100) < 20 {
            k.cport = r.u16(1024..);
        }
        let seg = l4(k.proto, k.real, k.client, k.rport, k.cport, flags, &payload);
        let (ip, fragment) = ip_around(k.real, k.client, k.proto, &seg, r);
        let b = Built {
            src: k.real,
            dst: k.client,
            sport: k.rport,
            dport: k.cport,
            proto: k.proto,
            fragment,
            reply: true,
        };
        return (h.from_neighbour(k.real, &ip), b);
    }
    let v4 = r.bool();
    let src = client(v4, r);
    let dst: IpAddr = match (kind < 17, v4) {
        // No VIP: the director itself.
        (true, true) => DIRECTOR.into(),
        (true, false) => DIRECTOR6.into(),
        (false, true) => VIP.into(),
        (false, false) => VIP6.into(),
    };
    let sport = r.u16(1024..);
    let dport = 80 + r.u16(..=NO_SERVICE_PORT - 80);
    let seg = l4(proto, src, dst, sport, dport, flags, &payload);
    let (ip, fragment) = ip_around(src, dst, proto, &seg, r);
    let b = Built {
        src,
        dst,
        sport,
        dport,
        proto,
        fragment,
        reply: false,
    };
    let et = if v4 { ETH_P_IP } else { ETH_P_IPV6 };
    (eth(h.if_mac, CLIENT_MAC, et, &ip), b)
}

/// `frame` with one or two VLAN tags after its MAC addresses, sometimes.
fn maybe_tagged(frame: Vec<u8>, r: &mut fastrand::Rng) -> Vec<u8> {
    if r.u8(..100) >= 15 {
        return frame;
    }
    let mut f = frame[..12].to_vec();
    if r.u8(..100) < 30 {
        f.extend_from_slice(&[0x88, 0xa8, 0, r.u8(..)]);
    }
    f.extend_from_slice(&[0x81, 0x00, 0, r.u8(..)]);
    f.extend_from_slice(&frame[12..]);
    f
}

/// Damages a packet: flipped bytes, cut or grown, or replaced by noise.
fn mutate(p: &mut Vec<u8>, r: &mut fastrand::Rng) {
    match r.usize(..4) {
        0 => {
            for _ in 0..1 + r.usize(..4) {
                let i = r.usize(..p.len().min(80));
                p[i] = r.u8(..);
            }
        }
        1 => {
            let keep = 14 + r.usize(..p.len() - 13);
            p.truncate(keep);
        }
        2 => {
            for _ in 0..r.usize(..40) {
                p.push(r.u8(..));
            }
        }
        _ => {
            let len = 14 + r.usize(..200);
            *p = (0..len).map(|_| r.u8(..)).collect();
        }
    }
}

/// Where a frame's Ethernet type is, past its VLAN tags (a tagged frame leaves tagged).
fn l2_len(f: &[u8]) -> Result<usize, String> {
    if f.len() < 14 {
        return Err("shorter than Ethernet".into());
    }
    let mut off = 12;
    while off + 4 <= f.len() && matches!(u16::from_be_bytes([f[off], f[off + 1]]), 0x8100 | 0x88a8)
    {
        off += 4;
    }
    if f.len() < off + 2 {
        return Err("shorter than its tags".into());
    }
    Ok(off)
}

/// The frame without its VLAN tags.
fn untagged(f: &[u8]) -> Vec<u8> {
    let off = l2_len(f).expect("a frame");
    let mut u = f[..12].to_vec();
    u.extend_from_slice(&f[off..]);
    u
}

/// Checks a transmitted frame's form against its input; `l4_valid`: the input's TCP/UDP
/// checksum was valid, so the output's must be too.
fn check_form(input: &[u8], out: &[u8], l4_valid: bool) -> Result<(), String> {
    let off = l2_len(out)?;
    let et = u16::from_be_bytes([out[off], out[off + 1]]);
    let ip = &out[off + 2..];
    check_ip(et, ip, l4_valid, 0)?;
    // What the input was: its tags and its IP packet (to the end of the frame).
    let in_off = l2_len(input)?;
    let in_ip = &input[in_off + 2..];
    if out[12..off] != input[12..in_off] {
        return Err("the VLAN tags changed".into());
    }
    // The addresses (source and destination) of an IP packet.
    let addrs = |et: u16, p: &[u8]| -> Option<Vec<u8>> {
        match et {
            ETH_P_IP if p.len() >= 20 => Some(p[12..20].to_vec()),
            ETH_P_IPV6 if p.len() >= 40 => Some(p[8..40].to_vec()),
            _ => None,
        }
    };
    if let Some((inner, _)) = tunnel_inner(et, ip) {
        // IPIP, IPv6 in IPv6 or across families, GUE, GRE: the input's packet, byte for byte,
        // inside.
        if &ip[inner..] != in_ip {
            return Err("the tunnelled packet is not the input's".into());
        }
    } else {
        // From and to the addresses the client sent it with: direct routing, which changes
        // nothing but the MAC addresses (nat changes one of them, and the TTL).
        let in_et = u16::from_be_bytes([input[in_off], input[in_off + 1]]);
        if in_et == et
            && addrs(in_et, in_ip).is_some()
            && addrs(in_et, in_ip) == addrs(et, ip)
            && ip != in_ip
        {
            return Err("a directly routed packet changed".into());
        }
    }
    Ok(())
}

/// A tunnel's outer header (from the director's address): where its inner packet starts
/// and that packet's Ethernet type. IPIP / IPv6 in IP right after the IP header, GRE
/// (RFC 2784, no options) 4 bytes later, GUE (UDP, then a 4-byte variant-0 header) 12.
fn tunnel_inner(et: u16, ip: &[u8]) -> Option<(usize, u16)> {
    let (src, proto, hlen): (IpAddr, u8, usize) = if et == ETH_P_IP {
        let s: [u8; 4] = ip[12..16].try_into().unwrap();
        (s.into(), ip[9], ((ip[0] & 0xf) as usize) * 4)
    } else {
        let s: [u8; 16] = ip[8..24].try_into().unwrap();
        (s.into(), ip[6], 40)
    };
    if src != IpAddr::from(DIRECTOR) && src != IpAddr::from(DIRECTOR6) {
        return None;
    }
    let by_proto = |p: u8| match p {
        IPPROTO_IPIP => Some(ETH_P_IP),
        IPPROTO_IPV6 => Some(ETH_P_IPV6),
        _ => None,
    };
    match proto {
        IPPROTO_IPIP | IPPROTO_IPV6 => Some((hlen, by_proto(proto)?)),
        IPPROTO_GRE => {
            let t = ip.get(hlen + 2..hlen + 4)?;
            Some((hlen + 4, u16::from_be_bytes([t[0], t[1]])))
        }
        IPPROTO_UDP => Some((hlen + 12, by_proto(*ip.get(hlen + 9)?)?)),
        _ => None,
    }
}

fn check_ip(ethertype: u16, ip: &[u8], l4_valid: bool, depth: u8) -> Result<(), String> {
    let (proto, hlen, tot) = match ethertype {
        ETH_P_IP => {
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return Err("bad IPv4 header".into());
            }
            let hlen = ((ip[0] & 0xf) as usize) * 4;
            let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            if hlen < 20 || tot < hlen || tot > ip.len() {
                return Err(format!(
                    "IPv4 lengths: ihl {hlen} tot {tot} have {}",
                    ip.len()
                ));
            }
            if !ipv4_csum_ok(ip) {
                return Err("IPv4 header checksum".into());
            }
            // A fragment's transport checksum spans the whole datagram: not checkable here.
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return Ok(());
            }
            (ip[9], hlen, tot)
        }
        ETH_P_IPV6 => {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return Err("bad IPv6 header".into());
            }
            let tot = 40 + u16::from_be_bytes([ip[4], ip[5]]) as usize;
            if tot > ip.len() {
                return Err(format!("IPv6 payload length {tot} > {}", ip.len()));
            }
            // Past the extension headers; a fragment is not checkable here.
            let Some((off, proto)) = ipv6_upper_layer(&ip[..tot]) else {
                return Ok(());
            };
            (proto, off, tot)
        }
        other => return Err(format!("ethertype {other:#x}")),
    };
    if depth == 0
        && let Some((inner, et)) = tunnel_inner(ethertype, &ip[..tot])
    {
        if proto == IPPROTO_UDP {
            // GUE: the UDP length covers the rest; no checksum (lb sends `nocsum`).
            let udp = &ip[hlen..hlen + 8];
            if u16::from_be_bytes([udp[4], udp[5]]) as usize != tot - hlen {
                return Err("GUE: UDP length".into());
            }
            if udp[6..8] != [0, 0] {
                return Err("GUE: a UDP checksum lb does not send".into());
            }
        }
        return check_ip(et, &ip[inner..tot], l4_valid, 1);
    }
    match proto {
        6 | 17 if l4_valid => {
            if !l4_csum_ok(&ip[..tot]) {
                return Err("TCP/UDP checksum".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Where an IP packet's transport header starts.
fn l4_offset(ip: &[u8]) -> usize {
    if ip[0] >> 4 == 4 {
        ((ip[0] & 0xf) as usize) * 4
    } else {
        ipv6_upper_layer(ip)
            .expect("built with a transport header")
            .0
    }
}

/// What a `nat` rewrite makes of the IP packet `ip`: the destination (`to_dst`) or the source
/// address and port replaced, TTL / hop limit one less, the IPv4 header checksum computed from
/// scratch; the transport checksum zeroed (the caller checks the output's with
/// [`l4_csum_ok`] and compares the rest).
fn nat_rewritten(ip: &[u8], to_dst: bool, addr: IpAddr, port: u16, proto: u8) -> Vec<u8> {
    let mut p = ip.to_vec();
    let off = l4_offset(&p);
    match addr {
        IpAddr::V4(a) => {
            let at = if to_dst { 16 } else { 12 };
            p[at..at + 4].copy_from_slice(&a.octets());
            p[8] -= 1;
            p[10..12].copy_from_slice(&[0, 0]);
            let c = csum(&p[..off]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        }
        IpAddr::V6(a) => {
            let at = if to_dst { 24 } else { 8 };
            p[at..at + 16].copy_from_slice(&a.octets());
            p[7] -= 1;
        }
    }
    let at = off + if to_dst { 2 } else { 0 };
    p[at..at + 2].copy_from_slice(&port.to_be_bytes());
    zero_l4_csum(&mut p, off, proto);
    p
}

fn zero_l4_csum(p: &mut [u8], off: usize, proto: u8) {
    let c = off + if proto == IPPROTO_TCP { 16 } else { 6 };
    p[c..c + 2].copy_from_slice(&[0, 0]);
}

/// What was checked, by kind.
#[derive(Debug, Default)]
struct Checked {
    passed_unchanged: u64,
    dropped: u64,
    tunnel: u64,
    gue: u64,
    gre: u64,
    dr: u64,
    nat: u64,
    nat_reply: u64,
    form_only: u64,
}

/// Checks an intact packet's transmitted frame against the exact frame its service (or its
/// nat connection) makes; returns what kind it was.
fn check_exact(
    h: &Harness,
    cat: &[Service],
    input: &[u8],
    b: &Built,
    out: &[u8],
    nat_conns: &HashMap<ReplyKey, (IpAddr, u16)>,
) -> Result<&'static str, String> {
    let (inp, got) = (untagged(input), untagged(out));
    let in_ip = &inp[14..];
    if b.reply {
        let key = ReplyKey {
            real: b.src,
            rport: b.sport,
            client: b.dst,
            cport: b.dport,
            proto: b.proto,
        };
        let Some(&(vip, vport)) = nat_conns.get(&key) else {
            return Err("a reply of no nat connection was transmitted".into());
        };
        let gw: IpAddr = if vip.is_ipv4() {
            GATEWAY.into()
        } else {
            GATEWAY6.into()
        };
        let want = nat_rewritten(in_ip, false, vip, vport, b.proto);
        return nat_compare(&got, h.if_mac, gw, want, b.proto).map(|_| "nat_reply");
    }
    let Some(svc) = cat
        .iter()
        .find(|s| s.vip == b.dst && s.port == b.dport && s.proto == b.proto)
    else {
        return Err("a packet for no service was transmitted".into());
    };
    let flow = flow_key(b.src, b.dst, b.sport, b.dport, b.proto);
    match svc.method {
        Method::Tun(encap) => {
            for &real in &svc.reals {
                if got == tunnelled(h.if_mac, in_ip, real, encap, &flow) {
                    return Ok(match encap {
                        Encap::Ip => "tunnel",
                        Encap::Gue(_) => "gue",
                        Encap::Gre => "gre",
                    });
                }
            }
            Err(format!(
                "not the {encap:?} tunnel to any of {:?} of the service",
                svc.reals
            ))
        }
        Method::Dr => {
            for &real in &svc.reals {
                let mut want = inp.clone();
                want[..6].copy_from_slice(&real_mac(real));
                want[6..12].copy_from_slice(&h.if_mac);
                if got == want {
                    return Ok("dr");
                }
            }
            Err("not the input with a real server's MAC".into())
        }
        Method::Nat(rport) => {
            let real = svc.reals[0];
            let want = nat_rewritten(in_ip, true, real, rport, b.proto);
            nat_compare(&got, h.if_mac, real, want, b.proto).map(|_| "nat")
        }
    }
}

/// A nat rewrite's output: to `next_hop`'s MAC from `me`, the packet `want` (its transport
/// checksum zeroed) with a valid transport checksum of protocol `proto`.
fn nat_compare(
    got: &[u8],
    me: [u8; 6],
    next_hop: IpAddr,
    want: Vec<u8>,
    proto: u8,
) -> Result<(), String> {
    if got[..6] != real_mac(next_hop) || got[6..12] != me {
        return Err(format!("nat: not from eth0 to {next_hop}'s MAC"));
    }
    let mut ip = got[14..].to_vec();
    if !l4_csum_ok(&ip) {
        return Err("nat: transport checksum".into());
    }
    let off = l4_offset(&ip);
    zero_l4_csum(&mut ip, off, proto);
    if ip != want {
        return Err(format!("nat: rewritten wrongly; want\n{}", hex(&want)));
    }
    Ok(())
}

/// Reasons `lb` counts beside the verdict (not one per packet).
fn informational(name: &str) -> bool {
    name.starts_with("conn_")
        || name.starts_with("decap_")
        || matches!(
            name,
            "persist_hit"
                | "frag_first"
                | "frag_followed"
                | "tcp_mid_flow"
                | "sctp_mid_flow"
                | "ftp_data"
                | "csum_completed"
                | "sync_event_lost"
        )
}

/// The XDP action a verdict's reason stands for (every reason `lb` ends a packet with).
fn action_of(name: &str) -> u32 {
    if name.starts_with("pass_") {
        XDP_PASS
    } else if name.starts_with("drop_") {
        XDP_DROP
    } else if name == "redirect" || name == "ftp_helper" {
        XDP_REDIRECT
    } else if matches!(
        name,
        "tx" | "nat_reply"
            | "icmp_echo_reply"
            | "icmp_error_forwarded"
            | "icmp_too_big_sent"
            | "icmp_nat_reply"
            | "tx_vlan_redirect"
    ) {
        // Forwarded, out of eth0 in this harness (TX, or REDIRECT when the FIB says another
        // interface): counted together below.
        XDP_TX
    } else {
        panic!("reason {name:?}: add it to the fuzz's verdict classes")
    }
}

/// The reason counters' deltas add up to the packets sent: per action, the sum of the
/// verdict reasons equals how many runs ended so.
fn assert_counters_add_up(before: &[u64], after: &[u64], actions: &HashMap<u32, u64>, sent: u64) {
    let mut by_action: HashMap<u32, u64> = HashMap::new();
    for (i, name) in lb_common::REASON_NAMES.iter().enumerate() {
        if informational(name) {
            continue;
        }
        *by_action.entry(action_of(name)).or_default() += after[i] - before[i];
    }
    let count = |a: u32| actions.get(&a).copied().unwrap_or(0);
    let forwarded = count(XDP_TX) + count(XDP_REDIRECT);
    assert_eq!(
        by_action.values().sum::<u64>(),
        sent,
        "verdict counters {by_action:?} do not add up to {sent} packets"
    );
    assert_eq!(
        by_action.get(&XDP_TX).copied().unwrap_or(0)
            + by_action.get(&XDP_REDIRECT).copied().unwrap_or(0),
        forwarded,
        "forwarded"
    );
    assert_eq!(
        by_action.get(&XDP_PASS).copied().unwrap_or(0),
        count(XDP_PASS),
        "passed"
    );
    assert_eq!(
        by_action.get(&XDP_DROP).copied().unwrap_or(0),
        count(XDP_DROP),
        "dropped"
    );
}

fn packets() -> usize {
    std::env::var("LB_FUZZ_PACKETS")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(CI_PACKETS)
}

fn seed() -> u64 {
    std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).ok()
        })
        .unwrap_or(0x5eed_1b00_u64)
}

#[test]
fn random_and_mutated_packets_leave_as_their_forwarding_method_makes_them() {
    require_root!();
    pin_to_cpu0();
    let (n, seed) = (packets(), seed());
    let mut r = fastrand::Rng::with_seed(seed);
    let cat = catalogue();
    let mut h = director(&cat, 65536);
    let before = h.reasons();
    let mut actions: HashMap<u32, u64> = HashMap::new();
    let mut checked = Checked::default();
    // nat connections seen forwarded (reply key -> VIP and port), and the same as a list to
    // draw replies from.
    let mut nat_conns: HashMap<ReplyKey, (IpAddr, u16)> = HashMap::new();
    let mut nat_flows: Vec<ReplyKey> = Vec::new();
    for i in 0..n {
        let (p, b) = valid_packet(&h, &mut r, &nat_flows);
        let mut p = maybe_tagged(p, &mut r);
        let intact = r.u8(..100) >= 60;
        if !intact {
            mutate(&mut p, &mut r);
        }
        let out = h.run("lb", &p);
        *actions.entry(out.action).or_default() += 1;
        let fail = |what: String| -> ! {
            panic!(
                "packet {i} (LB_FUZZ_SEED={seed:#x}, {b:?}, intact {intact}): {what}\n--- in\n{}\n--- out\n{}",
                hex(&p),
                hex(&out.data)
            )
        };
        match out.action {
            XDP_ABORTED => fail("aborted".into()),
            XDP_PASS => {
                if out.data != p {
                    fail("passed, but changed".into());
                }
                checked.passed_unchanged += 1;
            }
            XDP_DROP => checked.dropped += 1,
            XDP_TX | XDP_REDIRECT => {
                if let Err(e) = check_form(&p, &out.data, intact) {
                    fail(format!("transmitted a malformed frame: {e}"));
                }
                if !intact || b.fragment {
                    checked.form_only += 1;
                    continue;
                }
                match check_exact(&h, &cat, &p, &b, &out.data, &nat_conns) {
                    Ok(kind) => {
                        match kind {
                            "tunnel" => checked.tunnel += 1,
                            "gue" => checked.gue += 1,
                            "gre" => checked.gre += 1,
                            "dr" => checked.dr += 1,
                            "nat" => checked.nat += 1,
                            _ => checked.nat_reply += 1,
                        }
                        if kind == "nat" {
                            let svc = cat
                                .iter()
                                .find(|s| s.vip == b.dst && s.port == b.dport && s.proto == b.proto)
                                .unwrap();
                            let Method::Nat(rport) = svc.method else {
                                unreachable!()
                            };
                            let key = ReplyKey {
                                real: svc.reals[0],
                                rport,
                                client: b.src,
                                cport: b.sport,
                                proto: b.proto,
                            };
                            if nat_conns.insert(key, (b.dst, b.dport)).is_none() {
                                nat_flows.push(key);
                            }
                        }
                    }
                    Err(e) => fail(e),
                }
            }
            other => fail(format!("action {other}")),
        }
    }
    assert_counters_add_up(&before, &h.reasons(), &actions, n as u64);
    let aborted = actions.get(&XDP_ABORTED).copied().unwrap_or(0);
    eprintln!(
        "fuzz: {n} packets, {aborted} XDP_ABORTED, seed {seed:#x}; {checked:?}; actions {actions:?}"
    );
    // Every kind of output was met and checked (shares of a run of 100,000 packets: the
    // generator sends 40% intact, most of them to a service).
    let floor = (n / 1000) as u64;
    for (kind, got) in [
        ("passed", checked.passed_unchanged),
        ("tunnel", checked.tunnel),
        ("gue", checked.gue),
        ("gre", checked.gre),
        ("dr", checked.dr),
        ("nat", checked.nat),
        ("nat reply", checked.nat_reply),
    ] {
        assert!(
            got > floor,
            "too few {kind} outputs checked: {got} ({checked:?})"
        );
    }
    let line = format!(
        "{n} packets, {aborted} XDP_ABORTED, seed {seed:#x}: {} passed unchanged, {} dropped, exact outputs: {} IPIP/IPv6 tunnels, {} GUE, {} GRE, {} dr, {} nat, {} nat replies; {} others well formed; counters add up",
        checked.passed_unchanged,
        checked.dropped,
        checked.tunnel,
        checked.gue,
        checked.gre,
        checked.dr,
        checked.nat,
        checked.nat_reply,
        checked.form_only
    );
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-report-packets.txt"),
        &line,
    );
}

#[test]
fn a_connection_table_of_1024_under_8192_flows_confirms_at_most_1024_and_forwards_every_packet() {
    require_root!();
    // One CPU, so that every packet meets the same per-CPU state (flood window, scratch).
    pin_to_cpu0();
    const CAPACITY: u32 = 1024;
    const FLOWS: u16 = 8192;
    let cat = [Service {
        proto: IPPROTO_TCP,
        vip: VIP.into(),
        port: 80,
        method: Method::Tun(Encap::Ip),
        reals: vec![REAL4.into(), REAL4B.into()],
    }];
    let mut h = director(&cat, CAPACITY);
    let key = service_key(lb_model::Protocol::Tcp, VIP, 80);
    let client = Ipv4Addr::new(198, 18, 5, 9);
    let before = h.reasons();
    let hit = lb_common::reason::CONN_HIT as usize;
    let promoted = lb_common::reason::CONN_PROMOTED as usize;
    let full = lb_common::reason::CONN_TABLE_FULL as usize;
    let mut actions: HashMap<u32, u64> = HashMap::new();
    let mut sent = 0u64;
    let mut send = |h: &mut Harness, sport: u16, flags: u8| -> u64 {
        let ip = tcp_ip(client, VIP, sport, 80, flags, b"fill");
        let frame = h.from_client(&ip);
        let hits = h.reasons()[hit];
        let out = h.run("lb", &frame);
        *actions.entry(out.action).or_default() += 1;
        sent += 1;
        assert_eq!(out.action, XDP_TX, "flow {sport}: not forwarded");
        // Held, evicted or refused: always to the real server the service's table names.
        let flow = flow_key(client, VIP, sport, 80, IPPROTO_TCP);
        let real = h.table_real(&key, &flow);
        assert_eq!(
            out.data,
            tunnelled(h.if_mac, &ip, real, Encap::Ip, &flow),
            "flow {sport}: not the tunnel to {real}"
        );
        h.reasons()[hit] - hits
    };
    // Every flow: its first packet, then its second (confirmed, as lb's table sees it).
    for sport in 10_000..10_000 + FLOWS {
        send(&mut h, sport, TCP_SYN);
        send(&mut h, sport, TCP_ACK);
    }
    // Each flow once more, newest first: at most the table's capacity is still held.
    let held: u64 = (10_000..10_000 + FLOWS)
        .rev()
        .map(|sport| send(&mut h, sport, TCP_ACK))
        .sum();
    let after = h.reasons();
    let (confirmed, refused) = (
        after[promoted] - before[promoted],
        after[full] - before[full],
    );
    eprintln!(
        "table of {CAPACITY}: {confirmed} of {FLOWS} flows confirmed, {refused} confirmations \
         refused as the table was full, {held} of the last {FLOWS} packets met an entry"
    );
    // The connection table holds at most its capacity; every flow its second packet could not
    // confirm is counted as refused (it still goes on, to the same real server, as checked).
    assert!(
        confirmed > 0 && confirmed <= CAPACITY as u64,
        "{confirmed} flows of {FLOWS} confirmed into a table of {CAPACITY}"
    );
    assert!(
        refused >= FLOWS as u64 - CAPACITY as u64,
        "only {refused} confirmations refused with {FLOWS} flows for a table of {CAPACITY}"
    );
    assert_counters_add_up(&before, &h.reasons(), &actions, sent);
}
