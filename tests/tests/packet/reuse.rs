//! A client's tuple reused, as IPVS's `conn_reuse_mode` treats it: a SYN of a connection lb
//! holds in a closing state ends that connection and starts a new one, scheduled and counted
//! anew, in every forwarding method and whether the old connection was confirmed or not; with
//! `conn_reuse_mode` 0 the SYN goes on to the old connection's real server, uncounted.

use std::net::Ipv4Addr;

use lb_common::{CONN_F_REPLY, CONN_F_UNCONFIRMED};
use lb_daemon::{dataplane::monotonic_ns, expiry::Conntrack};
use lb_model::config::Timeouts;
use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service},
    consts::{REALS, REMOTE_CLIENT, VIP, XDP_TX, real_mac},
    expect::{direct, ipip, routed4},
    packet::{IPPROTO_TCP, Ipv4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, tcp, tcp_ip},
    require_root,
    testrun::{Harness, reason_delta},
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    Tun,
    Dr,
    Nat,
}

const METHODS: [(Method, u16); 3] = [(Method::Tun, 80), (Method::Dr, 81), (Method::Nat, 82)];
const NAT_PORT: u16 = 8080;
const SPORT: u16 = 40000;

/// rr over REALS[0] and REALS[1], once per forwarding method (tcp VIP:80 tun, :81 dr, :82
/// nat), with `conn_reuse_mode` `mode`.
fn services(mode: u32) -> ConfigBuilder {
    let reals = |m: Method| {
        REALS[..2].iter().map(move |r| match m {
            Method::Tun => real(*r).tun(),
            Method::Dr => real(*r).dr(),
            Method::Nat => real(*r).port(NAT_PORT).nat(),
        })
    };
    let mut c = config().conn_reuse_mode(mode);
    for (m, port) in METHODS {
        c = c.service(tcp_service(VIP, port).scheduler("rr").reals(reals(m)));
    }
    c
}

/// What `lb` sends for the client's segment with `flags` to `port` when its real server is
/// `to`.
fn sent(h: &Harness, m: Method, port: u16, flags: u8, to: Ipv4Addr) -> Vec<u8> {
    let ip = tcp_ip(REMOTE_CLIENT, VIP, SPORT, port, flags, b"");
    let me = h.if_mac;
    match m {
        Method::Tun => ipip(me, &ip, to),
        Method::Dr => direct(&h.from_client(&ip), me, to),
        Method::Nat => routed4(
            &Ipv4::new(REMOTE_CLIENT, to, IPPROTO_TCP),
            real_mac(to),
            me,
            &tcp(REMOTE_CLIENT, to, SPORT, NAT_PORT, flags, b""),
        ),
    }
}

