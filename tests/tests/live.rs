//! Live tests: client, director and real servers as network namespaces on one bridge, lbd
//! attached in native mode to the director's veth, real TCP (HTTP) traffic through it.

use std::{collections::BTreeMap, net::SocketAddr};

use lb_tests::{
    require_root,
    topo::{Method, Topology, VIP, VIP_PORT, VIP6, http_get},
};

#[test]
fn three_hundred_connections_through_the_vip_all_succeed_and_spread() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let mut answers = BTreeMap::<String, u32>::new();
    {
        let _in = t.client.enter();
        for i in 0..300 {
            let (status, body) =
                http_get(vip, None).unwrap_or_else(|e| panic!("connection {i} failed: {e}"));
            assert_eq!(status, 200, "connection {i}: {body}");
            *answers.entry(body.trim().to_string()).or_default() += 1;
        }
    }
    assert_eq!(answers.values().sum::<u32>(), 300);
    for rs in ["rs0", "rs1", "rs2"] {
        assert!(
            answers.get(rs).copied().unwrap_or(0) > 0,
            "{rs} got no connection: {answers:?}"
        );
    }
    // The servers' own counts agree with what the client saw.
    for h in &t.http {
        let served = h.served.load(std::sync::atomic::Ordering::SeqCst) as u32;
        assert_eq!(Some(&served), answers.get(&h.name), "{}", h.name);
    }
    // lbd counted every connection.
    let listing = t.lbctl(&["-L", "-n", "--stats", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listing).expect("json");
    let svc = service(&v, &VIP.to_string());
    assert_eq!(svc["stats"]["conns"], 300, "{listing}");
    // The Prometheus endpoint (loopback of the director) tells the same.
    let metrics = scrape(&t);
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let vip_labels = format!("protocol=\"tcp\",vip=\"{VIP}\",port=\"{VIP_PORT}\"");
    assert_eq!(
        sample(&format!("lb_service_connections_total{{{vip_labels}}}")),
        300.0
    );
    assert_eq!(
        sample(&format!("lb_real_server_connections_total{{{vip_labels},")),
        300.0,
        "{metrics}"
    );
    assert!(sample("lb_packets_total{reason=\"tx\"}") >= 300.0 * 3.0);
    let per_real: u64 = svc["real_servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stats"]["conns"].as_u64().unwrap())
        .sum();
    assert_eq!(per_real, 300);
    // The estimator's rates reach the metrics too (a 2-second sample after the traffic).
    let rate = format!("lb_service_connections_per_second{{{vip_labels}}} ");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = scrape(&t);
        let v: f64 = m
            .lines()
            .find_map(|l| l.strip_prefix(rate.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {rate} line in\n{m}"));
        if v > 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rate stays 0:\n{m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn one_five_tuple_always_reaches_the_same_real_server() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let _in = t.client.enter();
    for sport in [40100u16, 40200, 40300, 40400] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let (status, body) = http_get(vip, Some(sport)).expect("connection");
            assert_eq!(status, 200);
            seen.push(body.trim().to_string());
        }
        assert!(
            seen.iter().all(|s| *s == seen[0]),
            "source port {sport} reached several real servers: {seen:?}"
        );
    }
}

