//! Live tests of high availability: two directors announcing their VIPs through real BIRD 2
//! (eBGP) to a router running BIRD with ECMP into its kernel table, real servers on the
//! directors' LAN (`dr`), and a client behind the router. The router's `ip route` shows what
//! is announced; real TCP from the client crosses the router's ECMP to either director.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use lb_tests::{
    config::{check, config, real, tcp_service},
    ha::{HA_VIP, HA_VIP2, HaTopology, ha_director, ha_real},
    listing::{real_servers_conns, service},
    require_root,
    topo::{HttpServer, http_get},
};
use serde_json::Value;

/// How long BIRD takes to bring a session up or carry a change to the router here (sessions
/// start within a second or two; a change is one `configure` and an UPDATE).
const BGP_LIMIT: Duration = Duration::from_secs(20);

/// `n` GETs from the client to `vip`:80 over new connections; every one must succeed.
/// Returns how many each real server answered.
fn requests(t: &HaTopology, vip: SocketAddr, n: u32) -> BTreeMap<String, u32> {
    let _in = t.client.enter();
    let mut answers = BTreeMap::new();
    for i in 0..n {
        let (status, body) =
            http_get(vip, None).unwrap_or_else(|e| panic!("{vip}: connection {i} failed: {e}"));
        assert_eq!(status, 200, "{vip}: connection {i}: {body}");
        *answers.entry(body.trim().to_string()).or_default() += 1;
    }
    answers
}

/// The connections director `i` has scheduled for service `vip`:`port` (its real servers'
/// `--stats` connection counters, summed).
fn scheduled(t: &HaTopology, i: usize, vip: impl std::fmt::Display, port: u16) -> u64 {
    let v: Value =
        serde_json::from_str(&t.directors[i].lbctl(&["-L", "-n", "--stats", "--json"])).unwrap();
    real_servers_conns(service(&v, vip, port))
}

fn director_status(t: &HaTopology, i: usize) -> Value {
    serde_json::from_str(&t.directors[i].lbctl(&["director", "status", "--json"])).unwrap()
}

fn ips(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("address").to_string())
        .collect()
}

#[test]
fn vips_are_announced_through_bird_per_healthy_director_and_withdrawn_on_failure_drain_and_stop() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    // Service B's one real server listens on 8081; its health check takes it down.
    let mut b_server = Some(HttpServer::start(&t.reals[1], "rs1-b", 8081));
    let base = config()
        .conn_table_size(65536)
        .service(
            tcp_service(HA_VIP, 80)
                .scheduler("mh")
                .flags(&["mh-port"])
                .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
        )
        .service(
            tcp_service(HA_VIP2, 8081)
                .scheduler("rr")
                .real(real(ha_real(1)).port(8081).dr())
                .health_check(
                    check("tcp")
                        .interval_ms(200)
                        .timeout_ms(200)
                        .rise(1)
                        .fall(1),
                ),
        );
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }

    // Both directors announce both VIPs: one next hop per director.
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);
    for (i, d) in t.directors.iter().enumerate() {
        let mut want: Vec<IpAddr> = vec![HA_VIP.into(), HA_VIP2.into()];
        want.sort();
        assert_eq!(d.included_vips(), want, "director {i}'s include file");
        let s = director_status(&t, i);
        assert_eq!(s["announcing"], true, "{s}");
        assert_eq!(s["attached"], true, "{s}");
        assert_eq!(s["drained"], false, "{s}");
        assert_eq!(
            ips(&s["announced"]),
            ["198.18.1.100", "198.18.1.101"],
            "{s}"
        );
        assert_eq!(s["error"], Value::Null, "{s}");
    }

    // Real TCP from the client through the router's ECMP: every connection answered, and
    // each director carried some (the router hashes on the ports; 40 connections all on one
    // of two directors would happen once in 2^39 runs).
    let vip = SocketAddr::from((HA_VIP, 80));
    let answers = requests(&t, vip, 40);
    assert_eq!(answers.values().sum::<u32>(), 40, "{answers:?}");
    let (s0, s1) = (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80));
    assert_eq!(s0 + s1, 40, "director 0 scheduled {s0}, director 1 {s1}");
    assert!(s0 > 0 && s1 > 0, "ECMP used one director only: {s0} / {s1}");

    // Service B's only real server fails: both directors withdraw its VIP (and only it).
    b_server.take();
    t.wait_next_hops(HA_VIP2, &[], BGP_LIMIT);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    for (i, d) in t.directors.iter().enumerate() {
        assert_eq!(
            d.included_vips(),
            vec![IpAddr::from(HA_VIP)],
            "director {i}'s include file"
        );
    }
    // It comes back: announced again.
    b_server = Some(HttpServer::start(&t.reals[1], "rs1-b", 8081));
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);

    // Draining director 0 withdraws every VIP it announced; the answer comes once BIRD took
    // the new include file.
    let s: Value =
        serde_json::from_str(&t.directors[0].lbctl(&["director", "drain", "--json"])).unwrap();
    assert_eq!(s["drained"], true, "{s}");
    assert_eq!(ips(&s["announced"]), Vec::<String>::new(), "{s}");
    assert_eq!(s["error"], Value::Null, "{s}");
    assert!(t.directors[0].included_vips().is_empty());
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[1], BGP_LIMIT);
    let text = t.directors[0].lbctl(&["director", "status"]);
    assert!(text.contains("Drained:     yes\n"), "{text}");
    assert!(text.contains("Announced:   none\n"), "{text}");
    // Traffic goes on through director 1 alone.
    let before = (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80));
    requests(&t, vip, 10);
    assert_eq!(
        (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80)),
        (before.0, before.1 + 10),
        "a drained director takes no new connections from the router"
    );

    // Undrain: announced again.
    let s: Value =
        serde_json::from_str(&t.directors[0].lbctl(&["director", "undrain", "--json"])).unwrap();
    assert_eq!(s["drained"], false, "{s}");
    assert_eq!(
        ips(&s["announced"]),
        ["198.18.1.100", "198.18.1.101"],
        "{s}"
    );
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);

    // A clean stop of director 1's lbd withdraws its VIPs before it exits.
    t.directors[1].stop_lbd();
    assert!(
        t.directors[1].included_vips().is_empty(),
        "lbd stopped with VIPs in its include file"
    );
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0], BGP_LIMIT);
    let answers = requests(&t, vip, 10);
    assert_eq!(answers.values().sum::<u32>(), 10, "{answers:?}");
    assert_eq!(ha_director(0), t.directors[0].address);
    drop(b_server);
}
