//! Live tests of operations: health checks taking real servers out of scheduling and back,
//! a service with every real server down (drop, or its sorry server), draining with a
//! deadline, and `on_down: expire`. Real lbd, XDP on veth in namespaces the tests create, real
//! servers answering.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use lb_tests::{
    config::{self, check},
    consts::{VIP, VIP_PORT, VIP6, real_addr, real_addr6},
    listing::{real, sample, service},
    require_root,
    servers::{LineServer, exchange},
    topo::{HttpServer, Method, Topology, bin, socket2_connect},
};
use serde_json::{Value, json};

#[test]
fn a_failing_real_server_leaves_scheduling_and_returns_after_rise_successes() {
    require_root!();
    let mut t = Topology::new(3, Method::Tun);
    let (interval_ms, fall, rise) = (200u64, 3u64, 2u64);
    let http = check("http")
        .path("/")
        .expect_body("rs")
        .interval_ms(interval_ms as u32)
        .timeout_ms(190)
        .rise(rise as u32)
        .fall(fall as u32);
    let cfg = t
        .config(&[1, 1, 1])
        .edit_service(0, |s| s.health_check(http.clone()))
        .edit_service(1, |s| s.health_check(http.clone()));
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
    t.wait_listing(
        Duration::from_secs(10),
        "every real server checked up",
        all_up,
    );

    // rs1's HTTP server stops: its checks are refused.
    drop(t.http.remove(1));
    let took = t.wait_listing(Duration::from_secs(20), "rs1 taken out", |v| {
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
    let v = t.listing();
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
    t.wait_listing(Duration::from_secs(20), "rs1 (IPv6) taken out", |v| {
        real(service(v, &v6, VIP_PORT), real_addr6(1))["health"]["state"] == "down"
    });
    let metrics = t.scrape();
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
        let answers = t.requests(vip, 60);
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
    let took = t.wait_listing(Duration::from_secs(20), "rs1 back", |v| {
        let r = real(service(v, &v4, VIP_PORT), &rs1);
        r["health"]["state"] == "up" && r["health"]["effective_weight"] == 1
    });
    eprintln!(
        "measured: rs1 back in scheduling {took:?} after its server restarted (rise x interval = {:?})",
        Duration::from_millis(rise * interval_ms)
    );
    t.wait_listing(Duration::from_secs(20), "rs1 (IPv6) back", |v| {
        real(service(v, &v6, VIP_PORT), real_addr6(1))["health"]["state"] == "up"
    });
    let answers = t.requests(SocketAddr::from((VIP, VIP_PORT)), 90);
    assert_eq!(answers.len(), 3, "rs1 takes connections again: {answers:?}");
}

#[test]
fn with_every_real_server_down_the_service_is_down_and_the_sorry_server_answers() {
    require_root!();
    // rs0 and rs1 are the real servers; rs2 is only the sorry server.
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1]).first_services(1).edit_service(0, |s| {
        s.health_check(
            check("tcp")
                .interval_ms(200)
                .timeout_ms(190)
                .rise(2)
                .fall(2),
        )
        .sorry_server(config::real(real_addr(2)).tun())
    });
    t.start_lbd(&cfg);
    let v4 = VIP.to_string();
    let vip = SocketAddr::from((VIP, VIP_PORT));
    let v = t.listing();
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
    let answers = t.requests(vip, 30);
    assert_eq!(answers.get("rs2"), None, "{answers:?}");

    // Both real servers stop.
    drop(t.http.remove(0));
    drop(t.http.remove(0));
    let took = t.wait_listing(
        Duration::from_secs(20),
        "service down, sorry server in use",
        |v| {
            let svc = service(v, &v4, VIP_PORT);
            svc["health"]["up"] == false && svc["health"]["sorry_server_active"] == true
        },
    );
    eprintln!("measured: service down {took:?} after both real servers stopped");
    let v = t.listing();
    let sorry = real(service(&v, &v4, VIP_PORT), real_addr(2));
    assert_eq!(sorry["health"]["sorry_server"], true, "{sorry}");
    let status: Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
    assert_eq!(status["services_down"], 1, "{status}");
    let metrics = t.scrape();
    let sl = format!("protocol=\"tcp\",vip=\"{VIP}\",port=\"{VIP_PORT}\"");
    assert_eq!(sample(&metrics, &format!("lb_service_up{{{sl}}}")), 0.0);
    assert_eq!(
        sample(&metrics, &format!("lb_service_sorry_server_active{{{sl}}}")),
        1.0
    );
    // Every client reaches the sorry server.
    let answers = t.requests(vip, 30);
    assert_eq!(answers, BTreeMap::from([("rs2".to_string(), 30)]));

    // rs0 comes back: the service is up, the sorry server out again.
    t.http
        .insert(0, HttpServer::start(&t.reals[0], "rs0", VIP_PORT));
    t.wait_listing(Duration::from_secs(20), "service up again", |v| {
        let svc = service(v, &v4, VIP_PORT);
        svc["health"]["up"] == true && svc["real_servers"].as_array().unwrap().len() == 2
    });
    let answers = t.requests(vip, 30);
    assert_eq!(
        answers,
        BTreeMap::from([("rs0".to_string(), 30)]),
        "only rs0 is up"
    );
    assert_eq!(sample(&t.scrape(), &format!("lb_service_up{{{sl}}}")), 1.0);

    // Without a sorry server (the default fallback, drop), a down service drops new
    // connections: the client's SYNs go unanswered.
    drop(t.http.remove(0));
    t.reload(&cfg.edit_service(0, |s| s.no_sorry_server()));
    t.wait_listing(Duration::from_secs(20), "service down, dropping", |v| {
        let svc = service(v, &v4, VIP_PORT);
        svc["health"] == json!({ "up": false, "sorry_server_active": false, "fallback": "drop" })
            && svc["real_servers"].as_array().unwrap().len() == 2
    });
    let before = t.reason("drop_no_real");
    {
        let _in = t.client.enter();
        let r = std::net::TcpStream::connect_timeout(&vip, Duration::from_secs(1));
        assert!(r.is_err(), "a connection to a down service was accepted");
    }
    assert!(
        t.reason("drop_no_real") > before,
        "the SYN was dropped as drop_no_real"
    );
}

