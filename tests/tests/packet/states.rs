//! IPVS's TCP states (ip_vs_proto_tcp.c), transition by transition: for every forwarding
//! method, every state and every kind of segment, a connection held in that state gets the
//! segment, `lb` forwards it (exact bytes) and the state it leaves in the map is the one
//! IPVS's table names, with the real server's active / inactive counts following it. `tun`
//! and `dr` see only the client's segments (IPVS's input-only table); `nat` sees both
//! directions (the input table for the client's, the output table for the real server's).
//!
//! The table below is IPVS's text, transcribed here on its own (not from lb-common's copy),
//! so a slip in either shows.

use std::net::Ipv4Addr;

use lb_common::{
    CONN_F_NOOUTPUT, CONN_F_REPLY, CONN_F_SYNCED, CONN_F_WATCH_ACK, Conn, RealConns, conn_time,
};
use lb_daemon::dataplane::{SyncedInsert, monotonic_ns};
use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service},
    consts::{LOCAL_CLIENT, NAT_PORT, VIP, XDP_TX, real_addr, real_mac},
    expect::{direct, ipip, routed4},
    flow::flow_key,
    packet::{IPPROTO_TCP, Ipv4, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcp, tcp_ip},
    require_root,
    testrun::{Harness, reason_delta},
};

/// IPVS's `tcp_states`, as ip_vs_proto_tcp.c writes it: per direction, the rows syn, fin,
/// ack, rst; the columns are the current state, in `STATES`' order.
const IPVS_TCP_STATES: &str = "
INPUT
syn sSR sES sES sSR sSR sSR sSR sSR sSR sSR sSR
fin sCL sCW sSS sTW sTW sTW sCL sCW sLA sLI sTW
ack sES sES sSS sES sFW sTW sCL sCW sCL sLI sES
rst sCL sCL sCL sSR sCL sCL sCL sCL sLA sLI sSR
OUTPUT
syn sSS sES sSS sSR sSS sSS sSS sSS sSS sLI sSR
fin sTW sFW sSS sTW sFW sTW sCL sTW sLA sLI sTW
ack sES sES sSS sES sFW sTW sCL sCW sLA sES sES
rst sCL sCL sSS sCL sCL sTW sCL sCL sCL sCL sCL
INPUT-ONLY
syn sSR sES sES sSR sSR sSR sSR sSR sSR sSR sSR
fin sCL sFW sSS sTW sFW sTW sCL sCW sLA sLI sTW
ack sES sES sSS sES sFW sTW sCL sCW sCL sLI sES
rst sCL sCL sCL sSR sCL sCL sCL sCL sLA sLI sCL
";

/// IPVS's states in number order (`IP_VS_TCP_S_*`), with their abbreviations in the table and
/// the names `ipvsadm -L -c` prints.
const STATES: [(&str, &str); 11] = [
    ("sNO", "NONE"),
    ("sES", "ESTABLISHED"),
    ("sSS", "SYN_SENT"),
    ("sSR", "SYN_RECV"),
    ("sFW", "FIN_WAIT"),
    ("sTW", "TIME_WAIT"),
    ("sCL", "CLOSE"),
    ("sCW", "CLOSE_WAIT"),
    ("sLA", "LAST_ACK"),
    ("sLI", "LISTEN"),
    ("sSA", "SYNACK"),
];

/// The states IPVS counts as active (`tcp_state_active_table`).
const ACTIVE: [&str; 4] = ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"];

/// The segments sent in each state, with the row of the table each one takes (RST before
/// SYN before FIN before ACK, as `tcp_state_idx` looks); `None`: no SYN, FIN, ACK or RST,
/// which IPVS takes to CLOSE.
const SEGMENTS: [(u8, Option<&str>); 9] = [
    (TCP_SYN, Some("syn")),
    (TCP_SYN | TCP_ACK, Some("syn")),
    (TCP_FIN | TCP_ACK, Some("fin")),
    (TCP_FIN, Some("fin")),
    (TCP_ACK, Some("ack")),
    (TCP_PSH | TCP_ACK, Some("ack")),
    (TCP_RST, Some("rst")),
    (TCP_RST | TCP_ACK, Some("rst")),
    (TCP_PSH, None),
];

