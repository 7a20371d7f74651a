//! Real TCP (HTTP) traffic through lbd attached in native mode to the director's veth: every
//! forwarding method over IPv4 and IPv6, the schedulers' shares and stickiness, quiesced
//! real servers and persistence, with lbd's counters and metrics checked against what the
//! client and the servers saw.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::SocketAddr,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use lb_tests::{
    consts::{VIP, VIP_PORT, VIP6},
    listing::{real_servers_conns, sample_sum, service},
    require_root,
    topo::{Method, Topology, http_get, socket2_connect},
};
use serde_json::Value;

const V4: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(VIP, VIP_PORT));

#[test]
fn three_hundred_connections_through_the_vip_all_succeed_and_spread() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    let answers = t.requests(V4, 300);
    assert_eq!(answers.values().sum::<u32>(), 300);
    for rs in ["rs0", "rs1", "rs2"] {
        assert!(
            answers.get(rs).copied().unwrap_or(0) > 0,
            "{rs} got no connection: {answers:?}"
        );
    }
    // The servers' own counts agree with what the client saw.
    for h in &t.http {
        let served = h.served.load(Ordering::SeqCst) as u32;
        assert_eq!(Some(&served), answers.get(&h.name), "{}", h.name);
    }
    // lbd counted every connection.
    let v = t.stats_listing();
    let svc = service(&v, VIP, VIP_PORT);
    assert_eq!(svc["stats"]["conns"], 300, "{v}");
    // The Prometheus endpoint (loopback of the director) tells the same.
    let metrics = t.scrape();
    let vip_labels = format!("protocol=\"tcp\",vip=\"{VIP}\",port=\"{VIP_PORT}\"");
    assert_eq!(
        sample_sum(
            &metrics,
            &format!("lb_service_connections_total{{{vip_labels}}}")
        ),
        300.0
    );
    assert_eq!(
        sample_sum(
            &metrics,
            &format!("lb_real_server_connections_total{{{vip_labels},")
        ),
        300.0,
        "{metrics}"
    );
    assert!(sample_sum(&metrics, "lb_packets_total{reason=\"tx\"}") >= 300.0 * 3.0);
    assert_eq!(real_servers_conns(svc), 300);
    // The estimator's rates reach the metrics too (a 2-second sample after the traffic).
    let rate = format!("lb_service_connections_per_second{{{vip_labels}}} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = t.scrape();
        let v: f64 = m
            .lines()
            .find_map(|l| l.strip_prefix(rate.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {rate} line in\n{m}"));
        if v > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the rate stays 0:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn one_five_tuple_always_reaches_the_same_real_server() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    let _in = t.client.enter();
    for sport in [40100u16, 40200, 40300, 40400] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let (status, body) = http_get(V4, Some(sport)).expect("connection");
            assert_eq!(status, 200);
            seen.push(body.trim().to_string());
        }
        assert!(
            seen.iter().all(|s| *s == seen[0]),
            "source port {sport} reached several real servers: {seen:?}"
        );
    }
}

/// HTTP over new TCP connections through the IPv4 VIP and then the IPv6 VIP, with every real
/// server on `method`: all succeed, every real server answers some over each family, and
/// lbd's counters agree. Returns the listing.
fn method_round_trip(method: Method, connections: u32) -> Value {
    round_trip_with(method, connections, |c| c)
}

/// [`method_round_trip`] with the config `edit` makes of the topology's.
fn round_trip_with(
    method: Method,
    connections: u32,
    edit: impl Fn(lb_tests::config::ConfigBuilder) -> lb_tests::config::ConfigBuilder,
) -> Value {
    let mut t = Topology::new(3, method);
    let cfg = edit(t.config(&[1, 1, 1]));
    t.start_lbd(&cfg);
    for vip in [V4, SocketAddr::from((VIP6, VIP_PORT))] {
        let answers = t.requests(vip, connections);
        assert_eq!(
            answers.len(),
            3,
            "{method:?} {vip}: every real server answers: {answers:?}"
        );
    }
    let v = t.stats_listing();
    for vip in [VIP.to_string(), VIP6.to_string()] {
        assert_eq!(
            service(&v, &vip, VIP_PORT)["stats"]["conns"],
            connections,
            "{v}"
        );
    }
    v
}

#[test]
fn tunnelling_serves_http_over_ipv4_and_ipv6() {
    require_root!();
    method_round_trip(Method::Tun, 30);
}

#[test]
fn tunnelling_without_a_director_address_takes_the_outer_source_from_the_route() {
    require_root!();
    // No director.ipv4 / ipv6: lb asks the FIB for the source of the route to each real
    // server (the director's address on their link), as IPVS does.
    round_trip_with(Method::Tun, 30, |c| c.no_director());
}

#[test]
fn gue_tunnelling_serves_http_over_ipv4_and_ipv6() {
    require_root!();
    method_round_trip(Method::Gue, 30);
}

#[test]
fn gre_tunnelling_serves_http_over_ipv4_and_ipv6() {
    require_root!();
    method_round_trip(Method::Gre, 30);
}

#[test]
fn direct_routing_serves_http_over_ipv4_and_ipv6() {
    require_root!();
    let v = method_round_trip(Method::Dr, 40);
    // Replies go straight from the real servers to the client: the director sees none.
    for vip in [VIP.to_string(), VIP6.to_string()] {
        assert_eq!(service(&v, &vip, VIP_PORT)["stats"]["out_pkts"], 0);
    }
}