#[test]
fn lbd_rejects_a_bad_config_before_attaching_anything() {
    require_root!();
    use lb_tests::{netns::Netns, topo::bin};
    let ns = Netns::new("bad");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
    ]);
    ns.ip(&["link", "set", "eth0", "up"]);
    let dir = std::env::temp_dir().join(lb_tests::netns::unique_name("badcfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let pin_dir =
        std::path::PathBuf::from("/sys/fs/bpf").join(lb_tests::netns::unique_name("pins"));
    let cases = [
        (
            r#"{ "interface": "eth0", "director": { "ipv4": "198.18.0.2" }, "pin_dir": "PIN",
                 "services": [ { "protocol": "tcp", "vip": "198.18.1.1", "port": 80,
                                 "scheduler": "fastest", "real_servers": [] } ] }"#,
            "services[0].scheduler: unknown scheduler \"fastest\"",
        ),
        (
            r#"{ "interface": "eth9", "pin_dir": "PIN", "services": [] }"#,
            "config field interface: \"eth9\"",
        ),
        (
            r#"{ "interface": "eth0", "pin_dir": "PIN", "services": [ }"#,
            "line 1 column",
        ),
    ];
    for (text, want) in cases {
        let cfg = dir.join("lb.json");
        std::fs::write(&cfg, text.replace("PIN", pin_dir.to_str().unwrap())).unwrap();
        let out = std::process::Command::new(bin("lbd"))
            .args(["--netns", &ns.name, "--no-state", "--config"])
            .arg(&cfg)
            .arg("--socket")
            .arg(dir.join("lbd.sock"))
            .output()
            .expect("run lbd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "lbd accepted {text}");
        assert!(
            err.contains(want),
            "lbd's message for {text}:\n{err}\nwanted: {want}"
        );
        assert!(
            !ns.ip(&["link", "show", "dev", "eth0"]).contains("xdp"),
            "XDP attached despite a bad config"
        );
        assert!(!pin_dir.exists(), "pins left behind: {}", pin_dir.display());
        assert!(!dir.join("lbd.sock").exists(), "socket left behind");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&pin_dir);
}

/// `GET /metrics` from lbd's Prometheus endpoint (loopback of the director's namespace).
fn scrape(t: &Topology) -> String {
    use std::io::{Read, Write};
    let _in = t.director.enter();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", 9406)).expect("metrics endpoint");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.0 200"), "{resp}");
    resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// The service with this VIP in a `lbctl --json` listing.
fn service<'a>(listing: &'a serde_json::Value, vip: &str) -> &'a serde_json::Value {
    listing["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["vip"] == vip)
        .unwrap_or_else(|| panic!("no service {vip} in {listing}"))
}

