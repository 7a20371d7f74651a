//! GUE and GRE tunnels (ipvsadm `--tun-type gue --tun-port P`, `--tun-type gre`): `lb` wraps the packet in outer IP,
//! UDP and a GUE header toward the real server, over IPv4 and IPv6; `decap` strips it on the
//! configured port and leaves everything else alone. Exact bytes, built here field by field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_common::{FAMILY_V4, FAMILY_V6, FlowKey, hash};
use lb_daemon::dataplane::set_decap_gue_port;
use lb_tests::{
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, csum, eth, tcp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, DIRECTOR6, Harness, check, real_mac},
};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 7);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, 7);
const REAL4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x11);

/// tcp VIP:80 -> REAL4 GUE port 6080; tcp VIP:81 -> REAL6 GUE port 6081; tcp [VIP6]:80 ->
/// REAL6 GUE 6081; tcp VIP:82 -> REAL4 GRE; tcp [VIP6]:82 -> REAL6 GRE.
fn harness() -> Harness {
    let config = format!(
        r#"{{
        "interface": "eth0",
        "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
        "conn_table_size": 4096,
        "services": [
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL4}", "forwarding": "tun", "tun_type": "gue", "tun_port": 6080 }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6}", "forwarding": "tun", "tun_type": "gue", "tun_port": 6081 }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6}", "forwarding": "tun", "tun_type": "gue", "tun_port": 6081 }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL4}", "forwarding": "tun", "tun_type": "gre" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 82, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{REAL6}", "forwarding": "tun", "tun_type": "gre" }} ] }}
        ]
    }}"#
    );
    let n: Vec<IpAddr> = vec![REAL4.into(), REAL6.into()];
    Harness::new(&config, &n)
}

fn words(a: IpAddr) -> ([u32; 4], u8) {
    match a {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes(o[i..i + 4].try_into().unwrap());
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    }
}

/// The flow's hash without seed: the source of the UDP port's and the flow label's entropy.
fn entropy(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> u32 {
    let (s, family) = words(src);
    let (d, _) = words(dst);
    let flow = FlowKey {
        src: s,
        dst: d,
        sport: sport.to_be(),
        dport: dport.to_be(),
        proto: 6,
        family,
        _pad: [0; 2],
    };
    hash::flow_hash(&flow, 0)
}

/// UDP (checksum 0) and a GUE variant-0 header for `inner`.
fn udp_gue(inner: &[u8], sport: u16, dport: u16, inner_proto: u8) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + 4 + inner.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(&[0, inner_proto, 0, 0]);
    u.extend_from_slice(inner);
    u
}

