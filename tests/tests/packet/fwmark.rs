//! Firewall-mark services (ipvsadm `-f`): lb's classifier (the config's `marks`) gives a new
//! flow's packet a mark, and a marked packet goes to its mark's service before the VIP's own
//! (IPVS's `ip_vs_service_find` looks the fwmark service up first). Real servers take each
//! connection's destination port; persistence holds per client network and service, across
//! every port and destination the mark covers; an ICMP error about a connection reaches its
//! real server. A `nat` reply leaves from the destination its client used, which `lb` keeps per
//! connection (`lb_nat_dests`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_tests::{
    config::{ConfigBuilder, config, fwmark_service, fwmark6_service, real, tcp_service},
    consts::{
        LOCAL_CLIENT, LOCAL_CLIENT6, REALS, REMOTE_CLIENT, ROUTER, VIP, VIP6, XDP_TX, real_addr6,
        real_mac,
    },
    expect::{direct, ipip, routed4, routed6},
    fixture::Fixture,
    packet::{
        IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, Ipv4, Ipv6, TCP_ACK, TCP_SYN, icmp4, ip, tcp,
        tcp_ip, udp,
    },
    require_root,
    testrun::Harness,
};
use serde_json::json;

/// A second marked destination, not a VIP of any service.
const VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 101);
/// A wide marked prefix (more addresses than the address filter takes one by one).
const WIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 70, 5);

/// Mark 1: tcp VIP:80,443 and tcp VIP2:8000-8100; mark 2: tcp 198.18.64.0/18 port 80. The
/// fwmark service 1 goes by `dr` to REALS[2], persistent; fwmark service 2 by `dr` to
/// REALS[0]; tcp VIP:80 (shadowed by mark 1) and VIP:22, by `dr` to REALS[1].
fn marked() -> ConfigBuilder {
    config()
        .mark(
            1,
            json!([
                {"destination": format!("{VIP}/32"), "protocol": "tcp", "ports": "80,443"},
                {"destination": VIP2.to_string(), "protocol": "tcp", "ports": "8000-8100"},
            ]),
        )
        .mark(
            2,
            json!([{"destination": "198.18.64.0/18", "protocol": "tcp", "ports": "80"}]),
        )
        .service(
            fwmark_service(1)
                .mh(251)
                .persistent(300)
                .real(real(REALS[2]).dr()),
        )
        .service(fwmark_service(2).mh(251).real(real(REALS[0]).dr()))
        .service(tcp_service(VIP, 80).mh(251).real(real(REALS[1]).dr()))
        .service(tcp_service(VIP, 22).mh(251).real(real(REALS[1]).dr()))
}

