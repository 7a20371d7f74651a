//! Fuzzing `lb` through `BPF_PROG_TEST_RUN`: 100,000 random and mutated packets per run from
//! a fixed seed (reproducible; set LB_FUZZ_SEED to explore others). No packet may make the
//! program abort, and every packet it transmits must be well formed: a valid IPv4 header
//! checksum, lengths that match the frame, a tunnel's inner packet intact, and valid TCP/UDP
//! checksums whenever the input had them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_tests::{
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, eth, hex, ipv4_csum_ok, l4_csum_ok, tcp, udp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, DIRECTOR6, Harness},
};

const XDP_ABORTED: u32 = 0;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;
const PACKETS: usize = 100_000;

const VIP4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
const REAL4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x11);

fn harness() -> Harness {
    // Every forwarding method for both families, TCP and UDP, on ports 80..=85.
    let config = format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
            "conn_table_size": 65536, "services": [
          {{ "protocol": "tcp", "vip": "{VIP4}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "forwarding": "tun" }}, {{ "address": "{REAL6}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP4}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "forwarding": "dr" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP4}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "port": 9082, "forwarding": "nat" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "forwarding": "tun" }}, {{ "address": "{REAL4}", "forwarding": "tun" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP6}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "forwarding": "dr" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "port": 9082, "forwarding": "nat" }} ] }} ] }}"#
    );
    let n: Vec<IpAddr> = vec![REAL4.into(), REAL6.into()];
    Harness::new(&config, &n)
}

/// A well-formed packet toward one of the VIPs (or near them), with correct checksums.
fn valid_packet(h: &Harness, r: &mut fastrand::Rng) -> Vec<u8> {
    let port = 80 + r.usize(..4) as u16;
    let sport = 1024 + r.usize(..60000) as u16;
    let payload = vec![0x5a; r.usize(..64)];
    let proto_tcp = r.u64(..100) < 60;
    if r.u64(..100) < 50 {
        let src = Ipv4Addr::new(198, 18, 5, r.usize(..256) as u8);
        let mut ip = Ipv4::new(src, VIP4, if proto_tcp { 6 } else { 17 });
        ip.tos = r.usize(..256) as u8;
        ip.ttl = 1 + r.usize(..255) as u8;
        if r.u64(..100) < 20 {
            ip.options = vec![1; 4 * (1 + r.usize(..10))];
        }
        if r.u64(..100) < 10 {
            // A fragment: first (MF) or later (offset), of some datagram.
            ip.frag = if r.u64(..100) < 50 {
                0x2000
            } else {
                1 + r.usize(..0x1fff) as u16
            };
            ip.id = r.usize(..8) as u16;
        }
        let l4 = if proto_tcp {
            tcp(src, VIP4, sport, port, r.usize(..256) as u8, &payload)
        } else {
            udp(src, VIP4, sport, port, &payload)
        };
        eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &ip.build(&l4))
    } else {
        let src = Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, r.usize(..65536) as u16);
        let mut ip = Ipv6::new(src, VIP6, if proto_tcp { 6 } else { 17 });
        ip.tclass = r.usize(..256) as u8;
        ip.hop_limit = 1 + r.usize(..255) as u8;
        for _ in 0..r.usize(..4) {
            ip.ext.push((60, vec![0, 0, 1, 4, 0, 0, 0, 0]));
        }
        let l4 = if proto_tcp {
            tcp(src, VIP6, sport, port, r.usize(..256) as u8, &payload)
        } else {
            udp(src, VIP6, sport, port, &payload)
        };
        eth(h.if_mac, CLIENT_MAC, ETH_P_IPV6, &ip.build(&l4))
    }
}

/// `frame` with one or two VLAN tags after its MAC addresses, sometimes.
fn maybe_tagged(frame: Vec<u8>, r: &mut fastrand::Rng) -> Vec<u8> {
    if r.u64(..100) >= 15 {
        return frame;
    }
    let mut f = frame[..12].to_vec();
    if r.u64(..100) < 30 {
        f.extend_from_slice(&[0x88, 0xa8, 0, r.usize(..256) as u8]);
    }
    f.extend_from_slice(&[0x81, 0x00, 0, r.usize(..256) as u8]);
    f.extend_from_slice(&frame[12..]);
    f
}

