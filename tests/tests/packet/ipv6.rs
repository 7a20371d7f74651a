//! IPv6 through `lb` and `decap`: IPv6 services and real servers, every tunnel combination of
//! families, dr and nat over IPv6, extension headers, and the decap program for every tunnel
//! `lb` emits.

use std::net::{IpAddr, Ipv6Addr};

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service, udp_service},
    consts::{
        GATEWAY6, LOCAL_CLIENT6, REMOTE_CLIENT, REMOTE_CLIENT6, VIP, VIP6, XDP_ABORTED, XDP_DROP,
        XDP_PASS, XDP_TX, real_addr, real_addr6, real_mac,
    },
    expect::{Encap, direct, routed6, tunnelled},
    fixture::Fixture,
    flow::flow_key,
    packet::{
        IPPROTO_TCP, IPPROTO_UDP, Ipv4, Ipv6, TCP_ACK, TCP_SYN, l4_csum_ok, tcp, tcp_ip, udp,
    },
    require_root,
    testrun::{Harness, reason_delta},
};

const REAL6_TUN: Ipv6Addr = real_addr6(0);
const REAL6_DR: Ipv6Addr = real_addr6(1);
const REAL6_NAT: Ipv6Addr = real_addr6(2);
const SYN_ACK: u8 = TCP_SYN | TCP_ACK;

/// Services by port: [VIP6]:80 6in6, :81 6in4, :82 dr, :83 nat (to port 8080), udp :53 nat
/// (to 5353); VIP:80 4in6.
fn services() -> ConfigBuilder {
    config()
        .service(tcp_service(VIP6, 80).mh(251).real(real(REAL6_TUN).tun()))
        .service(tcp_service(VIP6, 81).mh(251).real(real(real_addr(0)).tun()))
        .service(tcp_service(VIP6, 82).mh(251).real(real(REAL6_DR).dr()))
        .service(
            tcp_service(VIP6, 83)
                .mh(251)
                .real(real(REAL6_NAT).port(8080).nat()),
        )
        .service(
            udp_service(VIP6, 53)
                .mh(251)
                .real(real(REAL6_NAT).port(5353).nat()),
        )
        .service(tcp_service(VIP, 80).mh(251).real(real(REAL6_TUN).tun()))
}

fn director() -> Harness {
    let neighbours: [IpAddr; 5] = [
        REAL6_TUN.into(),
        REAL6_DR.into(),
        REAL6_NAT.into(),
        LOCAL_CLIENT6.into(),
        real_addr(0).into(),
    ];
    Harness::new(&services(), &neighbours)
}

/// A SYN from the local client with IPv6 header `ip`.
fn syn6(h: &Harness, ip: &Ipv6, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    h.from_client(&ip.build(&tcp(ip.src, ip.dst, sport, dport, TCP_SYN, payload)))
}

#[test]
fn tunnels_across_families_carry_the_packet_whole() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let mut ip6 = Ipv6::new(LOCAL_CLIENT6, VIP6, IPPROTO_TCP);
    ip6.tclass = 0x28;
    let six = syn6(&h, &ip6, 40000, 80, b"six");
    let six_flow = flow_key(LOCAL_CLIENT6, VIP6, 40000, 80, IPPROTO_TCP);
    let mut ip4 = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP);
    ip4.tos = 0x10;
    let four = h.from_client(&ip4.build(&tcp(REMOTE_CLIENT, VIP, 40001, 80, TCP_SYN, b"")));
    let four_flow = flow_key(REMOTE_CLIENT, VIP, 40001, 80, IPPROTO_TCP);
    let six_in_four = syn6(&h, &Ipv6::new(LOCAL_CLIENT6, VIP6, 6), 40002, 81, b"");
    let s4_flow = flow_key(LOCAL_CLIENT6, VIP6, 40002, 81, IPPROTO_TCP);
    let out = h.run_fixtures(&[
        Fixture::new("IPv6 in IPv6, the traffic class copied", six.clone())
            .tx(tunnelled(me, &six[14..], REAL6_TUN, Encap::Ip, &six_flow))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "an IPv4 service on an IPv6 real server: IPv4 in IPv6",
            four.clone(),
        )
        .tx(tunnelled(me, &four[14..], REAL6_TUN, Encap::Ip, &four_flow))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "an IPv6 service on an IPv4 real server: IPv6 in IPv4, DF",
            six_in_four.clone(),
        )
        .tx(tunnelled(
            me,
            &six_in_four[14..],
            real_addr(0),
            Encap::Ip,
            &s4_flow,
        ))
        .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
    assert!(l4_csum_ok(&out[0][54..]), "inner TCP checksum untouched");
}

