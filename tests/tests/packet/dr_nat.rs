//! Direct routing and masquerading over IPv4: `dr` rewrites the destination MAC only and
//! needs its real server on the link; `nat` rewrites addresses, ports, TTL and checksums in
//! both directions, and keeps its replies' entries as long as their connection.

use lb_common::CONN_F_REPLY;
use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service, udp_service},
    consts::{CLIENT_MAC, GATEWAY, LOCAL_CLIENT, REALS, REMOTE_CLIENT, REMOTE_REAL, VIP, real_mac},
    expect::{direct, routed4},
    fixture::Fixture,
    packet::{IPPROTO_TCP, IPPROTO_UDP, Ipv4, TCP_ACK, TCP_SYN, eth_ip, tcp, tcp_ip, udp},
    require_root,
    testrun::Harness,
};

const SYN_ACK: u8 = TCP_SYN | TCP_ACK;

/// tcp VIP:81 by `dr` to REALS[1], VIP:82 by `dr` to a real server behind a router;
/// tcp VIP:80 masqueraded to `nat_real`:8080, udp VIP:53 to `nat_real`:5353.
fn services(nat_real: std::net::Ipv4Addr) -> ConfigBuilder {
    config()
        .service(tcp_service(VIP, 81).mh(251).real(real(REALS[1]).dr()))
        .service(tcp_service(VIP, 82).mh(251).real(real(REMOTE_REAL).dr()))
        .service(
            tcp_service(VIP, 80)
                .mh(251)
                .real(real(nat_real).port(8080).nat()),
        )
        .service(
            udp_service(VIP, 53)
                .mh(251)
                .real(real(nat_real).port(5353).nat()),
        )
}

fn director() -> Harness {
    let h = Harness::new(
        &services(REALS[2]),
        &[REALS[1], REALS[2], LOCAL_CLIENT, GATEWAY],
    );
    // A real server behind a router: not on the director's link.
    h.ns.ip(&["route", "add", "198.19.0.0/24", "via", &GATEWAY.to_string()]);
    h
}

#[test]
fn dr_rewrites_only_the_destination_mac_and_refuses_a_real_server_behind_a_router() {
    require_root!();
    let mut h = director();
    let on_link = h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40010, 81, TCP_SYN, b"data"));
    let routed = h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40011, 82, TCP_SYN, b""));
    let me = h.if_mac;
    h.run_fixtures(&[
        Fixture::new("dr: to the real server's MAC", on_link.clone())
            .tx(direct(&on_link, me, REALS[1]))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("dr to a real server not on the link", routed)
            .dropped()
            .counters(&[("conn_new", 1), ("drop_dr_not_onlink", 1)]),
    ]);
}

#[test]
fn nat_rewrites_both_directions_with_correct_checksums() {
    require_root!();
    let mut h = director();
    let rip = REALS[2];
    let me = h.if_mac;
    // Client -> VIP:80 becomes client -> RIP:8080.
    let mut ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
    ip.tos = 0x28;
    let syn = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40012, 80, TCP_SYN, b"hello")));
    let mut ip_in = ip.clone();
    ip_in.dst = rip;
    h.run_fixture(
        Fixture::new("nat in: to the real server's address and port", syn)
            .tx(routed4(
                &ip_in,
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT, rip, 40012, 8080, TCP_SYN, b"hello"),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    assert_eq!(h.dp.connections().len(), 2, "both directions tracked");

    // RIP:8080 -> client becomes VIP:80 -> client, toward the client's MAC.
    let reply_ip = Ipv4::new(rip, LOCAL_CLIENT, IPPROTO_TCP);
    let reply = h.from_neighbour(
        rip,
        &reply_ip.build(&tcp(rip, LOCAL_CLIENT, 8080, 40012, SYN_ACK, b"world!")),
    );
    let mut ip_out = reply_ip.clone();
    ip_out.src = VIP;
    h.run_fixture(
        Fixture::new("nat out: from the VIP again", reply)
            .tx(routed4(
                &ip_out,
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP, LOCAL_CLIENT, 80, 40012, SYN_ACK, b"world!"),
            ))
            .counters(&[("nat_reply", 1)]),
    );
    let s = h.service_stats(h.service_id(&service_key(Protocol::Tcp, VIP, 80)));
    assert_eq!(
        (s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes),
        (1, 1, 1, 45, 46),
        "ipvsadm --stats: Conns InPkts OutPkts InBytes OutBytes"
    );
}

