//! `lbctl trace`: a live trace shows the data plane's decision for packets the test sends,
//! a forwarded one with its real server and a dropped one with its reason.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use lb_tests::{
    config::tcp_service,
    consts::{VIP, VIP_PORT, real_addr},
    require_root,
    topo::{Method, Topology, bin, http_get},
};
use serde_json::Value;

#[test]
fn trace_shows_a_forwarded_and_a_dropped_packet_with_their_reasons() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    // Port 81 of the VIP has no real server: its SYNs are dropped (drop_no_real).
    let cfg = t.config(&[1, 1]).service(tcp_service(VIP, 81));
    t.start_lbd(&cfg);
    let mut child = Command::new(bin("lbctl"))
        .arg("--socket")
        .arg(&t.socket)
        .args([
            "--json",
            "trace",
            "--vip",
            &VIP.to_string(),
            "--count",
            "500",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lbctl trace");
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("lbctl trace --json printed {line:?}: {e}"));
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    let reals: Vec<String> = (0..2)
        .map(|i| format!("{}:{VIP_PORT}", real_addr(i)))
        .collect();
    let (mut forwarded, mut dropped) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while (forwarded.is_none() || dropped.is_none()) && Instant::now() < deadline {
        {
            // Traffic until both have been seen (the trace may start after the first packets).
            let _in = t.client.enter();
            let (status, _) = http_get(SocketAddr::from((VIP, VIP_PORT)), None).expect("GET");
            assert_eq!(status, 200);
            let r = std::net::TcpStream::connect_timeout(
                &SocketAddr::from((VIP, 81)),
                Duration::from_millis(300),
            );
            assert!(r.is_err(), "port 81 has no real server");
        }
        while let Ok(e) = rx.recv_timeout(Duration::from_millis(200)) {
            assert_eq!(e["protocol"], "tcp", "{e}");
            let dst = e["destination"].as_str().unwrap_or("");
            if dst == format!("{VIP}:{VIP_PORT}") && e["verdict"] == "tx" {
                assert_eq!(e["reason"], "tx", "{e}");
                assert!(
                    reals.contains(&e["real"].as_str().unwrap_or("").to_string()),
                    "a forwarded packet names its real server: {e}"
                );
                forwarded = Some(e);
            } else if dst == format!("{VIP}:81") {
                assert_eq!(e["verdict"], "drop", "{e}");
                assert_eq!(e["reason"], "drop_no_real", "{e}");
                assert!(e["real"].is_null(), "{e}");
                dropped = Some(e);
            }
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        forwarded.is_some() && dropped.is_some(),
        "trace showed forwarded {forwarded:?}, dropped {dropped:?}; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // When the client goes, lbd ends the trace (tracing off in the data plane, the ring
    // buffer back for the next one).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // A second trace can start: the first one gave the ring buffer back.
        let probe = Command::new(bin("lbctl"))
            .arg("--socket")
            .arg(&t.socket)
            .args(["trace", "--count", "1", "--vip", "198.18.200.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut probe = probe;
        let _ = probe.kill();
        let out = probe.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("already running") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first trace never ended: {err}"
        );
    }
}