#[test]
fn a_marked_packet_goes_to_its_fwmark_service_before_the_vips_own() {
    require_root!();
    let mut h = Harness::new(&marked(), &[REALS[0], REALS[1], REALS[2], LOCAL_CLIENT]);
    let me = h.if_mac;
    let rip = REALS[2];
    // To VIP:80 (mark 1, over VIP:80's own service) and VIP2:8050 (mark 1's second match).
    let syn80 = h.from_client(&Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP).build(&tcp(
        LOCAL_CLIENT,
        VIP,
        40100,
        80,
        TCP_SYN,
        b"a",
    )));
    let syn8050 = h.from_client(&Ipv4::new(LOCAL_CLIENT, VIP2, IPPROTO_TCP).build(&tcp(
        LOCAL_CLIENT,
        VIP2,
        40101,
        8050,
        TCP_SYN,
        b"b",
    )));
    let unmarked_port = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40102, 22, TCP_SYN, b""));
    let no_service = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP2, 40103, 8200, TCP_SYN, b""));
    let other_proto = h.from_client(&Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP).build(&udp(
        LOCAL_CLIENT,
        VIP,
        40104,
        80,
        b"q",
    )));
    let wide = h.from_client(&tcp_ip(LOCAL_CLIENT, WIDE, 40105, 80, TCP_SYN, b""));
    let wide_other_port = h.from_client(&tcp_ip(LOCAL_CLIENT, WIDE, 40106, 81, TCP_SYN, b""));
    h.run_fixtures(&[
        Fixture::new(
            "VIP:80 is marked: the fwmark service, not VIP:80's own",
            syn80.clone(),
        )
        .tx(direct(&syn80, me, rip))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "a second destination of the same mark: the same service, the client's template",
            syn8050.clone(),
        )
        .tx(direct(&syn8050, me, rip))
        .counters(&[("tx", 1), ("conn_new", 1), ("persist_hit", 1)]),
        Fixture::new(
            "a port no match covers stays the VIP's own service",
            unmarked_port.clone(),
        )
        .tx(direct(&unmarked_port, me, REALS[1]))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "a marked address's port outside the match: nobody's",
            no_service,
        )
        .pass()
        .counters(&[("pass_not_vip", 1)]),
        Fixture::new("another protocol is not marked", other_proto)
            .pass()
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new(
            "an address of a wide marked prefix (past the address filter): mark 2's service",
            wide.clone(),
        )
        .tx(direct(&wide, me, REALS[0]))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("the wide prefix's other port: nobody's", wide_other_port)
            .pass()
            .counters(&[("pass_not_vip", 1)]),
    ]);
}

#[test]
fn without_marks_a_config_without_fwmark_services_classifies_nothing() {
    require_root!();
    // The same port services, no marks: VIP:80 is VIP:80's own, VIP2 nobody's.
    let cfg = config()
        .service(tcp_service(VIP, 80).mh(251).real(real(REALS[1]).dr()))
        .service(tcp_service(VIP, 22).mh(251).real(real(REALS[1]).dr()));
    let mut h = Harness::new(&cfg, &[REALS[1], LOCAL_CLIENT]);
    let me = h.if_mac;
    let syn = h.syn(LOCAL_CLIENT, VIP, 40200, 80);
    h.run_fixtures(&[
        Fixture::new("VIP:80's own service", syn.clone())
            .tx(direct(&syn, me, REALS[1]))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("VIP2 is not ours", h.syn(LOCAL_CLIENT, VIP2, 40201, 8050))
            .pass()
            .counters(&[("pass_not_vip", 1)]),
    ]);
}

/// The real server a new connection from `client`:`sport` to `dst`:`dport` is tunnelled to.
fn tunnelled_to(
    h: &mut Harness,
    client: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
) -> Ipv4Addr {
    let frame = h.syn(client, dst, sport, dport);
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX, "{client}:{sport} -> {dst}:{dport}");
    Ipv4Addr::new(out.data[30], out.data[31], out.data[32], out.data[33])
}

#[test]
fn persistence_of_a_fwmark_service_keeps_every_marked_port_of_a_client_on_one_real_server() {
    require_root!();
    let cfg = config()
        .conn_table_size(65536)
        .mark(
            7,
            json!([
                {"destination": VIP.to_string(), "protocol": "tcp", "ports": "80,443"},
                {"destination": VIP2.to_string(), "protocol": "tcp"},
            ]),
        )
        .service(
            fwmark_service(7)
                .scheduler("rr")
                .persistent(300)
                .reals(REALS.iter().map(|a| real(*a).tun())),
        );
    let mut h = Harness::new(&cfg, &REALS);
    let client = Ipv4Addr::new(198, 18, 9, 1);
    let first = tunnelled_to(&mut h, client, VIP, 50000, 80);
    for (sport, dst, dport) in [(50001, VIP, 443), (50002, VIP2, 22), (50003, VIP2, 8443)] {
        assert_eq!(
            tunnelled_to(&mut h, client, dst, sport, dport),
            first,
            "{dst}:{dport} of the same client"
        );
    }
    let other = tunnelled_to(&mut h, Ipv4Addr::new(198, 18, 9, 2), VIP2, 50004, 443);
    assert_ne!(other, first, "another client is scheduled on its own");
    assert_eq!(
        tunnelled_to(&mut h, Ipv4Addr::new(198, 18, 9, 2), VIP, 50005, 80),
        other
    );
    assert_eq!(h.reasons()[lb_common::PERSIST_HIT as usize], 4);
}

