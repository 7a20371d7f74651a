//! Packet tests: the real XDP object, its maps filled by the daemon's own apply code, crafted
//! packets through `BPF_PROG_TEST_RUN`; each asserts the verdict, the exact output bytes
//! (checksums recomputed here, independently) and the counters.

use std::net::Ipv4Addr;

use lb_common::{FAMILY_V4, FlowKey, PROTO_TCP, PROTO_UDP};
use lb_daemon::{config::Protocol, state::vip_key};
use lb_tests::{
    packet::{self, ETH_P_ARP, ETH_P_IP, Ipv4, eth, ipv4_csum_ok, l4_csum_ok, tcp, udp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, Harness, assert_frame, check, real_mac, reason_delta},
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_ABORTED: u32 = 0;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 7);
const REALS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 11),
    Ipv4Addr::new(198, 18, 0, 12),
    Ipv4Addr::new(198, 18, 0, 13),
];

fn config(weights: [u32; 3]) -> String {
    format!(
        r#"{{
        "interface": "eth0",
        "director": {{ "ipv4": "{DIRECTOR}" }},
        "conn_table_size": 4096,
        "services": [
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [
              {{ "address": "{}", "weight": {}, "forwarding": "tun" }},
              {{ "address": "{}", "weight": {}, "forwarding": "tun" }},
              {{ "address": "{}", "weight": {}, "forwarding": "tun" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{}", "forwarding": "tun" }} ] }}
        ]
    }}"#,
        REALS[0], weights[0], REALS[1], weights[1], REALS[2], weights[2], REALS[0]
    )
}

fn harness() -> Harness {
    Harness::new(&config([1, 1, 1]), &REALS)
}

fn tcp_frame(h: &Harness, ip: &Ipv4, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = tcp(ip.src, ip.dst, sport, dport, 0x02, payload);
    eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &ip.build(&seg))
}

/// The real server the reference (user-space) computation expects for a flow: the same flow
/// hash over the same key, into the table lbd wrote.
fn expected_real(h: &Harness, proto: Protocol, sport: u16, dport: u16) -> Ipv4Addr {
    let flow = FlowKey {
        src: [u32::from_ne_bytes(CLIENT.octets()), 0, 0, 0],
        dst: [u32::from_ne_bytes(VIP.octets()), 0, 0, 0],
        sport: sport.to_be(),
        dport: dport.to_be(),
        proto: match proto {
            Protocol::Tcp => PROTO_TCP,
            Protocol::Udp => PROTO_UDP,
        },
        family: FAMILY_V4,
        _pad: [0; 2],
    };
    match h.table_real(&vip_key(proto, VIP.into(), dport), &flow) {
        std::net::IpAddr::V4(a) => a,
        _ => unreachable!(),
    }
}

/// The frame `lb` must emit for `inner_ip` tunnelled to `real`: Ethernet to the real
/// server's MAC from eth0's, an outer IPv4 header built here field by field.
fn expected_ipip(h: &Harness, inner_ip: &[u8], real: Ipv4Addr) -> Vec<u8> {
    let mut outer = vec![0u8; 20];
    outer[0] = 0x45;
    outer[1] = inner_ip[1]; // TOS copied (RFC 2003 3.1)
    outer[2..4].copy_from_slice(&((inner_ip.len() + 20) as u16).to_be_bytes());
    outer[6] = inner_ip[6] & 0x40; // DF copied, no fragment offset
    outer[8] = 64;
    outer[9] = 4;
    outer[12..16].copy_from_slice(&DIRECTOR.octets());
    outer[16..20].copy_from_slice(&real.octets());
    let c = packet::csum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    outer.extend_from_slice(inner_ip);
    eth(real_mac(real), h.if_mac, ETH_P_IP, &outer)
}

