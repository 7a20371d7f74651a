//! A connection another director synced (`CONN_F_SYNCED`, inserted by lbd from a sync
//! message): `lb` forwards its packets to the real server the other director chose, also
//! under a count-driven scheduler that would drop a mid-flow packet of an unknown flow; it is
//! in no count of this director until this director forwards a packet of it, and from that
//! packet on it is this director's own connection, counted and followed like any other.

use lb_common::{
    CONN_F_NOOUTPUT, CONN_F_SYNCED, CONN_S_ESTABLISHED, CONN_S_FIN_WAIT, Conn, RealConns, conn_time,
};
use lb_daemon::dataplane::{SyncedEntry, SyncedInsert, monotonic_ns};
use lb_tests::{
    config::{Protocol, config, real, service_key, tcp_service},
    consts::{REALS, REMOTE_CLIENT, VIP},
    expect::ipip,
    fixture::Fixture,
    flow::flow_key,
    packet::{IPPROTO_TCP, TCP_ACK, TCP_FIN, tcp_ip},
    require_root,
    testrun::Harness,
};

#[test]
fn a_synced_connection_is_forwarded_to_its_real_server_and_counted_from_its_first_packet() {
    require_root!();
    lb_tests::pin_to_cpu0();
    // wlc: a mid-flow ACK of a flow the tables do not hold is dropped (drop_tcp_mid_flow).
    let cfg = config().service(
        tcp_service(VIP, 83)
            .scheduler("wlc")
            .reals(REALS.iter().map(|r| real(*r).tun())),
    );
    let mut h = Harness::new(&cfg, &REALS);
    let key = service_key(Protocol::Tcp, VIP, 83);
    let ids = h.state.real_ids(&key);
    // The other director chose the last real server.
    let (owner, _, owner_id) = *ids.last().unwrap();
    let owner = match owner {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    };
    let counts = |h: &Harness| {
        let RealConns { active, inactive } = h.dp.real_conns(owner_id).unwrap();
        (active, inactive)
    };
    let flow = flow_key(REMOTE_CLIENT, VIP, 40000, 83, IPPROTO_TCP);
    let synced = Conn {
        real: owner_id,
        last_seen: conn_time(monotonic_ns()),
        state: CONN_S_ESTABLISHED,
        // As lbd inserts it: a tun connection, whose replies do not pass.
        flags: CONN_F_SYNCED | CONN_F_NOOUTPUT,
        _pad: [0; 6],
    };
    assert_eq!(h.dp.insert_synced_conn(&flow, &synced), SyncedInsert::New);
    assert_eq!(counts(&h), (0, 0), "a synced entry is the other director's");

    let me = h.if_mac;
    let inner = |flags| tcp_ip(REMOTE_CLIENT, VIP, 40000, 83, flags, b"data");
    let seg = |h: &Harness, flags| h.from_client(&inner(flags));
    h.run_fixtures(&[Fixture::new(
        "the first packet this director sees of it",
        seg(&h, TCP_ACK),
    )
    .tx(ipip(me, &inner(TCP_ACK), owner))
    .counters(&[("tx", 1), ("conn_hit", 1)])]);
    let c = h.dp.conn(&flow).expect("still held");
    assert_eq!(c.flags & CONN_F_SYNCED, 0, "now this director's: {c:?}");
    assert_eq!((c.real, c.state), (owner_id, CONN_S_ESTABLISHED));
    assert_eq!(counts(&h), (1, 0), "counted once it carries the flow");
    // A sync message about it no longer replaces it.
    assert_eq!(
        h.dp.insert_synced_conn(&flow, &synced),
        SyncedInsert::Local,
        "the local entry wins"
    );

    h.run_fixtures(&[
        Fixture::new("a later packet", seg(&h, TCP_ACK))
            .tx(ipip(me, &inner(TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
        Fixture::new("its FIN", seg(&h, TCP_FIN | TCP_ACK))
            .tx(ipip(me, &inner(TCP_FIN | TCP_ACK), owner))
            .counters(&[("tx", 1), ("conn_hit", 1)]),
    ]);
    assert_eq!(h.dp.conn(&flow).map(|c| c.state), Some(CONN_S_FIN_WAIT));
    assert_eq!(
        counts(&h),
        (0, 1),
        "counted once, followed to its closing state"
    );
}

#[test]
fn a_burst_of_synced_records_creates_refreshes_and_keeps_this_directors_own_entries() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let cfg = config().service(
        tcp_service(VIP, 83)
            .scheduler("wlc")
            .reals(REALS.iter().map(|r| real(*r).tun())),
    );
    let mut h = Harness::new(&cfg, &REALS);
    let ids = h.state.real_ids(&service_key(Protocol::Tcp, VIP, 83));
    let (owner, _, owner_id) = *ids.last().unwrap();
    let owner = match owner {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    };
    let flow = |port| flow_key(REMOTE_CLIENT, VIP, port, 83, IPPROTO_TCP);
    let synced = |state| Conn {
        real: owner_id,
        last_seen: conn_time(monotonic_ns()),
        state,
        flags: CONN_F_SYNCED | CONN_F_NOOUTPUT,
        _pad: [0; 6],
    };
    let entry = |port, state, known| SyncedEntry {
        key: flow(port),
        conn: synced(state),
        known,
    };
    // 41000: synced before, then made this director's by a packet it forwarded.
    assert_eq!(
        h.dp.insert_synced_conn(&flow(41000), &synced(CONN_S_ESTABLISHED)),
        SyncedInsert::New
    );
    let me = h.if_mac;
    let inner = tcp_ip(REMOTE_CLIENT, VIP, 41000, 83, TCP_ACK, b"data");
    h.run_fixtures(&[Fixture::new("a packet of 41000", h.from_client(&inner))
        .tx(ipip(me, &inner, owner))
        .counters(&[("tx", 1), ("conn_hit", 1)])]);
    let own = h.dp.conn(&flow(41000)).expect("41000 held");
    assert_eq!(own.flags & CONN_F_SYNCED, 0);
    // 41001: this director's unconfirmed flow (its SYN went through lb).
    let syn = h.syn(REMOTE_CLIENT, VIP, 41001, 83);
    assert_eq!(h.run("lb", &syn).action, 3, "the SYN is forwarded (XDP_TX)");
    assert!(h.dp.conn(&flow(41001)).is_some(), "41001 held unconfirmed");
    let entries_before = h.dp.conn_entries();

    // The hints (`known`) are wrong for 41002 and for the second record of 41003: both cost
    // a call more, neither changes what is written.
    let burst = [
        entry(41003, CONN_S_ESTABLISHED, false),
        entry(41002, CONN_S_ESTABLISHED, true),
        entry(41000, CONN_S_FIN_WAIT, true),
        entry(41000, CONN_S_FIN_WAIT, false),
        entry(41001, CONN_S_ESTABLISHED, false),
        entry(41003, CONN_S_FIN_WAIT, false),
        entry(41002, CONN_S_FIN_WAIT, true),
    ];
    assert_eq!(
        h.dp.insert_synced_conns(&burst),
        vec![
            SyncedInsert::New,
            SyncedInsert::New,
            SyncedInsert::Local,
            SyncedInsert::Local,
            SyncedInsert::Local,
            SyncedInsert::Refreshed,
            SyncedInsert::Refreshed,
        ]
    );
    for port in [41002, 41003] {
        let c = h.dp.conn(&flow(port)).expect("created");
        assert_eq!(
            (c.real, c.state, c.flags),
            (owner_id, CONN_S_FIN_WAIT, CONN_F_SYNCED | CONN_F_NOOUTPUT),
            "{port}: its last record wins"
        );
    }
    let after = h.dp.conn(&flow(41000)).expect("41000 held");
    assert_eq!(
        (after.real, after.state, after.flags),
        (own.real, own.state, own.flags),
        "this director's entry is unchanged"
    );
    let unconfirmed = h.dp.conn(&flow(41001)).expect("41001 held");
    assert_ne!(unconfirmed.flags & lb_common::CONN_F_UNCONFIRMED, 0);
    let entries_after = h.dp.conn_entries();
    assert_eq!(
        entries_after.0 - entries_before.0,
        2,
        "two entries created, counted once each"
    );
}

/// What `lb` tells lbd's sync sender (`lb_sync_events`): exactly the entries a sender must
/// read again (a connection confirmed by its second packet, a state change, an entry taken
/// over from another director), nothing for a packet that changes nothing, and nothing at all
/// while no sender asks for reports.
#[test]
fn lb_reports_to_the_sync_sender_each_change_it_must_send_and_nothing_else() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let cfg = config().service(
        tcp_service(VIP, 83)
            .scheduler("rr")
            .reals(REALS.iter().map(|r| real(*r).tun())),
    );
    let mut h = Harness::new(&cfg, &REALS);
    let flow = |port| flow_key(REMOTE_CLIENT, VIP, port, 83, IPPROTO_TCP);
    let seg =
        |h: &Harness, port, flags| h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, port, 83, flags, b""));
    let reports = |h: &mut Harness| {
        let mut v = Vec::new();
        h.dp.sync_events(1000, &mut v);
        v
    };
    macro_rules! tx {
        ($frame:expr, $what:expr) => {{
            let frame = $frame;
            assert_eq!(
                h.run("lb", &frame).action,
                3,
                "{} is forwarded (XDP_TX)",
                $what
            );
        }};
    }

    // Off (no sender): a whole connection's packets, no report.
    assert!(!h.dp.sync_events_on());
    tx!(h.syn(REMOTE_CLIENT, VIP, 42000, 83), "42000's SYN");
    tx!(seg(&h, 42000, TCP_ACK), "42000's ACK");
    assert_eq!(reports(&mut h), [], "nothing while off");

    h.dp.set_sync_events(true).unwrap();
    tx!(h.syn(REMOTE_CLIENT, VIP, 42001, 83), "42001's SYN");
    assert_eq!(reports(&mut h), [], "an unconfirmed flow is not synced");
    tx!(seg(&h, 42001, TCP_ACK), "42001's ACK");
    assert_eq!(
        reports(&mut h),
        [flow(42001)],
        "confirmed by its second packet"
    );
    tx!(seg(&h, 42001, TCP_ACK), "42001's next ACK");
    tx!(seg(&h, 42000, TCP_ACK), "42000's next ACK");
    assert_eq!(reports(&mut h), [], "packets that change nothing");
    tx!(seg(&h, 42001, TCP_ACK | TCP_FIN), "42001's FIN");
    assert_eq!(reports(&mut h), [flow(42001)], "its state moved");

    // A synced entry becomes this director's with the first packet it forwards.
    let ids = h.state.real_ids(&service_key(Protocol::Tcp, VIP, 83));
    let synced = Conn {
        real: ids[0].2,
        last_seen: conn_time(monotonic_ns()),
        state: CONN_S_ESTABLISHED,
        flags: CONN_F_SYNCED | CONN_F_NOOUTPUT,
        _pad: [0; 6],
    };
    assert_eq!(
        h.dp.insert_synced_conn(&flow(42002), &synced),
        SyncedInsert::New
    );
    assert_eq!(reports(&mut h), [], "lbd's own insert is not reported");
    tx!(seg(&h, 42002, TCP_ACK), "42002's ACK");
    assert_eq!(reports(&mut h), [flow(42002)], "taken over");
    assert_eq!(h.dp.reason(lb_common::reason::SYNC_EVENT_LOST).unwrap(), 0);

    // Off again: nothing, and nothing left over.
    tx!(seg(&h, 42002, TCP_ACK | TCP_FIN), "42002's FIN");
    h.dp.set_sync_events(false).unwrap();
    assert_eq!(reports(&mut h), [], "reports are dropped when they stop");
    tx!(h.syn(REMOTE_CLIENT, VIP, 42003, 83), "42003's SYN");
    tx!(seg(&h, 42003, TCP_ACK), "42003's ACK");
    assert_eq!(reports(&mut h), [], "nothing while off");
}