#[test]
fn an_ipv6_fwmark_service_takes_marked_ipv6_packets_only() {
    require_root!();
    let real6 = real_addr6(1);
    let cfg = config()
        .mark(
            3,
            json!([{"destination": "2001:2:0:1::/64", "protocol": "tcp", "ports": "443"}]),
        )
        .service(fwmark6_service(3).mh(251).real(real(real6).dr()))
        // The IPv4 service of the same mark: an IPv4 packet only (none is marked here).
        .service(fwmark_service(3).mh(251).real(real(REALS[0]).dr()));
    let neighbours: [IpAddr; 3] = [real6.into(), LOCAL_CLIENT6.into(), REALS[0].into()];
    let mut h = Harness::new(&cfg, &neighbours);
    let me = h.if_mac;
    let syn6 = |dst: Ipv6Addr, dport: u16| {
        h.from_client(&Ipv6::new(LOCAL_CLIENT6, dst, IPPROTO_TCP).build(&tcp(
            LOCAL_CLIENT6,
            dst,
            40300,
            dport,
            TCP_SYN,
            b"",
        )))
    };
    let marked = syn6(VIP6, 443);
    let other = syn6("2001:2:0:1::7".parse().unwrap(), 443);
    let unmarked = syn6(VIP6, 80);
    h.run_fixtures(&[
        Fixture::new(
            "[VIP6]:443 is marked: the IPv6 fwmark service",
            marked.clone(),
        )
        .tx(direct(&marked, me, real6))
        .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("another address of the /64: the same", other.clone())
            .tx(direct(&other, me, real6))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("port 80 is not marked", unmarked)
            .pass()
            .counters(&[("pass_not_vip", 1)]),
    ]);
}

#[test]
fn an_icmp_error_about_a_fwmark_connection_reaches_its_real_server() {
    require_root!();
    let cfg = config()
        .mark(
            4,
            json!([{"destination": VIP.to_string(), "protocol": "tcp", "ports": "80,443"}]),
        )
        .service(fwmark_service(4).mh(251).real(real(REALS[0]).tun()));
    let mut h = Harness::new(&cfg, &[REALS[0]]);
    let me = h.if_mac;
    let syn = h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40400, 443, TCP_SYN, b""));
    // A router on the way back tells the VIP that the real server's reply (VIP:443 ->
    // client, sent directly) is too big: it quotes the reply's IP header and 8 bytes of TCP.
    let reply = tcp_ip(VIP, REMOTE_CLIENT, 443, 40400, TCP_ACK, &[0; 1400]);
    let err = h.from_client(&ip(
        ROUTER,
        VIP,
        IPPROTO_ICMP,
        &icmp4(3, 4, [0, 0, 0x05, 0x78], &reply[..28]),
    ));
    // About a flow of the mark's ports that lb never saw: nobody's.
    let stray = tcp_ip(VIP, REMOTE_CLIENT, 80, 40401, TCP_ACK, &[0; 64]);
    let stray_err = h.from_client(&ip(
        ROUTER,
        VIP,
        IPPROTO_ICMP,
        &icmp4(3, 4, [0, 0, 0x05, 0x78], &stray[..28]),
    ));
    h.run_fixtures(&[
        Fixture::new("the connection, marked", syn.clone())
            .tx(ipip(me, &syn[14..], REALS[0]))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "fragmentation needed: tunnelled to the connection's real server, unchanged inside",
            err.clone(),
        )
        .tx(ipip(me, &err[14..], REALS[0]))
        .counters(&[("icmp_error_forwarded", 1)]),
        Fixture::new("an error about no connection", stray_err)
            .pass()
            .counters(&[("pass_icmp_no_flow", 1)]),
    ]);
}