#[test]
fn tcp_syn_to_vip_is_tunnelled_to_the_scheduled_real_server() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv4::new(CLIENT, VIP, 6);
    ip.tos = 0x10;
    let frame = tcp_frame(&h, &ip, 40000, 80, b"");
    let before = h.reasons();
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX, "verdict");
    let real = expected_real(&h, Protocol::Tcp, 40000, 80);
    let want = expected_ipip(&h, &frame[14..], real);
    assert_frame("IPIP", &out.data, &want);
    assert!(ipv4_csum_ok(&out.data[14..]), "outer IPv4 checksum");
    assert!(
        ipv4_csum_ok(&out.data[34..]),
        "inner IPv4 checksum untouched"
    );
    assert!(l4_csum_ok(&out.data[34..]), "inner TCP checksum untouched");
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("tx", 1), ("conn_new", 1)]
    );
    let key = vip_key(Protocol::Tcp, VIP.into(), 80);
    let svc = h.dp.service(&key).unwrap();
    let s = h.service_stats(svc.id);
    assert_eq!((s.conns, s.in_pkts, s.in_bytes), (1, 1, 40));
    let rid = h
        .state
        .real_ids(&key)
        .into_iter()
        .find(|(a, _, _)| *a == std::net::IpAddr::V4(real))
        .unwrap()
        .2;
    let r = h.real_stats(rid);
    assert_eq!((r.conns, r.in_pkts, r.in_bytes), (1, 1, 40));
    assert_eq!(h.dp.connections().len(), 1, "one connection recorded");
}

#[test]
fn established_flow_keeps_its_real_server_after_the_table_changes() {
    require_root!();
    let mut h = harness();
    let ip = Ipv4::new(CLIENT, VIP, 6);
    let frame = tcp_frame(&h, &ip, 40001, 80, b"hello");
    let first = h.run("lb", &frame);
    assert_eq!(first.action, XDP_TX);
    let real = Ipv4Addr::new(
        first.data[30],
        first.data[31],
        first.data[32],
        first.data[33],
    );
    // Give every other real server all the weight: new flows can no longer go to `real`.
    let weights = REALS.map(|r| if r == real { 0 } else { 1 });
    let cfg = lb_daemon::config::Config::parse(&config(weights), "t").unwrap();
    h.state.apply(&mut h.dp, &cfg).unwrap();
    let want = expected_ipip(&h, &frame[14..], real);
    check(
        &mut h,
        "established",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_hit", 1)],
    );
    let key = vip_key(Protocol::Tcp, VIP.into(), 80);
    let s = h.service_stats(h.dp.service(&key).unwrap().id);
    assert_eq!((s.conns, s.in_pkts), (1, 2), "one connection, two packets");
}

#[test]
fn udp_service_is_tunnelled() {
    require_root!();
    let mut h = harness();
    let ip = Ipv4::new(CLIENT, VIP, 17);
    let frame = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &ip.build(&udp(CLIENT, VIP, 5353, 53, b"q")),
    );
    let before = h.reasons();
    let out = h.run("lb", &frame);
    assert_eq!(
        out.action,
        XDP_TX,
        "{:?}",
        reason_delta(&before, &h.reasons())
    );
    assert_frame("udp", &out.data, &expected_ipip(&h, &frame[14..], REALS[0]));
    assert!(l4_csum_ok(&out.data[34..]));
}

#[test]
fn packets_not_for_a_vip_pass_untouched() {
    require_root!();
    let mut h = harness();
    let other = Ipv4Addr::new(198, 18, 0, 99);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "other address",
            tcp_frame(&h, &Ipv4::new(CLIENT, other, 6), 1, 80, b""),
            "pass_not_vip",
        ),
        (
            "VIP, other port",
            tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 1, 81, b""),
            "pass_not_vip",
        ),
        (
            "VIP, port of the UDP service over TCP",
            tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 1, 53, b""),
            "pass_not_vip",
        ),
        (
            "ARP",
            eth([0xff; 6], CLIENT_MAC, ETH_P_ARP, &[0u8; 28]),
            "pass_not_ip",
        ),
        (
            "GRE to the VIP",
            eth(
                h.if_mac,
                CLIENT_MAC,
                ETH_P_IP,
                &Ipv4::new(CLIENT, VIP, 47).build(&[0, 0, 0x08, 0, 0, 0, 0, 0]),
            ),
            "pass_not_l4",
        ),
        (
            "ICMP redirect to the VIP",
            eth(
                h.if_mac,
                CLIENT_MAC,
                ETH_P_IP,
                &Ipv4::new(CLIENT, VIP, 1).build(&packet::icmp4(5, 1, [0; 4], &[0; 28])),
            ),
            "pass_icmp",
        ),
    ];
    for (what, frame, reason) in cases {
        check(&mut h, what, &frame, XDP_PASS, None, &[(reason, 1)]);
    }
    assert!(h.dp.connections().is_empty());
}

