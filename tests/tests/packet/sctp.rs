//! SCTP services (ipvsadm `--sctp-service`): an INIT to the VIP is a new association, and
//! every forwarding method carries it: `tun` (IPIP, GUE, GRE) and `dr` leave the SCTP packet
//! as it is; `nat` changes addresses (the CRC32c stays: it covers no pseudo-header) and ports
//! (a new CRC32c, checked here with the `crc` crate, never lb's code), both ways, over IPv4
//! and IPv6. A packet of an association lb does not hold whose first chunk is no INIT
//! follows the unknown-flow policy (`sloppy_sctp`), and fragments and truncated headers go
//! to the host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, sctp_service, service_key},
    consts::{
        LOCAL_CLIENT, LOCAL_CLIENT6, REMOTE_CLIENT, VIP, VIP6, real_addr, real_addr6, real_mac,
    },
    expect::{Encap, direct, routed4, routed6, tunnelled},
    fixture::Fixture,
    flow::flow_key,
    packet::{
        IPPROTO_SCTP, Ipv4, Ipv6, SCTP_ABORT, SCTP_COOKIE_ACK, SCTP_COOKIE_ECHO, SCTP_DATA,
        SCTP_ERROR, SCTP_HEARTBEAT, SCTP_INIT_ACK, SCTP_SACK, SCTP_SHUTDOWN, SCTP_SHUTDOWN_ACK,
        SCTP_SHUTDOWN_COMPLETE, sctp, sctp_chunk, sctp_crc_ok, sctp_init, sctp_ip,
    },
    require_root,
    testrun::Harness,
};

const REAL: Ipv4Addr = real_addr(0);
const REAL6: Ipv6Addr = real_addr6(0);
const VTAG: u32 = 0x1234_5678;
/// A verification tag's value that a bad CRC update would show in (all bits set).
const VTAG2: u32 = 0xffff_ffff;

/// sctp VIP:80 tun (IPIP), :81 GUE, :82 GRE, :83 dr, :84 nat to port 8084, :85 nat keeping
/// the port, :86 nat to port 9000 with `rr` (not a hash scheduler); the same on VIP6 by
/// port (tun being IPv6 in IPv6).
fn services() -> ConfigBuilder {
    let mut c = config();
    for (vip, rip) in [
        (IpAddr::from(VIP), IpAddr::from(REAL)),
        (VIP6.into(), REAL6.into()),
    ] {
        c = c
            .service(sctp_service(vip, 80).mh(251).real(real(rip).tun()))
            .service(sctp_service(vip, 81).mh(251).real(real(rip).gue(6080)))
            .service(sctp_service(vip, 82).mh(251).real(real(rip).gre()))
            .service(sctp_service(vip, 83).mh(251).real(real(rip).dr()))
            .service(
                sctp_service(vip, 84)
                    .mh(251)
                    .real(real(rip).port(8084).nat()),
            )
            .service(sctp_service(vip, 85).mh(251).real(real(rip).nat()))
            .service(
                sctp_service(vip, 86)
                    .scheduler("rr")
                    .real(real(rip).port(9000).nat()),
            );
    }
    c
}

fn director(c: &ConfigBuilder) -> Harness {
    let n: [IpAddr; 4] = [
        REAL.into(),
        REAL6.into(),
        LOCAL_CLIENT.into(),
        LOCAL_CLIENT6.into(),
    ];
    Harness::new(c, &n)
}

/// What a router emits for an SCTP packet `seg` from `src` to `dst` (the client's header
/// fields), to `dmac` from `smac`.
fn routed(src: IpAddr, dst: IpAddr, dmac: [u8; 6], smac: [u8; 6], seg: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => routed4(&Ipv4::new(s, d, IPPROTO_SCTP), dmac, smac, seg),
        (IpAddr::V6(s), IpAddr::V6(d)) => routed6(&Ipv6::new(s, d, IPPROTO_SCTP), dmac, smac, seg),
        _ => panic!("mixed families"),
    }
}

