//! ICMP through `lb`: echo requests to VIPs answered by the director; ICMP errors about a
//! connection forwarded to the real server that owns it; everything else left to the host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_tests::{
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, eth, icmp4, icmp6, tcp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, DIRECTOR6, Harness, check, real_mac},
};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

const VIP4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
const CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 7);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, 7);
const ROUTER4: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 9, 0, 0, 0, 1);
const REAL4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x12);

/// IPv4 VIP port 80 tunnelled to REAL4; IPv6 VIP port 80 by direct routing to REAL6, port 81
/// tunnelled to it. The harness's interface MTU is 1500.
fn harness() -> Harness {
    let config = format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
            "conn_table_size": 4096, "services": [
          {{ "protocol": "tcp", "vip": "{VIP4}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "forwarding": "dr" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "forwarding": "tun" }} ] }} ] }}"#
    );
    let n: Vec<IpAddr> = vec![REAL4.into(), REAL6.into()];
    Harness::new(&config, &n)
}

#[test]
fn ping_to_an_ipv4_vip_is_answered_by_the_director() {
    require_root!();
    let mut h = harness();
    let mut ip = Ipv4::new(CLIENT4, VIP4, 1);
    ip.ttl = 57;
    let ping = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &ip.build(&icmp4(8, 0, [0, 7, 0, 1], b"ping!")),
    );
    let mut rip = Ipv4::new(VIP4, CLIENT4, 1);
    rip.ttl = 64;
    rip.id = ip.id;
    rip.frag = ip.frag;
    let want = eth(
        CLIENT_MAC,
        h.if_mac,
        ETH_P_IP,
        &rip.build(&icmp4(0, 0, [0, 7, 0, 1], b"ping!")),
    );
    check(
        &mut h,
        "echo",
        &ping,
        XDP_TX,
        Some(&want),
        &[("icmp_echo_reply", 1)],
    );
    // Not a VIP: the host's own ping.
    let other = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT4, DIRECTOR, 1).build(&icmp4(8, 0, [0, 7, 0, 2], b"")),
    );
    check(
        &mut h,
        "host ping",
        &other,
        XDP_PASS,
        None,
        &[("pass_icmp", 1)],
    );
}

#[test]
fn ping_to_an_ipv6_vip_is_answered_by_the_director() {
    require_root!();
    let mut h = harness();
    let ip = Ipv6::new(CLIENT6, VIP6, 58);
    let ping = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IPV6,
        &ip.build(&icmp6(CLIENT6, VIP6, 128, 0, [0, 9, 0, 3], b"ping6")),
    );
    let mut rip = Ipv6::new(VIP6, CLIENT6, 58);
    rip.hop_limit = 64;
    let want = eth(
        CLIENT_MAC,
        h.if_mac,
        ETH_P_IPV6,
        &rip.build(&icmp6(VIP6, CLIENT6, 129, 0, [0, 9, 0, 3], b"ping6")),
    );
    check(
        &mut h,
        "echo6",
        &ping,
        XDP_TX,
        Some(&want),
        &[("icmp_echo_reply", 1)],
    );
}

#[test]
fn fragmentation_needed_reaches_the_real_server_of_the_connection() {
    require_root!();
    let mut h = harness();
    // The connection: client -> VIP:80, tunnelled to REAL4.
    let syn = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT4, VIP4, 6).build(&tcp(CLIENT4, VIP4, 40000, 80, 0x02, b"")),
    );
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    // A router on the way back tells the VIP that its reply (VIP:80 -> client) is too big:
    // it quotes the reply's IP header and 8 bytes of TCP.
    let reply = Ipv4::new(VIP4, CLIENT4, 6).build(&tcp(VIP4, CLIENT4, 80, 40000, 0x10, &[0; 1400]));
    let quoted = &reply[..28];
    let err_ip = Ipv4::new(ROUTER4, VIP4, 1);
    let err = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &err_ip.build(&icmp4(3, 4, [0, 0, 0x05, 0x78], quoted)),
    );
    let want = ipip(&h, &err[14..], REAL4);
    let out = check(
        &mut h,
        "frag needed",
        &err,
        XDP_TX,
        Some(&want),
        &[("icmp_error_forwarded", 1)],
    );
    assert_eq!(
        &out[34..],
        &err[14..],
        "the ICMP packet itself is unchanged inside"
    );
}