#[test]
fn ipv4_options_are_skipped_by_ihl() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv4::new(CLIENT, VIP, 6);
    // Record-route style option bytes: if IHL were ignored, the "ports" read would be these.
    ip.options = vec![0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01];
    let frame = tcp_frame(&h, &ip, 40002, 80, b"");
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX);
    let real = expected_real(&h, Protocol::Tcp, 40002, 80);
    assert_frame("options", &out.data, &expected_ipip(&h, &frame[14..], real));
}

#[test]
fn truncated_and_malformed_packets_never_abort() {
    require_root!();
    let mut h = harness();
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40004, 80, b"");
    // Every truncation from a bare Ethernet header (BPF_PROG_TEST_RUN's minimum) upwards.
    for len in 14..frame.len() {
        let mut cut = frame[..len].to_vec();
        // Keep tot_len consistent with what is left, so the cut is seen at the L4 boundary too.
        if len >= 18 {
            let ip_len = (len - 14) as u16;
            cut[16..18].copy_from_slice(&ip_len.to_be_bytes());
        }
        let before = h.reasons();
        let out = h.run("lb", &cut);
        assert_ne!(out.action, XDP_ABORTED, "len {len}");
        assert!(
            out.action == XDP_PASS || out.action == XDP_DROP,
            "len {len}: {}",
            out.action
        );
        let d = reason_delta(&before, &h.reasons());
        assert_eq!(d.len(), 1, "len {len}: exactly one reason counted: {d:?}");
        assert!(
            d[0].0.starts_with("pass_") || d[0].0.starts_with("drop_"),
            "len {len}: {d:?}"
        );
    }
    let mut bad = frame.clone();
    bad[14] = 0x44; // IHL 4 < 5
    let before = h.reasons();
    assert_eq!(h.run("lb", &bad).action, XDP_PASS);
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("pass_bad_ip_header", 1)]
    );
    let mut long = frame.clone();
    long[16..18].copy_from_slice(&1500u16.to_be_bytes()); // tot_len beyond the packet
    let before = h.reasons();
    assert_eq!(h.run("lb", &long).action, XDP_PASS);
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("pass_bad_ip_header", 1)]
    );
    let mut bad_csum = frame.clone();
    bad_csum[24] ^= 0xff; // header checksum
    check(
        &mut h,
        "bad IPv4 checksum",
        &bad_csum,
        XDP_PASS,
        None,
        &[("pass_bad_ip_checksum", 1)],
    );
    let mut v6 = frame.clone();
    v6[14] = 0x65; // version 6 in an IPv4 ethertype
    assert_eq!(h.run("lb", &v6).action, XDP_PASS);
    assert!(h.dp.connections().is_empty());
}

#[test]
fn unresolved_next_hop_drops_without_touching_the_packet() {
    require_root!();
    // No neighbour entries: the FIB lookup answers NO_NEIGH.
    let mut h = Harness::new::<Ipv4Addr>(&config([1, 1, 1]), &[]);
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40005, 80, b"");
    check(
        &mut h,
        "no neigh",
        &frame,
        XDP_DROP,
        None,
        &[("drop_fib_no_neigh", 1), ("conn_new", 1)],
    );
}

#[test]
fn service_without_weight_drops_with_no_real() {
    require_root!();
    let mut h = Harness::new(&config([0, 0, 0]), &REALS);
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40006, 80, b"");
    let before = h.reasons();
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_DROP);
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("drop_no_real", 1)]
    );
}

