//! ICMP through `lb`: echo requests to VIPs answered by the director; ICMP errors about a
//! connection forwarded to the real server that owns it (rewritten for `nat`); packets too
//! big once encapsulated answered with "fragmentation needed" / "packet too big";
//! everything else left to the host.

use std::net::{IpAddr, Ipv6Addr};

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service, udp_service},
    consts::{
        CLIENT_MAC, DIRECTOR, LOCAL_CLIENT, LOCAL_CLIENT6, REMOTE_CLIENT, REMOTE_CLIENT6, ROUTER,
        ROUTER6, VIP, VIP6, real_addr, real_addr6, real_mac,
    },
    expect::{answer, direct, fix_ipv4_csum, ipip, routed4},
    fixture::Fixture,
    packet::{
        IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, Ipv4, Ipv6, TCP_ACK, TCP_SYN,
        eth_ip, icmp4, icmp6, ip, tcp, tcp_ip, udp_ip,
    },
    require_root,
    testrun::Harness,
};

const REAL4: std::net::Ipv4Addr = real_addr(0);
const REAL6: Ipv6Addr = real_addr6(1);
/// ICMP types and codes.
const ECHO: u8 = 8;
const ECHO_REPLY: u8 = 0;
const UNREACH: u8 = 3;
const FRAG_NEEDED: u8 = 4;
const PORT_UNREACH: u8 = 3;
const TIME_EXCEEDED: u8 = 11;
const ECHO6: u8 = 128;
const ECHO_REPLY6: u8 = 129;
const TOO_BIG6: u8 = 2;

/// IPv4 VIP port 80 tunnelled to REAL4; IPv6 VIP port 80 by direct routing to REAL6, port 81
/// tunnelled to it. The harness's interface MTU is 1500.
fn services() -> ConfigBuilder {
    config()
        .service(tcp_service(VIP, 80).mh(251).real(real(REAL4).tun()))
        .service(tcp_service(VIP6, 80).mh(251).real(real(REAL6).dr()))
        .service(tcp_service(VIP6, 81).mh(251).real(real(REAL6).tun()))
}

fn director() -> Harness {
    let n: [IpAddr; 2] = [REAL4.into(), REAL6.into()];
    Harness::new(&services(), &n)
}

#[test]
fn pings_to_a_vip_are_answered_by_the_director_and_others_left_to_the_host() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let mut ip4 = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_ICMP);
    ip4.ttl = 57;
    let ping = h.from_client(&ip4.build(&icmp4(ECHO, 0, [0, 7, 0, 1], b"ping!")));
    let mut rip = Ipv4::new(VIP, REMOTE_CLIENT, IPPROTO_ICMP);
    rip.id = ip4.id;
    rip.frag = ip4.frag;
    let pong = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(ECHO_REPLY, 0, [0, 7, 0, 1], b"ping!")),
    );
    let host = h.from_client(&ip(
        REMOTE_CLIENT,
        DIRECTOR,
        IPPROTO_ICMP,
        &icmp4(ECHO, 0, [0, 7, 0, 2], b""),
    ));
    let ping6 = h.from_client(&ip(
        REMOTE_CLIENT6,
        VIP6,
        IPPROTO_ICMPV6,
        &icmp6(REMOTE_CLIENT6, VIP6, ECHO6, 0, [0, 9, 0, 3], b"ping6"),
    ));
    let pong6 = answer(
        me,
        CLIENT_MAC,
        &ip(
            VIP6,
            REMOTE_CLIENT6,
            IPPROTO_ICMPV6,
            &icmp6(VIP6, REMOTE_CLIENT6, ECHO_REPLY6, 0, [0, 9, 0, 3], b"ping6"),
        ),
    );
    h.run_fixtures(&[
        Fixture::new("echo request to the VIP", ping)
            .tx(pong)
            .counters(&[("icmp_echo_reply", 1)]),
        Fixture::new("echo request to the host", host).counters(&[("pass_icmp", 1)]),
        Fixture::new("echo request to the IPv6 VIP", ping6)
            .tx(pong6)
            .counters(&[("icmp_echo_reply", 1)]),
    ]);
}

