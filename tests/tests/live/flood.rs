//! Floods of new flows against a small connection table (issue 11): a director with a
//! 4,096-entry table holds one long-lived flow of the client, idle for 3 s between lines,
//! while 200,000 first packets of distinct tuples (SYNs, or UDP datagrams) reach the VIP from
//! the client's namespace on several CPUs. The long flow must go on untouched: every line
//! answered whole by the same real server, no reset, one entry for it in the table all along;
//! the real servers' active / inactive counts must stay within what the tables can hold while
//! the flood runs and equal the table's entries after it; and the data plane's counters must
//! tell what happened (first packets recorded in the unconfirmed slots and evicted from them,
//! or flood mode, and no confirmation of any flood flow).

use std::{
    net::{IpAddr, SocketAddr, TcpStream, UdpSocket},
    time::{Duration, Instant},
};

use lb_common::NEW_CONN_SLOTS;
use lb_tests::{
    config::{Protocol, ServiceBuilder, config},
    consts::{CLIENT, VIP, real_addr},
    flood::{Flood, Sent},
    listing::service,
    packet::{IPPROTO_TCP, IPPROTO_UDP},
    require_root,
    servers::{LineServer, UdpLineServer, exchange},
    topo::{Method, Topology, socket2_connect},
};
use serde_json::Value;

const PORT: u16 = 9000;
/// The confirmed IPv4 table's size.
const TABLE: u32 = 4096;
/// First packets in the flood.
const FLOOD: u32 = 200_000;
/// Their rate, all sending threads together: the flood lasts about 4 s, inside the long
/// flow's first two idle periods.
const RATE: u32 = 50_000;
/// The long flow's idle time between two lines.
const IDLE: Duration = Duration::from_secs(3);

/// One flood scenario.
struct Case {
    method: Method,
    proto: Protocol,
    scheduler: &'static str,
    /// `flood_rate` in the config (None: lbd's default, which this flood stays below).
    flood_rate: Option<u32>,
}

#[test]
fn a_syn_flood_into_a_small_table_leaves_an_idle_nat_connection_alone() {
    require_root!();
    // wlc has no stateless choice: every SYN of the flood is recorded (and churns the slots).
    flood_leaves_the_long_flow_alone(Case {
        method: Method::Nat,
        proto: Protocol::Tcp,
        scheduler: "wlc",
        flood_rate: None,
    });
}

#[test]
fn a_syn_flood_in_flood_mode_leaves_an_idle_tun_connection_alone() {
    require_root!();
    // mh above a low flood_rate: most of the flood is forwarded by the hash, recorded nowhere.
    flood_leaves_the_long_flow_alone(Case {
        method: Method::Tun,
        proto: Protocol::Tcp,
        scheduler: "mh",
        flood_rate: Some(2000),
    });
}

#[test]
fn a_udp_flood_into_a_small_table_leaves_an_idle_nat_udp_flow_alone() {
    require_root!();
    flood_leaves_the_long_flow_alone(Case {
        method: Method::Nat,
        proto: Protocol::Udp,
        scheduler: "rr",
        flood_rate: None,
    });
}

/// The client's long-lived flow to the VIP.
enum LongFlow {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

impl LongFlow {
    fn open(t: &Topology, proto: Protocol) -> Self {
        let vip = SocketAddr::from((VIP, PORT));
        let _in = t.client.enter();
        match proto {
            Protocol::Tcp => LongFlow::Tcp(socket2_connect(vip, None).expect("connect")),
            Protocol::Udp => {
                let s = UdpSocket::bind(("0.0.0.0", 0)).expect("bind udp");
                s.connect(vip).expect("connect udp");
                s.set_read_timeout(Some(Duration::from_secs(1)))
                    .expect("read timeout");
                LongFlow::Udp(s)
            }
            Protocol::Sctp => panic!("the flood test has no SCTP flow"),
        }
    }