#[test]
fn packet_too_big_reaches_the_ipv6_real_server_of_the_connection() {
    require_root!();
    let mut h = harness();
    let reply = Ipv6::new(VIP6, CLIENT6, 6).build(&tcp(VIP6, CLIENT6, 80, 40001, 0x10, &[0; 64]));
    let quoted = &reply[..48];
    let err = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IPV6,
        &Ipv6::new(ROUTER6, VIP6, 58).build(&icmp6(ROUTER6, VIP6, 2, 0, [0, 0, 5, 0], quoted)),
    );
    // No connection entry (it expired, or the flow started elsewhere): the scheduler finds
    // the same real server.
    let mut want = err.clone();
    want[..6].copy_from_slice(&real_mac(REAL6));
    want[6..12].copy_from_slice(&h.if_mac);
    check(
        &mut h,
        "packet too big",
        &err,
        XDP_TX,
        Some(&want),
        &[("icmp_error_forwarded", 1)],
    );
}

#[test]
fn icmp_errors_about_no_service_are_left_to_the_host() {
    require_root!();
    let mut h = harness();
    let reply = Ipv4::new(VIP4, CLIENT4, 6).build(&tcp(VIP4, CLIENT4, 81, 40002, 0x10, b""));
    let err = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(ROUTER4, VIP4, 1).build(&icmp4(11, 0, [0; 4], &reply[..28])),
    );
    check(
        &mut h,
        "no service",
        &err,
        XDP_PASS,
        None,
        &[("pass_icmp_no_flow", 1)],
    );
    // Cut inside the quoted header.
    let cut = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(ROUTER4, VIP4, 1).build(&icmp4(3, 1, [0; 4], &reply[..12])),
    );
    check(
        &mut h,
        "cut quote",
        &cut,
        XDP_PASS,
        None,
        &[("pass_icmp_no_flow", 1)],
    );
}

/// IPIP from the director to `real` around `inner`, built here field by field.
fn ipip(h: &Harness, inner: &[u8], real: Ipv4Addr) -> Vec<u8> {
    let mut outer = vec![0u8; 20];
    outer[0] = 0x45;
    outer[1] = inner[1];
    outer[2..4].copy_from_slice(&((inner.len() + 20) as u16).to_be_bytes());
    outer[6] = inner[6] & 0x40;
    outer[8] = 64;
    outer[9] = 4;
    outer[12..16].copy_from_slice(&DIRECTOR.octets());
    outer[16..20].copy_from_slice(&real.octets());
    let c = lb_tests::packet::csum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    outer.extend_from_slice(inner);
    eth(real_mac(real), h.if_mac, ETH_P_IP, &outer)
}

#[test]
fn too_big_once_encapsulated_is_answered_with_fragmentation_needed() {
    require_root!();
    let mut h = harness();
    // 1490 bytes + 20 of IPIP > 1500: the client must hear that 1480 fits.
    let ip = Ipv4::new(CLIENT4, VIP4, 6);
    let seg = tcp(CLIENT4, VIP4, 40100, 80, 0x10, &[0x42; 1450]);
    let big = ip.build(&seg);
    assert_eq!(big.len(), 1490);
    let frame = eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &big);
    let mut rip = Ipv4::new(VIP4, CLIENT4, 1);
    rip.ttl = 64;
    rip.id = 0;
    rip.frag = 0;
    let mtu = 1480u16.to_be_bytes();
    let want = eth(
        CLIENT_MAC,
        h.if_mac,
        ETH_P_IP,
        &rip.build(&icmp4(3, 4, [0, 0, mtu[0], mtu[1]], &big[..28])),
    );
    check(
        &mut h,
        "frag needed",
        &frame,
        XDP_TX,
        Some(&want),
        &[("conn_new", 1), ("icmp_too_big_sent", 1)],
    );

    // Without DF the packet could be fragmented, which XDP cannot do: dropped, counted.
    let mut ip = Ipv4::new(CLIENT4, VIP4, 6);
    ip.frag = 0;
    let frame = eth(h.if_mac, CLIENT_MAC, ETH_P_IP, &ip.build(&seg));
    check(
        &mut h,
        "no DF",
        &frame,
        1,
        None,
        &[("drop_too_big", 1), ("conn_hit", 1)],
    );

    // 1480 fits exactly.
    let fits = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT4, VIP4, 6).build(&tcp(CLIENT4, VIP4, 40100, 80, 0x10, &[0x42; 1440])),
    );
    assert_eq!(h.run("lb", &fits).action, XDP_TX);
}