#[test]
fn icmp_errors_reach_the_real_server_of_their_connection() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    // The connection: client -> VIP:80, tunnelled to REAL4.
    let syn = h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40000, 80, TCP_SYN, b""));
    // A router on the way back tells the VIP that its reply (VIP:80 -> client) is too big:
    // it quotes the reply's IP header and 8 bytes of TCP.
    let reply = tcp_ip(VIP, REMOTE_CLIENT, 80, 40000, TCP_ACK, &[0; 1400]);
    let err = h.from_client(&ip(
        ROUTER,
        VIP,
        IPPROTO_ICMP,
        &icmp4(UNREACH, FRAG_NEEDED, [0, 0, 0x05, 0x78], &reply[..28]),
    ));
    // IPv6: no connection entry (it expired, or the flow started elsewhere): the scheduler
    // finds the same real server, by direct routing.
    let reply6 = tcp_ip(VIP6, REMOTE_CLIENT6, 80, 40001, TCP_ACK, &[0; 64]);
    let err6 = h.from_client(&ip(
        ROUTER6,
        VIP6,
        IPPROTO_ICMPV6,
        &icmp6(ROUTER6, VIP6, TOO_BIG6, 0, [0, 0, 5, 0], &reply6[..48]),
    ));
    h.run_fixtures(&[
        Fixture::new("the connection", syn.clone())
            .tx(ipip(me, &syn[14..], REAL4))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "fragmentation needed: tunnelled to the connection's real server, unchanged inside",
            err.clone(),
        )
        .tx(ipip(me, &err[14..], REAL4))
        .counters(&[("icmp_error_forwarded", 1)]),
        Fixture::new("packet too big: to the IPv6 real server", err6.clone())
            .tx(direct(&err6, me, REAL6))
            .counters(&[("icmp_error_forwarded", 1)]),
    ]);
}

#[test]
fn icmp_errors_about_no_service_are_left_to_the_host() {
    require_root!();
    let mut h = director();
    let reply = tcp_ip(VIP, REMOTE_CLIENT, 81, 40002, TCP_ACK, b"");
    let error = |h: &Harness, ty, code, quoted: &[u8]| {
        h.from_client(&ip(
            ROUTER,
            VIP,
            IPPROTO_ICMP,
            &icmp4(ty, code, [0; 4], quoted),
        ))
    };
    h.run_fixtures(&[
        Fixture::new(
            "about no service",
            error(&h, TIME_EXCEEDED, 0, &reply[..28]),
        )
        .counters(&[("pass_icmp_no_flow", 1)]),
        Fixture::new(
            "cut inside the quoted header",
            error(&h, UNREACH, 1, &reply[..12]),
        )
        .counters(&[("pass_icmp_no_flow", 1)]),
    ]);
}

#[test]
fn too_big_once_encapsulated_is_answered_with_fragmentation_needed() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    // 1490 bytes + 20 of IPIP > 1500: the client must hear that 1480 fits, in an ICMP
    // datagram of 576 bytes (RFC 1812 4.3.2.3): 548 bytes of the packet quoted.
    let seg = tcp(REMOTE_CLIENT, VIP, 40100, 80, TCP_ACK, &[0x42; 1450]);
    let big = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP).build(&seg);
    assert_eq!(big.len(), 1490);
    let mut rip = Ipv4::new(VIP, REMOTE_CLIENT, IPPROTO_ICMP);
    rip.id = 0;
    rip.frag = 0;
    let mtu = 1480u16.to_be_bytes();
    let frag_needed = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(
            UNREACH,
            FRAG_NEEDED,
            [0, 0, mtu[0], mtu[1]],
            &big[..548],
        )),
    );
    let mut no_df = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP);
    no_df.frag = 0;
    let no_df_inner = no_df.build(&seg);
    let no_df_frame = h.from_client(&no_df_inner);
    let mut no_df_want = ipip(me, &no_df_inner, REAL4);
    no_df_want[..12].copy_from_slice(&no_df_frame[..12]);
    // The outer header: DF clear, an identification that is not the inner one's.
    assert_eq!(no_df_want[14 + 6] & 0x40, 0);
    assert_ne!(no_df_want[14 + 4..14 + 6], no_df_inner[4..6]);
    let fits = tcp_ip(REMOTE_CLIENT, VIP, 40100, 80, TCP_ACK, &[0x42; 1440]);
    // IP options are quoted as they came (4 NOPs), within the same 548 bytes.
    let mut opt = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP);
    opt.options = vec![1, 1, 1, 1];
    let big_opt = opt.build(&tcp(REMOTE_CLIENT, VIP, 40102, 80, TCP_ACK, &[0x43; 1446]));
    assert_eq!(big_opt.len(), 1490);
    let frag_needed_opt = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(
            UNREACH,
            FRAG_NEEDED,
            [0, 0, mtu[0], mtu[1]],
            &big_opt[..548],
        )),
    );
    h.run_fixtures(&[
        Fixture::new("1490 bytes with DF and IP options", h.from_client(&big_opt))
            .tx(frag_needed_opt)
            .counters(&[
                ("conn_new", 1),
                ("icmp_too_big_sent", 1),
                ("tcp_mid_flow", 1),
            ]),
    ]);
    h.run_fixtures(&[
        // An ACK of a flow lb does not hold: mh schedules it (the choice of every director).
        Fixture::new("1490 bytes with DF", h.from_client(&big))
            .tx(frag_needed)
            .counters(&[
                ("conn_new", 1),
                ("icmp_too_big_sent", 1),
                ("tcp_mid_flow", 1),
            ]),
        // Its second packet confirms it. Without DF it may be fragmented, which XDP cannot
        // do: tunnelled (outer DF clear, as the inner's) and handed to the kernel, which
        // fragments it as it forwards it; the frame's own MACs, so that the kernel takes it.
        Fixture::new("1490 bytes without DF", no_df_frame.clone())
            .pass_as(no_df_want)
            .counters(&[
                ("pass_tun_fragment", 1),
                ("conn_hit", 1),
                ("conn_promoted", 1),
            ]),
        Fixture::new("1480 bytes: fits exactly", h.from_client(&fits))
            .tx(ipip(me, &fits, REAL4))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
    ]);
}