/// The next state (a number) IPVS's table gives in direction `dir` for `row` from `state`.
fn ipvs_next(dir: &str, row: Option<&str>, state: u8) -> u8 {
    let Some(row) = row else {
        return number("sCL");
    };
    let mut in_dir = false;
    for line in IPVS_TCP_STATES.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [d] => in_dir = *d == dir,
            [r, next @ ..] if in_dir && *r == row => return number(next[state as usize]),
            _ => {}
        }
    }
    panic!("no row {row} in {dir}")
}

fn number(abbrev: &str) -> u8 {
    STATES.iter().position(|(a, _)| *a == abbrev).unwrap() as u8
}

fn name(state: u8) -> &'static str {
    STATES[state as usize].1
}

/// A forwarding method, the VIP's port of its service and the table its client's segments
/// take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Tun,
    Dr,
    Nat,
}

pub const METHODS: [(Method, u16); 3] = [(Method::Tun, 80), (Method::Dr, 81), (Method::Nat, 82)];

impl Method {
    /// The real server of this method's service.
    pub fn real(self, r: Ipv4Addr) -> lb_tests::config::RealBuilder {
        match self {
            Method::Tun => real(r).tun(),
            Method::Dr => real(r).dr(),
            Method::Nat => real(r).port(NAT_PORT).nat(),
        }
    }
}

/// One TCP service per method (tcp VIP:80 tun, :81 dr, :82 nat) over `reals`, `rr`, with
/// `conn_reuse_mode` `mode`.
pub fn services(mode: u32, reals: &[Ipv4Addr]) -> ConfigBuilder {
    let mut c = config().conn_reuse_mode(mode);
    for (m, port) in METHODS {
        c = c.service(
            tcp_service(VIP, port)
                .scheduler("rr")
                .reals(reals.iter().map(|r| m.real(*r))),
        );
    }
    c
}

/// What `lb` sends for `client`'s segment from `sport` with `flags` to the VIP's `port` when
/// its real server is `to`.
pub fn forwarded(
    h: &Harness,
    m: Method,
    client: Ipv4Addr,
    (sport, port): (u16, u16),
    flags: u8,
    to: Ipv4Addr,
) -> Vec<u8> {
    let ip = tcp_ip(client, VIP, sport, port, flags, b"");
    let me = h.if_mac;
    match m {
        Method::Tun => ipip(me, &ip, to),
        Method::Dr => direct(&h.from_client(&ip), me, to),
        Method::Nat => routed4(
            &Ipv4::new(client, to, IPPROTO_TCP),
            real_mac(to),
            me,
            &tcp(client, to, sport, NAT_PORT, flags, b""),
        ),
    }
}

const REAL: Ipv4Addr = real_addr(0);
const SPORT: u16 = 41000;

fn counts(h: &Harness, id: u32) -> (i64, i64) {
    let RealConns { active, inactive } = h.dp.real_conns(id).unwrap();
    (active, inactive)
}

/// Puts the client's connection to `port` in `state` (as a synced entry: `lb` counts it from
/// the packet that follows, so the counts show where that packet took it), the previous one
/// and its counts gone.
fn hold(h: &mut Harness, m: Method, port: u16, id: u32, state: u8) {
    let flow = flow_key(LOCAL_CLIENT, VIP, SPORT, port, IPPROTO_TCP);
    h.dp.delete_conn(&flow);
    let (a, i) = counts(h, id);
    h.dp.add_real_conns(id, -a, -i).unwrap();
    let noout = if m == Method::Nat { 0 } else { CONN_F_NOOUTPUT };
    let c = Conn {
        real: id,
        last_seen: conn_time(monotonic_ns()),
        state,
        flags: CONN_F_SYNCED | noout,
        _pad: [0; 6],
    };
    assert_eq!(h.dp.insert_synced_conn(&flow, &c), SyncedInsert::New);
}

