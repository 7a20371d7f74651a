//! A TCP packet other than a SYN, of a flow lb does not hold (a director that restarted,
//! took over, or forgot it): the hash schedulers (`sh`, `dh`, `mh`) schedule it as every
//! director would (`tcp_mid_flow`); the others would pick a real server that knows nothing of
//! it, so it is dropped (`drop_tcp_mid_flow`) unless `sloppy_tcp` asks for it to be scheduled.
//! A RST is never scheduled (IPVS's rule): the hash schedulers pass it on, recorded nowhere.

use lb_common::{CONN_S_CLOSE, CONN_S_ESTABLISHED};
use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service},
    consts::{REALS, REMOTE_CLIENT, VIP},
    expect::ipip,
    fixture::Fixture,
    flow::flow_key,
    packet::{IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, tcp_ip},
    require_root,
    testrun::Harness,
};

/// tcp VIP:80 `mh`, VIP:83 `wlc`, VIP:85 `rr`, each over the three real servers (tun).
fn services() -> ConfigBuilder {
    let reals = || REALS.iter().map(|r| real(*r).tun());
    config()
        .service(tcp_service(VIP, 80).mh(251).reals(reals()))
        .service(tcp_service(VIP, 83).scheduler("wlc").reals(reals()))
        .service(tcp_service(VIP, 85).scheduler("rr").reals(reals()))
}

fn segment(h: &Harness, sport: u16, port: u16, flags: u8) -> (Vec<u8>, Vec<u8>) {
    let ip = tcp_ip(REMOTE_CLIENT, VIP, sport, port, flags, b"data");
    (h.from_client(&ip), ip)
}

/// The `mh` table's real server for the flow.
fn hashed(h: &Harness, sport: u16) -> std::net::Ipv4Addr {
    let flow = flow_key(REMOTE_CLIENT, VIP, sport, 80, IPPROTO_TCP);
    match h.table_real(&service_key(Protocol::Tcp, VIP, 80), &flow) {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    }
}

#[test]
fn hash_schedulers_take_a_flow_met_mid_way_the_others_drop_it() {
    require_root!();
    let mut h = Harness::new(&services(), &REALS);
    let me = h.if_mac;
    let (ack, ack_ip) = segment(&h, 41000, 80, TCP_ACK | TCP_PSH);
    let (fin, fin_ip) = segment(&h, 41001, 80, TCP_FIN | TCP_ACK);
    let (rst, rst_ip) = segment(&h, 41002, 80, TCP_RST);
    h.run_fixtures(&[
        Fixture::new("mh: data of a flow lb never saw", ack)
            .tx(ipip(me, &ack_ip, hashed(&h, 41000)))
            .counters(&[("tx", 1), ("conn_new", 1), ("tcp_mid_flow", 1)]),
        Fixture::new("mh: a FIN of a flow lb never saw", fin)
            .tx(ipip(me, &fin_ip, hashed(&h, 41001)))
            .counters(&[("tx", 1), ("conn_new", 1), ("tcp_mid_flow", 1)]),
        Fixture::new(
            "mh: a RST of a flow lb never saw: passed on, no connection",
            rst,
        )
        .tx(ipip(me, &rst_ip, hashed(&h, 41002)))
        .counters(&[("tx", 1), ("tcp_mid_flow", 1)]),
    ]);
    let state = |sport| {
        h.dp.conn(&flow_key(REMOTE_CLIENT, VIP, sport, 80, IPPROTO_TCP))
            .map(|c| c.state)
    };
    assert_eq!(
        state(41000),
        Some(CONN_S_ESTABLISHED),
        "recorded as established"
    );
    assert_eq!(
        state(41001),
        Some(CONN_S_CLOSE),
        "recorded as IPVS moves a FIN out of NONE: CLOSE"
    );
    assert_eq!(state(41002), None, "a RST is recorded nowhere");
    let mut fixtures = Vec::new();
    for port in [83, 85] {
        for (sport, flags) in [
            (41003, TCP_ACK),
            (41004, TCP_FIN | TCP_ACK),
            (41005, TCP_RST),
        ] {
            fixtures.push(
                Fixture::new(
                    format!("port {port}, flags {flags:#x}: dropped"),
                    segment(&h, sport, port, flags).0,
                )
                .dropped()
                .counters(&[("drop_tcp_mid_flow", 1)]),
            );
        }
    }
    h.run_fixtures(&fixtures);
    assert_eq!(
        h.dp.connections().len(),
        2,
        "only mh's data and FIN were recorded"
    );
}

#[test]
fn sloppy_tcp_schedules_a_flow_met_mid_way_with_every_scheduler_but_never_a_rst() {
    require_root!();
    let mut h = Harness::new(&services().sloppy_tcp(), &REALS);
    for port in [83, 85] {
        let (ack, _) = segment(&h, 42000 + port, port, TCP_ACK);
        let before = h.reasons();
        let out = h.run("lb", &ack);
        let mut d = lb_tests::testrun::reason_delta(&before, &h.reasons());
        d.sort();
        assert_eq!(out.action, lb_tests::consts::XDP_TX, "port {port}: {d:?}");
        assert_eq!(
            d,
            [("conn_new", 1), ("tcp_mid_flow", 1), ("tx", 1)],
            "port {port}"
        );
        let flow = flow_key(REMOTE_CLIENT, VIP, 42000 + port, port, IPPROTO_TCP);
        assert_eq!(h.dp.conn(&flow).map(|c| c.state), Some(CONN_S_ESTABLISHED));
        h.run_fixture(
            Fixture::new(
                format!("port {port}: a RST"),
                segment(&h, 43000, port, TCP_RST).0,
            )
            .dropped()
            .counters(&[("drop_tcp_mid_flow", 1)]),
        );
    }
}