#[test]
fn too_big_once_encapsulated_is_answered_with_packet_too_big() {
    require_root!();
    let mut h = director();
    // 1470 bytes + 40 of IPv6 > 1500: 1460 fits, said in 1280 bytes (RFC 4443 2.4): 1232
    // bytes of the packet quoted.
    let big = tcp_ip(REMOTE_CLIENT6, VIP6, 40101, 81, TCP_ACK, &[0x42; 1410]);
    assert_eq!(big.len(), 1470);
    let want = answer(
        h.if_mac,
        CLIENT_MAC,
        &ip(
            VIP6,
            REMOTE_CLIENT6,
            IPPROTO_ICMPV6,
            &icmp6(
                VIP6,
                REMOTE_CLIENT6,
                TOO_BIG6,
                0,
                1460u32.to_be_bytes(),
                &big[..1232],
            ),
        ),
    );
    h.run_fixture(
        Fixture::new("1470 bytes to an IPv6 tunnel", h.from_client(&big))
            .tx(want)
            .counters(&[
                ("conn_new", 1),
                ("icmp_too_big_sent", 1),
                ("tcp_mid_flow", 1),
            ]),
    );
}

#[test]
fn tunnels_are_sized_by_the_routes_mtu_the_fib_reports() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    // The link stays at 1500; the routes to the real servers say 1400 (the FIB reports a
    // route's MTU for forwarding when it is locked, as the kernel's own forwarding takes it).
    h.ns.ip(&[
        "route",
        "add",
        &format!("{REAL4}/32"),
        "dev",
        "eth0",
        "mtu",
        "lock",
        "1400",
    ]);
    h.ns.ip(&[
        "-6",
        "route",
        "add",
        &format!("{REAL6}/128"),
        "dev",
        "eth0",
        "mtu",
        "lock",
        "1400",
    ]);
    // 1390 + 20 of IPIP > 1400: the client must hear that 1380 fits.
    let seg = tcp(REMOTE_CLIENT, VIP, 40110, 80, TCP_ACK, &[0x42; 1350]);
    let big = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP).build(&seg);
    assert_eq!(big.len(), 1390);
    let mut rip = Ipv4::new(VIP, REMOTE_CLIENT, IPPROTO_ICMP);
    rip.id = 0;
    rip.frag = 0;
    let mtu = 1380u16.to_be_bytes();
    let frag_needed = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(
            UNREACH,
            FRAG_NEEDED,
            [0, 0, mtu[0], mtu[1]],
            &big[..548],
        )),
    );
    let fits = tcp_ip(REMOTE_CLIENT, VIP, 40110, 80, TCP_ACK, &[0x42; 1340]);
    assert_eq!(fits.len(), 1380);
    // 1370 + 40 of IPv6 > 1400: 1360 fits.
    let big6 = tcp_ip(REMOTE_CLIENT6, VIP6, 40111, 81, TCP_ACK, &[0x42; 1310]);
    assert_eq!(big6.len(), 1370);
    let too_big6 = answer(
        me,
        CLIENT_MAC,
        &ip(
            VIP6,
            REMOTE_CLIENT6,
            IPPROTO_ICMPV6,
            &icmp6(
                VIP6,
                REMOTE_CLIENT6,
                TOO_BIG6,
                0,
                1360u32.to_be_bytes(),
                &big6[..1232],
            ),
        ),
    );
    h.run_fixtures(&[
        Fixture::new("1390 bytes with DF, route MTU 1400", h.from_client(&big))
            .tx(frag_needed)
            .counters(&[
                ("conn_new", 1),
                ("icmp_too_big_sent", 1),
                ("tcp_mid_flow", 1),
            ]),
        Fixture::new("1380 bytes: fits the route exactly", h.from_client(&fits))
            .tx(ipip(me, &fits, REAL4))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
        Fixture::new(
            "1370 bytes to an IPv6 tunnel, route MTU 1400",
            h.from_client(&big6),
        )
        .tx(too_big6)
        .counters(&[
            ("conn_new", 1),
            ("icmp_too_big_sent", 1),
            ("tcp_mid_flow", 1),
        ]),
    ]);
}