#[test]
fn ipv6_dr_rewrites_only_the_destination_mac() {
    require_root!();
    let mut h = director();
    let frame = syn6(&h, &Ipv6::new(LOCAL_CLIENT6, VIP6, 6), 40003, 82, b"x");
    let me = h.if_mac;
    h.run_fixture(
        Fixture::new("dr over IPv6", frame.clone())
            .tx(direct(&frame, me, REAL6_DR))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
}

#[test]
fn ipv6_nat_rewrites_both_directions_and_udp_checksums() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let ip = Ipv6::new(LOCAL_CLIENT6, VIP6, IPPROTO_TCP);
    let syn = syn6(&h, &ip, 40004, 83, b"hello");
    let mut ip_in = ip.clone();
    ip_in.dst = REAL6_NAT;
    let reply_ip = Ipv6::new(REAL6_NAT, LOCAL_CLIENT6, IPPROTO_TCP);
    let reply = h.from_neighbour(
        REAL6_NAT,
        &reply_ip.build(&tcp(
            REAL6_NAT,
            LOCAL_CLIENT6,
            8080,
            40004,
            SYN_ACK,
            b"world",
        )),
    );
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP6;
    let uip = Ipv6::new(LOCAL_CLIENT6, VIP6, IPPROTO_UDP);
    let query = h.from_client(&uip.build(&udp(LOCAL_CLIENT6, VIP6, 40005, 53, b"query")));
    let mut uip_in = uip.clone();
    uip_in.dst = REAL6_NAT;
    h.run_fixtures(&[
        Fixture::new("nat6 in", syn)
            .tx(routed6(
                &ip_in,
                real_mac(REAL6_NAT),
                me,
                &tcp(LOCAL_CLIENT6, REAL6_NAT, 40004, 8080, TCP_SYN, b"hello"),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("nat6 out", reply)
            .tx(routed6(
                &ip_out,
                real_mac(LOCAL_CLIENT6),
                me,
                &tcp(VIP6, LOCAL_CLIENT6, 83, 40004, SYN_ACK, b"world"),
            ))
            .counters(&[("nat_reply", 1)]),
        Fixture::new("nat6 udp: the checksum updated", query)
            .tx(routed6(
                &uip_in,
                real_mac(REAL6_NAT),
                me,
                &udp(LOCAL_CLIENT6, REAL6_NAT, 40005, 5353, b"query"),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
}

#[test]
fn extension_headers_are_walked_to_the_transport_header() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let mut ip = Ipv6::new(LOCAL_CLIENT6, VIP6, IPPROTO_TCP);
    // Hop-by-hop (8 bytes, PadN), destination options (16 bytes), an atomic fragment header
    // (offset 0, no more fragments: a whole datagram, RFC 6946).
    ip.ext = vec![
        (0, vec![0, 0, 1, 4, 0, 0, 0, 0]),
        (60, vec![0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (44, vec![0, 0, 0, 0, 0, 0, 0, 1]),
    ];
    let ext = syn6(&h, &ip, 40006, 80, b"ext");
    let flow = flow_key(LOCAL_CLIENT6, VIP6, 40006, 80, IPPROTO_TCP);
    // A real fragment (offset 8) goes to the host stack.
    ip.ext = vec![(44, vec![0, 0, 0, 8, 0, 0, 0, 1])];
    let frag = syn6(&h, &ip, 40007, 80, b"frag");
    // More extension headers than lb walks.
    ip.ext = (0..7)
        .map(|_| (60u8, vec![0, 0, 1, 4, 0, 0, 0, 0]))
        .collect();
    let many = syn6(&h, &ip, 40008, 80, b"");
    h.run_fixtures(&[
        Fixture::new(
            "hop-by-hop, destination options, atomic fragment",
            ext.clone(),
        )
        .tx(tunnelled(me, &ext[14..], REAL6_TUN, Encap::Ip, &flow))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("a fragment", frag).counters(&[("pass_fragment", 1)]),
        Fixture::new("too many extension headers", many).counters(&[("pass_ipv6_ext_limit", 1)]),
    ]);
}

#[test]
fn ipv6_packets_not_for_a_vip_and_malformed_ones_pass() {
    require_root!();
    let mut h = director();
    let no_vip = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x99);
    let other = syn6(&h, &Ipv6::new(LOCAL_CLIENT6, no_vip, 6), 1, 80, b"");
    let frame = syn6(&h, &Ipv6::new(LOCAL_CLIENT6, VIP6, 6), 40009, 80, b"");
    let mut long = frame.clone();
    long[18..20].copy_from_slice(&1400u16.to_be_bytes()); // payload length beyond the packet
    h.run_fixtures(&[
        Fixture::new("not a VIP", other).counters(&[("pass_not_vip", 1)]),
        Fixture::new("payload length beyond the frame", long)
            .counters(&[("pass_bad_ip_header", 1)]),
    ]);
    // Every truncation: passed or dropped, exactly one reason, never aborted.
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
        if out.action == XDP_PASS {
            assert_eq!(out.data, cut, "len {len}: passed untouched");
        }
    }
}

#[test]
fn decap_strips_every_tunnel_lb_emits() {
    require_root!();
    let mut h = director();
    let inputs = [
        (
            "6in6",
            syn6(&h, &Ipv6::new(LOCAL_CLIENT6, VIP6, 6), 40010, 80, b"a"),
        ),
        (
            "6in4",
            syn6(&h, &Ipv6::new(LOCAL_CLIENT6, VIP6, 6), 40011, 81, b"b"),
        ),
        (
            "4in6",
            h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40012, 80, TCP_SYN, b"c")),
        ),
    ];
    for (what, frame) in inputs {
        // Whatever lb made of it (its bytes are the fixtures above), decap gives back the
        // client's packet behind the tunnel's MAC addresses.
        let enc = h.run("lb", &frame);
        assert_eq!(enc.action, XDP_TX, "{what}");
        let mut stripped = enc.data[..12].to_vec();
        stripped.extend_from_slice(&frame[12..]);
        h.run_fixture(
            Fixture::new(format!("decap of {what}"), enc.data)
                .program("decap")
                .pass_as(stripped)
                .counters(&[("decap_stripped", 1)]),
        );
    }
}

#[test]
fn ipv6_nat_reply_to_a_remote_client_goes_to_the_gateway() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    // The client is behind a router: the reply's next hop is the router's MAC.
    let gw = GATEWAY6;
    h.ns.neighbour("eth0", gw.into(), real_mac(gw));
    h.ns.ip(&[
        "-6",
        "route",
        "add",
        "2001:2:0:5::/64",
        "via",
        &gw.to_string(),
    ]);
    let syn = syn6(&h, &Ipv6::new(REMOTE_CLIENT6, VIP6, 6), 40013, 83, b"");
    let reply_ip = Ipv6::new(REAL6_NAT, REMOTE_CLIENT6, IPPROTO_TCP);
    let reply = h.from_neighbour(
        REAL6_NAT,
        &reply_ip.build(&tcp(REAL6_NAT, REMOTE_CLIENT6, 8080, 40013, SYN_ACK, b"")),
    );
    let mut ip_in = Ipv6::new(REMOTE_CLIENT6, REAL6_NAT, IPPROTO_TCP);
    ip_in.hop_limit = 64;
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP6;
    let out = h.run_fixtures(&[
        Fixture::new("nat6 in from a remote client", syn)
            .tx(routed6(
                &ip_in,
                real_mac(REAL6_NAT),
                me,
                &tcp(REMOTE_CLIENT6, REAL6_NAT, 40013, 8080, TCP_SYN, b""),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("its reply: to the gateway's MAC", reply)
            .tx(routed6(
                &ip_out,
                real_mac(gw),
                me,
                &tcp(VIP6, REMOTE_CLIENT6, 83, 40013, SYN_ACK, b""),
            ))
            .counters(&[("nat_reply", 1)]),
    ]);
    assert!(l4_csum_ok(&out[1][14..]));
}