#[test]
fn masquerading_serves_http_over_ipv4_and_ipv6_and_counts_replies() {
    require_root!();
    let v = method_round_trip(Method::Nat, 40);
    for vip in [VIP.to_string(), VIP6.to_string()] {
        let s = &service(&v, &vip, VIP_PORT)["stats"];
        // Every reply came back through the director (at least SYN-ACK, data, FIN each).
        assert!(s["out_pkts"].as_u64().unwrap() >= 3 * 40, "{s}");
        assert!(s["out_bytes"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn quiesced_real_server_keeps_its_connection_while_new_ones_go_elsewhere() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    // A connection left half-way through its request: the real server waits for the rest.
    let mut held = {
        let _in = t.client.enter();
        socket2_connect(V4, None).expect("connect")
    };
    held.write_all(b"GET / HTTP/1.0\r\n").unwrap();
    // Which real server has it: the one lbd counts an active connection for.
    let mut owner = None;
    t.wait_listing(Duration::from_secs(5), "an active connection listed", |v| {
        let reals = service(v, VIP, VIP_PORT)["real_servers"]
            .as_array()
            .unwrap()
            .clone();
        owner = reals.iter().position(|r| r["active_conns"] == 1);
        owner.is_some()
    });
    let owner = owner.unwrap();
    // Quiesce it: weight 0, config re-read on SIGHUP.
    let mut weights = [1, 1, 1];
    weights[owner] = 0;
    t.reload(&t.config(&weights));
    t.wait_listing(Duration::from_secs(5), "weight 0 applied", |v| {
        service(v, VIP, VIP_PORT)["real_servers"][owner]["weight"] == 0
    });
    // New connections avoid it.
    let name = format!("rs{owner}");
    let answers = t.requests(V4, 30);
    assert!(
        !answers.contains_key(&name),
        "a connection reached the quiesced {name}: {answers:?}"
    );
    // The held connection still works, on the same real server.
    held.write_all(b"\r\n").unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut resp = String::new();
    held.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.0 200"), "{resp}");
    assert_eq!(resp.split("\r\n\r\n").nth(1).unwrap().trim(), name);
}

#[test]
fn wrr_three_to_one_gives_the_heavier_server_three_quarters_of_400_connections() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t.config_sched(&[3, 1], "wrr");
    t.start_lbd(&cfg);
    let answers = t.requests(V4, 400);
    let heavy = answers.get("rs0").copied().unwrap_or(0);
    let share = heavy as f64 / 400.0;
    assert!(
        (share - 0.75).abs() <= 0.05,
        "rs0 (weight 3) got {heavy} of 400"
    );
}

#[test]
fn sh_keeps_a_client_on_one_real_server_across_connections() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config_sched(&[1, 1, 1], "sh");
    t.start_lbd(&cfg);
    let answers = t.requests(V4, 40);
    assert_eq!(
        answers.len(),
        1,
        "one client address, one real server: {answers:?}"
    );
}

#[test]
fn wlc_sends_new_connections_to_the_least_loaded_real_server() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t.config_sched(&[1, 1], "wlc");
    t.start_lbd(&cfg);
    let active = |v: &Value| -> Vec<u64> {
        service(v, VIP, VIP_PORT)["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["active_conns"].as_u64().unwrap())
            .collect()
    };
    // Hold three connections open, one at a time: wlc alternates them (0/0 -> rs0, 1/0 ->
    // rs1, 1/1 -> rs0 on the tie), leaving rs0 with two active connections and rs1 with one.
    let mut held = Vec::new();
    for want in [vec![1, 0], vec![1, 1], vec![2, 1]] {
        let mut s = {
            let _in = t.client.enter();
            socket2_connect(V4, None).expect("connect")
        };
        s.write_all(b"GET / HTTP/1.0\r\n").unwrap();
        held.push(s);
        t.wait_listing(Duration::from_secs(5), &format!("active {want:?}"), |v| {
            active(v) == want
        });
    }
    // The next connection goes to the least loaded: rs1.
    let answers = t.requests(V4, 1);
    assert_eq!(answers, BTreeMap::from([("rs1".to_string(), 1)]));
}

#[test]
fn persistence_keeps_a_client_on_one_real_server_and_releases_it_after_the_timeout() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    // rr alone would alternate between the two real servers. (5 s: ten connections fit well
    // inside it even on a loaded machine; each refreshes the template anyway.)
    let cfg = t
        .config_sched(&[1, 1], "rr")
        .edit_service(0, |s| s.persistent(5));
    t.start_lbd(&cfg);
    let answers = t.requests(V4, 10);
    assert_eq!(
        answers.len(),
        1,
        "one real server for the client: {answers:?}"
    );
    assert_eq!(
        t.reason("persist_hit"),
        9,
        "every connection after the first followed the template"
    );
    // Once lbd's expiry pass (every 2 seconds) has removed the template, past its timeout.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c: Value = serde_json::from_str(&t.lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
        let templates = c.to_string().matches("\"template\":true").count();
        if templates == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the template never expired: {c}");
        std::thread::sleep(Duration::from_millis(250));
    }
    t.requests(V4, 1);
    assert_eq!(
        t.reason("persist_hit"),
        9,
        "the template was released: the connection was scheduled anew"
    );
}