#[test]
fn a_drained_real_server_keeps_its_connection_until_the_deadline_then_loses_it() {
    require_root!();
    const PORT: u16 = 9000;
    const DEADLINE: u64 = 8;
    let mut t = Topology::new(3, Method::Tun);
    let lines = t.line_servers(PORT);
    let cfg = t.config_on_port(&[1, 1, 1], PORT);
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, PORT));
    let v4 = VIP.to_string();

    // A long-lived connection; its real server is the one to drain.
    let mut held = {
        let _in = t.client.enter();
        socket2_connect(vip, None).expect("connect")
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
            let mut s = socket2_connect(vip, None).expect("connect");
            let a = exchange(&mut s, &format!("new {i}")).expect("exchange");
            assert!(
                !a.starts_with(&format!("{name} ")),
                "new connection {i} reached the draining {name}"
            );
        }
    }
    let metrics = t.scrape();
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
    let took = t.wait_listing(Duration::from_secs(DEADLINE + 15), "drain expired", |v| {
        let r = real(service(v, &v4, PORT), &owner_addr);
        r["health"]["draining"]["expired"] == true
            && r["health"]["draining"]["connections"] == 0
            && r["active_conns"] == 0
            && r["inactive_conns"] == 0
    });
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
            let mut s = socket2_connect(vip, None).expect("connect");
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
            let mut s = socket2_connect(vip, None).expect("connect");
            let a = exchange(&mut s, &format!("back {i}")).expect("exchange");
            if a.starts_with(&format!("{name} ")) {
                back = true;
                break;
            }
        }
    }
    assert!(back, "{name} takes no connection after undrain");
    // An unknown real server is a clear error, and changes nothing.
    let out = std::process::Command::new(bin("lbctl"))
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
fn on_down_expire_removes_a_down_real_servers_connections_after_the_grace_period() {
    require_root!();
    const PORT: u16 = 9000;
    // The check looks at another port than the service: stopping what answers there takes the
    // real server down while its service port keeps serving the held connection.
    const CHECK_PORT: u16 = 9001;
    let mut t = Topology::new(2, Method::Tun);
    let lines = t.line_servers(PORT);
    let mut checked: Vec<Option<LineServer>> =
        t.line_servers(CHECK_PORT).into_iter().map(Some).collect();
    let cfg = t.config_on_port(&[1, 1], PORT).edit_service(0, |s| {
        s.health_check(
            check("tcp")
                .port(CHECK_PORT)
                .interval_ms(200)
                .timeout_ms(190)
                .rise(1)
                .fall(3)
                .on_down("expire", 1000),
        )
    });
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, PORT));
    let mut held = {
        let _in = t.client.enter();
        socket2_connect(vip, None).expect("connect")
    };
    let first = exchange(&mut held, "hello").expect("first exchange");
    let owner: usize = if first.starts_with("rs0 ") { 0 } else { 1 };
    let owner_addr = real_addr(owner).to_string();
    let name = format!("rs{owner}");

    checked[owner] = None;
    let down = Instant::now();
    t.wait_listing(Duration::from_secs(20), "owner down", |v| {
        real(service(v, VIP, PORT), &owner_addr)["health"]["state"] == "down"
    });
    // Within the grace period the connection still works (unless the machine was too slow to
    // get here in time: then there is nothing to check).
    if down.elapsed() < Duration::from_millis(500) {
        assert_eq!(
            exchange(&mut held, "in grace").expect("within the grace period"),
            format!("{name} in grace")
        );
    }
    let took = t.wait_listing(Duration::from_secs(20), "its connection removed", |v| {
        let r = real(service(v, VIP, PORT), &owner_addr);
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