/// `nat` for a firewall-mark service: a client's packet to any marked destination goes to the
/// real server with its destination port kept, and the reply leaves from the destination that
/// client used (kept per connection in `lb_nat_dests`), before and after the connection is
/// confirmed. A reply whose kept destination is gone is dropped (counted), never sent from a
/// wrong address; lbd's expiry removes a kept destination once its reply entry is gone.
#[test]
fn nat_replies_of_a_fwmark_service_leave_from_the_address_each_client_used() {
    require_root!();
    let rip = REALS[2];
    let cfg = config()
        .mark(
            1,
            json!([
                {"destination": format!("{VIP}/32"), "protocol": "tcp", "ports": "80,443"},
                {"destination": VIP2.to_string(), "protocol": "tcp", "ports": "8000-8100"},
            ]),
        )
        .service(fwmark_service(1).mh(251).real(real(rip).nat()));
    let mut h = Harness::new(&cfg, &[rip, LOCAL_CLIENT]);
    let me = h.if_mac;
    const SYN_ACK: u8 = TCP_SYN | TCP_ACK;
    // Client -> dst:dport becomes client -> RIP:dport; RIP:dport -> client becomes
    // dst:dport -> client.
    let to_real = |sport: u16, dport: u16, flags: u8, data: &[u8]| {
        routed4(
            &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP),
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, sport, dport, flags, data),
        )
    };
    let to_client = |src: Ipv4Addr, sport: u16, dport: u16, flags: u8, data: &[u8]| {
        routed4(
            &Ipv4::new(src, LOCAL_CLIENT, IPPROTO_TCP),
            real_mac(LOCAL_CLIENT),
            me,
            &tcp(src, LOCAL_CLIENT, sport, dport, flags, data),
        )
    };
    let client = |h: &Harness, dst: Ipv4Addr, sport, dport, flags, data: &[u8]| {
        h.from_client(&tcp_ip(LOCAL_CLIENT, dst, sport, dport, flags, data))
    };
    let reply = |h: &Harness, sport, dport, flags, data: &[u8]| {
        h.from_neighbour(rip, &tcp_ip(rip, LOCAL_CLIENT, sport, dport, flags, data))
    };
    let syn80 = client(&h, VIP, 40400, 80, TCP_SYN, b"a");
    let syn8050 = client(&h, VIP2, 40401, 8050, TCP_SYN, b"b");
    h.run_fixtures(&[
        Fixture::new("to VIP:80: the real server's address, port 80 kept", syn80)
            .tx(to_real(40400, 80, TCP_SYN, b"a"))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("to VIP2:8050: the same real server, port 8050", syn8050)
            .tx(to_real(40401, 8050, TCP_SYN, b"b"))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
    // Each connection's destination is kept under its reply direction.
    let mut dests: Vec<(u16, u32)> =
        h.dp.nat_dests()
            .into_iter()
            .map(|(k, d)| (u16::from_be(k.sport), d.addr[0]))
            .collect();
    dests.sort();
    assert_eq!(
        dests,
        vec![
            (80, u32::from(VIP).to_be()),
            (8050, u32::from(VIP2).to_be())
        ],
        "kept destinations by the real server's port"
    );
    let r80 = reply(&h, 80, 40400, SYN_ACK, b"c");
    let r8050 = reply(&h, 8050, 40401, SYN_ACK, b"dd");
    h.run_fixtures(&[
        Fixture::new("the SYN-ACK from port 80: from VIP:80", r80)
            .tx(to_client(VIP, 80, 40400, SYN_ACK, b"c"))
            .counters(&[("nat_reply", 1)]),
        Fixture::new("the SYN-ACK from port 8050: from VIP2:8050", r8050)
            .tx(to_client(VIP2, 8050, 40401, SYN_ACK, b"dd"))
            .counters(&[("nat_reply", 1)]),
    ]);
    // The client's ACK confirms the connection to VIP2; its replies keep VIP2.
    let ack = client(&h, VIP2, 40401, 8050, TCP_ACK, b"e");
    let data = reply(&h, 8050, 40401, TCP_ACK, b"ff");
    h.run_fixtures(&[
        Fixture::new("the ACK to VIP2:8050 confirms it", ack)
            .tx(to_real(40401, 8050, TCP_ACK, b"e"))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
        Fixture::new("a reply of the confirmed connection: from VIP2 still", data)
            .tx(to_client(VIP2, 8050, 40401, TCP_ACK, b"ff"))
            .counters(&[("nat_reply", 1)]),
    ]);
    // Without its kept destination, a reply has no address to leave from: dropped.
    let key80 =
        h.dp.nat_dests()
            .into_iter()
            .find(|(k, _)| u16::from_be(k.sport) == 80)
            .expect("VIP:80's kept destination")
            .0;
    assert!(h.dp.delete_nat_dest(&key80));
    let lost = reply(&h, 80, 40400, TCP_ACK, b"");
    h.run_fixture(
        Fixture::new("a reply whose destination is gone", lost)
            .dropped()
            .counters(&[("drop_nat_no_dest", 1)]),
    );
    // lbd's expiry: the VIP2 connection's kept destination stays while its reply entry does,
    // and goes with it (past the grace a just-kept destination has).
    let later = lb_daemon::expiry::monotonic_ns() + 10_000_000_000;
    let reals: Vec<u32> = h.dp.reals_all().into_iter().map(|(id, _)| id).collect();
    let mut ct = lb_daemon::expiry::Conntrack::new(Default::default());
    ct.pass(&mut h.dp, later, &reals).expect("expiry pass");
    assert_eq!(
        h.dp.nat_dests().len(),
        1,
        "the live connection's destination stays"
    );
    let reply_key =
        h.dp.connections()
            .into_iter()
            .find(|(k, c)| c.flags & lb_common::CONN_F_REPLY != 0 && u16::from_be(k.sport) == 8050)
            .expect("VIP2's reply entry")
            .0;
    // The confirmed entry, and the handshake's slot, which waits for its own expiry.
    assert!(h.dp.delete_conn(&reply_key));
    h.dp.delete_conn(&reply_key);
    assert!(h.dp.conn(&reply_key).is_none());
    let report = ct.pass(&mut h.dp, later, &reals).expect("expiry pass");
    assert_eq!(report.nat_dests_removed, 1);
    assert!(
        h.dp.nat_dests().is_empty(),
        "no destination without its reply entry"
    );
}

/// The same over IPv6: a reply leaves from the marked IPv6 address its client used.
#[test]
fn nat_replies_of_an_ipv6_fwmark_service_leave_from_the_address_the_client_used() {
    require_root!();
    let real6 = real_addr6(1);
    let cfg = config()
        .mark(
            3,
            json!([{"destination": "2001:2:0:1::/64", "protocol": "tcp", "ports": "443"}]),
        )
        .service(fwmark6_service(3).mh(251).real(real(real6).nat()));
    let neighbours: [IpAddr; 2] = [real6.into(), LOCAL_CLIENT6.into()];
    let mut h = Harness::new(&cfg, &neighbours);
    let me = h.if_mac;
    let dst: Ipv6Addr = "2001:2:0:1::7".parse().unwrap();
    let syn = h.from_client(&Ipv6::new(LOCAL_CLIENT6, dst, IPPROTO_TCP).build(&tcp(
        LOCAL_CLIENT6,
        dst,
        40500,
        443,
        TCP_SYN,
        b"x",
    )));
    let reply = h.from_neighbour(
        real6,
        &Ipv6::new(real6, LOCAL_CLIENT6, IPPROTO_TCP).build(&tcp(
            real6,
            LOCAL_CLIENT6,
            443,
            40500,
            TCP_SYN | TCP_ACK,
            b"yz",
        )),
    );
    let ip_in = Ipv6::new(LOCAL_CLIENT6, real6, IPPROTO_TCP);
    let ip_out = Ipv6::new(dst, LOCAL_CLIENT6, IPPROTO_TCP);
    h.run_fixtures(&[
        Fixture::new("to [..::7]:443: the real server, port kept", syn)
            .tx(routed6(
                &ip_in,
                real_mac(real6),
                me,
                &tcp(LOCAL_CLIENT6, real6, 40500, 443, TCP_SYN, b"x"),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("its reply: from [..::7]:443", reply)
            .tx(routed6(
                &ip_out,
                real_mac(LOCAL_CLIENT6),
                me,
                &tcp(dst, LOCAL_CLIENT6, 443, 40500, TCP_SYN | TCP_ACK, b"yz"),
            ))
            .counters(&[("nat_reply", 1)]),
    ]);
}

/// Sync of a firewall-mark service (IPVS's records carry the mark, `ip_vs_find_dest` finds
/// the service by it): a confirmed `nat` connection to a marked address and its persistence
/// template become records with the mark (the connection's naming the address and port the
/// client used, the template's IPVS's: protocol IP, the mark as its address, port 0). With
/// this director's own entries removed, as on a director that never saw the flow, the records
/// applied bring back the connection, its reply entry and kept destination, and the template:
/// the client's next packet reaches the same real server, the reply leaves from the marked
/// address, and a new connection to another marked address follows the template.
#[test]
fn a_fwmark_nat_connection_and_its_template_synced_go_on_through_the_receiving_director() {
    use lb_daemon::sync::{
        bulk::table_records,
        daemon::{Applier, messages},
        wire::{Addrs, flags},
    };
    require_root!();
    let cfg = config()
        .mark(
            1,
            json!([
                {"destination": format!("{VIP}/32"), "protocol": "tcp", "ports": "80"},
                {"destination": VIP2.to_string(), "protocol": "tcp", "ports": "8000-8100"},
            ]),
        )
        .service(
            fwmark_service(1)
                .scheduler("rr")
                .persistent(300)
                .reals([real(REALS[1]).nat(), real(REALS[2]).nat()]),
        );
    let mut h = Harness::new(&cfg, &[REALS[1], REALS[2], LOCAL_CLIENT]);
    let me = h.if_mac;
    let client = |h: &Harness, dst: Ipv4Addr, sport, dport, flags, data: &[u8]| {
        h.from_client(&tcp_ip(LOCAL_CLIENT, dst, sport, dport, flags, data))
    };
    let to_real = |rip: Ipv4Addr, sport: u16, dport: u16, flags: u8, data: &[u8]| {
        routed4(
            &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP),
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, sport, dport, flags, data),
        )
    };
    // The SYN to VIP2:8050 and the client's ACK: a confirmed connection of this director's.
    let syn = client(&h, VIP2, 40600, 8050, TCP_SYN, b"");
    assert_eq!(h.run("lb", &syn).action, XDP_TX, "the SYN is forwarded");
    let flow = lb_tests::flow::flow_key(LOCAL_CLIENT, VIP2, 40600, 8050, IPPROTO_TCP);
    let real_id = h.dp.conn(&flow).expect("the SYN's entry").real;
    let ids = h.state.real_ids(&lb_tests::config::fwmark_key(1, false));
    let rip = match ids.iter().find(|(_, _, id)| *id == real_id) {
        Some((IpAddr::V4(a), _, _)) => *a,
        other => panic!("real server {real_id}: {other:?} of {ids:?}"),
    };
    let ack = client(&h, VIP2, 40600, 8050, TCP_ACK, b"a");
    h.run_fixture(
        Fixture::new("the ACK confirms it", ack)
            .tx(to_real(rip, 40600, 8050, TCP_ACK, b"a"))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
    );

    // What a sender sends of it: the connection and the template, with the mark.
    let records = table_records(&h.dp, &Default::default(), &h.state);
    let (conns, templates): (Vec<_>, Vec<_>) = records.iter().partition(|r| !r.is_template());
    assert_eq!(conns.len(), 1, "{records:?}");
    assert_eq!(templates.len(), 1, "{records:?}");
    let c = conns[0];
    assert_eq!(
        (c.protocol, c.flags & flags::FWD_MASK, c.fwmark),
        (IPPROTO_TCP, flags::MASQ, 1)
    );
    assert_eq!((c.cport, c.vport, c.dport), (40600, 8050, 8050));
    assert_eq!(
        c.addrs,
        Addrs::V4 {
            client: LOCAL_CLIENT,
            virt: VIP2,
            dest: rip
        }
    );
    let t = templates[0];
    assert_eq!(
        (t.protocol, t.fwmark, t.cport, t.vport, t.dport),
        (0, 1, 0, 0, 0)
    );
    assert_eq!(
        t.addrs,
        Addrs::V4 {
            client: LOCAL_CLIENT,
            virt: Ipv4Addr::new(0, 0, 0, 1),
            dest: rip
        }
    );

    // A director that never saw it: this one without its entries.
    let reply_key = lb_tests::flow::flow_key(rip, LOCAL_CLIENT, 8050, 40600, IPPROTO_TCP);
    assert!(h.dp.delete_conn(&flow));
    // The confirmed reply entry, and the handshake's slot.
    assert!(h.dp.delete_conn(&reply_key));
    h.dp.delete_conn(&reply_key);
    assert!(h.dp.delete_nat_dest(&reply_key));
    for (k, _) in h.dp.persist_templates() {
        assert!(h.dp.delete_persist(&k));
    }
    assert!(h.dp.conn(&flow).is_none() && h.dp.conn(&reply_key).is_none());

    let mut applier = Applier::new(0, None);
    for m in messages(0, 1452, &records, None) {
        applier.handle(&m, IpAddr::V4(ROUTER), &mut h.dp, &h.state);
    }
    let n = applier.counters;
    assert_eq!(
        (n.inserted, n.replies, n.templates_inserted),
        (1, 1, 1),
        "{n:?}"
    );
    assert_eq!((n.unknown, n.unsupported, n.table_full), (0, 0, 0), "{n:?}");
    let synced = h.dp.conn(&flow).expect("the synced connection");
    assert_eq!(synced.real, real_id);
    assert_ne!(synced.flags & lb_common::CONN_F_SYNCED, 0);
    assert_eq!(
        h.dp.nat_dest(&reply_key).map(|d| d.addr[0]),
        Some(u32::from(VIP2).to_be()),
        "the kept destination"
    );
    let kept = h.dp.persist_templates();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1.real, real_id);

    let data = client(&h, VIP2, 40600, 8050, TCP_ACK, b"bb");
    let reply = h.from_neighbour(
        rip,
        &tcp_ip(rip, LOCAL_CLIENT, 8050, 40600, TCP_ACK, b"ccc"),
    );
    // rr's next choice would be the other real server; the template holds the client.
    let syn80 = client(&h, VIP, 40601, 80, TCP_SYN, b"");
    h.run_fixtures(&[
        Fixture::new("the client's next packet: the same real server", data)
            .tx(to_real(rip, 40600, 8050, TCP_ACK, b"bb"))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
        Fixture::new("its reply: from VIP2:8050", reply)
            .tx(routed4(
                &Ipv4::new(VIP2, LOCAL_CLIENT, IPPROTO_TCP),
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP2, LOCAL_CLIENT, 8050, 40600, TCP_ACK, b"ccc"),
            ))
            .counters(&[("nat_reply", 1)]),
        Fixture::new(
            "a new connection to VIP:80: the template's real server",
            syn80,
        )
        .tx(to_real(rip, 40601, 80, TCP_SYN, b""))
        .counters(&[("tx", 1), ("conn_new", 1), ("persist_hit", 1)]),
    ]);
}