    fn local_port(&self) -> u16 {
        match self {
            LongFlow::Tcp(s) => s.local_addr().unwrap().port(),
            LongFlow::Udp(s) => s.local_addr().unwrap().port(),
        }
    }

    /// Sends `line` and returns the answer. TCP: any error (a reset, a timeout) fails the
    /// test. UDP: a datagram lost on the veth links under the flood is sent again (at most 5
    /// times, 1 s apart); answers to earlier lines are skipped.
    fn exchange(&mut self, line: &str) -> String {
        match self {
            LongFlow::Tcp(s) => exchange(s, line).unwrap_or_else(|e| panic!("line {line:?}: {e}")),
            LongFlow::Udp(s) => {
                let mut buf = [0u8; 2048];
                for _ in 0..5 {
                    s.send(line.as_bytes())
                        .unwrap_or_else(|e| panic!("send {line:?}: {e}"));
                    let until = Instant::now() + Duration::from_secs(1);
                    while Instant::now() < until {
                        let Ok(n) = s.recv(&mut buf) else { break };
                        let a = String::from_utf8_lossy(&buf[..n]).into_owned();
                        if a.ends_with(&format!(" {line}")) {
                            return a;
                        }
                    }
                }
                panic!("no answer to {line:?} in 5 tries")
            }
        }
    }
}

/// The line servers of whichever protocol, on every real server.
enum Servers {
    Tcp(Vec<LineServer>),
    Udp(Vec<UdpLineServer>),
}

impl Servers {
    /// The lines each real server received, by its name.
    fn received(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Servers::Tcp(v) => v.iter().map(|s| (s.name.clone(), s.received())).collect(),
            Servers::Udp(v) => v.iter().map(|s| (s.name.clone(), s.received())).collect(),
        }
    }
}

/// `lbctl status --json`'s reason counters.
fn reasons(t: &Topology) -> Value {
    let s: Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).expect("status JSON");
    s["reasons"].clone()
}