#[test]
fn decap_strips_ipip_and_passes_everything_else_untouched() {
    require_root!();
    let mut h = harness();
    // Produce a real IPIP frame with `lb`, then strip it with `decap`.
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40007, 80, b"payload");
    let enc = h.run("lb", &frame);
    assert_eq!(enc.action, XDP_TX);
    let before = h.reasons();
    let dec = h.run("decap", &enc.data);
    assert_eq!(dec.action, XDP_PASS);
    let mut want = enc.data[..14].to_vec();
    want.extend_from_slice(&frame[14..]);
    assert_frame("decap", &dec.data, &want);
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("decap_stripped", 1)]
    );
    // Not encapsulated: untouched.
    let out = h.run("decap", &frame);
    assert_eq!(out.action, XDP_PASS);
    assert_frame("plain", &out.data, &frame);
    // IPIP whose inner header is cut short: passed untouched, counted as bad.
    let mut cut = enc.data[..14 + 20 + 10].to_vec();
    cut[16..18].copy_from_slice(&30u16.to_be_bytes());
    // A consistent outer header: the cut is in the inner one.
    cut[24..26].copy_from_slice(&[0, 0]);
    let c = packet::csum(&cut[14..34]);
    cut[24..26].copy_from_slice(&c.to_be_bytes());
    let before = h.reasons();
    let out = h.run("decap", &cut);
    assert_eq!(out.action, XDP_PASS);
    assert_frame("bad inner", &out.data, &cut);
    assert_eq!(reason_delta(&before, &h.reasons()), vec![("decap_bad", 1)]);
}

// ---- dr and nat ----

const LOCAL_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);
const REMOTE_REAL: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 5);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn method_config() -> String {
    format!(
        r#"{{
        "interface": "eth0",
        "director": {{ "ipv4": "{DIRECTOR}" }},
        "conn_table_size": 4096,
        "services": [
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{}", "forwarding": "dr" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REMOTE_REAL}", "forwarding": "dr" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{}", "port": 8080, "forwarding": "nat" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{}", "port": 5353, "forwarding": "nat" }} ] }}
        ]
    }}"#,
        REALS[1], REALS[2], REALS[2]
    )
}

fn method_harness() -> Harness {
    let h = Harness::new(
        &method_config(),
        &[REALS[1], REALS[2], LOCAL_CLIENT, GATEWAY],
    );
    // A real server behind a router: not on the director's link.
    h.ns.ip(&["route", "add", "198.19.0.0/24", "via", &GATEWAY.to_string()]);
    h
}

#[test]
fn dr_rewrites_only_the_destination_mac() {
    require_root!();
    let mut h = method_harness();
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40010, 81, b"data");
    let before = h.reasons();
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX);
    let mut want = frame.clone();
    want[..6].copy_from_slice(&real_mac(REALS[1]));
    want[6..12].copy_from_slice(&h.if_mac);
    assert_frame("dr", &out.data, &want);
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("tx", 1), ("conn_new", 1)]
    );
}

#[test]
fn dr_refuses_a_real_server_behind_a_router() {
    require_root!();
    let mut h = method_harness();
    let frame = tcp_frame(&h, &Ipv4::new(CLIENT, VIP, 6), 40011, 82, b"");
    check(
        &mut h,
        "dr not on-link",
        &frame,
        XDP_DROP,
        None,
        &[("conn_new", 1), ("drop_dr_not_onlink", 1)],
    );
}

/// The frame a router would emit for `ip`: TTL one less, checksums computed from scratch here.
fn routed(mut ip: Ipv4, dmac: [u8; 6], smac: [u8; 6], l4: &[u8]) -> Vec<u8> {
    ip.ttl -= 1;
    eth(dmac, smac, ETH_P_IP, &ip.build(l4))
}