#[test]
fn a_packet_shorter_than_the_quote_is_quoted_whole() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    // A route MTU of 552 to the IPv4 real server: 540 bytes + 20 of IPIP do not fit, and
    // the whole packet is within the 548 bytes a "fragmentation needed" quotes.
    h.ns.ip(&[
        "route",
        "add",
        &format!("{REAL4}/32"),
        "dev",
        "eth0",
        "mtu",
        "lock",
        "552",
    ]);
    let big = tcp_ip(REMOTE_CLIENT, VIP, 40120, 80, TCP_ACK, &[0x44; 500]);
    assert_eq!(big.len(), 540);
    let mut rip = Ipv4::new(VIP, REMOTE_CLIENT, IPPROTO_ICMP);
    rip.id = 0;
    rip.frag = 0;
    let mtu = 532u16.to_be_bytes();
    let want = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(UNREACH, FRAG_NEEDED, [0, 0, mtu[0], mtu[1]], &big)),
    );
    h.run_fixture(
        Fixture::new("540 bytes with DF, route MTU 552", h.from_client(&big))
            .tx(want)
            .counters(&[
                ("conn_new", 1),
                ("icmp_too_big_sent", 1),
                ("tcp_mid_flow", 1),
            ]),
    );
}

// ---- ICMP errors about nat connections ----

/// tcp VIP:90 and [VIP6]:90 masqueraded to port 8080 of REAL4 / REAL6; udp VIP:53 to
/// REAL4:5353. The clients are on the director's link.
fn nat_director() -> Harness {
    let cfg = config()
        .service(
            tcp_service(VIP, 90)
                .mh(251)
                .real(real(REAL4).port(8080).nat()),
        )
        .service(
            udp_service(VIP, 53)
                .mh(251)
                .real(real(REAL4).port(5353).nat()),
        )
        .service(
            tcp_service(VIP6, 90)
                .mh(251)
                .real(real(REAL6).port(8080).nat()),
        );
    let n: [IpAddr; 4] = [
        REAL4.into(),
        REAL6.into(),
        LOCAL_CLIENT.into(),
        LOCAL_CLIENT6.into(),
    ];
    Harness::new(&cfg, &n)
}

