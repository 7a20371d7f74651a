//! A client's tuple reused, as IPVS's `conn_reuse_mode` treats it (`is_new_conn_expected`):
//! a SYN of a connection in TIME_WAIT or CLOSE ends that connection and starts a new one,
//! scheduled and counted anew, in every forwarding method and whether the old connection was
//! confirmed or not; with bit 2 (mode 2) also one of a `dr` / `tun` connection in FIN_WAIT,
//! the last state the director sees of those. Any other state (FIN_WAIT with mode 1,
//! CLOSE_WAIT, SYN_RECV after a RST of the handshake), and every state with mode 0: the SYN
//! goes on to the old connection's real server, uncounted.

use std::net::Ipv4Addr;

use lb_common::{CONN_F_REPLY, CONN_F_UNCONFIRMED};
use lb_daemon::{dataplane::monotonic_ns, expiry::Conntrack};
use lb_model::config::Timeouts;
use lb_tests::{
    config::{ConfigBuilder, Protocol, service_key},
    consts::{LOCAL_CLIENT, NAT_PORT, REALS, VIP, XDP_TX},
    packet::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, tcp_ip},
    require_root,
    testrun::{Harness, reason_delta},
};

use super::states::{METHODS, Method, forwarded};

const SPORT: u16 = 40000;
const CLIENT: Ipv4Addr = LOCAL_CLIENT;

/// rr over REALS[0] and REALS[1], once per forwarding method, with `conn_reuse_mode` `mode`.
fn services(mode: u32) -> ConfigBuilder {
    super::states::services(mode, &REALS[..2])
}

fn harness(mode: u32) -> Harness {
    let mut neighbours = REALS[..2].to_vec();
    neighbours.push(CLIENT);
    Harness::new(&services(mode), &neighbours)
}