#[test]
fn nat_udp_keeps_a_zero_checksum_and_fixes_a_real_one() {
    require_root!();
    let mut h = director();
    let rip = REALS[2];
    let me = h.if_mac;
    let fixtures: Vec<Fixture> = [(40013u16, false), (40014, true)]
        .into_iter()
        .map(|(sport, zero)| {
            let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP);
            let mut dgram = udp(LOCAL_CLIENT, VIP, sport, 53, b"query");
            let mut want_l4 = udp(LOCAL_CLIENT, rip, sport, 5353, b"query");
            if zero {
                // No checksum (RFC 768): none after the rewrite either.
                dgram[6..8].copy_from_slice(&[0, 0]);
                want_l4[6..8].copy_from_slice(&[0, 0]);
            }
            let mut ip_in = ip.clone();
            ip_in.dst = rip;
            Fixture::new(
                if zero { "udp, checksum 0" } else { "udp" },
                h.from_client(&ip.build(&dgram)),
            )
            .tx(routed4(&ip_in, real_mac(rip), me, &want_l4))
            .counters(&[("tx", 1), ("conn_new", 1)])
        })
        .collect();
    h.run_fixtures(&fixtures);
}

#[test]
fn packets_for_no_vip_and_no_nat_connection_and_expiring_ones_pass_untouched() {
    require_root!();
    let mut h = director();
    // Looks like a reply from a nat real server, but no connection exists.
    let stray = h.from_neighbour(
        REALS[2],
        &tcp_ip(REALS[2], LOCAL_CLIENT, 8080, 1, SYN_ACK, b""),
    );
    let mut ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
    ip.ttl = 1;
    let ttl1 = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40015, 80, TCP_SYN, b"")));
    h.run_fixtures(&[
        Fixture::new("a stray reply", stray).counters(&[("pass_not_vip", 1)]),
        Fixture::new(
            "nat of a packet whose TTL would expire: the host answers it",
            ttl1,
        )
        .counters(&[("conn_new", 1), ("pass_ttl_exceeded", 1)]),
    ]);
}

#[test]
fn a_lost_nat_reply_slot_is_made_again_when_its_connection_is_confirmed() {
    require_root!();
    let mut h = director();
    let rip = REALS[2];
    let me = h.if_mac;
    let seg = |h: &Harness, flags| h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40030, 80, flags, b""));
    let (syn, ack) = (seg(&h, TCP_SYN), seg(&h, TCP_ACK));
    let rewritten = |flags| {
        routed4(
            &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP),
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, 40030, 8080, flags, b""),
        )
    };
    h.run_fixture(
        Fixture::new("the connection", syn)
            .tx(rewritten(TCP_SYN))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    // A flood takes the reply direction's unconfirmed slot (here: deleted by hand).
    let reply_key =
        h.dp.connections()
            .into_iter()
            .find(|(_, c)| c.flags & CONN_F_REPLY != 0)
            .expect("a reply entry")
            .0;
    assert!(h.dp.delete_conn(&reply_key));
    let reply = h.from_neighbour(rip, &tcp_ip(rip, LOCAL_CLIENT, 8080, 40030, SYN_ACK, b""));
    h.run_fixture(
        Fixture::new("the reply without its entry: the host's", reply.clone())
            .counters(&[("pass_not_vip", 1)]),
    );
    // The client's ACK confirms the connection, with its reply entry.
    h.run_fixtures(&[
        Fixture::new("the connection's next packet", ack)
            .tx(rewritten(TCP_ACK))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
        Fixture::new("the reply: rewritten again", reply)
            .tx(routed4(
                &Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_TCP),
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP, LOCAL_CLIENT, 80, 40030, SYN_ACK, b""),
            ))
            .counters(&[("nat_reply", 1)]),
    ]);
}

#[test]
fn a_removed_nat_real_servers_connection_keeps_its_replies() {
    require_root!();
    let mut h = director();
    let rip = REALS[2];
    let me = h.if_mac;
    let syn = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40040, 80, TCP_SYN, b""));
    h.run_fixture(
        Fixture::new("the connection", syn)
            .tx(routed4(
                &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP),
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT, rip, 40040, 8080, TCP_SYN, b""),
            ))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    // The nat real server leaves both nat services (another takes its place): its connection
    // goes on, so the address filter must still let its replies through, though no
    // configured address keeps its bit.
    h.apply(&services(REALS[1]));
    let reply = h.from_neighbour(rip, &tcp_ip(rip, LOCAL_CLIENT, 8080, 40040, SYN_ACK, b""));
    h.run_fixture(
        Fixture::new("its reply: still rewritten", reply)
            .tx(routed4(
                &Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_TCP),
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP, LOCAL_CLIENT, 80, 40040, SYN_ACK, b""),
            ))
            .counters(&[("nat_reply", 1)]),
    );
}