#[test]
fn nat_rewrites_both_directions_with_correct_checksums() {
    require_root!();
    let mut h = method_harness();
    let rip = REALS[2];
    // Client -> VIP:80 becomes client -> RIP:8080.
    let mut ip = Ipv4::new(LOCAL_CLIENT, VIP, 6);
    ip.tos = 0x28;
    let syn = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &ip.build(&tcp(LOCAL_CLIENT, VIP, 40012, 80, 0x02, b"hello")),
    );
    let before = h.reasons();
    let out = h.run("lb", &syn);
    assert_eq!(out.action, XDP_TX);
    let mut ip_in = ip.clone();
    ip_in.dst = rip;
    let want = routed(
        ip_in,
        real_mac(rip),
        h.if_mac,
        &tcp(LOCAL_CLIENT, rip, 40012, 8080, 0x02, b"hello"),
    );
    assert_frame("nat in", &out.data, &want);
    assert!(ipv4_csum_ok(&out.data[14..]) && l4_csum_ok(&out.data[14..]));
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        vec![("tx", 1), ("conn_new", 1)]
    );
    assert_eq!(h.dp.connections().len(), 2, "both directions tracked");

    // RIP:8080 -> client becomes VIP:80 -> client, toward the client's MAC.
    let reply_ip = Ipv4::new(rip, LOCAL_CLIENT, 6);
    let reply = eth(
        h.if_mac,
        real_mac(rip),
        ETH_P_IP,
        &reply_ip.build(&tcp(rip, LOCAL_CLIENT, 8080, 40012, 0x12, b"world!")),
    );
    let before = h.reasons();
    let out = h.run("lb", &reply);
    assert_eq!(out.action, XDP_TX);
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP;
    let want = routed(
        ip_out,
        real_mac(LOCAL_CLIENT),
        h.if_mac,
        &tcp(VIP, LOCAL_CLIENT, 80, 40012, 0x12, b"world!"),
    );
    assert_frame("nat out", &out.data, &want);
    assert_eq!(reason_delta(&before, &h.reasons()), vec![("nat_reply", 1)]);

    let key = vip_key(Protocol::Tcp, VIP.into(), 80);
    let s = h.service_stats(h.dp.service(&key).unwrap().id);
    assert_eq!(
        (s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes),
        (1, 1, 1, 45, 46),
        "ipvsadm --stats: Conns InPkts OutPkts InBytes OutBytes"
    );
}

#[test]
fn nat_udp_keeps_a_zero_checksum_and_fixes_a_real_one() {
    require_root!();
    let mut h = method_harness();
    let rip = REALS[2];
    for (sport, zero) in [(40013u16, false), (40014, true)] {
        let ip = Ipv4::new(LOCAL_CLIENT, VIP, 17);
        let mut dgram = udp(LOCAL_CLIENT, VIP, sport, 53, b"query");
        if zero {
            dgram[6..8].copy_from_slice(&[0, 0]);
        }
        let frame = eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &ip.build(&dgram));
        let out = h.run("lb", &frame);
        assert_eq!(out.action, XDP_TX);
        let mut ip_in = ip.clone();
        ip_in.dst = rip;
        let mut want_l4 = udp(LOCAL_CLIENT, rip, sport, 5353, b"query");
        if zero {
            want_l4[6..8].copy_from_slice(&[0, 0]);
        }
        let want = routed(ip_in, real_mac(rip), h.if_mac, &want_l4);
        assert_frame(if zero { "udp csum 0" } else { "udp" }, &out.data, &want);
    }
}

#[test]
fn packets_for_no_vip_and_no_nat_connection_still_pass() {
    require_root!();
    let mut h = method_harness();
    // Looks like a reply from a nat real server, but no connection exists.
    let frame = eth(
        h.if_mac,
        real_mac(REALS[2]),
        ETH_P_IP,
        &Ipv4::new(REALS[2], LOCAL_CLIENT, 6).build(&tcp(
            REALS[2],
            LOCAL_CLIENT,
            8080,
            1,
            0x12,
            b"",
        )),
    );
    check(
        &mut h,
        "stray reply",
        &frame,
        XDP_PASS,
        None,
        &[("pass_not_vip", 1)],
    );
}

#[test]
fn nat_passes_a_packet_whose_ttl_would_expire() {
    require_root!();
    let mut h = method_harness();
    let mut ip = Ipv4::new(LOCAL_CLIENT, VIP, 6);
    ip.ttl = 1;
    let frame = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &ip.build(&tcp(LOCAL_CLIENT, VIP, 40015, 80, 0x02, b"")),
    );
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_PASS);
    assert_frame("ttl 1", &out.data, &frame);
}

#[test]
fn lb_stays_well_inside_the_verifiers_budget() {
    require_root!();
    let mut h = harness();
    let prog = h.dp.program("lb").unwrap();
    let n = prog
        .info()
        .ok()
        .and_then(|i| i.verified_instruction_count())
        .expect("the kernel reports verified instructions");
    eprintln!("lb: {n} instructions processed by the verifier (limit 1,000,000)");
    // The verifier walks every path; a program near the limit fails to load after the next
    // small change. Keep a margin, and split the program (tail calls, global functions) when
    // this fails.
    assert!(n < 750_000, "lb took {n} verifier steps");
}

