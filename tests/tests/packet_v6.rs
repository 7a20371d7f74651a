//! IPv6 packet tests: IPv6 services and real servers, every tunnel combination of families,
//! dr and nat over IPv6, extension headers, and the decap program for every tunnel `lb` emits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_common::{FAMILY_V4, FAMILY_V6, FlowKey, hash};
use lb_tests::{
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, csum, eth, ipv4_csum_ok, l4_csum_ok, tcp, udp},
    require_root,
    testrun::{
        CLIENT_MAC, DIRECTOR, DIRECTOR6, Harness, assert_frame, check, real_mac, reason_delta,
    },
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_ABORTED: u32 = 0;

const fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, last)
}

const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
const VIP4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const CLIENT6: Ipv6Addr = v6(0x77);
const REMOTE_CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, 7);
const REAL6_TUN: Ipv6Addr = v6(0x11);
const REAL6_DR: Ipv6Addr = v6(0x12);
const REAL6_NAT: Ipv6Addr = v6(0x13);
const REAL4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);

/// Services by port: 80 6in6, 81 6in4, 82 dr6, 83 nat6 (to port 8080); IPv4 VIP port 80 4in6.
fn harness() -> Harness {
    let config = format!(
        r#"{{
        "interface": "eth0",
        "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
        "conn_table_size": 4096,
        "services": [
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6_TUN}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL4}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6_DR}", "forwarding": "dr" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 83, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6_NAT}", "port": 8080, "forwarding": "nat" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP6}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6_NAT}", "port": 5353, "forwarding": "nat" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP4}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6_TUN}", "forwarding": "tun" }} ] }}
        ]
    }}"#
    );
    let neighbours: Vec<IpAddr> = vec![
        REAL6_TUN.into(),
        REAL6_DR.into(),
        REAL6_NAT.into(),
        CLIENT6.into(),
        REAL4.into(),
    ];
    Harness::new(&config, &neighbours)
}

fn tcp6(h: &Harness, ip: &Ipv6, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = tcp(ip.src, ip.dst, sport, dport, 0x02, payload);
    eth(h.if_mac, CLIENT_MAC, ETH_P_IPV6, &ip.build(&seg))
}

fn flow_of(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: u8) -> FlowKey {
    let words = |a: IpAddr| match a {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes(o[i..i + 4].try_into().unwrap());
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    };
    let (s, family) = words(src);
    FlowKey {
        src: s,
        dst: words(dst).0,
        sport: sport.to_be(),
        dport: dport.to_be(),
        proto,
        family,
        _pad: [0; 2],
    }
}

/// The outer IPv6 header `lb` must add, built field by field here.
fn outer6(inner: &[u8], inner_proto: u8, tclass: u8, flow: &FlowKey, real: Ipv6Addr) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    let label = hash::flow_hash(flow, 0) & 0xfffff;
    let w0 = (6u32 << 28) | ((tclass as u32) << 20) | label;
    h[0..4].copy_from_slice(&w0.to_be_bytes());
    h[4..6].copy_from_slice(&(inner.len() as u16).to_be_bytes());
    h[6] = inner_proto;
    h[7] = 64;
    h[8..24].copy_from_slice(&DIRECTOR6.octets());
    h[24..40].copy_from_slice(&real.octets());
    h.extend_from_slice(inner);
    h
}

#[test]
fn ipv6_service_is_tunnelled_ipv6_in_ipv6() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv6::new(CLIENT6, VIP6, 6);
    ip.tclass = 0x28;
    let frame = tcp6(&h, &ip, 40000, 80, b"six");
    let flow = flow_of(CLIENT6.into(), VIP6.into(), 40000, 80, 6);
    let want = eth(
        real_mac(REAL6_TUN),
        h.if_mac,
        ETH_P_IPV6,
        &outer6(&frame[14..], 41, 0x28, &flow, REAL6_TUN),
    );
    let out = check(
        &mut h,
        "6in6",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
    assert!(l4_csum_ok(&out[54..]), "inner TCP checksum untouched");
}

#[test]
fn ipv4_service_on_an_ipv6_real_server_is_ipv4_in_ipv6() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv4::new(Ipv4Addr::new(198, 18, 5, 7), VIP4, 6);
    ip.tos = 0x10;
    let seg = tcp(ip.src, VIP4, 40001, 80, 0x02, b"");
    let frame = eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &ip.build(&seg));
    let flow = flow_of(ip.src.into(), VIP4.into(), 40001, 80, 6);
    let want = eth(
        real_mac(REAL6_TUN),
        h.if_mac,
        ETH_P_IPV6,
        &outer6(&frame[14..], 4, 0x10, &flow, REAL6_TUN),
    );
    check(
        &mut h,
        "4in6",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
}

