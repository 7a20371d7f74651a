//! Live tests of operations: health checks taking real servers out of scheduling and back,
//! a service with every real server down (drop, or its sorry server), and draining with a
//! deadline. Real lbd, XDP on veth in namespaces the tests create, real servers answering.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use lb_tests::{
    require_root,
    servers::{LineServer, exchange},
    topo::{HttpServer, Method, Topology, VIP, VIP_PORT, VIP6, http_get, real_addr},
};
use serde_json::{Value, json};

/// `lbctl -L -n --json`.
fn listing(t: &Topology) -> Value {
    serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).expect("listing is JSON")
}

fn service<'a>(listing: &'a Value, vip: &str, port: u16) -> &'a Value {
    listing["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["vip"] == vip && s["port"] == port)
        .unwrap_or_else(|| panic!("no service {vip}:{port} in {listing}"))
}

fn real<'a>(svc: &'a Value, address: &str) -> &'a Value {
    svc["real_servers"]
        .as_array()
        .expect("real_servers")
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no real server {address} in {svc}"))
}

/// Polls `cond` on the listing every 50 ms until it holds; panics after `limit` with the last
/// listing. Returns how long it took.
fn wait_listing(
    t: &Topology,
    limit: Duration,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let v = listing(t);
        if cond(&v) {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}:\n{v:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` HTTP GETs over new connections from the client: every one must succeed; returns the
/// count per answering real server.
fn spread(t: &Topology, vip: SocketAddr, n: u32) -> BTreeMap<String, u32> {
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

/// The value of the one sample line starting with `prefix` (name and labels).
fn sample(metrics: &str, prefix: &str) -> f64 {
    let v: Vec<f64> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(v.len(), 1, "one sample {prefix}... wanted in\n{metrics}");
    v[0]
}

#[test]
fn a_failing_real_server_leaves_scheduling_and_returns_after_rise_successes() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let mut cfg = t.config(&[1, 1, 1]);
    let (interval_ms, fall, rise) = (200u64, 3u64, 2u64);
    let check = json!({
        "type": "http", "path": "/", "expect_body": "rs",
        "interval_ms": interval_ms, "timeout_ms": 190, "rise": rise, "fall": fall,
    });
    for s in cfg["services"].as_array_mut().unwrap() {
        s["health_check"] = check.clone();
    }
    t.start_lbd(&cfg);
    let (v4, v6) = (VIP.to_string(), VIP6.to_string());
    let rs1 = real_addr(1).to_string();
    let all_up = |v: &Value| {
        [&v4, &v6].iter().all(|vip| {
            service(v, vip, VIP_PORT)["real_servers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| {
                    r["health"]["state"] == "up"
                        && r["health"]["check"]["checks_ok"].as_u64() >= Some(rise)
                })
        })
    };
    wait_listing(
        &t,
        Duration::from_secs(10),
        "every real server checked up",
        all_up,
    );

    // rs1's HTTP server stops: its checks are refused.
    drop(t.http.remove(1));
    let took = wait_listing(&t, Duration::from_secs(20), "rs1 taken out", |v| {
        let r = real(service(v, &v4, VIP_PORT), &rs1);
        r["health"]["state"] == "down" && r["health"]["effective_weight"] == 0
    });
    let bound = Duration::from_millis(interval_ms * fall + interval_ms);
    eprintln!(
        "measured: rs1 out of scheduling {took:?} after its server stopped (interval x fall + interval = {bound:?})"
    );
    // interval x fall + one interval, plus slack for a loaded 2-core machine (lbctl polling,
    // scheduling delays): far below what "never" would take.
    assert!(
        took <= bound + Duration::from_secs(3),
        "rs1 taken out only after {took:?}"
    );
    let v = listing(&t);
    let r = real(service(&v, &v4, VIP_PORT), &rs1);
    assert_eq!(
        r["weight"], 1,
        "the listing keeps the configured weight: {r}"
    );
    assert!(
        r["health"]["check"]["checks_failed"].as_u64() >= Some(fall),
        "{r}"
    );
    assert!(
        r["health"]["check"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{r}"
    );
    wait_listing(&t, Duration::from_secs(20), "rs1 (IPv6) taken out", |v| {
        real(
            service(v, &v6, VIP_PORT),
            &lb_tests::topo::real_addr6(1).to_string(),
        )["health"]["state"]
            == "down"
    });
    let metrics = scrape(&t);
    let rl = format!(
        "protocol=\"tcp\",vip=\"{VIP}\",port=\"{VIP_PORT}\",real=\"{rs1}\",real_port=\"{VIP_PORT}\""
    );
    assert_eq!(
        sample(&metrics, &format!("lb_real_server_healthy{{{rl}}}")),
        0.0
    );
    assert!(
        sample(
            &metrics,
            &format!("lb_health_checks_total{{{rl},result=\"failed\"}}")
        ) >= fall as f64
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("lb_real_server_effective_weight{{{rl}}}")
        ),
        0.0
    );

    // From now on no client connection fails, and none reaches rs1.
    for vip in [
        SocketAddr::from((VIP, VIP_PORT)),
        SocketAddr::from((VIP6, VIP_PORT)),
    ] {
        let answers = spread(&t, vip, 60);
        assert_eq!(answers.get("rs1"), None, "{vip}: {answers:?}");
        assert_eq!(
            answers.len(),
            2,
            "{vip}: rs0 and rs2 share the load: {answers:?}"
        );
    }

    // rs1 serves again: back after `rise` successes.
    t.http
        .insert(1, HttpServer::start(&t.reals[1], "rs1", VIP_PORT));
    let took = wait_listing(&t, Duration::from_secs(20), "rs1 back", |v| {
        let r = real(service(v, &v4, VIP_PORT), &rs1);
        r["health"]["state"] == "up" && r["health"]["effective_weight"] == 1
    });
    eprintln!(
        "measured: rs1 back in scheduling {took:?} after its server restarted (rise x interval = {:?})",
        Duration::from_millis(rise * interval_ms)
    );
    wait_listing(&t, Duration::from_secs(20), "rs1 (IPv6) back", |v| {
        real(
            service(v, &v6, VIP_PORT),
            &lb_tests::topo::real_addr6(1).to_string(),
        )["health"]["state"]
            == "up"
    });
    let answers = spread(&t, SocketAddr::from((VIP, VIP_PORT)), 90);
    assert_eq!(answers.len(), 3, "rs1 takes connections again: {answers:?}");
}

#[test]
fn with_every_real_server_down_the_service_is_down_and_the_sorry_server_answers() {
    require_root!();
    // rs0 and rs1 are the real servers; rs2 is only the sorry server.
    let mut t = Topology::new(3, Method::Tun);
    let mut cfg = t.config(&[1, 1]);
    cfg["services"].as_array_mut().unwrap().truncate(1);
    cfg["services"][0]["health_check"] =
        json!({ "type": "tcp", "interval_ms": 200, "timeout_ms": 190, "rise": 2, "fall": 2 });
    cfg["services"][0]["sorry_server"] =
        json!({ "address": real_addr(2).to_string(), "forwarding": "tun" });
    t.start_lbd(&cfg);
    let v4 = VIP.to_string();
    let vip = SocketAddr::from((VIP, VIP_PORT));
    let v = listing(&t);
    let svc = service(&v, &v4, VIP_PORT);
    assert_eq!(
        svc["health"],
        json!({ "up": true, "sorry_server_active": false, "fallback": "sorry_server" })
    );
    assert_eq!(
        svc["real_servers"].as_array().unwrap().len(),
        2,
        "the sorry server is not in use: {svc}"
    );
    let answers = spread(&t, vip, 30);
    assert_eq!(answers.get("rs2"), None, "{answers:?}");

    // Both real servers stop.
    drop(t.http.remove(0));
    drop(t.http.remove(0));
    let took = wait_listing(
        &t,
        Duration::from_secs(20),
        "service down, sorry server in use",
        |v| {
            let svc = service(v, &v4, VIP_PORT);
            svc["health"]["up"] == false && svc["health"]["sorry_server_active"] == true
        },
    );
    eprintln!("measured: service down {took:?} after both real servers stopped");
    let v = listing(&t);
    let sorry = real(service(&v, &v4, VIP_PORT), &real_addr(2).to_string());
    assert_eq!(sorry["health"]["sorry_server"], true, "{sorry}");
    let status: Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
    assert_eq!(status["services_down"], 1, "{status}");
    let metrics = scrape(&t);
    let sl = format!("protocol=\"tcp\",vip=\"{VIP}\",port=\"{VIP_PORT}\"");
    assert_eq!(sample(&metrics, &format!("lb_service_up{{{sl}}}")), 0.0);
    assert_eq!(
        sample(&metrics, &format!("lb_service_sorry_server_active{{{sl}}}")),
        1.0
    );
    // Every client reaches the sorry server.
    let answers = spread(&t, vip, 30);
    assert_eq!(answers, BTreeMap::from([("rs2".to_string(), 30)]));

    // rs0 comes back: the service is up, the sorry server out again.
    t.http
        .insert(0, HttpServer::start(&t.reals[0], "rs0", VIP_PORT));
    wait_listing(&t, Duration::from_secs(20), "service up again", |v| {
        let svc = service(v, &v4, VIP_PORT);
        svc["health"]["up"] == true && svc["real_servers"].as_array().unwrap().len() == 2
    });
    let answers = spread(&t, vip, 30);
    assert_eq!(
        answers,
        BTreeMap::from([("rs0".to_string(), 30)]),
        "only rs0 is up"
    );
    assert_eq!(sample(&scrape(&t), &format!("lb_service_up{{{sl}}}")), 1.0);

    // Without a sorry server (the default fallback, drop), a down service drops new
    // connections: the client's SYNs go unanswered.
    drop(t.http.remove(0));
    cfg["services"][0]
        .as_object_mut()
        .unwrap()
        .remove("sorry_server");
    std::fs::write(&t.config_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(t.lbd.as_ref().unwrap().pid() as i32, libc::SIGHUP) };
    wait_listing(&t, Duration::from_secs(20), "service down, dropping", |v| {
        let svc = service(v, &v4, VIP_PORT);
        svc["health"] == json!({ "up": false, "sorry_server_active": false, "fallback": "drop" })
            && svc["real_servers"].as_array().unwrap().len() == 2
    });
    let dropped = |t: &Topology| -> u64 {
        let s: Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
        s["reasons"]["drop_no_real"].as_u64().unwrap()
    };
    let before = dropped(&t);
    {
        let _in = t.client.enter();
        let r = std::net::TcpStream::connect_timeout(&vip, Duration::from_secs(1));
        assert!(r.is_err(), "a connection to a down service was accepted");
    }
    assert!(dropped(&t) > before, "the SYN was dropped as drop_no_real");
}

#[test]
fn a_drained_real_server_keeps_its_connection_until_the_deadline_then_loses_it() {
    require_root!();
    const PORT: u16 = 9000;
    const DEADLINE: u64 = 8;
    let mut t = Topology::new(3, Method::Tun);
    let lines: Vec<LineServer> = t
        .reals
        .iter()
        .enumerate()
        .map(|(i, ns)| LineServer::start(ns, &format!("rs{i}"), PORT))
        .collect();
    let mut cfg = t.config(&[1, 1, 1]);
    cfg["services"].as_array_mut().unwrap().truncate(1);
    cfg["services"][0]["port"] = json!(PORT);
    for r in cfg["services"][0]["real_servers"].as_array_mut().unwrap() {
        r["port"] = json!(PORT);
    }
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, PORT));
    let v4 = VIP.to_string();

    // A long-lived connection; its real server is the one to drain.
    let mut held = {
        let _in = t.client.enter();
        lb_tests::topo::socket2_connect(vip, None).expect("connect")
    };
    let first = exchange(&mut held, "hello").expect("first exchange");
    let owner: usize = first
        .strip_prefix("rs")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("answer {first:?}"));
    let owner_addr = real_addr(owner).to_string();
    let name = format!("rs{owner}");

    let drained_at = Instant::now();
    let out = t.lbctl(&[
        "--json",
        "drain",
        "-t",
        &format!("{VIP}:{PORT}"),
        "-r",
        &owner_addr,
        "--deadline",
        &DEADLINE.to_string(),
    ]);
    let answer: Value = serde_json::from_str(&out).expect("drain answer is JSON");
    let d = &answer["real"]["health"]["draining"];
    assert_eq!(d["connections"], 1, "{answer}");
    assert_eq!(d["expired"], false, "{answer}");
    assert_eq!(answer["real"]["health"]["effective_weight"], 0, "{answer}");
    let text = t.lbctl(&["health"]);
    assert!(text.contains("draining: 1 connections"), "{text}");

    // New connections never reach it.
    {
        let _in = t.client.enter();
        for i in 0..30 {
            let mut s = lb_tests::topo::socket2_connect(vip, None).expect("connect");
            let a = exchange(&mut s, &format!("new {i}")).expect("exchange");
            assert!(
                !a.starts_with(&format!("{name} ")),
                "new connection {i} reached the draining {name}"
            );
        }
    }
    let metrics = scrape(&t);
    let rl = format!(
        "protocol=\"tcp\",vip=\"{VIP}\",port=\"{PORT}\",real=\"{owner_addr}\",real_port=\"{PORT}\""
    );
    assert_eq!(
        sample(&metrics, &format!("lb_real_server_draining{{{rl}}}")),
        1.0
    );

    // The held connection keeps working until the deadline (at least one exchange, however
    // slow the steps above were; the rest while well before the deadline).
    let mut exchanges = 0;
    loop {
        assert!(
            drained_at.elapsed() < Duration::from_secs(DEADLINE),
            "no exchange before the deadline"
        );
        let a = exchange(&mut held, &format!("ping {exchanges}"))
            .expect("held connection before the deadline");
        assert_eq!(a, format!("{name} ping {exchanges}"));
        exchanges += 1;
        if drained_at.elapsed() >= Duration::from_secs(DEADLINE) - Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    // After the deadline its entry is gone and the counts are corrected.
    let took = wait_listing(
        &t,
        Duration::from_secs(DEADLINE + 15),
        "drain expired",
        |v| {
            let r = real(service(v, &v4, PORT), &owner_addr);
            r["health"]["draining"]["expired"] == true
                && r["health"]["draining"]["connections"] == 0
                && r["active_conns"] == 0
                && r["inactive_conns"] == 0
        },
    );
    let since = drained_at.elapsed();
    eprintln!(
        "measured: connections removed {since:?} after the drain (deadline {DEADLINE} s; seen {took:?} into polling)"
    );
    assert!(
        since >= Duration::from_secs(DEADLINE),
        "removed before the deadline: {since:?}"
    );

    // The next packet of the held connection is a new flow for lb: scheduled to another real
    // server, whose kernel knows no such connection and resets it.
    let r = exchange(&mut held, "after the deadline");
    match &r {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Ok(a) => panic!("the held connection still answered after the deadline: {a:?}"),
    }
    assert!(
        !lines[owner]
            .received()
            .iter()
            .any(|l| l == "after the deadline"),
        "the drained real server got data after the deadline"
    );
    // Still out of scheduling until undrained.
    {
        let _in = t.client.enter();
        for i in 0..20 {
            let mut s = lb_tests::topo::socket2_connect(vip, None).expect("connect");
            let a = exchange(&mut s, &format!("late {i}")).expect("exchange");
            assert!(
                !a.starts_with(&format!("{name} ")),
                "connection {i} reached the drained {name}"
            );
        }
    }
    let out = t.lbctl(&["undrain", "-t", &format!("{VIP}:{PORT}"), "-r", &owner_addr]);
    assert!(out.contains("in scheduling"), "{out}");
    let mut back = false;
    {
        let _in = t.client.enter();
        for i in 0..60 {
            let mut s = lb_tests::topo::socket2_connect(vip, None).expect("connect");
            let a = exchange(&mut s, &format!("back {i}")).expect("exchange");
            if a.starts_with(&format!("{name} ")) {
                back = true;
                break;
            }
        }
    }
    assert!(back, "{name} takes no connection after undrain");
    // An unknown real server is a clear error, and changes nothing.
    let out = std::process::Command::new(lb_tests::topo::bin("lbctl"))
        .arg("--socket")
        .arg(&t.socket)
        .args([
            "drain",
            "-t",
            &format!("{VIP}:{PORT}"),
            "-r",
            "198.18.0.99",
            "--deadline",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("service tcp {VIP}:{PORT} has no real server 198.18.0.99:{PORT}")
    );
    drop(held);
    drop(lines);
}

#[test]
fn lbd_logs_one_json_object_per_event_and_tells_systemd_its_state() {
    require_root!();
    use std::os::unix::net::UnixDatagram;

    use lb_tests::{
        netns::{Netns, unique_name},
        topo::{Proc, bin},
    };
    let ns = Netns::new("log");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
    ]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["link", "set", "peer0", "up"]);
    let dir = std::env::temp_dir().join(unique_name("logs"));
    std::fs::create_dir_all(&dir).unwrap();
    let pin_dir = std::path::PathBuf::from("/sys/fs/bpf").join(unique_name("pins"));
    struct Cleanup(Vec<std::path::PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = std::fs::remove_dir_all(p);
            }
        }
    }
    let _cleanup = Cleanup(vec![dir.clone(), pin_dir.clone()]);
    let cfg = dir.join("lb.json");
    std::fs::write(
        &cfg,
        json!({ "interface": "eth0", "pin_dir": pin_dir, "services": [] }).to_string(),
    )
    .unwrap();
    let notify = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let recv = |what: &str| -> String {
        let mut buf = [0u8; 256];
        let n = notify
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what} from lbd: {e}"));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let log = dir.join("lbd.log");
    let mut lbd = Proc::spawn(
        "lbd",
        std::process::Command::new(bin("lbd"))
            .args([
                "--netns",
                &ns.name,
                "--log-format",
                "json",
                "--log-level",
                "debug",
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--socket")
            .arg(dir.join("lbd.sock"))
            .arg("--state-file")
            .arg(dir.join("state.json"))
            .env("NOTIFY_SOCKET", dir.join("notify.sock"))
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    assert_eq!(recv("READY=1"), "READY=1");
    assert!(
        dir.join("lbd.sock").exists(),
        "ready before the control socket"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(lbd.pid() as i32, libc::SIGHUP) };
    assert_eq!(recv("RELOADING=1"), "RELOADING=1");
    assert_eq!(recv("READY=1 after the reload"), "READY=1");
    lbd.stop();
    assert_eq!(recv("STOPPING=1"), "STOPPING=1");
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {l:?}: {e}"))
        })
        .collect();
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
    }
    for message in [
        "lb attached",
        "SIGHUP: config re-read and applied",
        "stopping; the data plane keeps forwarding with its last state (pinned), and lbd started again takes it over (`lbd flush --pin-dir` removes it)",
    ] {
        assert!(
            events.iter().any(|e| e["message"] == message),
            "no {message:?} event in\n{text}"
        );
    }
    assert!(
        events.iter().any(|e| e["level"] == "DEBUG"),
        "--log-level debug: no debug event in\n{text}"
    );
    let attached = events
        .iter()
        .find(|e| e["message"] == "lb attached")
        .unwrap();
    assert_eq!(
        attached["interface"], "eth0",
        "fields are flattened: {attached}"
    );
}

#[test]
fn check_config_flag_validates_and_names_the_json_path() {
    use lb_tests::{netns::unique_name, topo::bin};
    let dir = std::env::temp_dir().join(unique_name("cc"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lb.json");
    let mut cfg = json!({ "interface": "eth0", "services": [ {
        "protocol": "tcp", "vip": "198.18.1.100", "port": 80, "scheduler": "mh",
        "health_check": { "type": "http", "path": "/health", "interval_ms": 1000, "rise": 2, "fall": 3 },
        "sorry_server": { "address": "198.18.0.19" },
        "real_servers": [ { "address": "198.18.0.11" },
                          { "address": "198.18.0.12", "health_check": { "type": "exec", "command": ["/bin/true"] } } ] } ] });
    let run = |cfg: &Value| {
        std::fs::write(&file, cfg.to_string()).unwrap();
        std::process::Command::new(bin("lbd"))
            .arg("--check-config")
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run(&cfg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: ok\n", file.display())
    );
    cfg["services"][0]["real_servers"][1]["health_check"] =
        json!({ "type": "exec", "timeout_ms": 5 });
    cfg["services"][0]["health_check"]["expect"] = json!("pong");
    let out = run(&cfg);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "lbd: invalid config {}:\n  \
             services[0].health_check.expect: only udp checks have expect (this check is \"http\")\n  \
             services[0].real_servers[1].health_check.timeout_ms: 5 is out of range (10 to the interval, 5000): a check must end before the next one starts\n  \
             services[0].real_servers[1].health_check.command: required for exec checks: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"--quick\"]\n",
            file.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(out.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/lbd.service"
    ))
    .expect("packaging/lbd.service");
    // Point it at this build's lbd (systemd checks that ExecStart's program exists).
    let lbd = lb_tests::topo::bin("lbd");
    let dir = std::env::temp_dir().join(lb_tests::netns::unique_name("unit"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lbd.service");
    std::fs::write(&path, unit.replace("/usr/sbin/lbd", lbd.to_str().unwrap())).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
}

#[test]
fn on_down_expire_removes_a_down_real_servers_connections_after_the_grace_period() {
    require_root!();
    const PORT: u16 = 9000;
    // The check looks at another port than the service: stopping what answers there takes the
    // real server down while its service port keeps serving the held connection.
    const CHECK_PORT: u16 = 9001;
    let mut t = Topology::new(2, Method::Tun);
    let lines: Vec<LineServer> = t
        .reals
        .iter()
        .enumerate()
        .map(|(i, ns)| LineServer::start(ns, &format!("rs{i}"), PORT))
        .collect();
    let mut checked: Vec<Option<LineServer>> = t
        .reals
        .iter()
        .enumerate()
        .map(|(i, ns)| Some(LineServer::start(ns, &format!("rs{i}"), CHECK_PORT)))
        .collect();
    let mut cfg = t.config(&[1, 1]);
    cfg["services"].as_array_mut().unwrap().truncate(1);
    cfg["services"][0]["port"] = json!(PORT);
    cfg["services"][0]["health_check"] = json!({
        "type": "tcp", "port": CHECK_PORT, "interval_ms": 200, "timeout_ms": 190,
        "rise": 1, "fall": 3, "on_down": "expire", "grace_ms": 1000,
    });
    for r in cfg["services"][0]["real_servers"].as_array_mut().unwrap() {
        r["port"] = json!(PORT);
    }
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, PORT));
    let mut held = {
        let _in = t.client.enter();
        lb_tests::topo::socket2_connect(vip, None).expect("connect")
    };
    let first = exchange(&mut held, "hello").expect("first exchange");
    let owner: usize = if first.starts_with("rs0 ") { 0 } else { 1 };
    let owner_addr = real_addr(owner).to_string();
    let name = format!("rs{owner}");

    checked[owner] = None;
    let down = Instant::now();
    wait_listing(&t, Duration::from_secs(20), "owner down", |v| {
        real(service(v, &VIP.to_string(), PORT), &owner_addr)["health"]["state"] == "down"
    });
    // Within the grace period the connection still works (unless the machine was too slow to
    // get here in time: then there is nothing to check).
    if down.elapsed() < Duration::from_millis(500) {
        assert_eq!(
            exchange(&mut held, "in grace").expect("within the grace period"),
            format!("{name} in grace")
        );
    }
    let took = wait_listing(&t, Duration::from_secs(20), "its connection removed", |v| {
        let r = real(service(v, &VIP.to_string(), PORT), &owner_addr);
        r["active_conns"] == 0 && r["inactive_conns"] == 0
    });
    let since = down.elapsed();
    eprintln!(
        "measured: connection of the down real server removed {since:?} after the server behind its check stopped ({took:?} after it was seen down)"
    );
    assert!(
        since >= Duration::from_millis(1000),
        "removed within the grace period: {since:?}"
    );
    match exchange(&mut held, "after") {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Ok(a) => panic!("the connection survived its real server's expiry: {a:?}"),
    }
    assert!(!lines[owner].received().iter().any(|l| l == "after"));
}