#[test]
fn an_error_about_a_nat_connection_reaches_its_real_server_rewritten() {
    require_root!();
    let mut h = nat_director();
    let me = h.if_mac;
    let syn = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40100, 90, TCP_SYN, b""));
    let syn_in = routed4(
        &Ipv4::new(LOCAL_CLIENT, REAL4, IPPROTO_TCP),
        real_mac(REAL4),
        me,
        &tcp(LOCAL_CLIENT, REAL4, 40100, 8080, TCP_SYN, b""),
    );
    // A router tells the VIP that its reply (VIP:90 -> client, TTL already lowered by the
    // director) is too big.
    let mut vip_reply = Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_TCP);
    vip_reply.ttl = 63;
    let quoted =
        vip_reply.build(&tcp(VIP, LOCAL_CLIENT, 90, 40100, TCP_ACK, &[0; 1400]))[..28].to_vec();
    let err = h.from_client(&ip(
        ROUTER,
        VIP,
        IPPROTO_ICMP,
        &icmp4(UNREACH, FRAG_NEEDED, [0, 0, 0x05, 0x78], &quoted),
    ));
    // What the real server must get: about the packet it sent (REAL4:8080 -> client), sent
    // to it; the director routes it (TTL - 1). Checksums computed here from scratch.
    let mut real_reply = vip_reply.clone();
    real_reply.src = REAL4;
    let want_quote = real_reply.build(&tcp(REAL4, LOCAL_CLIENT, 8080, 40100, TCP_ACK, &[0; 1400]))
        [..28]
        .to_vec();
    let err_in = routed4(
        &Ipv4::new(ROUTER, REAL4, IPPROTO_ICMP),
        real_mac(REAL4),
        me,
        &icmp4(UNREACH, FRAG_NEEDED, [0, 0, 0x05, 0x78], &want_quote),
    );

    // The same over IPv6: "packet too big" to VIP6 about VIP6:90 -> client.
    let syn6 = h.from_client(&tcp_ip(LOCAL_CLIENT6, VIP6, 40101, 90, TCP_SYN, b""));
    let mut syn6_ip = Ipv6::new(LOCAL_CLIENT6, REAL6, IPPROTO_TCP);
    syn6_ip.hop_limit = 63;
    let syn6_in = eth_ip(
        real_mac(REAL6),
        me,
        &syn6_ip.build(&tcp(LOCAL_CLIENT6, REAL6, 40101, 8080, TCP_SYN, b"")),
    );
    let mut q6 = Ipv6::new(VIP6, LOCAL_CLIENT6, IPPROTO_TCP);
    q6.hop_limit = 63;
    let quoted6 =
        q6.build(&tcp(VIP6, LOCAL_CLIENT6, 90, 40101, TCP_ACK, &[0; 1400]))[..48].to_vec();
    let err6 = h.from_client(&ip(
        ROUTER6,
        VIP6,
        IPPROTO_ICMPV6,
        &icmp6(ROUTER6, VIP6, TOO_BIG6, 0, [0, 0, 5, 0], &quoted6),
    ));
    let mut rq6 = q6.clone();
    rq6.src = REAL6;
    let want_quote6 =
        rq6.build(&tcp(REAL6, LOCAL_CLIENT6, 8080, 40101, TCP_ACK, &[0; 1400]))[..48].to_vec();
    let mut ip6 = Ipv6::new(ROUTER6, REAL6, IPPROTO_ICMPV6);
    ip6.hop_limit = 63;
    let err6_in = eth_ip(
        real_mac(REAL6),
        me,
        &ip6.build(&icmp6(
            ROUTER6,
            REAL6,
            TOO_BIG6,
            0,
            [0, 0, 5, 0],
            &want_quote6,
        )),
    );
    h.run_fixtures(&[
        Fixture::new("the connection", syn)
            .tx(syn_in)
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("fragmentation needed about it", err)
            .tx(err_in)
            .counters(&[("icmp_error_forwarded", 1)]),
        Fixture::new("the IPv6 connection", syn6)
            .tx(syn6_in)
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("packet too big about it", err6)
            .tx(err6_in)
            .counters(&[("icmp_error_forwarded", 1)]),
    ]);
}

#[test]
fn a_nat_real_servers_error_reaches_the_client_as_the_vips() {
    require_root!();
    let mut h = nat_director();
    let me = h.if_mac;
    // The client's datagram to VIP:53, as the director hands it to REAL4:5353.
    let q = h.from_client(&udp_ip(LOCAL_CLIENT, VIP, 40200, 53, b"query"));
    let fwd = routed4(
        &Ipv4::new(LOCAL_CLIENT, REAL4, IPPROTO_UDP),
        real_mac(REAL4),
        me,
        &lb_tests::packet::udp(LOCAL_CLIENT, REAL4, 40200, 5353, b"query"),
    );
    // REAL4 has nothing on 5353: port unreachable, quoting what it received.
    let real_quote = fwd[14..14 + 28].to_vec();
    let err = h.from_neighbour(
        REAL4,
        &ip(
            REAL4,
            LOCAL_CLIENT,
            IPPROTO_ICMP,
            &icmp4(UNREACH, PORT_UNREACH, [0; 4], &real_quote),
        ),
    );
    // The client must see it from the VIP, about its datagram to VIP:53 (the quoted UDP
    // checksum is left as it is, as IPVS leaves it).
    let mut want_quote = real_quote.clone();
    want_quote[16..20].copy_from_slice(&VIP.octets());
    want_quote[22..24].copy_from_slice(&53u16.to_be_bytes());
    fix_ipv4_csum(&mut want_quote[..20]);
    let want = routed4(
        &Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_ICMP),
        real_mac(LOCAL_CLIENT),
        me,
        &icmp4(UNREACH, PORT_UNREACH, [0; 4], &want_quote),
    );
    h.run_fixtures(&[
        Fixture::new("the datagram", q)
            .tx(fwd)
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("port unreachable from the nat real server", err)
            .tx(want)
            .counters(&[("icmp_nat_reply", 1)]),
    ]);
}