#[test]
fn ipv6_service_on_an_ipv4_real_server_is_ipv6_in_ipv4() {
    require_root!();
    let mut h = harness();
    let ip = Ipv6::new(CLIENT6, VIP6, 6);
    let frame = tcp6(&h, &ip, 40002, 81, b"");
    let inner = &frame[14..];
    let mut outer = vec![0u8; 20];
    outer[0] = 0x45;
    outer[2..4].copy_from_slice(&((inner.len() + 20) as u16).to_be_bytes());
    outer[6] = 0x40; // DF: IPv6 is not fragmented on the way (RFC 4213 3.2.1)
    outer[8] = 64;
    outer[9] = 41;
    outer[12..16].copy_from_slice(&DIRECTOR.octets());
    outer[16..20].copy_from_slice(&REAL4.octets());
    let c = csum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    outer.extend_from_slice(inner);
    let want = eth(real_mac(REAL4), h.if_mac, ETH_P_IP, &outer);
    let out = check(
        &mut h,
        "6in4",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
    assert!(ipv4_csum_ok(&out[14..]));
}

#[test]
fn ipv6_dr_rewrites_only_the_destination_mac() {
    require_root!();
    let mut h = harness();
    let frame = tcp6(&h, &Ipv6::new(CLIENT6, VIP6, 6), 40003, 82, b"x");
    let mut want = frame.clone();
    want[..6].copy_from_slice(&real_mac(REAL6_DR));
    want[6..12].copy_from_slice(&h.if_mac);
    check(
        &mut h,
        "dr6",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
}

#[test]
fn ipv6_nat_rewrites_both_directions() {
    require_root!();
    let mut h = harness();
    let ip = Ipv6::new(CLIENT6, VIP6, 6);
    let frame = tcp6(&h, &ip, 40004, 83, b"hello");
    let mut ip_in = ip.clone();
    ip_in.dst = REAL6_NAT;
    ip_in.hop_limit -= 1;
    let want = eth(
        real_mac(REAL6_NAT),
        h.if_mac,
        ETH_P_IPV6,
        &ip_in.build(&tcp(CLIENT6, REAL6_NAT, 40004, 8080, 0x02, b"hello")),
    );
    check(
        &mut h,
        "nat6 in",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );

    let reply_ip = Ipv6::new(REAL6_NAT, CLIENT6, 6);
    let reply = eth(
        h.if_mac,
        real_mac(REAL6_NAT),
        ETH_P_IPV6,
        &reply_ip.build(&tcp(REAL6_NAT, CLIENT6, 8080, 40004, 0x12, b"world")),
    );
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP6;
    ip_out.hop_limit -= 1;
    let want = eth(
        real_mac(CLIENT6),
        h.if_mac,
        ETH_P_IPV6,
        &ip_out.build(&tcp(VIP6, CLIENT6, 83, 40004, 0x12, b"world")),
    );
    check(
        &mut h,
        "nat6 out",
        &reply,
        XDP_TX,
        Some(&want),
        &[("nat_reply", 1)],
    );
}

#[test]
fn ipv6_nat_udp_checksum_is_updated() {
    require_root!();
    let mut h = harness();
    let ip = Ipv6::new(CLIENT6, VIP6, 17);
    let frame = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IPV6,
        &ip.build(&udp(CLIENT6, VIP6, 40005, 53, b"query")),
    );
    let mut ip_in = ip.clone();
    ip_in.dst = REAL6_NAT;
    ip_in.hop_limit -= 1;
    let want = eth(
        real_mac(REAL6_NAT),
        h.if_mac,
        ETH_P_IPV6,
        &ip_in.build(&udp(CLIENT6, REAL6_NAT, 40005, 5353, b"query")),
    );
    check(
        &mut h,
        "nat6 udp",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
}

#[test]
fn extension_headers_are_walked_to_the_transport_header() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv6::new(CLIENT6, VIP6, 6);
    // Hop-by-hop (8 bytes, PadN), destination options (16 bytes), an atomic fragment header
    // (offset 0, no more fragments: a whole datagram, RFC 6946).
    ip.ext = vec![
        (0, vec![0, 0, 1, 4, 0, 0, 0, 0]),
        (60, vec![0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (44, vec![0, 0, 0, 0, 0, 0, 0, 1]),
    ];
    let frame = tcp6(&h, &ip, 40006, 80, b"ext");
    let flow = flow_of(CLIENT6.into(), VIP6.into(), 40006, 80, 6);
    let want = eth(
        real_mac(REAL6_TUN),
        h.if_mac,
        ETH_P_IPV6,
        &outer6(&frame[14..], 41, 0, &flow, REAL6_TUN),
    );
    check(
        &mut h,
        "ext headers",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );

    // A real fragment (offset 8) goes to the host stack.
    ip.ext = vec![(44, vec![0, 0, 0, 8, 0, 0, 0, 1])];
    let frag = tcp6(&h, &ip, 40007, 80, b"frag");
    check(
        &mut h,
        "fragment",
        &frag,
        XDP_PASS,
        None,
        &[("pass_fragment", 1)],
    );

    // More extension headers than lb walks.
    ip.ext = (0..7)
        .map(|_| (60u8, vec![0, 0, 1, 4, 0, 0, 0, 0]))
        .collect();
    let many = tcp6(&h, &ip, 40008, 80, b"");
    check(
        &mut h,
        "too many",
        &many,
        XDP_PASS,
        None,
        &[("pass_ipv6_ext_limit", 1)],
    );
}

#[test]
fn ipv6_packets_not_for_a_vip_and_malformed_ones_pass() {
    require_root!();
    let mut h = harness();
    let other = tcp6(&h, &Ipv6::new(CLIENT6, v6(0x99), 6), 1, 80, b"");
    check(
        &mut h,
        "not a VIP",
        &other,
        XDP_PASS,
        None,
        &[("pass_not_vip", 1)],
    );
    let frame = tcp6(&h, &Ipv6::new(CLIENT6, VIP6, 6), 40009, 80, b"");
    for len in 14..frame.len() {
        let mut cut = frame[..len].to_vec();
        if len >= 20 {
            let payload = len.saturating_sub(54) as u16;
            cut[18..20].copy_from_slice(&payload.to_be_bytes());
        }
        let before = h.reasons();
        let out = h.run("lb", &cut);
        assert_ne!(out.action, XDP_ABORTED, "len {len}");
        assert!(
            out.action == XDP_PASS || out.action == XDP_DROP,
            "len {len}"
        );
        let d = reason_delta(&before, &h.reasons());
        assert_eq!(d.len(), 1, "len {len}: {d:?}");
    }
    let mut long = frame.clone();
    long[18..20].copy_from_slice(&1400u16.to_be_bytes()); // payload length beyond the packet
    check(
        &mut h,
        "bad length",
        &long,
        XDP_PASS,
        None,
        &[("pass_bad_ip_header", 1)],
    );
}

#[test]
fn decap_strips_every_tunnel_lb_emits() {
    require_root!();
    let mut h = harness();
    let six = tcp6(&h, &Ipv6::new(CLIENT6, VIP6, 6), 40010, 80, b"a");
    let six_to_v4 = tcp6(&h, &Ipv6::new(CLIENT6, VIP6, 6), 40011, 81, b"b");
    let four = {
        let ip = Ipv4::new(Ipv4Addr::new(198, 18, 5, 7), VIP4, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip.build(&tcp(ip.src, VIP4, 40012, 80, 0x02, b"c")),
        )
    };
    for (what, frame) in [("6in6", six), ("6in4", six_to_v4), ("4in6", four)] {
        let enc = h.run("lb", &frame);
        assert_eq!(enc.action, XDP_TX, "{what}");
        let before = h.reasons();
        let dec = h.run("decap", &enc.data);
        assert_eq!(dec.action, XDP_PASS, "{what}");
        let mut want = enc.data[..12].to_vec();
        want.extend_from_slice(&frame[12..]);
        assert_frame(what, &dec.data, &want);
        assert_eq!(
            reason_delta(&before, &h.reasons()),
            vec![("decap_stripped", 1)],
            "{what}"
        );
    }
}

#[test]
fn ipv6_nat_reply_from_a_remote_client_goes_to_the_gateway() {
    require_root!();
    let mut h = harness();
    // The client is behind a router: the reply's next hop is the router's MAC.
    let gw = v6(0x1);
    h.ns.ip(&[
        "-6",
        "neigh",
        "replace",
        &gw.to_string(),
        "lladdr",
        "02:bb:00:00:00:01",
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    h.ns.ip(&[
        "-6",
        "route",
        "add",
        "2001:2:0:5::/64",
        "via",
        &gw.to_string(),
    ]);
    let ip = Ipv6::new(REMOTE_CLIENT6, VIP6, 6);
    let frame = tcp6(&h, &ip, 40013, 83, b"");
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX);
    let reply = eth(
        h.if_mac,
        real_mac(REAL6_NAT),
        ETH_P_IPV6,
        &Ipv6::new(REAL6_NAT, REMOTE_CLIENT6, 6).build(&tcp(
            REAL6_NAT,
            REMOTE_CLIENT6,
            8080,
            40013,
            0x12,
            b"",
        )),
    );
    let out = h.run("lb", &reply);
    assert_eq!(out.action, XDP_TX);
    assert_eq!(
        &out.data[..6],
        &[0x02, 0xbb, 0, 0, 0, 1],
        "to the gateway's MAC"
    );
    assert!(l4_csum_ok(&out.data[14..]));
}
