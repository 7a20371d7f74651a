//! GUE and GRE tunnels (ipvsadm `--tun-type gue --tun-port P`, `--tun-type gre`): `lb` wraps
//! the packet in an outer IP header (and UDP and a GUE header, or a GRE header) toward the
//! real server, over IPv4 and IPv6; `decap` strips it on the configured port and leaves
//! everything else alone. Exact bytes, built field by field in `lb_tests::expect`.

use std::net::{IpAddr, Ipv6Addr};

use lb_daemon::dataplane::set_decap_gue_port;
use lb_tests::{
    config::{self, ConfigBuilder, real, tcp_service},
    consts::{
        CLIENT_MAC, DIRECTOR, DIRECTOR6, REMOTE_CLIENT, REMOTE_CLIENT6, VIP, VIP6, real_addr,
    },
    expect::{Encap, tunnelled},
    fixture::Fixture,
    flow::flow_key,
    packet::{ETH_P_IP, IPPROTO_GRE, IPPROTO_TCP, IPPROTO_UDP, TCP_SYN, eth, ip, tcp_ip},
    require_root,
    testrun::Harness,
};

const REAL6: Ipv6Addr = lb_tests::consts::real_addr6(0);

/// tcp VIP:80 -> real_addr(0) GUE port 6080; VIP:81 -> REAL6 GUE port 6081; [VIP6]:80 ->
/// REAL6 GUE 6081; VIP:82 -> real_addr(0) GRE; [VIP6]:82 -> REAL6 GRE.
fn services() -> ConfigBuilder {
    config::config()
        .service(
            tcp_service(VIP, 80)
                .mh(251)
                .real(real(real_addr(0)).gue(6080)),
        )
        .service(tcp_service(VIP, 81).mh(251).real(real(REAL6).gue(6081)))
        .service(tcp_service(VIP6, 80).mh(251).real(real(REAL6).gue(6081)))
        .service(tcp_service(VIP, 82).mh(251).real(real(real_addr(0)).gre()))
        .service(tcp_service(VIP6, 82).mh(251).real(real(REAL6).gre()))
}

fn director() -> Harness {
    let n: [IpAddr; 2] = [real_addr(0).into(), REAL6.into()];
    Harness::new(&services(), &n)
}

/// A client's SYN to `dst:dport` from the remote client of its family, the fixture `lb` must
/// turn it into a tunnel of `encap` to `real`, and the fixture `decap` must strip it with
/// (`Some(true)`), leave it alone with (`Some(false)`) or not be run on (`None`).
fn encap_then_strip(
    h: &Harness,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    real: IpAddr,
    encap: Encap,
    stripped: Option<bool>,
) -> Vec<Fixture> {
    let src: IpAddr = if dst.is_ipv4() {
        REMOTE_CLIENT.into()
    } else {
        REMOTE_CLIENT6.into()
    };
    let frame = h.from_client(&tcp_ip(src, dst, sport, dport, TCP_SYN, b"tunnelled"));
    let flow = flow_key(src, dst, sport, dport, IPPROTO_TCP);
    let enc = tunnelled(h.if_mac, &frame[14..], real, encap, &flow);
    let mut fixtures = vec![
        Fixture::new(format!("{encap:?} to {real}: encapsulated"), frame.clone())
            .tx(enc.clone())
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ];
    match stripped {
        Some(true) => {
            let mut inner = enc[..12].to_vec();
            inner.extend_from_slice(&frame[12..]);
            fixtures.push(
                Fixture::new(format!("{encap:?} to {real}: decap strips it"), enc)
                    .program("decap")
                    .pass_as(inner)
                    .counters(&[("decap_stripped", 1)]),
            );
        }
        Some(false) => fixtures.push(
            Fixture::new(format!("{encap:?} to {real}: not decap's port"), enc)
                .program("decap")
                .counters(&[("decap_pass", 1)]),
        ),
        None => {}
    }
    fixtures
}

