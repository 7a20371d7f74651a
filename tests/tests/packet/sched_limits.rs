//! Scheduler flags (`sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`), connection thresholds
//! (`-x`, `-y`), one-packet scheduling (`-o`), weight changes under an established flow and
//! `expire_nodest_conn`: `lb`'s choices through `BPF_PROG_TEST_RUN`, against the reference
//! models (lbd's tables, `lb_tests::models::table_choice`, the shared hash).

use std::net::Ipv4Addr;

use lb_common::{
    CONN_F_ONE_PACKET, CONN_F_REPLY, CONN_F_UNCONFIRMED, FlowKey, MAX_SCHED_PROBES, PROTO_TCP,
    PROTO_UDP, RealLimits, SCHED_DH, SCHED_MH, SCHED_SH, hash::sched_hash,
};
use lb_daemon::{
    dataplane::monotonic_ns,
    expiry::{Conntrack, refresh_overload},
};
use lb_model::config::Timeouts;
use lb_tests::{
    config::{
        ConfigBuilder, Protocol, RealBuilder, ServiceBuilder, config, real, service_key,
        tcp_service, udp_service,
    },
    consts::{REALS, VIP, XDP_DROP, XDP_TX, real_addr},
    flow::flow_key,
    models::table_choice,
    packet::{TCP_ACK, TCP_SYN, tcp_ip, udp_ip},
    pin_to_cpu0, require_root,
    testrun::Harness,
};

/// A service on the VIP with the three real servers, each tunnelled and changed by its
/// function in `reals` (weights, thresholds).
fn three_reals(svc: ServiceBuilder, reals: [fn(RealBuilder) -> RealBuilder; 3]) -> ServiceBuilder {
    svc.reals(REALS.iter().zip(reals).map(|(a, f)| f(real(*a).tun())))
}

/// A real server as it is.
fn same(r: RealBuilder) -> RealBuilder {
    r
}

/// Weights 4:3:2.
const WEIGHTED: [fn(RealBuilder) -> RealBuilder; 3] =
    [|r| r.weight(4), |r| r.weight(3), |r| r.weight(2)];
const PLAIN: [fn(RealBuilder) -> RealBuilder; 3] = [same, same, same];

fn services(services: impl IntoIterator<Item = ServiceBuilder>) -> ConfigBuilder {
    config().conn_table_size(65536).services(services)
}

fn director(cfg: &ConfigBuilder) -> Harness {
    let mut n = REALS.to_vec();
    n.push(real_addr(10));
    Harness::new(cfg, &n)
}

fn proto_of(p: u8) -> Protocol {
    if p == PROTO_UDP {
        Protocol::Udp
    } else {
        Protocol::Tcp
    }
}