#[test]
fn the_programs_call_no_byte_loop_memory_functions() {
    // LLVM turns a copy it cannot prove free of overlap (or a large zeroed value) into a call
    // to a `memmove` / `memcpy` / `memset` subprogram: a byte loop per packet, and a sign that
    // a struct went by value where it should not. The object must have none.
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(lb_daemon::dataplane::OBJECT).expect("the XDP object");
    let mut calls = Vec::new();
    for section in file.sections() {
        for (_, rel) in section.relocations() {
            if let object::RelocationTarget::Symbol(i) = rel.target()
                && let Ok(sym) = file.symbol_by_index(i)
                && let Ok(name) = sym.name()
                && ["memset", "memcpy", "memmove", "memcmp", "bcmp"].contains(&name)
            {
                calls.push(format!("{} in {}", name, section.name().unwrap_or("?")));
            }
        }
    }
    assert!(calls.is_empty(), "calls to memory functions: {calls:?}");
}

#[test]
fn a_lost_nat_reply_entry_is_made_again_by_its_connection() {
    require_root!();
    let mut h = method_harness();
    let rip = REALS[2];
    let ip = Ipv4::new(LOCAL_CLIENT, VIP, 6);
    let seg = |flags| {
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip.build(&tcp(LOCAL_CLIENT, VIP, 40030, 80, flags, b"")),
        )
    };
    let (syn, ack) = (seg(0x02), seg(0x10));
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    // The LRU drops the reply entry (here: deleted by hand).
    let reply_key =
        h.dp.connections()
            .into_iter()
            .find(|(_, c)| c.flags & lb_common::CONN_F_REPLY != 0)
            .expect("a reply entry")
            .0;
    assert!(h.dp.delete_conn(&reply_key));
    let reply = eth(
        h.if_mac,
        real_mac(rip),
        ETH_P_IP,
        &Ipv4::new(rip, LOCAL_CLIENT, 6).build(&tcp(rip, LOCAL_CLIENT, 8080, 40030, 0x12, b"")),
    );
    check(
        &mut h,
        "reply without its entry",
        &reply,
        XDP_PASS,
        None,
        &[("pass_not_vip", 1)],
    );
    // The connection's entry is refreshed at most once a second; the refresh makes the reply
    // entry again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(h.run("lb", &ack).action, XDP_TX);
    let before = h.reasons();
    let out = h.run("lb", &reply);
    assert_eq!(out.action, XDP_TX, "the reply is rewritten again");
    assert_eq!(reason_delta(&before, &h.reasons()), vec![("nat_reply", 1)]);
}

#[test]
fn a_removed_nat_real_servers_connection_keeps_its_replies() {
    require_root!();
    let mut h = method_harness();
    let rip = REALS[2];
    let syn = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(LOCAL_CLIENT, VIP, 6).build(&tcp(LOCAL_CLIENT, VIP, 40040, 80, 0x02, b"")),
    );
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    // The nat real server leaves the service (another takes its place): its connection goes
    // on, so the address filter must still let its replies through.
    // (Both nat services leave REALS[2], so no configured address keeps its filter bit.)
    let changed = method_config()
        .replace(
            &format!(r#""address": "{}", "port": 8080"#, REALS[2]),
            &format!(r#""address": "{}", "port": 8080"#, REALS[1]),
        )
        .replace(
            &format!(r#""address": "{}", "port": 5353"#, REALS[2]),
            &format!(r#""address": "{}", "port": 5353"#, REALS[1]),
        );
    assert!(!changed.contains(&REALS[2].to_string()), "{changed}");
    let cfg = lb_daemon::config::Config::parse(&changed, "t").unwrap();
    h.state.apply(&mut h.dp, &cfg).unwrap();
    let reply = eth(
        h.if_mac,
        real_mac(rip),
        ETH_P_IP,
        &Ipv4::new(rip, LOCAL_CLIENT, 6).build(&tcp(rip, LOCAL_CLIENT, 8080, 40040, 0x12, b"")),
    );
    let before = h.reasons();
    let out = h.run("lb", &reply);
    assert_eq!(out.action, XDP_TX, "the reply is still rewritten");
    assert_eq!(reason_delta(&before, &h.reasons()), vec![("nat_reply", 1)]);
    assert_eq!(&out.data[14 + 12..14 + 16], &VIP.octets(), "from the VIP");
}