#[test]
fn too_big_once_encapsulated_is_answered_with_packet_too_big() {
    require_root!();
    let mut h = harness();
    // 1470 bytes + 40 of IPv6 > 1500: 1460 fits.
    let ip = Ipv6::new(CLIENT6, VIP6, 6);
    let big = ip.build(&tcp(CLIENT6, VIP6, 40101, 81, 0x10, &[0x42; 1410]));
    assert_eq!(big.len(), 1470);
    let frame = eth(h.if_mac, CLIENT_MAC, ETH_P_IPV6, &big);
    let mut rip = Ipv6::new(VIP6, CLIENT6, 58);
    rip.hop_limit = 64;
    let want = eth(
        CLIENT_MAC,
        h.if_mac,
        ETH_P_IPV6,
        &rip.build(&icmp6(
            VIP6,
            CLIENT6,
            2,
            0,
            1460u32.to_be_bytes(),
            &big[..64],
        )),
    );
    check(
        &mut h,
        "packet too big",
        &frame,
        XDP_TX,
        Some(&want),
        &[("conn_new", 1), ("icmp_too_big_sent", 1)],
    );
}

// ---- ICMP errors about nat connections ----

const NAT_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);
const NAT_CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x77);

/// tcp VIP4:90 and VIP6:90 masqueraded to port 8080 of REAL4 / REAL6; udp VIP4:53 to
/// REAL4:5353. The clients are on the director's link.
fn nat_harness() -> Harness {
    let config = format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
            "conn_table_size": 4096, "services": [
          {{ "protocol": "tcp", "vip": "{VIP4}", "port": 90, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "port": 8080, "forwarding": "nat" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP4}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL4}", "port": 5353, "forwarding": "nat" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP6}", "port": 90, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL6}", "port": 8080, "forwarding": "nat" }} ] }} ] }}"#
    );
    let n: Vec<IpAddr> = vec![
        REAL4.into(),
        REAL6.into(),
        NAT_CLIENT4.into(),
        NAT_CLIENT6.into(),
    ];
    Harness::new(&config, &n)
}