/// The frame `lb` sends to `real` over IPv4: an outer header of protocol `proto` (DF, as the
/// inner IPv4 headers here have it), built field by field, then `payload`.
fn outer_v4(me: [u8; 6], real: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut outer = vec![0u8; 20];
    outer[0] = 0x45;
    outer[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    outer[6] = 0x40;
    outer[8] = 64;
    outer[9] = proto;
    outer[12..16].copy_from_slice(&DIRECTOR.octets());
    outer[16..20].copy_from_slice(&real.octets());
    let c = csum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    outer.extend_from_slice(payload);
    eth(real_mac(real), me, ETH_P_IP, &outer)
}

/// Runs `frame` through `lb` (it must become `want`), then the result through `decap`, which
/// must give back `frame` behind the tunnel's MAC addresses.
fn encap_then_strip(h: &mut Harness, what: &str, frame: &[u8], want: &[u8]) {
    let enc = check(
        h,
        what,
        frame,
        XDP_TX,
        Some(want),
        &[("tx", 1), ("conn_new", 1)],
    );
    let out = h.run("decap", &enc);
    let mut stripped = enc[..12].to_vec();
    stripped.extend_from_slice(&frame[12..]);
    assert_eq!(
        (out.action, out.data),
        (XDP_PASS, stripped),
        "{what}: decap strips it"
    );
}

#[test]
fn gue_over_ipv4_and_ipv6_and_decap_strips_it() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    set_decap_gue_port(h.dp.ebpf_mut(), 6080).unwrap();

    // IPv4 in GUE over IPv4.
    let inner = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 42000, 80, 0x02, b"gue4"));
    let frame = eth(me, CLIENT_MAC, ETH_P_IP, &inner);
    let sport = 49152 + (entropy(CLIENT.into(), VIP.into(), 42000, 80) % 16384) as u16;
    let payload = udp_gue(&inner, sport, 6080, 4);
    encap_then_strip(
        &mut h,
        "gue over ipv4",
        &frame,
        &outer_v4(me, REAL4, 17, &payload),
    );

    // IPv4 in GUE over IPv6 (port 6081: decap is not told of it, so leaves it alone).
    let inner = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 42001, 81, 0x02, b"x"));
    let frame = eth(me, CLIENT_MAC, ETH_P_IP, &inner);
    let e = entropy(CLIENT.into(), VIP.into(), 42001, 81);
    let payload = udp_gue(&inner, 49152 + (e % 16384) as u16, 6081, 4);
    let mut ip6 = Ipv6::new(DIRECTOR6, REAL6, 17);
    ip6.flow_label = e & 0xfffff;
    let want = eth(real_mac(REAL6), me, ETH_P_IPV6, &ip6.build(&payload));
    let enc = check(
        &mut h,
        "4 in gue over ipv6",
        &frame,
        XDP_TX,
        Some(&want),
        &[("tx", 1), ("conn_new", 1)],
    );
    let before = h.reasons();
    let out = h.run("decap", &enc);
    assert_eq!(
        (out.action, &out.data),
        (XDP_PASS, &enc),
        "other port: untouched"
    );
    assert_eq!(
        lb_tests::testrun::reason_delta(&before, &h.reasons()),
        vec![("decap_pass", 1)]
    );

    // Now decap listens on 6081: IPv6 in GUE over IPv6 is stripped.
    set_decap_gue_port(h.dp.ebpf_mut(), 6081).unwrap();
    let inner = Ipv6::new(CLIENT6, VIP6, 6).build(&tcp(CLIENT6, VIP6, 42002, 80, 0x02, b"six"));
    let frame = eth(me, CLIENT_MAC, ETH_P_IPV6, &inner);
    let e = entropy(CLIENT6.into(), VIP6.into(), 42002, 80);
    let payload = udp_gue(&inner, 49152 + (e % 16384) as u16, 6081, 41);
    let mut ip6 = Ipv6::new(DIRECTOR6, REAL6, 17);
    ip6.flow_label = e & 0xfffff;
    let want = eth(real_mac(REAL6), me, ETH_P_IPV6, &ip6.build(&payload));
    encap_then_strip(&mut h, "6 in gue over ipv6", &frame, &want);

    // GUE variant 1 (the inner IP header right after UDP), as other encapsulators send it.
    let inner = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 42003, 80, 0x02, b"v1"));
    let mut udp1 = Vec::new();
    udp1.extend_from_slice(&5000u16.to_be_bytes());
    udp1.extend_from_slice(&6081u16.to_be_bytes());
    udp1.extend_from_slice(&((8 + inner.len()) as u16).to_be_bytes());
    udp1.extend_from_slice(&[0, 0]);
    udp1.extend_from_slice(&inner);
    let v1 = eth(
        me,
        CLIENT_MAC,
        ETH_P_IPV6,
        &Ipv6::new(DIRECTOR6, REAL6, 17).build(&udp1),
    );
    let out = h.run("decap", &v1);
    let mut want = v1[..12].to_vec();
    want.extend_from_slice(&ETH_P_IP.to_be_bytes());
    want.extend_from_slice(&inner);
    assert_eq!(
        (out.action, out.data),
        (XDP_PASS, want),
        "variant 1 stripped"
    );
}