/// HTTP over new TCP connections through the IPv4 VIP and then the IPv6 VIP, with every real
/// server on `method`: all succeed, every real server answers some over each family, and
/// lbd's counters agree. Returns the listing.
fn method_round_trip(method: Method, connections: u32) -> serde_json::Value {
    let mut t = Topology::new(3, method);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    for vip in [
        SocketAddr::from((VIP, VIP_PORT)),
        SocketAddr::from((VIP6, VIP_PORT)),
    ] {
        let mut answers = BTreeMap::<String, u32>::new();
        let _in = t.client.enter();
        for i in 0..connections {
            let (status, body) = http_get(vip, None)
                .unwrap_or_else(|e| panic!("{method:?} {vip}: connection {i} failed: {e}"));
            assert_eq!(status, 200, "{method:?} {vip}: connection {i}: {body}");
            *answers.entry(body.trim().to_string()).or_default() += 1;
        }
        assert_eq!(
            answers.len(),
            3,
            "{method:?} {vip}: every real server answers: {answers:?}"
        );
    }
    let listing = t.lbctl(&["-L", "-n", "--stats", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listing).expect("json");
    for vip in [VIP.to_string(), VIP6.to_string()] {
        assert_eq!(
            service(&v, &vip)["stats"]["conns"],
            connections,
            "{listing}"
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
        assert_eq!(service(&v, &vip)["stats"]["out_pkts"], 0);
    }
}

#[test]
fn masquerading_serves_http_over_ipv4_and_ipv6_and_counts_replies() {
    require_root!();
    let v = method_round_trip(Method::Nat, 40);
    for vip in [VIP.to_string(), VIP6.to_string()] {
        let s = &service(&v, &vip)["stats"];
        // Every reply came back through the director (at least SYN-ACK, data, FIN each).
        assert!(s["out_pkts"].as_u64().unwrap() >= 3 * 40, "{s}");
        assert!(s["out_bytes"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn quiesced_real_server_keeps_its_connection_while_new_ones_go_elsewhere() {
    require_root!();
    use std::io::{Read, Write};
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    t.start_lbd(&cfg);
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    // A connection left half-way through its request: the real server waits for the rest.
    let mut held = {
        let _in = t.client.enter();
        lb_tests::topo::socket2_connect(vip, None).expect("connect")
    };
    held.write_all(b"GET / HTTP/1.0\r\n").unwrap();
    // Which real server has it: the one lbd counts an active connection for.
    let owner = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let v: serde_json::Value =
                serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).unwrap();
            let reals = service(&v, &VIP.to_string())["real_servers"]
                .as_array()
                .unwrap()
                .clone();
            if let Some(i) = reals.iter().position(|r| r["active_conns"] == 1) {
                break i;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no active connection listed: {v}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // Quiesce it: weight 0, config re-read on SIGHUP.
    let mut weights = [1, 1, 1];
    weights[owner] = 0;
    let quiesced = t.config(&weights);
    std::fs::write(&t.config_path, serde_json::to_vec(&quiesced).unwrap()).unwrap();
    let pid = t.lbd.as_ref().unwrap().pid();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let v: serde_json::Value = serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).unwrap();
        if service(&v, &VIP.to_string())["real_servers"][owner]["weight"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "weight 0 never applied"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // New connections avoid it.
    let name = format!("rs{owner}");
    {
        let _in = t.client.enter();
        for i in 0..30 {
            let (status, body) = http_get(vip, None).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(status, 200);
            assert_ne!(
                body.trim(),
                name,
                "connection {i} reached the quiesced {name}"
            );
        }
    }
    // The held connection still works, on the same real server.
    held.write_all(b"\r\n").unwrap();
    held.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
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
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let mut heavy = 0;
    {
        let _in = t.client.enter();
        for i in 0..400 {
            let (status, body) = http_get(vip, None).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(status, 200);
            if body.trim() == "rs0" {
                heavy += 1;
            }
        }
    }
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
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let _in = t.client.enter();
    let answers: std::collections::BTreeSet<String> = (0..40)
        .map(|i| {
            let (status, body) = http_get(vip, None).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(status, 200);
            body.trim().to_string()
        })
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "one client address, one real server: {answers:?}"
    );
}

#[test]
fn wlc_sends_new_connections_to_the_least_loaded_real_server() {
    require_root!();
    use std::io::Write;
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t.config_sched(&[1, 1], "wlc");
    t.start_lbd(&cfg);
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let active = |t: &Topology| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).unwrap();
        service(&v, &VIP.to_string())["real_servers"]
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
            lb_tests::topo::socket2_connect(vip, None).expect("connect")
        };
        s.write_all(b"GET / HTTP/1.0\r\n").unwrap();
        held.push(s);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while active(&t) != want {
            assert!(
                std::time::Instant::now() < deadline,
                "active {:?}, wanted {want:?}",
                active(&t)
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    // The next connection goes to the least loaded: rs1.
    let _in = t.client.enter();
    let (status, body) = http_get(vip, None).expect("connection");
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "rs1");
}

#[test]
fn persistence_keeps_a_client_on_one_real_server_and_releases_it_after_the_timeout() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    let mut cfg = t.config_sched(&[1, 1], "rr");
    // rr alone would alternate between the two real servers. (5 s: ten connections fit well
    // inside it even on a loaded machine; each refreshes the template anyway.)
    cfg["services"][0]["persistent"] = serde_json::json!(5);
    t.start_lbd(&cfg);
    let hits = |t: &Topology| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
        v["reasons"]["persist_hit"].as_u64().unwrap()
    };
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let mut seen = std::collections::BTreeSet::new();
    {
        let _in = t.client.enter();
        for i in 0..10 {
            let (status, body) = http_get(vip, None).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(status, 200);
            seen.insert(body.trim().to_string());
        }
    }
    assert_eq!(seen.len(), 1, "one real server for the client: {seen:?}");
    assert_eq!(
        hits(&t),
        9,
        "every connection after the first followed the template"
    );
    // Once lbd's expiry pass (every 2 seconds) has removed the template, past its timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let c: serde_json::Value =
            serde_json::from_str(&t.lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
        let templates = c.to_string().matches("\"template\":true").count();
        if templates == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the template never expired: {c}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    {
        let _in = t.client.enter();
        let (status, _) = http_get(vip, None).expect("connection");
        assert_eq!(status, 200);
    }
    assert_eq!(
        hits(&t),
        9,
        "the template was released: the connection was scheduled anew"
    );
}
