//! Connection states, the real servers' active / inactive counts, and lbd's expiry: the XDP
//! program's half through `BPF_PROG_TEST_RUN`, lbd's half through the same code lbd runs.

use lb_common::{
    CONN_S_CLOSE, CONN_S_ESTABLISHED, CONN_S_FIN_WAIT, CONN_S_SYN_RECV, CONN_S_UDP, RealConns,
    conn_time,
};
use lb_daemon::{dataplane::monotonic_ns, expiry::Conntrack};
use lb_model::config::Timeouts;
use lb_tests::{
    config::{Protocol, config, real, service_key, tcp_service, udp_service},
    consts::{LOCAL_CLIENT, VIP, XDP_TX, real_addr},
    packet::{TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcp_ip, udp_ip},
    require_root,
    testrun::Harness,
};

const CLIENT: std::net::Ipv4Addr = LOCAL_CLIENT;
const REAL: std::net::Ipv4Addr = real_addr(0);

/// tcp VIP:80 and udp VIP:53 tunnelled to REAL; tcp VIP:81 masqueraded to REAL:8081.
fn director() -> Harness {
    let cfg = config()
        .service(tcp_service(VIP, 80).mh(251).real(real(REAL).tun()))
        .service(udp_service(VIP, 53).mh(251).real(real(REAL).tun()))
        .service(
            tcp_service(VIP, 81)
                .mh(251)
                .real(real(REAL).port(8081).nat()),
        );
    Harness::new(&cfg, &[REAL, CLIENT])
}

fn segment(h: &Harness, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    h.from_client(&tcp_ip(CLIENT, VIP, sport, dport, flags, b""))
}

fn real_id(h: &Harness, proto: Protocol, port: u16) -> u32 {
    h.state.real_ids(&service_key(proto, VIP, port))[0].2
}

fn counts(h: &Harness, id: u32) -> (i64, i64) {
    let RealConns { active, inactive } = h.dp.real_conns(id).unwrap();
    (active, inactive)
}

fn only_state(h: &Harness) -> u8 {
    let c = h.dp.connections();
    assert_eq!(c.len(), 1, "{c:?}");
    c[0].1.state
}

#[test]
fn tcp_states_move_the_real_servers_counts_as_ipvs_counts_them() {
    require_root!();
    let mut h = director();
    let id = real_id(&h, Protocol::Tcp, 80);
    // tun: IPVS's input-only table. Active: ESTABLISHED and the handshake's states.
    for (flags, state, want, what) in [
        (TCP_SYN, CONN_S_SYN_RECV, (1, 0), "SYN: SYN_RECV, active"),
        (TCP_ACK, CONN_S_ESTABLISHED, (1, 0), "ACK after SYN: active"),
        (
            TCP_PSH | TCP_ACK,
            CONN_S_ESTABLISHED,
            (1, 0),
            "data: still active",
        ),
        (
            TCP_FIN | TCP_ACK,
            CONN_S_FIN_WAIT,
            (0, 1),
            "FIN: FIN_WAIT, inactive",
        ),
        (
            TCP_SYN,
            CONN_S_SYN_RECV,
            (1, 0),
            "a SYN in FIN_WAIT (conn_reuse_mode 1 ends only TIME_WAIT and CLOSE): SYN_RECV",
        ),
        (
            TCP_RST,
            CONN_S_SYN_RECV,
            (1, 0),
            "a RST in SYN_RECV changes nothing",
        ),
        (TCP_ACK, CONN_S_ESTABLISHED, (1, 0), "ACK"),
        (TCP_RST, CONN_S_CLOSE, (0, 1), "RST: CLOSE"),
    ] {
        assert_eq!(
            h.run("lb", &segment(&h, 40000, 80, flags)).action,
            XDP_TX,
            "{what}"
        );
        assert_eq!(only_state(&h), state, "{what}");
        assert_eq!(counts(&h, id), want, "{what}");
    }
}

#[test]
fn a_flow_met_mid_way_counts_as_established_and_udp_as_inactive() {
    require_root!();
    let mut h = director();
    h.run("lb", &segment(&h, 40001, 80, TCP_ACK));
    assert_eq!(only_state(&h), CONN_S_ESTABLISHED);
    assert_eq!(counts(&h, real_id(&h, Protocol::Tcp, 80)), (1, 0));
    let dgram = h.from_client(&udp_ip(CLIENT, VIP, 5353, 53, b"q"));
    assert_eq!(h.run("lb", &dgram).action, XDP_TX);
    let udp_id = real_id(&h, Protocol::Udp, 53);
    assert_eq!(counts(&h, udp_id), (0, 1));
    assert!(
        h.dp.connections()
            .iter()
            .any(|(_, c)| c.state == CONN_S_UDP)
    );
}

