//! Admission to the connection table: a flow's first packet is recorded as unconfirmed, its
//! client's second packet confirms it; a flood of first packets only churns the unconfirmed
//! slots (counted as `conn_new_evicted`) and never takes a confirmed connection's place; a
//! full table refuses to confirm (`conn_table_full`) and still forwards; flood mode forwards
//! the hash schedulers' new flows by the hash alone and records nothing (`conn_flood`), and
//! reads the unconfirmed table for a SYN only when its service records new flows; the real
//! servers' counts stay what the tables hold.

use std::net::Ipv4Addr;

use lb_common::{
    CONN_F_REPLY, CONN_F_UNCONFIRMED, CONN_S_ESTABLISHED, CONN_S_SYN_RECV, NEW_CONN_SLOTS,
    REASON_NAMES, RealConns,
};
use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service},
    consts::{LOCAL_CLIENT, REALS, REMOTE_CLIENT, VIP, XDP_TX},
    expect::ipip,
    fixture::Fixture,
    flow::flow_key,
    packet::{IPPROTO_TCP, TCP_ACK, TCP_SYN, tcp_ip},
    require_root,
    shim::{Repeats, tuple},
    testrun::{Harness, reason_delta},
};

/// Where the floods come from: the shim writes each flow's number into the low 16 bits of
/// this address and the source port.
const FLOOD: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
/// A flood packet's payload: the shim needs frames of 64 bytes at least.
const PAYLOAD: &[u8] = b"flood flood!";

/// tcp VIP:80 `mh` over the three real servers (tun), tcp VIP:83 `wlc` over the same.
fn services() -> ConfigBuilder {
    config()
        .service(
            tcp_service(VIP, 80)
                .mh(251)
                .reals(REALS.iter().map(|r| real(*r).tun())),
        )
        .service(
            tcp_service(VIP, 83)
                .scheduler("wlc")
                .reals(REALS.iter().map(|r| real(*r).tun())),
        )
}

fn director(cfg: &ConfigBuilder) -> Harness {
    lb_tests::pin_to_cpu0();
    Harness::new(cfg, &REALS)
}