#[test]
fn an_init_reaches_the_real_server_by_every_forwarding_method_over_ipv4_and_ipv6() {
    require_root!();
    let mut h = director(&services());
    let me = h.if_mac;
    for (client, vip, rip) in [
        (
            IpAddr::from(LOCAL_CLIENT),
            IpAddr::from(VIP),
            IpAddr::from(REAL),
        ),
        (LOCAL_CLIENT6.into(), VIP6.into(), REAL6.into()),
    ] {
        let v = if vip.is_ipv4() { "IPv4" } else { "IPv6" };
        let init = |sport: u16, port: u16| sctp(sport, port, 0, &sctp_init(VTAG2));
        let from_client = |h: &Harness, sport: u16, port: u16| {
            h.from_client(&sctp_ip(client, vip, sport, port, 0, &sctp_init(VTAG2)))
        };
        let flow = |sport: u16, port: u16| flow_key(client, vip, sport, port, IPPROTO_SCTP);
        let mut fixtures = Vec::new();
        for (port, encap, what) in [
            (80, Encap::Ip, "IPIP / IPv6 in IPv6"),
            (81, Encap::Gue(6080), "GUE"),
            (82, Encap::Gre, "GRE"),
        ] {
            let f = from_client(&h, 40000 + port, port);
            fixtures.push(
                Fixture::new(format!("{v} tun {what}: the INIT whole"), f.clone())
                    .tx(tunnelled(
                        me,
                        &f[14..],
                        rip,
                        encap,
                        &flow(40000 + port, port),
                    ))
                    .counters(&[("tx", 1), ("conn_new", 1)]),
            );
        }
        let f = from_client(&h, 40083, 83);
        fixtures.push(
            Fixture::new(
                format!("{v} dr: the frame to the real server's MAC"),
                f.clone(),
            )
            .tx(direct(&f, me, rip))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        // nat: the port changes, so does the CRC32c (recomputed by the crc crate here).
        let out = init(40084, 8084);
        assert!(sctp_crc_ok(&out));
        fixtures.push(
            Fixture::new(
                format!("{v} nat, port 84 -> 8084: a new CRC32c"),
                from_client(&h, 40084, 84),
            )
            .tx(routed(client, rip, real_mac(rip), me, &out))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        // nat keeping the port: the CRC32c is the client's, byte for byte.
        let keep = init(40085, 85);
        fixtures.push(
            Fixture::new(
                format!("{v} nat, port kept: the CRC32c as it came"),
                from_client(&h, 40085, 85),
            )
            .tx(routed(client, rip, real_mac(rip), me, &keep))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        let got = h.run_fixtures(&fixtures);
        for (f, g) in fixtures.iter().zip(&got) {
            let ip = &g[14..];
            let l4 = if ip[0] >> 4 == 4 {
                ((ip[0] & 0xf) as usize) * 4
            } else {
                40
            };
            if f.what.contains("nat") {
                assert!(sctp_crc_ok(&ip[l4..]), "{}: CRC32c", f.what);
            }
        }
    }
}

#[test]
fn nat_rewrites_an_association_both_ways_with_crc32c_checked_independently() {
    require_root!();
    let mut h = director(&services());
    let me = h.if_mac;
    for (client, vip, rip) in [
        (
            IpAddr::from(LOCAL_CLIENT),
            IpAddr::from(VIP),
            IpAddr::from(REAL),
        ),
        (LOCAL_CLIENT6.into(), VIP6.into(), REAL6.into()),
    ] {
        let v = if vip.is_ipv4() { "IPv4" } else { "IPv6" };
        let sport = 41000;
        // A payload of some length, so that the update spans more than the header.
        let data: Vec<u8> = (0..333u32).map(|i| (i * 13 + 1) as u8).collect();
        let init = h.from_client(&sctp_ip(client, vip, sport, 84, 0, &sctp_init(VTAG)));
        h.run_fixture(
            Fixture::new(format!("{v}: INIT in"), init)
                .tx(routed(
                    client,
                    rip,
                    real_mac(rip),
                    me,
                    &sctp(sport, 8084, 0, &sctp_init(VTAG)),
                ))
                .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        // The real server's INIT ACK comes back from the VIP's port.
        let ack = sctp_chunk(SCTP_INIT_ACK, 0, &data);
        let reply = h.from_neighbour(rip, &sctp_ip(rip, client, 8084, sport, VTAG, &ack));
        let out = sctp(84, sport, VTAG, &ack);
        assert!(sctp_crc_ok(&out));
        h.run_fixture(
            Fixture::new(format!("{v}: INIT ACK out, from VIP:84"), reply)
                .tx(routed(vip, client, real_mac(client), me, &out))
                .counters(&[("nat_reply", 1)]),
        );
        // The client's COOKIE ECHO with DATA bundled: confirmed, rewritten.
        let mut chunks = sctp_chunk(SCTP_COOKIE_ECHO, 0, &data[..100]);
        chunks.extend(sctp_chunk(SCTP_DATA, 3, &data));
        let echo = h.from_client(&sctp_ip(client, vip, sport, 84, VTAG2, &chunks));
        h.run_fixture(
            Fixture::new(format!("{v}: COOKIE ECHO + DATA in"), echo)
                .tx(routed(
                    client,
                    rip,
                    real_mac(rip),
                    me,
                    &sctp(sport, 8084, VTAG2, &chunks),
                ))
                .counters(&[("tx", 1), ("conn_hit", 1), ("conn_promoted", 1)]),
        );
        let conns = h.dp.connections();
        let c = conns
            .iter()
            .find(|(k, _)| *k == flow_key(client, vip, sport, 84, IPPROTO_SCTP))
            .expect("the association is confirmed");
        assert_eq!(lb_common::state_name(c.1.state), "C-REPLIED", "{v}");
    }
    let s = h.service_stats(h.service_id(&service_key(Protocol::Sctp, VIP, 84)));
    assert_eq!((s.conns, s.in_pkts, s.out_pkts), (1, 2, 1));
}

#[test]
fn an_unknown_association_s_other_chunks_follow_sloppy_sctp() {
    require_root!();
    // Port 86: rr (drops a non-INIT without sloppy_sctp); port 84: mh (a hash: schedules it).
    let c = |h: &Harness, sport: u16, port: u16, chunk: &[u8]| {
        h.from_client(&sctp_ip(REMOTE_CLIENT, VIP, sport, port, VTAG, chunk))
    };
    let sack = sctp_chunk(SCTP_SACK, 0, &[0; 12]);
    let abort = sctp_chunk(SCTP_ABORT, 0, &[]);
    let mut h = director(&services());
    let me = h.if_mac;
    h.run_fixtures(&[
        Fixture::new(
            "rr: a SACK of an unknown association",
            c(&h, 42000, 86, &sack),
        )
        .dropped()
        .counters(&[("drop_sctp_mid_flow", 1)]),
        Fixture::new("rr: an ABORT", c(&h, 42001, 86, &abort))
            .dropped()
            .counters(&[("drop_sctp_mid_flow", 1)]),
        Fixture::new(
            "mh: a SACK goes where the hash says",
            c(&h, 42002, 84, &sack),
        )
        .tx(routed(
            REMOTE_CLIENT.into(),
            REAL.into(),
            real_mac(REAL),
            me,
            &sctp(42002, 8084, VTAG, &sack),
        ))
        .counters(&[("tx", 1), ("conn_new", 1), ("sctp_mid_flow", 1)]),
    ]);
    let mut h = director(&services().sloppy_sctp());
    let me = h.if_mac;
    h.run_fixtures(&[
        Fixture::new("sloppy_sctp, rr: a SACK scheduled", c(&h, 42003, 86, &sack))
            .tx(routed(
                REMOTE_CLIENT.into(),
                REAL.into(),
                real_mac(REAL),
                me,
                &sctp(42003, 9000, VTAG, &sack),
            ))
            .counters(&[("tx", 1), ("conn_new", 1), ("sctp_mid_flow", 1)]),
        Fixture::new("sloppy_sctp, rr: an ABORT never", c(&h, 42004, 86, &abort))
            .dropped()
            .counters(&[("drop_sctp_mid_flow", 1)]),
    ]);
}

#[test]
fn sctp_fragments_and_truncated_headers_go_to_the_host() {
    require_root!();
    let mut h = director(&services());
    let mut ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_SCTP);
    ip.frag = 0x2000; // MF, offset 0
    let first = h.from_client(&ip.build(&sctp(43000, 84, 0, &sctp_init(VTAG))));
    // The common header alone: RFC 9260 requires a chunk.
    let bare = h.from_client(&sctp_ip(LOCAL_CLIENT, VIP, 43001, 84, 0, &[]));
    h.run_fixtures(&[
        Fixture::new("a first fragment", first)
            .pass()
            .counters(&[("pass_fragment", 1)]),
        Fixture::new("no chunk", bare)
            .pass()
            .counters(&[("pass_short_l4", 1)]),
    ]);
}

/// IPVS's `sctp_states`, as ip_vs_proto_sctp.c writes it, transcribed here on its own (not
/// from lb-common's copy): per direction, one row per event; the columns are the current
/// state, in `STATES`' order.
const IPVS_SCTP_STATES: &str = "
INPUT
d   sES sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
i   sI1 sIN sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sIN sIN
i_a sCW sCW sCW sCS sCR sCO sCO sCE sES sSS sSR sSA sRJ sCL
c_e sCR sIN sIN sCR sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
c_a sES sI1 sIN sCS sCR sCW sCO sES sES sSS sSR sSA sRJ sCL
s   sSR sI1 sIN sCS sCR sCW sCO sCE sSR sSS sSR sSA sRJ sCL
s_a sCL sIN sIN sCS sCR sCW sCO sCE sES sCL sSR sCL sRJ sCL
s_c sCL sCL sCL sCS sCR sCW sCO sCE sES sSS sSR sCL sRJ sCL
err sCL sI1 sIN sCS sCR sCW sCO sCL sES sSS sSR sSA sRJ sCL
ab  sCL sCL sCL sCL sCL sRJ sCL sCL sCL sCL sCL sCL sCL sCL
OUTPUT
d   sES sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
i   sCW sCW sCW sCW sCW sCW sCW sCW sES sCW sCW sCW sCW sCW
i_a sCS sCS sCS sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
c_e sCE sCE sCE sCE sCE sCE sCE sCE sES sSS sSR sSA sRJ sCL
c_a sES sES sES sES sES sES sES sES sES sSS sSR sSA sRJ sCL
s   sSS sSS sSS sSS sSS sSS sSS sSS sSS sSS sSR sSA sRJ sCL
s_a sSA sSA sSA sSA sSA sCW sCO sCE sES sSA sSA sSA sRJ sCL
s_c sCL sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
err sCL sCL sCL sCL sCL sCW sCO sCE sES sSS sSR sSA sRJ sCL
ab  sCL sRJ sCL sCL sCL sCL sCL sCL sCL sCL sCL sCL sCL sCL
INPUT-ONLY
d   sES sI1 sIN sCS sCR sES sCO sCE sES sSS sSR sSA sRJ sCL
i   sI1 sIN sIN sIN sIN sIN sCO sCE sES sSS sSR sSA sIN sIN
i_a sCE sCE sCE sCE sCE sCE sCO sCE sES sSS sSR sSA sRJ sCL
c_e sES sES sES sES sES sES sCO sCE sES sSS sSR sSA sRJ sCL
c_a sES sI1 sIN sES sES sCW sES sES sES sSS sSR sSA sRJ sCL
s   sSR sI1 sIN sCS sCR sCW sCO sCE sSR sSS sSR sSA sRJ sCL
s_a sCL sIN sIN sCS sCR sCW sCO sCE sCL sCL sSR sCL sRJ sCL
s_c sCL sCL sCL sCL sCL sCW sCO sCE sES sSS sCL sCL sRJ sCL
err sCL sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
ab  sCL sCL sCL sCL sCL sRJ sCL sCL sCL sCL sCL sCL sCL sCL
";

/// IPVS's SCTP states in number order (`IP_VS_SCTP_S_*`): the table's abbreviation and the
/// name `ipvsadm -L -c` prints (`sctp_state_name_table`).
const STATES: [(&str, &str); 14] = [
    ("sNO", "NONE"),
    ("sI1", "INIT1"),
    ("sIN", "INIT"),
    ("sCS", "C-SENT"),
    ("sCR", "C-REPLIED"),
    ("sCW", "C-WAIT"),
    ("sCO", "COOKIE"),
    ("sCE", "C-ECHOED"),
    ("sES", "ESTABLISHED"),
    ("sSS", "S-SENT"),
    ("sSR", "S-RECEIVED"),
    ("sSA", "S-ACK-SENT"),
    ("sRJ", "REJECTED"),
    ("sCL", "CLOSED"),
];

/// lb keeps IPVS's SCTP state n as 32 + n (a state alone says its protocol).
const LB_SCTP_BASE: u8 = 32;

/// The packets sent in each state (chunks after the common header) and the table's row each
/// one takes (`sctp_events`; an ABORT right after a COOKIE ECHO or COOKIE ACK is the packet's
/// event).
fn packets() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let c = |ty, v: &[u8]| sctp_chunk(ty, 0, v);
    let cat = |a: Vec<u8>, b: Vec<u8>| [a, b].concat();
    vec![
        ("DATA", c(SCTP_DATA, &[1; 20]), "d"),
        ("SACK", c(SCTP_SACK, &[0; 12]), "d"),
        ("HEARTBEAT", c(SCTP_HEARTBEAT, &[0; 8]), "d"),
        ("type 200", c(200, &[]), "d"),
        ("INIT", sctp_init(VTAG), "i"),
        ("INIT ACK", c(SCTP_INIT_ACK, &[2; 16]), "i_a"),
        ("COOKIE ECHO", c(SCTP_COOKIE_ECHO, &[3; 37]), "c_e"),
        ("COOKIE ACK", c(SCTP_COOKIE_ACK, &[]), "c_a"),
        ("SHUTDOWN", c(SCTP_SHUTDOWN, &[0; 4]), "s"),
        ("SHUTDOWN ACK", c(SCTP_SHUTDOWN_ACK, &[]), "s_a"),
        ("SHUTDOWN COMPLETE", c(SCTP_SHUTDOWN_COMPLETE, &[]), "s_c"),
        ("ERROR", c(SCTP_ERROR, &[0; 4]), "err"),
        ("ABORT", c(SCTP_ABORT, &[]), "ab"),
        (
            "COOKIE ECHO + ABORT",
            cat(c(SCTP_COOKIE_ECHO, &[3; 37]), c(SCTP_ABORT, &[])),
            "ab",
        ),
        (
            "COOKIE ACK + ABORT",
            cat(c(SCTP_COOKIE_ACK, &[]), c(SCTP_ABORT, &[])),
            "ab",
        ),
        (
            "COOKIE ECHO + DATA",
            cat(c(SCTP_COOKIE_ECHO, &[3; 37]), c(SCTP_DATA, &[1; 20])),
            "c_e",
        ),
    ]
}

fn ipvs_next(dir: &str, row: &str, state: usize) -> usize {
    let mut in_dir = false;
    for line in IPVS_SCTP_STATES.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [d] => in_dir = *d == dir,
            [r, next @ ..] if in_dir && *r == row => {
                return STATES.iter().position(|(a, _)| *a == next[state]).unwrap();
            }
            _ => {}
        }
    }
    panic!("no row {row} in {dir}")
}

