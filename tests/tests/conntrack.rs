//! Connection states, the real servers' active / inactive counts, and lbd's expiry: the XDP
//! program's half through `BPF_PROG_TEST_RUN`, lbd's half through the same code lbd runs.

use std::net::Ipv4Addr;

use lb_common::{CONN_S_CLOSING, CONN_S_ESTABLISHED, CONN_S_SYN, CONN_S_UDP, RealConns};
use lb_daemon::{
    config::Protocol,
    conntrack::{Conntrack, Timeouts, monotonic_ns},
    state::vip_key,
};
use lb_tests::{
    packet::{ETH_P_IP, Ipv4, eth, tcp, udp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, Harness},
};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);
const REAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const XDP_TX: u32 = 3;

fn harness() -> Harness {
    let config = format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 4096,
            "services": [
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL}", "forwarding": "tun" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 81, "scheduler": "mh", "mh_table_size": 251,
             "real_servers": [ {{ "address": "{REAL}", "port": 8081, "forwarding": "nat" }} ] }} ] }}"#
    );
    Harness::new(&config, &[REAL, CLIENT])
}

fn segment(h: &Harness, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, sport, dport, flags, b"")),
    )
}

fn real_id(h: &Harness, proto: Protocol, port: u16) -> u32 {
    h.state.real_ids(&vip_key(proto, VIP.into(), port))[0].2
}

fn counts(h: &Harness, id: u32) -> (i64, i64) {
    let RealConns { active, inactive } = h.dp.real_conns(id).unwrap();
    (active, inactive)
}

fn only_state(h: &Harness) -> u32 {
    let c = h.dp.connections();
    assert_eq!(c.len(), 1, "{c:?}");
    c[0].1.state
}

#[test]
fn tcp_states_move_the_real_servers_counts_as_ipvs_counts_them() {
    require_root!();
    let mut h = harness();
    let id = real_id(&h, Protocol::Tcp, 80);
    for (flags, state, want, what) in [
        (0x02, CONN_S_SYN, (0, 1), "SYN: inactive"),
        (0x10, CONN_S_ESTABLISHED, (1, 0), "ACK after SYN: active"),
        (0x18, CONN_S_ESTABLISHED, (1, 0), "data: still active"),
        (0x11, CONN_S_CLOSING, (0, 1), "FIN: inactive again"),
        (0x02, CONN_S_SYN, (0, 1), "a new SYN on the same 5-tuple"),
        (0x04, CONN_S_CLOSING, (0, 1), "RST"),
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
    let mut h = harness();
    h.run("lb", &segment(&h, 40001, 80, 0x10));
    assert_eq!(only_state(&h), CONN_S_ESTABLISHED);
    assert_eq!(counts(&h, real_id(&h, Protocol::Tcp, 80)), (1, 0));
    let dgram = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT, VIP, 17).build(&udp(CLIENT, VIP, 5353, 53, b"q")),
    );
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
    let mut h = harness();
    let id = real_id(&h, Protocol::Tcp, 80);
    h.run("lb", &segment(&h, 40002, 80, 0x02)); // SYN: 60 s
    h.run("lb", &segment(&h, 40003, 80, 0x02));
    h.run("lb", &segment(&h, 40003, 80, 0x10)); // established: tcp timeout
    assert_eq!(counts(&h, id), (1, 1));
    let mut ct = Conntrack::new(Timeouts {
        tcp: 900,
        tcpfin: 120,
        udp: 300,
    });
    let reals = h.state.all_real_ids();
    let now = monotonic_ns();
    let r = ct.pass(&mut h.dp, now, &reals).unwrap();
    assert_eq!((r.expired, r.entries), (0, 2), "nothing idle yet: {r:?}");
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
fn nat_reply_entries_go_with_their_connection() {
    require_root!();
    let mut h = harness();
    h.run("lb", &segment(&h, 40004, 81, 0x02));
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
    let mut h = harness();
    let id = real_id(&h, Protocol::Tcp, 80);
    h.run("lb", &segment(&h, 40005, 80, 0x10));
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