#[test]
fn nat_without_a_neighbour_entry_hands_the_rewritten_packet_to_the_kernel() {
    require_root!();
    // No neighbour entry for the nat real server nor for the client (a link flap flushed
    // them, or the director never heard from them at layer 2).
    let mut h = Harness::new(&services(REALS[2]), &[REALS[1], GATEWAY]);
    let rip = REALS[2];
    let me = h.if_mac;
    let syn = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40050, 80, TCP_SYN, b"hi"));
    // The kernel gets it rewritten, its TTL untouched (the kernel's forwarding decrements
    // it), in the Ethernet header it came with.
    h.run_fixture(
        Fixture::new(
            "nat in, no neighbour: to the kernel, rewritten",
            syn.clone(),
        )
        .pass_as(eth_ip(
            me,
            CLIENT_MAC,
            &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP).build(&tcp(
                LOCAL_CLIENT,
                rip,
                40050,
                8080,
                TCP_SYN,
                b"hi",
            )),
        ))
        .counters(&[("conn_new", 1), ("pass_no_neigh", 1)]),
    );
    let reply = h.from_neighbour(rip, &tcp_ip(rip, LOCAL_CLIENT, 8080, 40050, SYN_ACK, b"yo"));
    h.run_fixture(
        Fixture::new(
            "nat out, no neighbour: to the kernel, from the VIP",
            reply.clone(),
        )
        .pass_as(eth_ip(
            me,
            real_mac(rip),
            &Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_TCP).build(&tcp(
                VIP,
                LOCAL_CLIENT,
                80,
                40050,
                SYN_ACK,
                b"yo",
            )),
        ))
        .counters(&[("pass_no_neigh", 1)]),
    );
    let s = h.service_stats(h.service_id(&service_key(Protocol::Tcp, VIP, 80)));
    assert_eq!(
        (s.conns, s.in_pkts, s.out_pkts),
        (1, 1, 1),
        "counted as forwarded"
    );
    // Once the kernel has resolved them, the same packets leave by XDP again.
    h.ns.neighbour("eth0", rip.into(), real_mac(rip));
    h.ns.neighbour("eth0", LOCAL_CLIENT.into(), real_mac(LOCAL_CLIENT));
    h.run_fixtures(&[
        Fixture::new("nat in, resolved", syn)
            .tx(routed4(
                &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP),
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT, rip, 40050, 8080, TCP_SYN, b"hi"),
            ))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
        Fixture::new("nat out, resolved", reply)
            .tx(routed4(
                &Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_TCP),
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP, LOCAL_CLIENT, 80, 40050, SYN_ACK, b"yo"),
            ))
            .counters(&[("nat_reply", 1)]),
    ]);
}

#[test]
fn dr_without_a_neighbour_entry_drops_the_packet_and_reports_the_real_server_to_lbd() {
    require_root!();
    // The kernel cannot forward a frame addressed to the VIP (its own address): the packet is
    // dropped, counted, and its real server written to the ring lbd reads, so that lbd has it
    // resolved at once.
    let mut h = Harness::new(&services(REALS[2]), &[REALS[2], GATEWAY]);
    let mut ring = h.dp.take_neigh_miss().expect("the neighbour-miss ring");
    let syn = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40060, 81, TCP_SYN, b""));
    h.run_fixture(
        Fixture::new("dr, no neighbour entry: dropped", syn)
            .dropped()
            .counters(&[("drop_fib_no_neigh", 1), ("conn_new", 1)]),
    );
    let item = ring.next().expect("one record");
    assert_eq!(item.len(), std::mem::size_of::<lb_common::NeighMiss>());
    // SAFETY: a NeighMiss (size checked above).
    let m: lb_common::NeighMiss =
        unsafe { (item.as_ptr() as *const lb_common::NeighMiss).read_unaligned() };
    drop(item);
    let id = h
        .real_id(&service_key(Protocol::Tcp, VIP, 81), REALS[1])
        .expect("the dr real server's id");
    assert_eq!(
        m,
        lb_common::NeighMiss {
            addr: [u32::from(REALS[1]).to_be(), 0, 0, 0],
            real: id,
            family: lb_common::FAMILY_V4,
            _pad: [0; 3],
        }
    );
    assert!(ring.next().is_none(), "one record per dropped packet");
}