#[test]
fn lbd_expires_idle_connections_by_state_and_takes_back_their_counts() {
    require_root!();
    let mut h = director();
    let id = real_id(&h, Protocol::Tcp, 80);
    h.run("lb", &segment(&h, 40002, 80, TCP_SYN)); // SYN: 60 s
    h.run("lb", &segment(&h, 40003, 80, TCP_SYN));
    h.run("lb", &segment(&h, 40003, 80, TCP_ACK)); // established: tcp timeout
    h.run("lb", &segment(&h, 40013, 80, TCP_SYN));
    h.run("lb", &segment(&h, 40013, 80, TCP_ACK));
    h.run("lb", &segment(&h, 40013, 80, TCP_RST)); // reset: CLOSE, 10 s
    assert_eq!(counts(&h, id), (2, 1));
    let mut ct = Conntrack::new(Timeouts {
        tcp: 900,
        tcpfin: 120,
        udp: 300,
    });
    let reals = h.state.all_real_ids();
    let now = monotonic_ns();
    let r = ct.pass(&mut h.dp, now, &reals).unwrap();
    assert_eq!((r.expired, r.entries), (0, 3), "nothing idle yet: {r:?}");
    // 11 s later the reset one is gone, no longer counted.
    let r = ct.pass(&mut h.dp, now + 11_000_000_000, &reals).unwrap();
    assert_eq!((r.expired, r.entries), (1, 2), "{r:?}");
    assert_eq!(counts(&h, id), (2, 0));
    // 61 s later the half-open one is gone; the established one stays.
    let r = ct.pass(&mut h.dp, now + 61_000_000_000, &reals).unwrap();
    assert_eq!((r.expired, r.entries), (1, 1), "{r:?}");
    assert_eq!(counts(&h, id), (1, 0));
    // After the tcp timeout, the established one too.
    let r = ct.pass(&mut h.dp, now + 901_000_000_000, &reals).unwrap();
    assert_eq!((r.expired, r.entries), (1, 0), "{r:?}");
    assert_eq!(counts(&h, id), (0, 0));
    assert!(h.dp.connections().is_empty());
}

#[test]
fn a_pass_keeps_connections_stamped_after_it_read_the_clock() {
    require_root!();
    let mut h = director();
    let id = real_id(&h, Protocol::Tcp, 80);
    let mut ct = Conntrack::new(Timeouts {
        tcp: 900,
        tcpfin: 120,
        udp: 300,
    });
    let reals = h.state.all_real_ids();
    // lbd reads its clock, then walks the tables while `lb` goes on: entries stamped a tick
    // (16.8 ms) or more after that read are the youngest there are, not 2.2 years idle.
    let before = monotonic_ns();
    std::thread::sleep(std::time::Duration::from_millis(40));
    h.run("lb", &segment(&h, 40010, 80, TCP_SYN)); // unconfirmed
    h.run("lb", &segment(&h, 40011, 80, TCP_SYN));
    h.run("lb", &segment(&h, 40011, 80, TCP_ACK)); // confirmed, established
    h.run("lb", &segment(&h, 40012, 81, TCP_SYN)); // nat: a slot each way
    assert_eq!(counts(&h, id), (2, 0));
    let r = ct.pass(&mut h.dp, before, &reals).unwrap();
    assert_eq!(
        (r.expired, r.replies_removed, r.entries),
        (0, 0, 3),
        "nothing is idle: {r:?}"
    );
    assert_eq!(h.dp.connections().len(), 4, "{:?}", h.dp.connections());
    assert_eq!(counts(&h, id), (2, 0));
}

#[test]
fn nat_reply_entries_go_with_their_connection() {
    require_root!();
    let mut h = director();
    h.run("lb", &segment(&h, 40004, 81, TCP_SYN));
    assert_eq!(
        h.dp.connections().len(),
        2,
        "connection and its reply entry"
    );
    let mut ct = Conntrack::new(Timeouts::default());
    let reals = h.state.all_real_ids();
    let r = ct
        .pass(&mut h.dp, monotonic_ns() + 61_000_000_000, &reals)
        .unwrap();
    assert_eq!((r.expired, r.replies_removed), (1, 1), "{r:?}");
    assert!(h.dp.connections().is_empty());
}

#[test]
fn counts_that_drift_are_corrected_once_the_drift_persists() {
    require_root!();
    let mut h = director();
    let id = real_id(&h, Protocol::Tcp, 80);
    h.run("lb", &segment(&h, 40005, 80, TCP_ACK));
    // As if the LRU had silently evicted two established and one inactive connection.
    h.dp.add_real_conns(id, 2, 1).unwrap();
    assert_eq!(counts(&h, id), (3, 1));
    let mut ct = Conntrack::new(Timeouts::default());
    let reals = h.state.all_real_ids();
    let r = ct.pass(&mut h.dp, monotonic_ns(), &reals).unwrap();
    assert_eq!(
        r.corrected, 0,
        "a drift seen once may be a connection starting: wait"
    );
    assert_eq!(counts(&h, id), (3, 1));
    let r = ct.pass(&mut h.dp, monotonic_ns(), &reals).unwrap();
    assert_eq!(r.corrected, 1);
    assert_eq!(counts(&h, id), (1, 0), "back to what the table holds");
}

#[test]
fn connections_are_stamped_with_the_monotonic_clock_as_it_moves() {
    require_root!();
    let mut h = director();
    // `lb` keeps the coarse clock's reading for the rest of its tick (`clock::cached`): a
    // stamp must still be the time of its packet, within two ticks (coarse clock, then
    // cache; a tick is at most 10 ms, a stamp's unit 16.8 ms) and never ahead, and it must
    // move with the clock from one packet to the next, never stuck at an old reading.
    let mut last = None;
    for (i, sport) in (41000u16..41006).enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let before = conn_time(monotonic_ns());
        h.run("lb", &segment(&h, sport, 80, TCP_SYN));
        let after = conn_time(monotonic_ns());
        let c = h.dp.connections();
        let (_, e) = c
            .iter()
            .find(|(k, _)| k.sport == sport.to_be())
            .unwrap_or_else(|| panic!("no entry for port {sport}: {c:?}"));
        assert!(
            before.saturating_sub(2) <= e.last_seen && e.last_seen <= after,
            "packet {i}: stamped {}, clock read {before} before and {after} after",
            e.last_seen
        );
        if let Some(prev) = last {
            // 100 ms apart: about six units, at least three once two ticks are allowed for.
            assert!(
                e.last_seen >= prev + 3,
                "packet {i}: stamped {} after {prev}, 100 ms later",
                e.last_seen
            );
        }
        last = Some(e.last_seen);
    }
}