fn counter(delta: &[(&'static str, u64)], name: &str) -> u64 {
    assert!(REASON_NAMES.contains(&name), "{name} is no reason");
    delta
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or(0)
}

/// Every real server's (active, inactive) counts, summed over `ids`.
fn counts(h: &Harness, ids: &[u32]) -> (i64, i64) {
    ids.iter().fold((0, 0), |(a, i), id| {
        let RealConns { active, inactive } = h.dp.real_conns(*id).unwrap();
        (a + active, i + inactive)
    })
}

/// The unconfirmed connections (forward direction) the tables hold now.
fn unconfirmed(h: &Harness) -> usize {
    h.dp.connections()
        .iter()
        .filter(|(_, c)| c.flags & CONN_F_UNCONFIRMED != 0 && c.flags & CONN_F_REPLY == 0)
        .count()
}

#[test]
fn the_second_packet_confirms_a_flow_and_a_flood_of_first_packets_cannot_evict_it() {
    require_root!();
    // Without flood mode: every first packet is recorded.
    let mut h = director(&services().flood_rate(0));
    let key = service_key(Protocol::Tcp, VIP, 80);
    let ids: Vec<u32> = h.state.real_ids(&key).iter().map(|r| r.2).collect();
    let me = h.if_mac;
    let seg =
        |h: &Harness, flags| h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, 40000, 80, flags, b""));
    let flow = flow_key(REMOTE_CLIENT, VIP, 40000, 80, IPPROTO_TCP);
    let owner = match h.table_real(&key, &flow) {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    };
    let inner = |flags| tcp_ip(REMOTE_CLIENT, VIP, 40000, 80, flags, b"");
    h.run_fixtures(&[
        Fixture::new("a SYN: recorded as unconfirmed", seg(&h, TCP_SYN))
            .tx(ipip(me, &inner(TCP_SYN), owner))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("its ACK: confirmed", seg(&h, TCP_ACK))
            .tx(ipip(me, &inner(TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
    ]);
    let c = h.dp.conn(&flow).expect("the connection");
    assert_eq!(c.flags & CONN_F_UNCONFIRMED, 0, "confirmed: {c:?}");
    assert_eq!(c.state, CONN_S_ESTABLISHED);
    assert_eq!(h.dp.conn_entries(), (1, 0));
    assert_eq!(counts(&h, &ids), (1, 0));

    // Three times as many first packets as there are unconfirmed slots, every one a flow
    // never seen.
    let n = 3 * NEW_CONN_SLOTS;
    let syn = h.from_client(&tcp_ip(FLOOD, VIP, 1, 80, TCP_SYN, PAYLOAD));
    let before = h.reasons();
    h.run_repeats("lb", &syn, &Repeats::new_flows(1 << 16), n);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(counter(&d, "conn_new"), n as u64, "{d:?}");
    assert_eq!(counter(&d, "tx"), n as u64, "{d:?}");
    assert_eq!(counter(&d, "conn_hit"), 0, "{d:?}");
    // Every flow the slots no longer hold was counted as evicted, and the counts are what the
    // tables hold: the confirmed connection, and one active connection (SYN_RECV, which
    // IPVS counts as active) per slot in use.
    let held = unconfirmed(&h);
    assert!(
        held > NEW_CONN_SLOTS as usize * 9 / 10,
        "{held} slots in use"
    );
    assert_eq!(counter(&d, "conn_new_evicted"), n as u64 - held as u64);
    assert_eq!(counts(&h, &ids), (1 + held as i64, 0));
    assert_eq!(
        h.dp.conn_entries(),
        (1, 0),
        "nothing confirmed by the flood"
    );

    h.run_fixture(
        Fixture::new("the confirmed flow after the flood", seg(&h, TCP_ACK))
            .tx(ipip(me, &inner(TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
    );
}

#[test]
fn a_full_connection_table_refuses_to_confirm_and_still_forwards() {
    require_root!();
    let mut h = director(&services().conn_table_size(1024));
    // 1024 connections, each a SYN then its ACK, fill the table.
    let ack = h.from_client(&tcp_ip(FLOOD, VIP, 1, 80, TCP_ACK, PAYLOAD));
    let before = h.reasons();
    h.run_repeats("lb", &ack, &Repeats::pairs(1 << 16, TCP_SYN), 2 * 1024);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(counter(&d, "conn_promoted"), 1024, "{d:?}");
    assert_eq!(h.dp.conn_entries(), (1024, 0));
    // One more: its ACK cannot be confirmed, and it is forwarded all the same, to the real
    // server of its SYN.
    let (src, sport) = tuple(FLOOD, (1 << 16) + 5000);
    let seg = |h: &Harness, flags| h.from_client(&tcp_ip(src, VIP, sport, 80, flags, b""));
    let flow = flow_key(src, VIP, sport, 80, IPPROTO_TCP);
    let owner = match h.table_real(&service_key(Protocol::Tcp, VIP, 80), &flow) {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    };
    let me = h.if_mac;
    let inner = |flags| tcp_ip(src, VIP, sport, 80, flags, b"");
    h.run_fixtures(&[
        Fixture::new("a new flow's SYN", seg(&h, TCP_SYN))
            .tx(ipip(me, &inner(TCP_SYN), owner))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("its ACK, the table full", seg(&h, TCP_ACK))
            .tx(ipip(me, &inner(TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_table_full", 1)]),
    ]);
    let c = h.dp.conn(&flow).expect("still held");
    assert_ne!(c.flags & CONN_F_UNCONFIRMED, 0, "unconfirmed: {c:?}");
    assert_eq!(c.state, CONN_S_ESTABLISHED, "its state follows");
    // Once lbd removes one connection, the next packet confirms it.
    let (gone, gone_port) = tuple(FLOOD, 1 << 16);
    assert!(
        h.dp.delete_conn(&flow_key(gone, VIP, gone_port, 80, IPPROTO_TCP)),
        "the first connection of the fill"
    );
    h.run_fixture(
        Fixture::new("its next packet, with room", seg(&h, TCP_ACK))
            .tx(ipip(me, &inner(TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
    );
}

#[test]
fn flood_mode_forwards_hash_scheduled_new_flows_by_the_hash_and_records_nothing() {
    require_root!();
    // At most one new connection per CPU in a window of 134 ms before flood mode.
    let mut h = director(&services().flood_rate(1));
    let key = service_key(Protocol::Tcp, VIP, 80);
    let me = h.if_mac;
    let mut flooded = 0;
    for i in 0..20u16 {
        let sport = 50000 + i;
        let ip = tcp_ip(REMOTE_CLIENT, VIP, sport, 80, TCP_SYN, b"");
        let flow = flow_key(REMOTE_CLIENT, VIP, sport, 80, IPPROTO_TCP);
        let owner = match h.table_real(&key, &flow) {
            std::net::IpAddr::V4(a) => a,
            a => panic!("{a} is not IPv4"),
        };
        let before = h.reasons();
        let out = h.run("lb", &h.from_client(&ip));
        let d = reason_delta(&before, &h.reasons());
        assert_eq!(out.action, XDP_TX, "{d:?}");
        assert_eq!(out.data, ipip(me, &ip, owner), "the hash's real server");
        assert_eq!(counter(&d, "conn_new"), 1, "{d:?}");
        if counter(&d, "conn_flood") == 1 {
            flooded += 1;
            assert!(h.dp.conn(&flow).is_none(), "recorded nowhere");
        } else {
            assert_eq!(h.dp.conn(&flow).map(|c| c.state), Some(CONN_S_SYN_RECV));
        }
    }
    // Twenty SYNs within microseconds of each other: all but the first of each window.
    assert!(flooded >= 10, "{flooded} of 20 in flood mode");
    // A count-driven scheduler has no stateless choice: its new flows are recorded.
    let ip = tcp_ip(REMOTE_CLIENT, VIP, 51000, 83, TCP_SYN, b"");
    let before = h.reasons();
    assert_eq!(h.run("lb", &h.from_client(&ip)).action, XDP_TX);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(counter(&d, "conn_flood"), 0, "{d:?}");
    let flow = flow_key(REMOTE_CLIENT, VIP, 51000, 83, IPPROTO_TCP);
    assert_eq!(h.dp.conn(&flow).map(|c| c.state), Some(CONN_S_SYN_RECV));
    // Two windows later this CPU is out of flood mode.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ip = tcp_ip(REMOTE_CLIENT, VIP, 52000, 80, TCP_SYN, b"");
    let before = h.reasons();
    assert_eq!(h.run("lb", &h.from_client(&ip)).action, XDP_TX);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(counter(&d, "conn_flood"), 0, "{d:?}");
}

/// In flood mode `lb` looks a SYN up in the connection table only; the unconfirmed table is
/// looked at in `lb_new`, and only for a service whose new connections are recorded. A
/// retransmitted SYN of a `wlc` flow still finds its first SYN's real server (`wlc` alone would
/// choose another: that one has a connection more); one of an `mh` flow goes by the hash, to
/// the same real server, as a new connection in flood mode, and its slot stays what the first
/// SYN made it, so that its ACK confirms it.
#[test]
fn in_flood_mode_a_retransmitted_syn_keeps_its_real_server_and_only_count_driven_services_read_the_unconfirmed_table()
 {
    require_root!();
    let mut h = director(&services().flood_rate(1));
    let send = |h: &mut Harness, sport: u16, dport: u16, flags: u8| {
        let ip = tcp_ip(REMOTE_CLIENT, VIP, sport, dport, flags, b"");
        let before = h.reasons();
        let out = h.run("lb", &h.from_client(&ip));
        assert_eq!(out.action, XDP_TX, "{sport} -> {dport}");
        (out.data, reason_delta(&before, &h.reasons()))
    };
    for attempt in 0..5u16 {
        // Two windows of 134 ms: this CPU starts a fresh one with the next new connection.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (mh_port, wlc_port) = (41000 + 2 * attempt, 41001 + 2 * attempt);
        let (mh_flow, wlc_flow) = (
            flow_key(REMOTE_CLIENT, VIP, mh_port, 80, IPPROTO_TCP),
            flow_key(REMOTE_CLIENT, VIP, wlc_port, 83, IPPROTO_TCP),
        );
        // The window's first new connection is recorded; the second puts the CPU in flood
        // mode, but `wlc` records its new connections in any case.
        let (mh_first, d) = send(&mut h, mh_port, 80, TCP_SYN);
        if counter(&d, "conn_flood") != 0 {
            continue;
        }
        let (wlc_first, d) = send(&mut h, wlc_port, 83, TCP_SYN);
        assert_eq!(counter(&d, "conn_flood"), 0, "{d:?}");
        assert_eq!(h.dp.conn(&wlc_flow).map(|c| c.state), Some(CONN_S_SYN_RECV));
        // Retransmitted: the wlc flow's SYN finds its slot (in flood mode, from `lb_new`).
        let (out, d) = send(&mut h, wlc_port, 83, TCP_SYN);
        assert_eq!(out, wlc_first, "the first SYN's real server");
        assert_eq!(
            (counter(&d, "conn_hit"), counter(&d, "conn_new")),
            (1, 0),
            "{d:?}"
        );
        // The mh flow's, in flood mode: by the hash, a new connection recorded nowhere.
        let (out, d) = send(&mut h, mh_port, 80, TCP_SYN);
        if counter(&d, "conn_hit") == 1 {
            // The window ended between the packets: not in flood mode any more.
            continue;
        }
        assert_eq!(out, mh_first, "the hash's real server, as before");
        assert_eq!(
            (counter(&d, "conn_new"), counter(&d, "conn_flood")),
            (1, 1),
            "{d:?}"
        );
        let c = h.dp.conn(&mh_flow).expect("the first SYN's slot");
        assert_eq!(
            (c.state, c.flags & CONN_F_UNCONFIRMED != 0),
            (CONN_S_SYN_RECV, true)
        );
        // Its ACK confirms the first SYN's slot.
        let (_, d) = send(&mut h, mh_port, 80, TCP_ACK);
        assert_eq!(
            (counter(&d, "conn_hit"), counter(&d, "conn_promoted")),
            (1, 1),
            "{d:?}"
        );
        assert_eq!(
            h.dp.conn(&mh_flow)
                .map(|c| (c.state, c.flags & CONN_F_UNCONFIRMED)),
            Some((CONN_S_ESTABLISHED, 0))
        );
        return;
    }
    panic!("no attempt of 5 had both SYNs in one flood window");
}

#[test]
fn an_unconfirmed_flood_cannot_take_the_place_of_a_masqueraded_connection() {
    require_root!();
    let rip = REALS[2];
    let cfg = config()
        .service(
            tcp_service(VIP, 80)
                .mh(251)
                .real(real(rip).port(8080).nat()),
        )
        .flood_rate(0);
    lb_tests::pin_to_cpu0();
    // The client on the director's link: the replies go back to it.
    let mut h = Harness::new(&cfg, &[rip, LOCAL_CLIENT]);
    let seg = |h: &Harness, flags| h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, 40000, 80, flags, b""));
    assert_eq!(h.run("lb", &seg(&h, TCP_SYN)).action, XDP_TX);
    assert_eq!(h.run("lb", &seg(&h, TCP_ACK)).action, XDP_TX);
    // Confirmed in both directions: 2 entries of 16-byte key and value.
    assert_eq!(h.dp.conn_entries(), (2, 0));
    let n = 2 * NEW_CONN_SLOTS;
    let syn = h.from_client(&tcp_ip(FLOOD, VIP, 1, 80, TCP_SYN, PAYLOAD));
    h.run_repeats("lb", &syn, &Repeats::new_flows(1 << 16), n);
    assert_eq!(
        h.dp.conn_entries(),
        (2, 0),
        "nothing confirmed by the flood"
    );
    // The real server's reply is still rewritten back to the VIP.
    let reply = h.from_neighbour(rip, &tcp_ip(rip, LOCAL_CLIENT, 8080, 40000, TCP_ACK, b"x"));
    let before = h.reasons();
    assert_eq!(h.run("lb", &reply).action, XDP_TX);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(counter(&d, "nat_reply"), 1, "{d:?}");
}