/// How much reason `name` grew from `before` to `after`.
fn grew(before: &Value, after: &Value, name: &str) -> u64 {
    let get = |v: &Value| {
        v[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no reason {name} in {v}"))
    };
    get(after) - get(before)
}

/// The frames the switch dropped on their way to the director (its port's veth refusing them
/// for a full queue): they never reached `lb`.
fn dropped_toward_director(t: &Topology) -> u64 {
    let out = t
        .switch
        .ip(&["-s", "-j", "link", "show", "dev", "p-director"]);
    let v: Value = serde_json::from_str(&out).expect("ip -j output");
    v[0]["stats64"]["tx"]["dropped"]
        .as_u64()
        .unwrap_or_else(|| panic!("no tx dropped in {out}"))
}

/// The service's real servers' (active, inactive) counts summed, from the listing.
fn counts(t: &Topology) -> (u64, u64) {
    let v = t.listing();
    let reals = service(&v, VIP, PORT)["real_servers"]
        .as_array()
        .expect("real_servers")
        .clone();
    reals.iter().fold((0, 0), |(a, i), r| {
        (
            a + r["active_conns"].as_u64().unwrap(),
            i + r["inactive_conns"].as_u64().unwrap(),
        )
    })
}

/// The connection entries (`lbctl -L -c --json`): how many there are, and those of the
/// client's own address (the long flow's; the flood comes from other addresses).
fn entries(t: &Topology) -> (usize, Vec<Value>) {
    let v: Value =
        serde_json::from_str(&t.lbctl(&["-L", "-c", "-n", "--json"])).expect("connections JSON");
    let all = v["connections"].as_array().expect("connections");
    let conns: Vec<&Value> = all.iter().filter(|c| c["template"] == false).collect();
    let client = CLIENT.to_string();
    let mine = conns
        .iter()
        .filter(|c| c["client"] == client.as_str())
        .map(|c| (*c).clone())
        .collect();
    (conns.len(), mine)
}

/// The long flow's entry is the only one of the client, from its port to `owner`, in `state`.
fn assert_one_entry(mine: &[Value], port: u16, owner: IpAddr, state: &str, when: &str) {
    assert_eq!(mine.len(), 1, "{when}: the client's entries: {mine:?}");
    let c = &mine[0];
    assert_eq!(c["client_port"], port, "{when}: {c}");
    assert_eq!(c["real"], owner.to_string().as_str(), "{when}: {c}");
    assert_eq!(c["state"], state, "{when}: {c}");
}

fn flood_leaves_the_long_flow_alone(case: Case) {
    let mut t = Topology::new_alone(3, case.method);
    let servers = match case.proto {
        Protocol::Tcp => Servers::Tcp(t.line_servers(PORT)),
        _ => Servers::Udp(t.udp_line_servers(PORT)),
    };
    let flags: &[&str] = if case.scheduler == "mh" {
        &["mh-port"]
    } else {
        &[]
    };
    let mut cfg = config().conn_table_size(TABLE).pin_dir(&t.pin_dir).service(
        ServiceBuilder::new(case.proto, VIP.into(), PORT)
            .scheduler(case.scheduler)
            .flags(flags)
            .reals((0..3).map(|i| t.real_server(real_addr(i)).port(PORT))),
    );
    if let Some(r) = case.flood_rate {
        cfg = cfg.flood_rate(r);
    }
    t.start_lbd(&cfg);
    // The long flow's state, and the active connections at least: TCP's established flow
    // (the flood's SYN_RECV slots count as active too, as IPVS counts the handshake); UDP's
    // are all inactive.
    let (proto, state, active) = match case.proto {
        Protocol::Tcp => (IPPROTO_TCP, "ESTABLISHED", 1),
        _ => (IPPROTO_UDP, "UDP", 0),
    };
    let active_ok = |a: u64| if active == 0 { a == 0 } else { a >= active };

    // The long flow, confirmed into the table by its second packet from the client (TCP:
    // the handshake's ACK; UDP: the second datagram).
    let mut flow = LongFlow::open(&t, case.proto);
    let mut sent_lines = Vec::new();
    let mut line = |flow: &mut LongFlow, n: usize| -> String {
        let l = format!("{n} {}", "x".repeat(100 + n));
        let answer = flow.exchange(&l);
        sent_lines.push(l.clone());
        let owner = answer.split(' ').next().unwrap().to_string();
        assert_eq!(answer, format!("{owner} {l}"), "line {n}: answered whole");
        owner
    };
    let owner = line(&mut flow, 0);
    if case.proto == Protocol::Udp {
        assert_eq!(line(&mut flow, 1), owner, "the UDP flow's second datagram");
    }
    let owner_addr: IpAddr = real_addr(owner.trim_start_matches("rs").parse().unwrap()).into();
    let port = flow.local_port();
    let before = reasons(&t);
    assert_eq!(
        before["conn_promoted"], 1,
        "the long flow is confirmed: {before}"
    );
    let (_, mine) = entries(&t);
    assert_one_entry(&mine, port, owner_addr, state, "before the flood");
    let drops_before = dropped_toward_director(&t);

    let flood = Flood {
        proto,
        dst: VIP,
        dport: PORT,
        count: FLOOD,
        rate: RATE,
        limit: Duration::from_secs(40),
        threads: 4,
        dst_mac: t.director.mac("eth0"),
        src_mac: t.client.mac("eth0"),
    };
    let capacity = {
        let s: Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
        s["connection_capacity"]
            .as_u64()
            .expect("connection_capacity")
    };
    assert!(
        capacity >= (TABLE + NEW_CONN_SLOTS) as u64,
        "capacity {capacity}"
    );
    let mut during = Vec::new();
    let client = &t.client;
    let sent: Sent = std::thread::scope(|scope| {
        let flooding = scope.spawn(|| flood.send(client, "eth0"));
        // While the flood runs and the long flow is idle: the counts stay within the tables,
        // the client keeps its one entry.
        let t0 = Instant::now();
        let mut n = if case.proto == Protocol::Udp { 2 } else { 1 };
        for round in 0..2 {
            std::thread::sleep(IDLE / 2);
            let (a, i) = counts(&t);
            let (listed, mine) = entries(&t);
            during.push((t0.elapsed(), a, i, listed));
            assert!(active_ok(a), "{a} active connections during the flood");
            assert!(
                a + i <= capacity,
                "during the flood: {a} active + {i} inactive, the tables hold {capacity}"
            );
            assert_one_entry(&mine, port, owner_addr, state, "during the flood");
            std::thread::sleep(IDLE / 2);
            assert_eq!(line(&mut flow, n), owner, "line {n}, flood round {round}");
            n += 1;
        }
        let sent = flooding.join().expect("the flood's threads");
        // One more idle period after the flood.
        std::thread::sleep(IDLE);
        assert_eq!(line(&mut flow, n), owner, "line {n}, after the flood");
        sent
    });
    let after = reasons(&t);
    let dropped = dropped_toward_director(&t) - drops_before;
    eprintln!("flood: {sent:?}, {dropped} dropped toward the director; counts during {during:?}");
    assert_eq!(
        sent.frames, FLOOD as u64,
        "every frame of the flood went out"
    );

    // Every line reached the owner and no other real server, once, in order (UDP: a line
    // sent again after a loss may come twice).
    for (name, mut got) in servers.received() {
        got.dedup();
        if name == owner {
            assert_eq!(got, sent_lines, "{name} received every line, in order");
        } else {
            assert!(got.is_empty(), "{name} got lines of the long flow: {got:?}");
        }
    }

    // What the data plane saw: every first packet of the flood that reached it was a new
    // connection; none was confirmed, none refused; the long flow only hit.
    let new = grew(&before, &after, "conn_new");
    assert!(
        new <= FLOOD as u64 && new + dropped >= FLOOD as u64,
        "conn_new grew by {new}: {FLOOD} sent, {dropped} dropped on the way"
    );
    assert!(
        new >= FLOOD as u64 * 9 / 10,
        "the flood reached lb: conn_new grew by {new} of {FLOOD}"
    );
    for r in [
        "conn_promoted",
        "conn_table_full",
        "conn_insert_failed",
        "conn_reused",
    ] {
        assert_eq!(grew(&before, &after, r), 0, "{r}: {after}");
    }
    let flooded = grew(&before, &after, "conn_flood");
    let evicted = grew(&before, &after, "conn_new_evicted");
    match case.flood_rate {
        Some(_) => assert!(
            flooded > new / 2 && flooded <= new,
            "flood mode took most of the flood: conn_flood {flooded} of {new}"
        ),
        None => assert_eq!(flooded, 0, "no flood mode below flood_rate"),
    }
    // Each recorded first packet took a slot (a nat one two: its replies' too); past the
    // slots' number every one took the slot of an older flow.
    let recorded = new - flooded;
    let slots = recorded * if case.method == Method::Nat { 2 } else { 1 };
    assert!(
        evicted + NEW_CONN_SLOTS as u64 >= slots,
        "conn_new_evicted {evicted}: {slots} slots written into {NEW_CONN_SLOTS}"
    );

    // After the flood: the client's one entry is the long flow's, and the real servers'
    // counts are the table's entries (lbd's expiry corrects, within two passes, what races
    // between CPUs left; nothing else changes the tables now).
    let (_, mine) = entries(&t);
    assert_one_entry(&mine, port, owner_addr, state, "after the flood");
    let t1 = Instant::now();
    let deadline = t1 + Duration::from_secs(15);
    loop {
        let (a, i) = counts(&t);
        let (n, _) = entries(&t);
        if a + i == n as u64 && active_ok(a) {
            eprintln!("counts = entries ({n}) after {:?}", t1.elapsed());
            break;
        }
        eprintln!("counts {a} + {i}, entries {n}");
        assert!(
            Instant::now() < deadline,
            "the counts ({a} active, {i} inactive) never matched the table's {n} entries"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