#[test]
fn gre_over_ipv4_and_ipv6_and_decap_strips_it() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    // IPv4 in GRE over IPv4: outer protocol 47, GRE header 0000 0800.
    let inner = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 42100, 82, 0x02, b"gre4"));
    let frame = eth(me, CLIENT_MAC, ETH_P_IP, &inner);
    let mut payload = vec![0, 0, 0x08, 0x00];
    payload.extend_from_slice(&inner);
    encap_then_strip(
        &mut h,
        "gre over ipv4",
        &frame,
        &outer_v4(me, REAL4, 47, &payload),
    );

    // IPv6 in GRE over IPv6: protocol type 86dd.
    let inner = Ipv6::new(CLIENT6, VIP6, 6).build(&tcp(CLIENT6, VIP6, 42101, 82, 0x02, b"gre6"));
    let frame = eth(me, CLIENT_MAC, ETH_P_IPV6, &inner);
    let mut payload = vec![0, 0, 0x86, 0xdd];
    payload.extend_from_slice(&inner);
    let mut ip6 = Ipv6::new(DIRECTOR6, REAL6, 47);
    ip6.flow_label = entropy(CLIENT6.into(), VIP6.into(), 42101, 82) & 0xfffff;
    let want = eth(real_mac(REAL6), me, ETH_P_IPV6, &ip6.build(&payload));
    encap_then_strip(&mut h, "gre over ipv6", &frame, &want);

    // GRE with a key (RFC 2890) is stripped too; a version-1 (PPTP) header is not ours.
    let inner = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 42102, 82, 0x02, b"k"));
    for (hdr, stripped_ok) in [
        (vec![0x20, 0, 0x08, 0x00, 0, 0, 0, 42], true),
        (vec![0x00, 0x01, 0x08, 0x00], false),
    ] {
        let mut p = hdr.clone();
        p.extend_from_slice(&inner);
        let f = eth(
            me,
            CLIENT_MAC,
            ETH_P_IP,
            &Ipv4::new(DIRECTOR, REAL4, 47).build(&p),
        );
        let out = h.run("decap", &f);
        assert_eq!(out.action, XDP_PASS);
        if stripped_ok {
            let mut want = f[..12].to_vec();
            want.extend_from_slice(&ETH_P_IP.to_be_bytes());
            want.extend_from_slice(&inner);
            assert_eq!(out.data, want, "keyed GRE stripped");
        } else {
            assert_eq!(out.data, f, "GRE version 1 left alone");
        }
    }
}

#[test]
fn a_gue_real_server_needs_its_port_and_only_tun_has_a_tunnel_type() {
    let base = |rs: &str| {
        format!(
            r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }},
              "services": [ {{ "protocol": "tcp", "vip": "{VIP}", "port": 80,
                "real_servers": [ {rs} ] }} ] }}"#
        )
    };
    let errs = |rs: &str| {
        lb_daemon::config::Config::parse(&base(rs), "t.json")
            .unwrap_err()
            .to_string()
    };
    let e = errs(&format!(
        r#"{{ "address": "{REAL4}", "forwarding": "tun", "tun_type": "gue" }}"#
    ));
    assert!(
        e.contains("services[0].real_servers[0].tun_port: required for tun_type \"gue\""),
        "{e}"
    );
    let e = errs(&format!(
        r#"{{ "address": "{REAL4}", "forwarding": "dr", "tun_type": "gue", "tun_port": 1 }}"#
    ));
    assert!(
        e.contains(
            "services[0].real_servers[0].tun_type: only a tun real server has a tunnel type"
        ),
        "{e}"
    );
    let e = errs(&format!(
        r#"{{ "address": "{REAL4}", "forwarding": "tun", "tun_type": "vxlan" }}"#
    ));
    assert!(
        e.contains("unknown tunnel type \"vxlan\"; valid: ipip, gue, gre"),
        "{e}"
    );
    let e = errs(&format!(
        r#"{{ "address": "{REAL4}", "forwarding": "tun", "tun_type": "gre", "tun_port": 5 }}"#
    ));
    assert!(e.contains("only a gue tunnel has a port"), "{e}");
}