/// Sends the client's segment; returns the real server it went to and the counters' change.
fn send(h: &mut Harness, m: Method, port: u16, flags: u8) -> (Ipv4Addr, Vec<(&'static str, u64)>) {
    let frame = h.from_client(&tcp_ip(REMOTE_CLIENT, VIP, SPORT, port, flags, b""));
    let before = h.reasons();
    let out = h.run("lb", &frame);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(out.action, XDP_TX, "{m:?} flags {flags:#x}: {d:?}");
    let to = REALS[..2]
        .iter()
        .copied()
        .find(|r| out.data == sent(h, m, port, flags, *r))
        .unwrap_or_else(|| panic!("{m:?} flags {flags:#x}: not sent to a real server as expected"));
    (to, d)
}

fn conns(h: &Harness, port: u16) -> u64 {
    let key = service_key(Protocol::Tcp, VIP, port);
    h.service_stats(h.service_id(&key)).conns
}

/// The ways a connection gets to a closing state: confirmed then FIN, confirmed then RST,
/// and a RST before it was ever confirmed.
const CLOSINGS: [(&str, &[u8]); 3] = [
    ("FIN after the handshake", &[TCP_ACK, TCP_FIN | TCP_ACK]),
    ("RST after the handshake", &[TCP_ACK, TCP_RST]),
    ("RST of an unconfirmed connection", &[TCP_RST]),
];

#[test]
fn a_syn_on_a_closing_connection_starts_a_new_one_in_every_forwarding_method() {
    require_root!();
    for (m, port) in METHODS {
        for (what, after_syn) in CLOSINGS {
            lb_tests::pin_to_cpu0();
            let mut h = Harness::new(&services(1), &REALS);
            let (first, d) = send(&mut h, m, port, TCP_SYN);
            assert_eq!(d, [("tx", 1), ("conn_new", 1)], "{m:?} {what}");
            for f in after_syn {
                assert_eq!(send(&mut h, m, port, *f).0, first, "{m:?} {what}");
            }
            assert_eq!(conns(&h, port), 1);
            // The tuple again, in a SYN: a new connection, scheduled anew (rr: the other
            // real server) and counted.
            let (second, d) = send(&mut h, m, port, TCP_SYN);
            let mut d = d;
            d.sort();
            assert_eq!(
                d,
                [("conn_new", 1), ("conn_reused", 1), ("tx", 1)],
                "{m:?} {what}"
            );
            assert_ne!(second, first, "{m:?} {what}: scheduled anew");
            assert_eq!(conns(&h, port), 2, "{m:?} {what}: counted");
            // It goes on as a connection of its own: its ACK to the same real server.
            assert_eq!(send(&mut h, m, port, TCP_ACK).0, second, "{m:?} {what}");
        }
    }
}

#[test]
fn with_conn_reuse_mode_0_the_syn_goes_on_to_the_old_real_server() {
    require_root!();
    for (m, port) in METHODS {
        lb_tests::pin_to_cpu0();
        let mut h = Harness::new(&services(0), &REALS);
        let (first, _) = send(&mut h, m, port, TCP_SYN);
        send(&mut h, m, port, TCP_ACK);
        send(&mut h, m, port, TCP_FIN | TCP_ACK);
        let (again, d) = send(&mut h, m, port, TCP_SYN);
        assert_eq!(again, first, "{m:?}");
        assert_eq!(d, [("tx", 1), ("conn_hit", 1)], "{m:?}");
        assert_eq!(conns(&h, port), 1, "{m:?}: not a new connection");
    }
}

#[test]
fn a_syn_retransmitted_or_on_an_established_connection_is_no_new_connection() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let mut h = Harness::new(&services(1), &REALS);
    let (first, _) = send(&mut h, Method::Tun, 80, TCP_SYN);
    let (again, d) = send(&mut h, Method::Tun, 80, TCP_SYN);
    assert_eq!((again, d), (first, vec![("tx", 1), ("conn_hit", 1)]));
    send(&mut h, Method::Tun, 80, TCP_ACK);
    let (again, d) = send(&mut h, Method::Tun, 80, TCP_SYN);
    assert_eq!((again, d), (first, vec![("tx", 1), ("conn_hit", 1)]));
    assert_eq!(conns(&h, 80), 1);
}

#[test]
fn a_nat_tuple_reused_toward_another_real_server_loses_the_old_reply_entry() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let (m, port) = METHODS[2];
    let mut h = Harness::new(&services(1), &REALS);
    let (first, _) = send(&mut h, m, port, TCP_SYN);
    send(&mut h, m, port, TCP_ACK);
    send(&mut h, m, port, TCP_FIN | TCP_ACK);
    let (second, _) = send(&mut h, m, port, TCP_SYN);
    assert_ne!(
        second, first,
        "rr: the reused tuple's connection goes to the other one"
    );
    send(&mut h, m, port, TCP_ACK);
    // The confirmed reply entries (real server -> client), by real server address.
    let replies = |h: &Harness| -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> =
            h.dp.connections()
                .iter()
                .filter(|(_, c)| c.flags & CONN_F_REPLY != 0 && c.flags & CONN_F_UNCONFIRMED == 0)
                .map(|(k, _)| Ipv4Addr::from(u32::from_be(k.src[0])))
                .collect();
        v.sort();
        v
    };
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(
        replies(&h),
        both,
        "each connection confirmed its reply entry"
    );
    // lbd's next pass: the old connection's reply entry has no connection of its real server
    // left (its tuple now goes to the other one) and goes; the new one's stays.
    let mut ct = Conntrack::new(Timeouts::default());
    let reals = h.state.all_real_ids();
    let r = ct.pass(&mut h.dp, monotonic_ns(), &reals).unwrap();
    assert_eq!(
        (r.expired, r.replies_removed, r.entries),
        (0, 1, 1),
        "{r:?}"
    );
    assert_eq!(replies(&h), [second]);
    // The new connection's replies still go back to the client as the VIP's.
    let (to, _) = send(&mut h, m, port, TCP_ACK);
    assert_eq!(to, second);
}