/// Sends the client's segment; returns the real server it went to and the counters' change.
fn send(h: &mut Harness, m: Method, port: u16, flags: u8) -> (Ipv4Addr, Vec<(&'static str, u64)>) {
    let frame = h.from_client(&tcp_ip(CLIENT, VIP, SPORT, port, flags, b""));
    let before = h.reasons();
    let out = h.run("lb", &frame);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!(out.action, XDP_TX, "{m:?} flags {flags:#x}: {d:?}");
    let to = REALS[..2]
        .iter()
        .copied()
        .find(|r| out.data == forwarded(h, m, CLIENT, (SPORT, port), flags, *r))
        .unwrap_or_else(|| panic!("{m:?} flags {flags:#x}: not sent to a real server as expected"));
    (to, d)
}

/// The `nat` real server `from`'s segment back to the client (rewritten to the VIP's).
fn reply(h: &mut Harness, from: Ipv4Addr, flags: u8) {
    let frame = h.from_neighbour(from, &tcp_ip(from, CLIENT, NAT_PORT, SPORT, flags, b""));
    let before = h.reasons();
    let out = h.run("lb", &frame);
    let d = reason_delta(&before, &h.reasons());
    assert_eq!((out.action, d), (XDP_TX, vec![("nat_reply", 1)]));
}

fn conns(h: &Harness, port: u16) -> u64 {
    let key = service_key(Protocol::Tcp, VIP, port);
    h.service_stats(h.service_id(&key)).conns
}

/// A step of a connection's life after its SYN: a segment of the client's, or (`nat`) of its
/// real server's.
#[derive(Clone, Copy)]
enum Step {
    Client(u8),
    Server(u8),
}
use Step::{Client, Server};

/// Runs `steps` after the SYN that went to `first`.
fn run(h: &mut Harness, m: Method, port: u16, first: Ipv4Addr, steps: &[Step], what: &str) {
    for s in steps {
        match *s {
            Client(f) => assert_eq!(send(h, m, port, f).0, first, "{m:?} {what}"),
            Server(f) => reply(h, first, f),
        }
    }
}

/// How connections get to TIME_WAIT or CLOSE, per method (with the conn_reuse_mode that
/// reuses them): a RST after the handshake (CLOSE, every method); `nat`, both sides' FINs
/// (TIME_WAIT: the real server closes first, then the client); `dr` / `tun`, the client's
/// FIN (FIN_WAIT), reused with mode 2.
fn closings(m: Method) -> Vec<(&'static str, u32, Vec<Step>)> {
    let mut v = vec![
        (
            "RST after the handshake",
            1,
            vec![Client(TCP_ACK), Client(TCP_RST)],
        ),
        (
            "RST|ACK after data",
            1,
            vec![Client(TCP_ACK), Client(TCP_ACK), Client(TCP_RST | TCP_ACK)],
        ),
    ];
    if m == Method::Nat {
        v.push((
            "FIN from the real server, then the client",
            1,
            vec![
                Client(TCP_ACK),
                Server(TCP_FIN | TCP_ACK),
                Client(TCP_ACK),
                Client(TCP_FIN | TCP_ACK),
                Server(TCP_ACK),
            ],
        ));
        v.push((
            "RST from the real server",
            1,
            vec![Client(TCP_ACK), Server(TCP_RST)],
        ));
    } else {
        v.push((
            "FIN from the client, with mode 2",
            2,
            vec![Client(TCP_ACK), Client(TCP_FIN | TCP_ACK), Client(TCP_ACK)],
        ));
    }
    v
}

#[test]
fn a_syn_in_time_wait_or_close_starts_a_new_connection_in_every_forwarding_method() {
    require_root!();
    for (m, port) in METHODS {
        for (what, mode, steps) in closings(m) {
            lb_tests::pin_to_cpu0();
            let mut h = harness(mode);
            let (first, d) = send(&mut h, m, port, TCP_SYN);
            assert_eq!(d, [("tx", 1), ("conn_new", 1)], "{m:?} {what}");
            run(&mut h, m, port, first, &steps, what);
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

/// States a SYN does not end with `conn_reuse_mode` 1: the SYN goes on to the old real
/// server, uncounted.
fn kept(m: Method) -> Vec<(&'static str, Vec<Step>)> {
    let mut v = vec![("RST of the handshake (SYN_RECV)", vec![Client(TCP_RST)])];
    if m == Method::Nat {
        v.push((
            "the client's FIN alone (CLOSE_WAIT)",
            vec![Client(TCP_ACK), Client(TCP_FIN | TCP_ACK)],
        ));
    } else {
        v.push((
            "the client's FIN (FIN_WAIT, mode 1)",
            vec![Client(TCP_ACK), Client(TCP_FIN | TCP_ACK), Client(TCP_ACK)],
        ));
    }
    v
}

#[test]
fn a_syn_in_another_state_goes_on_to_the_old_real_server() {
    require_root!();
    for (m, port) in METHODS {
        for (what, steps) in kept(m) {
            lb_tests::pin_to_cpu0();
            let mut h = harness(1);
            let (first, _) = send(&mut h, m, port, TCP_SYN);
            run(&mut h, m, port, first, &steps, what);
            let (again, d) = send(&mut h, m, port, TCP_SYN);
            assert_eq!(again, first, "{m:?} {what}");
            assert_eq!(d, [("tx", 1), ("conn_hit", 1)], "{m:?} {what}");
            assert_eq!(conns(&h, port), 1, "{m:?} {what}: not a new connection");
        }
    }
}

#[test]
fn with_conn_reuse_mode_0_the_syn_goes_on_to_the_old_real_server() {
    require_root!();
    for (m, port) in METHODS {
        lb_tests::pin_to_cpu0();
        let mut h = harness(0);
        let (first, _) = send(&mut h, m, port, TCP_SYN);
        send(&mut h, m, port, TCP_ACK);
        send(&mut h, m, port, TCP_RST);
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
    let mut h = harness(1);
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
    let mut h = harness(1);
    let (first, _) = send(&mut h, m, port, TCP_SYN);
    send(&mut h, m, port, TCP_ACK);
    send(&mut h, m, port, TCP_RST);
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