#[test]
fn an_error_about_a_nat_connection_reaches_its_real_server_rewritten() {
    require_root!();
    let mut h = nat_harness();
    let me = h.if_mac;
    let syn = eth(
        me,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(NAT_CLIENT4, VIP4, 6).build(&tcp(NAT_CLIENT4, VIP4, 40100, 90, 0x02, b"")),
    );
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    // A router tells the VIP that its reply (VIP:90 -> client, TTL already lowered by the
    // director) is too big.
    let mut vip_reply = Ipv4::new(VIP4, NAT_CLIENT4, 6);
    vip_reply.ttl = 63;
    let quoted =
        vip_reply.build(&tcp(VIP4, NAT_CLIENT4, 90, 40100, 0x10, &[0; 1400]))[..28].to_vec();
    let err = eth(
        me,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(ROUTER4, VIP4, 1).build(&icmp4(3, 4, [0, 0, 0x05, 0x78], &quoted)),
    );
    // What the real server must get: about the packet it sent (REAL4:8080 -> client), sent
    // to it; the director routes it (TTL - 1). Checksums computed here from scratch.
    let mut real_reply = vip_reply.clone();
    real_reply.src = REAL4;
    let want_quote =
        real_reply.build(&tcp(REAL4, NAT_CLIENT4, 8080, 40100, 0x10, &[0; 1400]))[..28].to_vec();
    let mut ip = Ipv4::new(ROUTER4, REAL4, 1);
    ip.ttl = 63;
    let want = eth(
        real_mac(REAL4),
        me,
        ETH_P_IP,
        &ip.build(&icmp4(3, 4, [0, 0, 0x05, 0x78], &want_quote)),
    );
    check(
        &mut h,
        "frag needed about a nat connection",
        &err,
        XDP_TX,
        Some(&want),
        &[("icmp_error_forwarded", 1)],
    );

    // The same over IPv6: "packet too big" to VIP6 about VIP6:90 -> client.
    let syn6 = eth(
        me,
        CLIENT_MAC,
        ETH_P_IPV6,
        &Ipv6::new(NAT_CLIENT6, VIP6, 6).build(&tcp(NAT_CLIENT6, VIP6, 40101, 90, 0x02, b"")),
    );
    assert_eq!(h.run("lb", &syn6).action, XDP_TX);
    let mut q6 = Ipv6::new(VIP6, NAT_CLIENT6, 6);
    q6.hop_limit = 63;
    let quoted6 = q6.build(&tcp(VIP6, NAT_CLIENT6, 90, 40101, 0x10, &[0; 1400]))[..48].to_vec();
    let err6 = eth(
        me,
        CLIENT_MAC,
        ETH_P_IPV6,
        &Ipv6::new(ROUTER6, VIP6, 58).build(&icmp6(ROUTER6, VIP6, 2, 0, [0, 0, 5, 0], &quoted6)),
    );
    let mut rq6 = q6.clone();
    rq6.src = REAL6;
    let want_quote6 =
        rq6.build(&tcp(REAL6, NAT_CLIENT6, 8080, 40101, 0x10, &[0; 1400]))[..48].to_vec();
    let mut ip6 = Ipv6::new(ROUTER6, REAL6, 58);
    ip6.hop_limit = 63;
    let want6 = eth(
        real_mac(REAL6),
        me,
        ETH_P_IPV6,
        &ip6.build(&icmp6(ROUTER6, REAL6, 2, 0, [0, 0, 5, 0], &want_quote6)),
    );
    check(
        &mut h,
        "packet too big about a nat connection",
        &err6,
        XDP_TX,
        Some(&want6),
        &[("icmp_error_forwarded", 1)],
    );
}

#[test]
fn a_nat_real_servers_error_reaches_the_client_as_the_vips() {
    require_root!();
    let mut h = nat_harness();
    let me = h.if_mac;
    // The client's datagram to VIP:53, as the director hands it to REAL4:5353.
    let q = eth(
        me,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(NAT_CLIENT4, VIP4, 17).build(&lb_tests::packet::udp(
            NAT_CLIENT4,
            VIP4,
            40200,
            53,
            b"query",
        )),
    );
    let fwd = h.run("lb", &q);
    assert_eq!(fwd.action, XDP_TX);
    // REAL4 has nothing on 5353: port unreachable, quoting what it received.
    let real_quote = fwd.data[14..14 + 28].to_vec();
    let err = eth(
        me,
        real_mac(REAL4),
        ETH_P_IP,
        &Ipv4::new(REAL4, NAT_CLIENT4, 1).build(&icmp4(3, 3, [0; 4], &real_quote)),
    );
    // The client must see it from the VIP, about its datagram to VIP:53 (the quoted UDP
    // checksum is left as it is, as IPVS leaves it).
    let mut want_quote = real_quote.clone();
    want_quote[16..20].copy_from_slice(&VIP4.octets());
    want_quote[22..24].copy_from_slice(&53u16.to_be_bytes());
    want_quote[10..12].copy_from_slice(&[0, 0]);
    let c = lb_tests::packet::csum(&want_quote[..20]);
    want_quote[10..12].copy_from_slice(&c.to_be_bytes());
    let mut ip = Ipv4::new(VIP4, NAT_CLIENT4, 1);
    ip.ttl = 63;
    let want = eth(
        real_mac(NAT_CLIENT4),
        me,
        ETH_P_IP,
        &ip.build(&icmp4(3, 3, [0; 4], &want_quote)),
    );
    check(
        &mut h,
        "port unreachable from a nat real server",
        &err,
        XDP_TX,
        Some(&want),
        &[("icmp_nat_reply", 1)],
    );
}