fn state_of(h: &Harness, port: u16) -> u8 {
    let flow = flow_key(LOCAL_CLIENT, VIP, SPORT, port, IPPROTO_TCP);
    let c = h.dp.conn(&flow).expect("the connection is held");
    assert_eq!(c.flags & CONN_F_SYNCED, 0, "lb took it over: {c:?}");
    c.state
}

fn class(state: u8) -> (i64, i64) {
    if ACTIVE.contains(&name(state)) {
        (1, 0)
    } else {
        (0, 1)
    }
}

#[test]
fn every_transition_of_ipvs_s_tcp_table_in_every_forwarding_method() {
    require_root!();
    lb_tests::pin_to_cpu0();
    // conn_reuse_mode 0: a SYN in TIME_WAIT or CLOSE follows the table too (reuse is below).
    let mut h = Harness::new(&services(0, &[REAL]), &[REAL, LOCAL_CLIENT]);
    let me = h.if_mac;
    let mut checked = 0;
    for (m, port) in METHODS {
        let id = h.state.real_ids(&service_key(Protocol::Tcp, VIP, port))[0].2;
        // The client's segments: the input table for nat, the input-only one for tun and dr.
        let dir = if m == Method::Nat {
            "INPUT"
        } else {
            "INPUT-ONLY"
        };
        for state in 0..STATES.len() as u8 {
            for (flags, row) in SEGMENTS {
                let what = format!("{m:?}: {} + client's {flags:#04x}", name(state));
                hold(&mut h, m, port, id, state);
                let seg = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, SPORT, port, flags, b""));
                let out = h.run("lb", &seg);
                assert_eq!(out.action, XDP_TX, "{what}");
                lb_tests::fixture::assert_frame(
                    &what,
                    &out.data,
                    &forwarded(&h, m, LOCAL_CLIENT, (SPORT, port), flags, REAL),
                );
                let want = ipvs_next(dir, row, state);
                let got = state_of(&h, port);
                assert_eq!(name(got), name(want), "{what}");
                assert_eq!(counts(&h, id), class(want), "{what}: counts");
                checked += 1;
            }
        }
        if m != Method::Nat {
            continue;
        }
        // The real server's replies: the output table.
        let reply_flow = flow_key(REAL, LOCAL_CLIENT, NAT_PORT, SPORT, IPPROTO_TCP);
        for state in 0..STATES.len() as u8 {
            // The reply entry as lb keeps it for a connection in `state`: marked when a
            // plain ACK of the real server's moves that state (else such replies are not
            // looked at).
            let acked = ipvs_next("OUTPUT", Some("ack"), state) != state;
            let reply_entry = Conn {
                real: id,
                last_seen: conn_time(monotonic_ns()),
                state: 0,
                flags: CONN_F_REPLY | CONN_F_SYNCED | if acked { CONN_F_WATCH_ACK } else { 0 },
                _pad: [0; 6],
            };
            for (flags, row) in SEGMENTS {
                let what = format!("{m:?}: {} + real server's {flags:#04x}", name(state));
                hold(&mut h, m, port, id, state);
                h.dp.delete_conn(&reply_flow);
                assert_eq!(
                    h.dp.insert_synced_conn(&reply_flow, &reply_entry),
                    SyncedInsert::New
                );
                let reply_ip = Ipv4::new(REAL, LOCAL_CLIENT, IPPROTO_TCP);
                let reply = h.from_neighbour(
                    REAL,
                    &reply_ip.build(&tcp(REAL, LOCAL_CLIENT, NAT_PORT, SPORT, flags, b"")),
                );
                let before = h.reasons();
                let out = h.run("lb", &reply);
                assert_eq!(out.action, XDP_TX, "{what}");
                let mut ip_out = reply_ip.clone();
                ip_out.src = VIP;
                lb_tests::fixture::assert_frame(
                    &what,
                    &out.data,
                    &routed4(
                        &ip_out,
                        real_mac(LOCAL_CLIENT),
                        me,
                        &tcp(VIP, LOCAL_CLIENT, port, SPORT, flags, b""),
                    ),
                );
                assert_eq!(
                    reason_delta(&before, &h.reasons()),
                    [("nat_reply", 1)],
                    "{what}"
                );
                // A plain ACK of an unmarked entry is not looked at (IPVS's table leaves the
                // state as it is then, too).
                let plain = flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK) == TCP_ACK;
                let looked_at = acked || !plain;
                let want = ipvs_next("OUTPUT", row, state);
                let flow = flow_key(LOCAL_CLIENT, VIP, SPORT, port, IPPROTO_TCP);
                let got = h.dp.conn(&flow).expect("the connection is held").state;
                assert_eq!(name(got), name(want), "{what}");
                if looked_at {
                    assert_eq!(counts(&h, id), class(want), "{what}: counts");
                    let e = h.dp.conn(&reply_flow).expect("the reply entry");
                    assert_eq!(
                        e.flags & CONN_F_WATCH_ACK != 0,
                        ipvs_next("OUTPUT", Some("ack"), want) != want,
                        "{what}: the reply entry marked as its state needs"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 11 * SEGMENTS.len());
}

#[test]
fn a_nat_reply_entry_is_marked_while_a_plain_ack_of_the_real_server_moves_its_connection() {
    require_root!();
    lb_tests::pin_to_cpu0();
    let mut h = Harness::new(&services(1, &[REAL]), &[REAL, LOCAL_CLIENT]);
    let (m, port) = METHODS[2];
    let flow = flow_key(LOCAL_CLIENT, VIP, SPORT, port, IPPROTO_TCP);
    let reply_flow = flow_key(REAL, LOCAL_CLIENT, NAT_PORT, SPORT, IPPROTO_TCP);
    let client = |h: &mut Harness, flags| {
        let seg = h.from_client(&tcp_ip(LOCAL_CLIENT, VIP, SPORT, port, flags, b""));
        let out = h.run("lb", &seg);
        assert_eq!(out.action, XDP_TX);
        assert_eq!(
            out.data,
            forwarded(h, m, LOCAL_CLIENT, (SPORT, port), flags, REAL)
        );
    };
    let server = |h: &mut Harness, flags| {
        let seg = h.from_neighbour(
            REAL,
            &tcp_ip(REAL, LOCAL_CLIENT, NAT_PORT, SPORT, flags, b""),
        );
        assert_eq!(h.run("lb", &seg).action, XDP_TX);
    };
    let at = |h: &Harness| {
        let c = h.dp.conn(&flow).expect("the connection");
        let marked =
            h.dp.conn(&reply_flow)
                .map(|e| e.flags & CONN_F_WATCH_ACK != 0);
        (name(c.state), marked)
    };
    client(&mut h, TCP_SYN);
    server(&mut h, TCP_SYN | TCP_ACK);
    assert_eq!(at(&h), ("SYN_RECV", Some(false)), "the reply's slot");
    client(&mut h, TCP_ACK);
    assert_eq!(at(&h), ("ESTABLISHED", Some(false)), "confirmed, unmarked");
    client(&mut h, TCP_FIN | TCP_ACK);
    assert_eq!(at(&h), ("CLOSE_WAIT", Some(false)));
    // A SYN on the half-closed tuple (conn_reuse_mode 1 leaves CLOSE_WAIT alone): SYN_RECV,
    // where a plain ACK of the real server's (its challenge ACK) moves the connection.
    client(&mut h, TCP_SYN);
    assert_eq!(at(&h), ("SYN_RECV", Some(true)), "marked");
    server(&mut h, TCP_ACK);
    assert_eq!(at(&h), ("ESTABLISHED", Some(false)), "moved, unmarked");
    server(&mut h, TCP_ACK | TCP_PSH);
    assert_eq!(at(&h), ("ESTABLISHED", Some(false)));
    client(&mut h, TCP_RST);
    assert_eq!(at(&h), ("CLOSE", Some(false)));
}