/// Runs one packet from `client:sport` to the VIP's `dport` (TCP with `flags`, or UDP) and
/// returns the real server's id it was tunnelled to, or None when it was dropped as having
/// no real server (asserting that reason).
fn send(
    h: &mut Harness,
    proto: u8,
    client: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Option<u32> {
    send_to(h, proto, client, sport, dport, flags).map(|a| id_of(h, proto, dport, a))
}

/// [`send`], returning the real server's address (for real servers no longer configured).
fn send_to(
    h: &mut Harness,
    proto: u8,
    client: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Option<Ipv4Addr> {
    let ip = if proto == PROTO_UDP {
        udp_ip(client, VIP, sport, dport, b"datagram")
    } else {
        tcp_ip(client, VIP, sport, dport, flags, b"")
    };
    let frame = h.from_client(&ip);
    let before = h.reasons()[lb_common::DROP_NO_REAL as usize];
    let out = h.run("lb", &frame);
    if out.action == XDP_DROP {
        assert_eq!(
            h.reasons()[lb_common::DROP_NO_REAL as usize],
            before + 1,
            "a drop for want of a real server"
        );
        return None;
    }
    assert_eq!(out.action, XDP_TX, "tunnelled");
    Some(Ipv4Addr::new(
        out.data[30],
        out.data[31],
        out.data[32],
        out.data[33],
    ))
}

fn syn(h: &mut Harness, client: Ipv4Addr, sport: u16, dport: u16) -> Option<u32> {
    send(h, PROTO_TCP, client, sport, dport, TCP_SYN)
}

fn id_of(h: &Harness, proto: u8, port: u16, addr: Ipv4Addr) -> u32 {
    h.real_id(&service_key(proto_of(proto), VIP, port), addr)
        .unwrap_or_else(|| panic!("{addr} is not a real server of port {port}"))
}

/// The service's table as lb reads it (ids).
fn table(h: &Harness, proto: u8, port: u16) -> Vec<u32> {
    h.table(&service_key(proto_of(proto), VIP, port))
}

fn flow(client: Ipv4Addr, sport: u16, dport: u16) -> FlowKey {
    flow_key(client, VIP, sport, dport, PROTO_TCP)
}

fn overload(h: &mut Harness, id: u32, on: bool) {
    h.dp.set_real_limits(
        id,
        &RealLimits {
            // High enough that no connection of the test sets it again.
            upper: 1_000_000,
            lower: 0,
            overloaded: on as u32,
            _pad: 0,
        },
    )
    .unwrap();
}

#[test]
fn sh_and_mh_hash_the_client_address_and_add_its_port_only_with_the_port_flag() {
    require_root!();
    let mut h = director(&services([
        three_reals(tcp_service(VIP, 82).scheduler("sh"), WEIGHTED),
        three_reals(
            tcp_service(VIP, 83).scheduler("sh").flags(&["sh-port"]),
            WEIGHTED,
        ),
        three_reals(tcp_service(VIP, 84).mh(251), WEIGHTED),
        three_reals(tcp_service(VIP, 85).mh(251).flags(&["mh-port"]), WEIGHTED),
    ]));
    for (port, sched, with_port) in [
        (82u16, SCHED_SH, false),
        (83, SCHED_SH, true),
        (84, SCHED_MH, false),
        (85, SCHED_MH, true),
    ] {
        let t = table(&h, PROTO_TCP, port);
        let mut spread = false;
        for host in 1..30u8 {
            let client = Ipv4Addr::new(198, 18, 6, host);
            let got: Vec<u32> = [1000u16, 2000, 3000]
                .iter()
                .map(|&sport| {
                    let want = t[(sched_hash(&flow(client, sport, port), sched, with_port)
                        % t.len() as u32) as usize];
                    let got = syn(&mut h, client, sport, port).expect("scheduled");
                    assert_eq!(got, want, "port {port}: client {client}:{sport}");
                    got
                })
                .collect();
            if !with_port {
                assert!(
                    got.iter().all(|g| *g == got[0]),
                    "port {port}: one client, one real server: {got:?}"
                );
            }
            spread |= got.iter().any(|g| *g != got[0]);
        }
        assert_eq!(
            spread, with_port,
            "port {port}: a client's ports spread over the real servers only with the port flag"
        );
    }
}

#[test]
fn an_overloaded_real_server_is_skipped_by_fallback_rr_and_wrr_and_refused_by_plain_hashing() {
    require_root!();
    pin_to_cpu0();
    let mut h = director(&services([
        three_reals(tcp_service(VIP, 80).scheduler("rr"), WEIGHTED),
        three_reals(tcp_service(VIP, 81).scheduler("wrr"), WEIGHTED),
        three_reals(tcp_service(VIP, 82).scheduler("sh"), WEIGHTED),
        three_reals(
            tcp_service(VIP, 83).scheduler("sh").flags(&["sh-fallback"]),
            WEIGHTED,
        ),
        three_reals(tcp_service(VIP, 84).mh(251), WEIGHTED),
        three_reals(
            tcp_service(VIP, 85)
                .mh(251)
                .flags(&["mh-fallback", "mh-port"]),
            WEIGHTED,
        ),
        three_reals(tcp_service(VIP, 86).scheduler("dh"), WEIGHTED),
    ]));
    // rr and wrr walk their sequence past the overloaded real server, from a cursor that
    // then goes on after the one taken.
    for port in [80u16, 81] {
        let t = table(&h, PROTO_TCP, port);
        let busy = id_of(&h, PROTO_TCP, port, REALS[0]);
        overload(&mut h, busy, true);
        let mut cursor = 0usize;
        for i in 0..2 * t.len() {
            let (want, steps) = table_choice(
                &t,
                cursor % t.len(),
                |id| id == busy,
                true,
                MAX_SCHED_PROBES as usize,
            )
            .expect("two real servers are available");
            cursor += 1 + steps;
            let got = syn(&mut h, Ipv4Addr::new(198, 18, 5, 7), 41000 + i as u16, port);
            assert_eq!(got, Some(want), "port {port} connection {i}");
        }
        // Not overloaded any more: back in the sequence.
        overload(&mut h, busy, false);
        let seen: Vec<Option<u32>> = (0..t.len())
            .map(|i| syn(&mut h, Ipv4Addr::new(198, 18, 5, 8), 42000 + i as u16, port))
            .collect();
        assert!(seen.contains(&Some(busy)), "port {port}: {seen:?}");
    }
    // sh and mh: without -fallback the connection is refused; with it, the next available
    // slot. Every client whose slot names the overloaded real server is one of the cases.
    for (port, sched, fallback, with_port) in [
        (82u16, SCHED_SH, false, false),
        (83, SCHED_SH, true, false),
        (84, SCHED_MH, false, false),
        (85, SCHED_MH, true, true),
    ] {
        let t = table(&h, PROTO_TCP, port);
        let busy = id_of(&h, PROTO_TCP, port, REALS[1]);
        overload(&mut h, busy, true);
        let (mut refused, mut moved) = (0, 0);
        for host in 1..60u8 {
            let client = Ipv4Addr::new(198, 18, 6, host);
            let start =
                (sched_hash(&flow(client, 3000, port), sched, with_port) % t.len() as u32) as usize;
            let want = table_choice(
                &t,
                start,
                |id| id == busy,
                fallback,
                MAX_SCHED_PROBES as usize,
            )
            .map(|(id, _)| id);
            let got = syn(&mut h, client, 3000, port);
            assert_eq!(got, want, "port {port}: client {client}");
            assert_ne!(got, Some(busy));
            refused += got.is_none() as u32;
            moved += (t[start] == busy && got.is_some()) as u32;
        }
        if fallback {
            assert!(
                moved > 0 && refused == 0,
                "port {port}: {moved} moved, {refused} refused"
            );
        } else {
            assert!(
                refused > 0 && moved == 0,
                "port {port}: {moved} moved, {refused} refused"
            );
        }
    }
    // dh: the VIP's bucket; its real server overloaded, the connection is refused.
    let t = table(&h, PROTO_TCP, 86);
    let dst = flow(REALS[0], 1, 86);
    let mine = t[(sched_hash(&dst, SCHED_DH, false) % t.len() as u32) as usize];
    assert_eq!(
        syn(&mut h, Ipv4Addr::new(198, 18, 7, 1), 5000, 86),
        Some(mine)
    );
    overload(&mut h, mine, true);
    assert_eq!(syn(&mut h, Ipv4Addr::new(198, 18, 7, 2), 5000, 86), None);
}

#[test]
fn thresholds_stop_new_connections_at_the_upper_and_resume_below_the_lower() {
    require_root!();
    pin_to_cpu0();
    // rr over A (upper 3, lower 1), B (upper 2, no lower: below 3/4 of 2), C (no limit).
    let limited = |upper_a: u32| {
        let a = move |r: RealBuilder| r.upper_threshold(upper_a).lower_threshold(1);
        tcp_service(VIP, 80).scheduler("rr").reals([
            a(real(REALS[0]).tun()),
            real(REALS[1]).tun().upper_threshold(2),
            real(REALS[2]).tun(),
        ])
    };
    let mut h = director(&services([limited(3)]));
    let ids: Vec<u32> = REALS.iter().map(|a| id_of(&h, PROTO_TCP, 80, *a)).collect();
    let uppers = [3u64, 2, 0];
    let t = table(&h, PROTO_TCP, 80);
    // The model: IPVS's bind rule on every new connection, rr's walk past overloaded ones.
    let mut conns = [0u64; 3];
    let mut over = [false; 3];
    let mut cursor = 0usize;
    let mut port = 40000u16;
    let mut run = |h: &mut Harness, conns: &mut [u64; 3], over: &mut [bool; 3], n: usize| {
        for _ in 0..n {
            let o = *over;
            let (want, steps) = table_choice(
                &t,
                cursor % t.len(),
                |id| o[ids.iter().position(|x| *x == id).unwrap()],
                true,
                MAX_SCHED_PROBES as usize,
            )
            .expect("C has no limit");
            cursor += 1 + steps;
            port += 1;
            assert_eq!(syn(h, Ipv4Addr::new(198, 18, 5, 7), port, 80), Some(want));
            let k = ids.iter().position(|x| *x == want).unwrap();
            conns[k] += 1;
            if uppers[k] != 0 && conns[k] >= uppers[k] {
                over[k] = true;
            }
        }
    };
    run(&mut h, &mut conns, &mut over, 12);
    assert_eq!(conns, [3, 2, 7], "A stops at 3, B at 2");
    for (k, id) in ids.iter().enumerate() {
        assert_eq!(
            h.dp.real_limits(*id).unwrap().overloaded != 0,
            over[k],
            "real {k}"
        );
        let c = h.dp.real_conns(*id).unwrap();
        assert_eq!((c.active + c.inactive) as u64, conns[k], "real {k}");
    }
    // Connections leave (as lbd's expiry takes them out of the counts): A stays overloaded
    // until below its lower threshold (1), B until below 3/4 of its upper (2 x 3/4). (Each
    // is a SYN_RECV connection: an active one, as IPVS counts the handshake.)
    let leave = |h: &mut Harness, k: usize| {
        h.dp.add_real_conns(ids[k], -1, 0).unwrap();
        refresh_overload(&mut h.dp, &ids).unwrap()
    };
    assert_eq!(leave(&mut h, 0), 0, "A at 2");
    assert_eq!(leave(&mut h, 0), 0, "A at 1: not below 1");
    assert_eq!(leave(&mut h, 1), 1, "B at 1: 1 x 4 < 2 x 3");
    assert_eq!(leave(&mut h, 0), 1, "A at 0");
    // The counts now lie below what the table holds; lbd's expiry pass, an hour on, expires
    // every connection and puts the counts straight.
    let mut ct = Conntrack::new(Timeouts::default());
    ct.pass(&mut h.dp, monotonic_ns() + 3_600_000_000_000, &ids)
        .unwrap();
    ct.pass(&mut h.dp, monotonic_ns() + 3_600_000_000_000, &ids)
        .unwrap();
    for id in &ids {
        let c = h.dp.real_conns(*id).unwrap();
        assert_eq!((c.active, c.inactive), (0, 0));
    }
    let (mut conns, mut over) = ([0u64; 3], [false; 3]);
    run(&mut h, &mut conns, &mut over, 9);
    assert_eq!(
        conns,
        [3, 2, 4],
        "both take new connections again, up to their thresholds"
    );
    // A raised upper threshold lifts the overload at once (IPVS's __ip_vs_update_dest); an
    // unchanged one keeps it.
    h.apply(&services([limited(10)]));
    let l = |h: &Harness, k: usize| h.dp.real_limits(ids[k]).unwrap();
    assert_eq!((l(&h, 0).upper, l(&h, 0).overloaded), (10, 0));
    assert_eq!((l(&h, 1).upper, l(&h, 1).overloaded), (2, 1));
}

#[test]
fn one_packet_scheduling_schedules_every_datagram_and_keeps_no_entry() {
    require_root!();
    pin_to_cpu0();
    let mut h = director(&services([
        three_reals(udp_service(VIP, 53).scheduler("rr").one_packet(), PLAIN),
        three_reals(udp_service(VIP, 54).scheduler("rr"), PLAIN),
        udp_service(VIP, 55)
            .scheduler("rr")
            .one_packet()
            .real(real(real_addr(10)).nat()),
    ]));
    let client = Ipv4Addr::new(198, 18, 5, 9);
    let t = table(&h, PROTO_UDP, 53);
    let got: Vec<Option<u32>> = (0..6)
        .map(|_| send(&mut h, PROTO_UDP, client, 5353, 53, 0))
        .collect();
    let want: Vec<Option<u32>> = (0..6).map(|i| Some(t[i % 3])).collect();
    assert_eq!(got, want, "one 5-tuple, every datagram scheduled anew (rr)");
    let key = service_key(Protocol::Udp, VIP, 53);
    assert_eq!(
        h.service_stats(h.service_id(&key)).conns,
        6,
        "each datagram is a connection"
    );
    assert!(h.dp.connections().is_empty(), "no connection entry");
    for id in &t {
        let c = h.dp.real_conns(*id).unwrap();
        assert_eq!((c.active, c.inactive), (0, 0), "nothing to count or expire");
    }
    // Without -o the 5-tuple sticks to its real server.
    let got: Vec<Option<u32>> = (0..6)
        .map(|_| send(&mut h, PROTO_UDP, client, 5353, 54, 0))
        .collect();
    assert!(got.iter().all(|g| g.is_some() && *g == got[0]), "{got:?}");
    let svc54 = h.service_id(&service_key(Protocol::Udp, VIP, 54));
    assert_eq!(h.service_stats(svc54).conns, 1);
    assert_eq!(h.dp.connections().len(), 1);
    // nat: the datagrams' reply entry (real server -> client) is kept for the UDP timeout,
    // though no connection entry goes with it (in the unconfirmed table: a flood of such
    // datagrams only churns that).
    let before: std::collections::HashSet<FlowKey> =
        h.dp.connections().into_iter().map(|(k, _)| k).collect();
    let frame = h.from_client(&udp_ip(client, VIP, 5354, 55, b"q"));
    assert_eq!(h.run("lb", &frame).action, XDP_TX);
    let new: Vec<(FlowKey, lb_common::Conn)> =
        h.dp.connections()
            .into_iter()
            .filter(|(k, _)| !before.contains(k))
            .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(
        new[0].1.flags,
        CONN_F_REPLY | CONN_F_ONE_PACKET | CONN_F_UNCONFIRMED
    );
    let ids = h.state.all_real_ids();
    let mut ct = Conntrack::new(Timeouts::default());
    let now = monotonic_ns();
    ct.pass(&mut h.dp, now, &ids).unwrap();
    assert!(h.dp.conn(&new[0].0).is_some(), "kept while fresh");
    ct.pass(&mut h.dp, now + 301_000_000_000, &ids).unwrap();
    assert!(h.dp.conn(&new[0].0).is_none(), "gone after the UDP timeout");
}

/// A config of one wlc service over the real servers in `reals` (address, weight), with
/// `expire_nodest_conn` when `expire`.
fn wlc_config(expire: bool, reals: &[(Ipv4Addr, u32)]) -> ConfigBuilder {
    let cfg = services([tcp_service(VIP, 80)
        .scheduler("wlc")
        .reals(reals.iter().map(|(a, w)| real(*a).weight(*w).tun()))]);
    if expire {
        cfg.expire_nodest_conn()
    } else {
        cfg
    }
}

#[test]
fn weight_changes_never_move_an_established_flow_and_expire_nodest_conn_moves_a_removed_ones() {
    require_root!();
    for expire in [false, true] {
        let all = [(REALS[0], 1), (REALS[1], 1), (REALS[2], 1)];
        let mut h = Harness::new(&wlc_config(expire, &all), &REALS);
        let client = Ipv4Addr::new(198, 18, 5, 10);
        let a = syn(&mut h, client, 6000, 80).unwrap();
        let a_addr = *REALS
            .iter()
            .find(|r| id_of(&h, PROTO_TCP, 80, **r) == a)
            .unwrap();
        assert_eq!(send(&mut h, PROTO_TCP, client, 6000, 80, TCP_ACK), Some(a));
        // Weight 0 for it, more weight for the others: new flows go elsewhere at once, the
        // established one stays.
        let quiesced: Vec<(Ipv4Addr, u32)> = all
            .iter()
            .map(|(r, _)| (*r, if *r == a_addr { 0 } else { 5 }))
            .collect();
        h.apply(&wlc_config(expire, &quiesced));
        for p in 0..10 {
            let r = syn(&mut h, Ipv4Addr::new(198, 18, 5, 11), 7000 + p, 80);
            assert!(
                matches!(r, Some(x) if x != a),
                "a new connection goes to another real server: {r:?}"
            );
        }
        assert_eq!(send(&mut h, PROTO_TCP, client, 6000, 80, TCP_ACK), Some(a));
        // Removed: kept as long as expire_nodest_conn is off; with it, the connection goes at
        // once and its next packet is scheduled anew.
        let rest: Vec<(Ipv4Addr, u32)> =
            all.iter().copied().filter(|(r, _)| *r != a_addr).collect();
        let report = h.apply(&wlc_config(expire, &rest));
        assert_eq!(report.connections_expired, expire as usize);
        if expire {
            // Its next packet is an ACK of a flow lb no longer holds: wlc would pick a real
            // server that knows nothing of it, so it is dropped (IPVS's sloppy_tcp off) ...
            let ack = h.from_client(&tcp_ip(client, VIP, 6000, 80, TCP_ACK, b""));
            let before = h.reasons()[lb_common::DROP_TCP_MID_FLOW as usize];
            assert_eq!(h.run("lb", &ack).action, XDP_DROP);
            assert_eq!(
                h.reasons()[lb_common::DROP_TCP_MID_FLOW as usize],
                before + 1
            );
            // ... and with sloppy_tcp it is scheduled anew, to a real server still there.
            h.apply(&wlc_config(expire, &rest).sloppy_tcp());
            let next = send_to(&mut h, PROTO_TCP, client, 6000, 80, TCP_ACK);
            assert!(
                next.is_some() && next != Some(a_addr),
                "rescheduled: {next:?}"
            );
        } else {
            let next = send_to(&mut h, PROTO_TCP, client, 6000, 80, TCP_ACK);
            assert_eq!(next, Some(a_addr), "drains to its real server");
        }
    }
}