/// Damages a packet: flipped bytes, cut or grown, or replaced by noise.
fn mutate(p: &mut Vec<u8>, r: &mut fastrand::Rng) {
    match r.usize(..4) {
        0 => {
            for _ in 0..1 + r.usize(..4) {
                let i = r.usize(..p.len().min(80));
                p[i] = r.u64(..) as u8;
            }
        }
        1 => {
            let keep = 14 + r.usize(..p.len() - 13);
            p.truncate(keep);
        }
        2 => {
            for _ in 0..r.usize(..40) {
                p.push(r.u64(..) as u8);
            }
        }
        _ => {
            let len = 14 + r.usize(..200);
            *p = (0..len).map(|_| r.u64(..) as u8).collect();
        }
    }
}

/// Checks a transmitted frame; `l4_valid`: the input's TCP/UDP checksum was valid, so the
/// output's must be too.
fn check_output(out: &[u8], l4_valid: bool) -> Result<(), String> {
    if out.len() < 14 {
        return Err("shorter than Ethernet".into());
    }
    // Skip VLAN tags (a tagged frame leaves tagged).
    let mut off = 12;
    while off + 4 <= out.len()
        && matches!(
            u16::from_be_bytes([out[off], out[off + 1]]),
            0x8100 | 0x88a8
        )
    {
        off += 4;
    }
    if out.len() < off + 2 {
        return Err("shorter than its tags".into());
    }
    let et = u16::from_be_bytes([out[off], out[off + 1]]);
    check_ip(et, &out[off + 2..], l4_valid, 0)
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
            (ip[6], 40, tot)
        }
        other => return Err(format!("ethertype {other:#x}")),
    };
    match proto {
        4 if depth == 0 => check_ip(ETH_P_IP, &ip[hlen..tot], l4_valid, 1),
        41 if depth == 0 => check_ip(ETH_P_IPV6, &ip[hlen..tot], l4_valid, 1),
        // The L4 checksum helper reads the plain header layout: only check packets without
        // IPv4 options or IPv6 extension headers.
        6 | 17 if l4_valid && (hlen == 20 || ethertype == ETH_P_IPV6) => {
            if !l4_csum_ok(&ip[..tot]) {
                return Err("TCP/UDP checksum".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[test]
fn a_hundred_thousand_random_and_mutated_packets() {
    require_root!();
    let seed = std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1b00_u64);
    let mut r = fastrand::Rng::with_seed(seed);
    let mut h = harness();
    let (mut sent, mut transmitted) = (0usize, 0usize);
    for i in 0..PACKETS {
        let p = valid_packet(&h, &mut r);
        let mut p = maybe_tagged(p, &mut r);
        let valid = r.u64(..100) >= 60;
        if !valid {
            mutate(&mut p, &mut r);
        }
        let out = h.run("lb", &p);
        sent += 1;
        assert_ne!(
            out.action,
            XDP_ABORTED,
            "packet {i} (seed {seed:#x}) aborted:\n{}",
            hex(&p)
        );
        if out.action == XDP_TX || out.action == XDP_REDIRECT {
            transmitted += 1;
            // A mutated input can still be a valid packet by chance; only inputs we built
            // intact are known to carry valid checksums.
            if let Err(e) = check_output(&out.data, valid) {
                panic!(
                    "packet {i} (seed {seed:#x}): transmitted a malformed frame: {e}\n--- in\n{}\n--- out\n{}",
                    hex(&p),
                    hex(&out.data)
                );
            }
        }
    }
    eprintln!("fuzz: {sent} packets, {transmitted} transmitted, seed {seed:#x}");
    assert_eq!(sent, PACKETS);
    // About a quarter are forwarded with this generator (40% intact, of which the ones that
    // hit a service of their protocol); a tenth proves the forwarding paths were exercised.
    assert!(
        transmitted > PACKETS / 10,
        "too few forwarded to exercise the forwarding paths: {transmitted}"
    );
}