#[test]
fn gue_over_ipv4_and_ipv6_and_decap_strips_it() {
    require_root!();
    let mut h = director();
    set_decap_gue_port(h.dp.ebpf_mut(), 6080).unwrap();
    let r4: IpAddr = real_addr(0).into();
    let r6: IpAddr = REAL6.into();
    let mut fixtures =
        encap_then_strip(&h, VIP.into(), 42000, 80, r4, Encap::Gue(6080), Some(true));
    // Port 6081: decap is not told of it, so leaves it alone.
    fixtures.extend(encap_then_strip(
        &h,
        VIP.into(),
        42001,
        81,
        r6,
        Encap::Gue(6081),
        Some(false),
    ));
    h.run_fixtures(&fixtures);

    // Now decap listens on 6081: IPv6 in GUE over IPv6 is stripped.
    set_decap_gue_port(h.dp.ebpf_mut(), 6081).unwrap();
    let fixtures = encap_then_strip(&h, VIP6.into(), 42002, 80, r6, Encap::Gue(6081), Some(true));
    h.run_fixtures(&fixtures);

    // GUE variant 1 (the inner IP header right after UDP), as other encapsulators send it.
    let inner = tcp_ip(REMOTE_CLIENT, VIP, 42003, 80, TCP_SYN, b"v1");
    let mut udp1 = Vec::new();
    udp1.extend_from_slice(&5000u16.to_be_bytes());
    udp1.extend_from_slice(&6081u16.to_be_bytes());
    udp1.extend_from_slice(&((8 + inner.len()) as u16).to_be_bytes());
    udp1.extend_from_slice(&[0, 0]);
    udp1.extend_from_slice(&inner);
    let v1 = h.from_client(&ip(DIRECTOR6, REAL6, IPPROTO_UDP, &udp1));
    let mut want = v1[..12].to_vec();
    want.extend_from_slice(&ETH_P_IP.to_be_bytes());
    want.extend_from_slice(&inner);
    h.run_fixture(
        Fixture::new("GUE variant 1: stripped", v1)
            .program("decap")
            .pass_as(want)
            .counters(&[("decap_stripped", 1)]),
    );
}

#[test]
fn gre_over_ipv4_and_ipv6_and_decap_strips_it() {
    require_root!();
    let mut h = director();
    let mut fixtures = encap_then_strip(
        &h,
        VIP.into(),
        42100,
        82,
        real_addr(0).into(),
        Encap::Gre,
        Some(true),
    );
    fixtures.extend(encap_then_strip(
        &h,
        VIP6.into(),
        42101,
        82,
        REAL6.into(),
        Encap::Gre,
        Some(true),
    ));
    // GRE with a key (RFC 2890) is stripped too; a version-1 (PPTP) header is not ours.
    let inner = tcp_ip(REMOTE_CLIENT, VIP, 42102, 82, TCP_SYN, b"k");
    let gre = |hdr: &[u8]| {
        let mut p = hdr.to_vec();
        p.extend_from_slice(&inner);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip(DIRECTOR, real_addr(0), IPPROTO_GRE, &p),
        )
    };
    let keyed = gre(&[0x20, 0, 0x08, 0x00, 0, 0, 0, 42]);
    let mut stripped = keyed[..12].to_vec();
    stripped.extend_from_slice(&ETH_P_IP.to_be_bytes());
    stripped.extend_from_slice(&inner);
    fixtures.push(
        Fixture::new("keyed GRE: stripped", keyed)
            .program("decap")
            .pass_as(stripped)
            .counters(&[("decap_stripped", 1)]),
    );
    fixtures.push(
        Fixture::new("GRE version 1: left alone", gre(&[0x00, 0x01, 0x08, 0x00]))
            .program("decap")
            .counters(&[("decap_pass", 1)]),
    );
    h.run_fixtures(&fixtures);
}

#[test]
fn a_gue_real_server_needs_its_port_and_only_tun_has_a_tunnel_type() {
    let errs = |rs: serde_json::Value| {
        let text = serde_json::json!({
            "interface": "eth0", "director": { "ipv4": DIRECTOR },
            "services": [ { "protocol": "tcp", "vip": VIP, "port": 80, "real_servers": [ rs ] } ]
        });
        config::parse(&text.to_string(), "t.json").unwrap_err()
    };
    let r = real_addr(0).to_string();
    let e = errs(serde_json::json!({ "address": r, "forwarding": "tun", "tun_type": "gue" }));
    assert!(
        e.contains("services[0].real_servers[0].tun_port: required for tun_type \"gue\""),
        "{e}"
    );
    let e = errs(
        serde_json::json!({ "address": r, "forwarding": "dr", "tun_type": "gue", "tun_port": 1 }),
    );
    assert!(
        e.contains(
            "services[0].real_servers[0].tun_type: only a tun real server has a tunnel type"
        ),
        "{e}"
    );
    let e = errs(serde_json::json!({ "address": r, "forwarding": "tun", "tun_type": "vxlan" }));
    assert!(
        e.contains("unknown tunnel type \"vxlan\"; valid: ipip, gue, gre"),
        "{e}"
    );
    let e = errs(
        serde_json::json!({ "address": r, "forwarding": "tun", "tun_type": "gre", "tun_port": 5 }),
    );
    assert!(e.contains("only a gue tunnel has a port"), "{e}");
}
