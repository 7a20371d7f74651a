//! Port-0 services (ipvsadm `-A -t VIP:0 -p`): every port of the VIP and protocol that has no
//! service of its own, persistent, with real servers reached on each connection's own
//! destination port (`nat` keeps the port both ways).

use std::net::Ipv4Addr;

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service},
    consts::{LOCAL_CLIENT, REALS, VIP, XDP_TX, real_mac},
    expect::{direct, routed4},
    fixture::Fixture,
    packet::{IPPROTO_TCP, IPPROTO_UDP, Ipv4, TCP_ACK, TCP_SYN, tcp, tcp_ip, udp},
    require_root,
    testrun::Harness,
};

/// tcp VIP:0, persistent, masqueraded to REALS[2]; tcp VIP:81 by `dr` to REALS[1].
fn nat_and_exact() -> ConfigBuilder {
    config()
        .service(
            tcp_service(VIP, 0)
                .mh(251)
                .persistent(300)
                .real(real(REALS[2]).nat()),
        )
        .service(tcp_service(VIP, 81).mh(251).real(real(REALS[1]).dr()))
}

#[test]
fn a_port_zero_service_takes_every_port_but_those_with_a_service_and_nat_keeps_the_port() {
    require_root!();
    let mut h = Harness::new(&nat_and_exact(), &[REALS[1], REALS[2], LOCAL_CLIENT]);
    let me = h.if_mac;
    let rip = REALS[2];
    let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
    let mut ip_in = ip.clone();
    ip_in.dst = rip;
    let syn = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40100, 8080, TCP_SYN, b"x")));
    let exact = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40101, 81, TCP_SYN, b""));
    let other_proto = h.from_client(&Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP).build(&udp(
        LOCAL_CLIENT,
        VIP,
        40102,
        8080,
        b"q",
    )));
    let reply_ip = Ipv4::new(rip, LOCAL_CLIENT, IPPROTO_TCP);
    let reply = h.from_neighbour(
        rip,
        &reply_ip.build(&tcp(
            rip,
            LOCAL_CLIENT,
            8080,
            40100,
            TCP_SYN | TCP_ACK,
            b"yz",
        )),
    );
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP;
    h.run_fixtures(&[
        Fixture::new(
            "a port without a service: the port-0 service, nat on the same port",
            syn,
        )
        .tx(routed4(
            &ip_in,
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, 40100, 8080, TCP_SYN, b"x"),
        ))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "the port's own service wins over the port-0 one",
            exact.clone(),
        )
        .tx(direct(&exact, me, REALS[1]))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("another protocol has no port-0 service", other_proto)
            .pass()
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new(
            "the reply leaves from the VIP and the port it came to",
            reply,
        )
        .tx(routed4(
            &ip_out,
            real_mac(LOCAL_CLIENT),
            me,
            &tcp(VIP, LOCAL_CLIENT, 8080, 40100, TCP_SYN | TCP_ACK, b"yz"),
        ))
        .counters(&[("nat_reply", 1)]),
    ]);
}

/// The real server a new connection from `client`:`sport` to VIP:`dport` is tunnelled to.
fn tunnelled_to(h: &mut Harness, client: Ipv4Addr, sport: u16, dport: u16) -> Ipv4Addr {
    let frame = h.syn(client, VIP, sport, dport);
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX, "{client}:{sport} -> {VIP}:{dport}");
    Ipv4Addr::new(out.data[30], out.data[31], out.data[32], out.data[33])
}

#[test]
fn persistence_of_a_port_zero_service_keeps_every_port_of_a_client_on_one_real_server() {
    require_root!();
    let cfg = config().conn_table_size(65536).service(
        tcp_service(VIP, 0)
            .scheduler("rr")
            .persistent(300)
            .reals(REALS.iter().map(|a| real(*a).tun())),
    );
    let mut h = Harness::new(&cfg, &REALS);
    let client = Ipv4Addr::new(198, 18, 9, 1);
    let first = tunnelled_to(&mut h, client, 50000, 80);
    for (sport, dport) in [(50001, 443), (50002, 21), (50003, 8080), (50004, 65535)] {
        assert_eq!(
            tunnelled_to(&mut h, client, sport, dport),
            first,
            "port {dport} of the same client"
        );
    }
    // Another client: rr's next real server, whatever its port.
    let other = tunnelled_to(&mut h, Ipv4Addr::new(198, 18, 9, 2), 50005, 80);
    assert_ne!(other, first, "another client is scheduled on its own");
    assert_eq!(
        tunnelled_to(&mut h, Ipv4Addr::new(198, 18, 9, 2), 50006, 22),
        other
    );
    assert_eq!(h.reasons()[lb_common::PERSIST_HIT as usize], 5);
}