#[test]
fn a_nat_reply_goes_by_its_own_clients_cached_next_hop_and_follows_a_gateway_change() {
    require_root!();
    use std::net::Ipv4Addr;
    // Two client networks behind two routers on the director's link.
    let gw2 = Ipv4Addr::new(198, 18, 0, 250);
    let mut h = Harness::new(&services(REALS[2]), &[REALS[2], GATEWAY, gw2]);
    h.ns.ip(&["route", "add", "198.18.6.0/24", "via", &GATEWAY.to_string()]);
    h.ns.ip(&["route", "add", "198.18.7.0/24", "via", &gw2.to_string()]);
    // One client of each whose addresses take the same slot of the per-CPU cache.
    let slot = |a: Ipv4Addr| {
        lb_common::client_nh_slot(
            lb_common::FAMILY_V4,
            &[u32::from_ne_bytes(a.octets()), 0, 0, 0],
        )
    };
    let a = Ipv4Addr::new(198, 18, 6, 1);
    let b = (0..=255u8)
        .map(|i| Ipv4Addr::new(198, 18, 7, i))
        .find(|b| slot(*b) == slot(a))
        .expect("a client of 198.18.7.0/24 in the same slot");
    let rip = REALS[2];
    let me = h.if_mac;
    let reply_of = |h: &mut Harness, client: Ipv4Addr, sport: u16, gw_mac: [u8; 6], what: &str| {
        let syn = h.from_client(&tcp_ip(client, VIP, sport, 80, TCP_SYN, b""));
        let to_real = routed4(
            &Ipv4::new(client, rip, IPPROTO_TCP),
            real_mac(rip),
            me,
            &tcp(client, rip, sport, 8080, TCP_SYN, b""),
        );
        h.run_fixture(
            Fixture::new("the connection", syn)
                .tx(to_real)
                .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        let ip = Ipv4::new(rip, client, IPPROTO_TCP);
        let reply = h.from_neighbour(rip, &ip.build(&tcp(rip, client, 8080, sport, SYN_ACK, b"")));
        let mut out = ip.clone();
        out.src = VIP;
        h.run_fixture(
            Fixture::new(what, reply)
                .tx(routed4(
                    &out,
                    gw_mac,
                    me,
                    &tcp(VIP, client, 80, sport, SYN_ACK, b""),
                ))
                .counters(&[("nat_reply", 1)]),
        );
    };
    let slot_holds = |h: &mut Harness, client: Ipv4Addr| {
        let m: aya::maps::PerCpuArray<_, lb_common::ClientHop> = aya::maps::PerCpuArray::try_from(
            h.dp.ebpf_mut()
                .map(lb_common::map_name::CLIENT_NH)
                .expect("the cache"),
        )
        .expect("a per-CPU array");
        let per_cpu = m.get(&slot(client), 0).expect("the slot");
        per_cpu
            .iter()
            .any(|e| e.dst[0] == u32::from_ne_bytes(client.octets()))
    };
    reply_of(
        &mut h,
        a,
        41001,
        real_mac(GATEWAY),
        "to a, by the first router",
    );
    assert!(
        slot_holds(&mut h, a),
        "the reply's next hop is cached in a's slot"
    );
    // b takes the slot: its reply must not go by a's router.
    reply_of(
        &mut h,
        b,
        41002,
        real_mac(gw2),
        "to b (same slot), by the second router",
    );
    assert!(
        slot_holds(&mut h, b),
        "b's next hop replaced a's in the slot"
    );
    reply_of(
        &mut h,
        a,
        41003,
        real_mac(GATEWAY),
        "to a again, by the first router",
    );
    // The first router's MAC changes: once the cache's lifetime has passed, replies take it.
    let new_mac = [0x02, 0, 0, 0, 0x77, 0x01];
    h.ns.neighbour("eth0", GATEWAY.into(), new_mac);
    std::thread::sleep(std::time::Duration::from_nanos(
        lb_common::NH_CACHE_TTL_NS + 100_000_000,
    ));
    reply_of(
        &mut h,
        a,
        41004,
        new_mac,
        "to a after its router's MAC changed",
    );
}