#[test]
#[allow(clippy::needless_range_loop)] // `state` is a state's number, not only an index.
fn every_transition_of_ipvs_s_sctp_table_in_every_forwarding_method() {
    use lb_common::{CONN_F_NOOUTPUT, CONN_F_REPLY, CONN_F_SYNCED, Conn, RealConns, conn_time};
    use lb_daemon::dataplane::{SyncedInsert, monotonic_ns};
    require_root!();
    lb_tests::pin_to_cpu0();
    // conn_reuse_mode 0: an INIT in CLOSED follows the table too.
    let mut h = director(&services().conn_reuse_mode(0));
    let me = h.if_mac;
    let client = LOCAL_CLIENT;
    let sport = 44000;
    let counts = |h: &Harness, id: u32| {
        let RealConns { active, inactive } = h.dp.real_conns(id).unwrap();
        (active, inactive)
    };
    let class = |s: usize| {
        if STATES[s].1 == "ESTABLISHED" {
            (1, 0)
        } else {
            (0, 1)
        }
    };
    let mut checked = 0;
    for (method, port) in [("tun", 80u16), ("dr", 83), ("nat", 84)] {
        let id = h.state.real_ids(&service_key(Protocol::Sctp, VIP, port))[0].2;
        let flow = flow_key(client, VIP, sport, port, IPPROTO_SCTP);
        let nat = method == "nat";
        let hold = |h: &mut Harness, state: usize| {
            h.dp.delete_conn(&flow);
            let (a, i) = counts(h, id);
            h.dp.add_real_conns(id, -a, -i).unwrap();
            let c = Conn {
                real: id,
                last_seen: conn_time(monotonic_ns()),
                state: LB_SCTP_BASE + state as u8,
                flags: CONN_F_SYNCED | if nat { 0 } else { CONN_F_NOOUTPUT },
                _pad: [0; 6],
            };
            assert_eq!(h.dp.insert_synced_conn(&flow, &c), SyncedInsert::New);
        };
        let state_of = |h: &Harness| {
            let c = h.dp.conn(&flow).expect("the association is held");
            (c.state - LB_SCTP_BASE) as usize
        };
        let dir = if nat { "INPUT" } else { "INPUT-ONLY" };
        for state in 0..STATES.len() {
            for (what, chunks, row) in packets() {
                let what = format!("{method}: {} + client's {what}", STATES[state].1);
                hold(&mut h, state);
                let ip = sctp_ip(client, VIP, sport, port, VTAG, &chunks);
                let out = h.run("lb", &h.from_client(&ip));
                assert_eq!(out.action, lb_tests::consts::XDP_TX, "{what}");
                let want_frame = match method {
                    "tun" => lb_tests::expect::ipip(me, &ip, REAL),
                    "dr" => direct(&h.from_client(&ip), me, REAL),
                    _ => routed(
                        client.into(),
                        REAL.into(),
                        real_mac(REAL),
                        me,
                        &sctp(sport, 8084, VTAG, &chunks),
                    ),
                };
                lb_tests::fixture::assert_frame(&what, &out.data, &want_frame);
                let want = ipvs_next(dir, row, state);
                let got = state_of(&h);
                assert_eq!(STATES[got].1, STATES[want].1, "{what}");
                assert_eq!(
                    lb_common::state_name(LB_SCTP_BASE + got as u8),
                    STATES[got].1
                );
                assert_eq!(counts(&h, id), class(want), "{what}: counts");
                checked += 1;
            }
        }
        if !nat {
            continue;
        }
        // The real server's packets: the output table.
        let reply_flow = flow_key(REAL, client, 8084, sport, IPPROTO_SCTP);
        for state in 0..STATES.len() {
            for (what, chunks, row) in packets() {
                let what = format!("{method}: {} + real server's {what}", STATES[state].1);
                hold(&mut h, state);
                h.dp.delete_conn(&reply_flow);
                let e = Conn {
                    real: id,
                    last_seen: conn_time(monotonic_ns()),
                    state: 0,
                    flags: CONN_F_REPLY | CONN_F_SYNCED,
                    _pad: [0; 6],
                };
                assert_eq!(h.dp.insert_synced_conn(&reply_flow, &e), SyncedInsert::New);
                let ip = sctp_ip(REAL, client, 8084, sport, VTAG, &chunks);
                let out = h.run("lb", &h.from_neighbour(REAL, &ip));
                assert_eq!(out.action, lb_tests::consts::XDP_TX, "{what}");
                lb_tests::fixture::assert_frame(
                    &what,
                    &out.data,
                    &routed(
                        VIP.into(),
                        client.into(),
                        real_mac(client),
                        me,
                        &sctp(port, sport, VTAG, &chunks),
                    ),
                );
                let mut want = ipvs_next("OUTPUT", row, state);
                if row == "d" && state == 0 {
                    // lb does not look at a real server's DATA-class packets (no second
                    // lookup per reply): IPVS's table moves only NONE on them, a state no
                    // association lb holds is in (it starts at INIT1, or mid-way at the
                    // state its first chunk gives, never NONE).
                    want = state;
                }
                let got = state_of(&h);
                assert_eq!(STATES[got].1, STATES[want].1, "{what}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * STATES.len() * packets().len());
}

#[test]
fn an_init_of_a_closed_association_is_a_new_one_with_conn_reuse_mode() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let mut h = director(&services());
    let me = h.if_mac;
    let flow = flow_key(LOCAL_CLIENT, VIP, 45000, 84, IPPROTO_SCTP);
    let send = |h: &mut Harness, chunks: &[u8]| {
        let ip = sctp_ip(LOCAL_CLIENT, VIP, 45000, 84, VTAG, chunks);
        let before = h.reasons();
        let out = h.run("lb", &h.from_client(&ip));
        assert_eq!(out.action, lb_tests::consts::XDP_TX);
        assert_eq!(
            out.data,
            routed(
                LOCAL_CLIENT.into(),
                REAL.into(),
                real_mac(REAL),
                me,
                &sctp(45000, 8084, VTAG, chunks)
            )
        );
        lb_tests::testrun::reason_delta(&before, &h.reasons())
    };
    let state = |h: &Harness| lb_common::state_name(h.dp.conn(&flow).expect("held").state);
    send(&mut h, &sctp_init(VTAG));
    // The real server's INIT ACK (lb's reply path), then the client's COOKIE ECHO.
    let ack = sctp_chunk(SCTP_INIT_ACK, 0, &[2; 16]);
    let ack = h.from_neighbour(REAL, &sctp_ip(REAL, LOCAL_CLIENT, 8084, 45000, VTAG, &ack));
    assert_eq!(h.run("lb", &ack).action, lb_tests::consts::XDP_TX);
    send(&mut h, &sctp_chunk(SCTP_COOKIE_ECHO, 0, &[3; 8]));
    assert_eq!(state(&h), "C-REPLIED");
    send(&mut h, &sctp_chunk(SCTP_ABORT, 0, &[]));
    assert_eq!(state(&h), "CLOSED");
    let d = send(&mut h, &sctp_init(VTAG));
    assert!(
        d.contains(&("conn_reused", 1)) && d.contains(&("conn_new", 1)),
        "{d:?}"
    );
}

#[test]
fn icmp_errors_about_sctp_follow_their_association() {
    use lb_tests::{
        consts::{CLIENT_MAC, ROUTER},
        expect::{answer, ipip},
        packet::{IPPROTO_ICMP, icmp4, ip},
    };
    require_root!();
    let mut h = director(&services());
    let me = h.if_mac;
    let init = h.from_client(&sctp_ip(REMOTE_CLIENT, VIP, 46000, 80, 0, &sctp_init(VTAG)));
    // A router tells the VIP that its reply (VIP:80 -> client) is too big, quoting its IP
    // header and the first 8 bytes of SCTP (the ports and the verification tag).
    let reply = sctp_ip(
        VIP,
        REMOTE_CLIENT,
        80,
        46000,
        VTAG,
        &sctp_chunk(SCTP_DATA, 3, &[0; 1400]),
    );
    let err = h.from_client(&ip(
        ROUTER,
        VIP,
        IPPROTO_ICMP,
        &icmp4(3, 4, [0, 0, 0x05, 0x78], &reply[..28]),
    ));
    // 1488 bytes with DF + 20 of IPIP > 1500: the client hears that 1480 fits, with as much
    // of its packet as a 576-byte answer holds (RFC 1812 4.3.2.3).
    let big = sctp_ip(
        REMOTE_CLIENT,
        VIP,
        46000,
        80,
        VTAG,
        &sctp_chunk(SCTP_DATA, 3, &[7; 1452]),
    );
    assert_eq!(big.len(), 1488);
    let mut rip = Ipv4::new(VIP, REMOTE_CLIENT, IPPROTO_ICMP);
    rip.id = 0;
    rip.frag = 0;
    let mtu = 1480u16.to_be_bytes();
    let frag_needed = answer(
        me,
        CLIENT_MAC,
        &rip.build(&icmp4(3, 4, [0, 0, mtu[0], mtu[1]], &big[..548])),
    );
    h.run_fixtures(&[
        Fixture::new("the association", init.clone())
            .tx(ipip(me, &init[14..], REAL))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new(
            "fragmentation needed: to the association's real server",
            err.clone(),
        )
        .tx(ipip(me, &err[14..], REAL))
        .counters(&[("icmp_error_forwarded", 1)]),
        Fixture::new("1488 bytes with DF, tunnelled", h.from_client(&big))
            .tx(frag_needed)
            .counters(&[
                ("icmp_too_big_sent", 1),
                ("conn_hit", 1),
                ("conn_promoted", 1),
            ]),
    ]);
}
