//! Limits and guarantees (README "Limits and guarantees"), against a running lbd: a change
//! that cannot be persisted is refused with its cause and never served after a restart; the
//! documented capacities apply in one batch and one past them is refused; the metrics
//! endpoint answers a scrape while silent connections are held open; the control socket
//! answers an oversized or malformed request with an error while its memory stays bounded.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    os::unix::net::UnixStream,
    time::{Duration, Instant},
};

use lb_tests::{mount::Tmpfs, require_root, solo::SoloLbd};

/// The documented limits: services and real servers (with sorry servers) in all, and real
/// servers per service (lb_common's capacities minus the reserved id 0).
const MAX_SERVICES: usize = lb_common::MAX_SERVICES as usize - 1;
const MAX_REALS: usize = lb_common::MAX_REALS as usize - 1;

/// The i-th of a set of distinct unicast IPv4 addresses in `10.first.0.0/10`, never .0.0.
fn addr(first: u8, i: usize) -> String {
    let i = i + 1;
    format!(
        "10.{}.{}.{}",
        first as usize + (i >> 16),
        (i >> 8) & 0xff,
        i & 0xff
    )
}

/// An ipvsadm-save batch of `n` TCP services on VIPs of their own (each one also a VIP
/// marker in lb_services), one `dr` real server each.
fn services_batch(n: usize, vip_net: u8) -> String {
    let mut s = String::new();
    for i in 0..n {
        let vip = addr(vip_net, i);
        s += &format!("-A -t {vip}:80 -s rr\n");
        s += &format!("-a -t {vip}:80 -r {}:80 -g -w 1\n", addr(vip_net + 1, i));
    }
    s
}

/// The services lbd lists (`-L -n` lines of a service).
fn service_lines(listing: &str) -> usize {
    listing
        .lines()
        .filter(|l| l.starts_with("TCP ") || l.starts_with("UDP "))
        .count()
}

/// One request to lbd's socket, waiting up to two minutes for its answer.
fn ask_slowly(lbd: &SoloLbd, request: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(&lbd.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    writeln!(s, "{request}").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_change_that_cannot_be_persisted_is_refused_with_its_cause_and_not_served_after_a_restart() {
    require_root!();
    // The state directory is a small filesystem of the test's own.
    let disk = Tmpfs::mount("state", 256 * 1024);
    let mut lbd = SoloLbd::start_with_state_file(disk.path.join("state.json"));
    let out = lbd.lbctl(&["-R"], services_batch(3, 16).as_bytes());
    assert!(out.status.success(), "{out:?}");
    let confirmed = lbd.ok(&["-S", "-n"]);
    assert_eq!(service_lines(&lbd.ok(&["-L", "-n"])), 3);
    let state_before = std::fs::read(&lbd.state_file).unwrap();

    // The disk fills up; 120 services in one batch cannot be recorded.
    let filled = disk.fill("filler");
    assert!(filled > 0);
    let out = lbd.lbctl(&["-R"], services_batch(120, 32).as_bytes());
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "a change that was not persisted was confirmed: {out:?}"
    );
    assert!(
        err.contains("No space left on device") && err.contains("state.json"),
        "the cause (and the file) must be named: {err}"
    );
    // Taken back out of the data plane; the state file untouched; no temporary file left.
    assert_eq!(lbd.ok(&["-S", "-n"]), confirmed);
    assert_eq!(std::fs::read(&lbd.state_file).unwrap(), state_before);
    assert_eq!(disk.names(), ["filler", "state.json"]);
    // The same for a single ipvsadm command.
    let out = lbd.lbctl(&["-A", "-t", "10.48.0.1:80", "-s", "rr"], b"");
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("No space left on device"), "{out:?}");
    assert_eq!(lbd.ok(&["-S", "-n"]), confirmed);

    // A restart (SIGKILL: nothing written on the way out) serves what was last confirmed.
    lbd.kill_and_restart();
    assert_eq!(lbd.ok(&["-S", "-n"]), confirmed);

    // Room again: the batch is confirmed, and survives a restart.
    std::fs::remove_file(disk.path.join("filler")).unwrap();
    let out = lbd.lbctl(&["-R"], services_batch(120, 32).as_bytes());
    assert!(out.status.success(), "{out:?}");
    let after = lbd.ok(&["-S", "-n"]);
    assert_eq!(service_lines(&lbd.ok(&["-L", "-n"])), 123);
    assert_eq!(disk.names(), ["state.json"]);
    lbd.kill_and_restart();
    assert_eq!(lbd.ok(&["-S", "-n"]), after);
}

#[test]
fn the_documented_number_of_services_applies_in_one_batch_and_one_more_is_refused() {
    require_root!();
    let mut lbd = SoloLbd::start();
    // Every service on a VIP of its own: services and VIP markers share lb_services.
    let t0 = Instant::now();
    let out = lbd.lbctl(&["-R"], services_batch(MAX_SERVICES, 16).as_bytes());
    assert!(
        out.status.success(),
        "{MAX_SERVICES} services in one batch: {}",
        stderr(&out)
    );
    eprintln!("{MAX_SERVICES} services in one -R: {:?}", t0.elapsed());
    assert_eq!(service_lines(&lbd.ok(&["-L", "-n"])), MAX_SERVICES);
    let saved = lbd.ok(&["-S", "-n"]);

    let out = lbd.lbctl(&["-A", "-t", "10.99.0.1:80", "-s", "rr"], b"");
    assert!(!out.status.success(), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("at most {MAX_SERVICES}")),
        "one past the limit: {err}"
    );
    assert_eq!(lbd.ok(&["-S", "-n"]), saved);

    // All of them back after a restart (state file and adopted maps).
    lbd.kill_and_restart();
    assert_eq!(lbd.ok(&["-S", "-n"]), saved);
    // And all of them go in one batch.
    let out = lbd.lbctl(&["-C"], b"");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(service_lines(&lbd.ok(&["-L", "-n"])), 0);
}

#[test]
fn the_documented_number_of_real_servers_applies_in_one_service_and_one_more_is_refused() {
    require_root!();
    let lbd = SoloLbd::start();
    // One service holding every real-server id there is (the limit per service is the limit
    // in all), as one config: `apply` is one batch like `-R`, and lbctl reads it without
    // parsing 131,071 command lines.
    let reals: Vec<serde_json::Value> = (0..MAX_REALS)
        .map(|i| serde_json::json!({ "address": addr(64, i), "forwarding": "dr" }))
        .collect();
    let mut cfg: serde_json::Value = serde_json::from_str(&lbd.config.json()).unwrap();
    cfg["services"] = serde_json::json!([{
        "protocol": "tcp", "vip": "10.8.0.1", "port": 80, "scheduler": "rr",
        "real_servers": reals,
    }]);
    // Straight to the socket: lbctl gives lbd 10 s to answer, and a debug build of lbd takes
    // longer than that for this one (the benchmark's release build: 100,000 in under half a
    // second).
    let request = serde_json::json!({
        "v": 2, "op": "apply", "config": cfg.to_string(), "source": "reals.json",
    });
    let t0 = Instant::now();
    let answer = ask_slowly(&lbd, &request.to_string());
    assert_eq!(
        answer["result"], "applied",
        "{MAX_REALS} real servers in one apply: {answer}"
    );
    eprintln!("{MAX_REALS} real servers in one apply: {:?}", t0.elapsed());
    // Counted by lbd's status (through the socket): a listing of 131,071 real servers takes a
    // debug build of lbd longer than lbctl's 10 s.
    let count = |lbd: &SoloLbd| {
        let st = ask_slowly(lbd, r#"{"v":2,"op":"status"}"#);
        (st["services"].as_u64(), st["real_servers"].as_u64())
    };
    assert_eq!(count(&lbd), (Some(1), Some(MAX_REALS as u64)));

    // One more, in this service or in a new one, is refused and changes nothing: ipvsadm's
    // edits as lbctl sends them for `-a` and for `-R`, straight to the socket (a debug lbd
    // takes longer than lbctl's 10 s to edit a config this size).
    let real = r#"{"address":"10.9.0.1","port":80,"forwarding":"dr"}"#;
    let one_more = format!(
        r#"{{"v":2,"op":"edit","edits":[{{"cmd":"add_real","service":{{"protocol":"tcp","vip":"10.8.0.1","port":80}},"real":{real}}}]}}"#
    );
    let new_service = format!(
        r#"{{"v":2,"op":"edit","edits":[{{"cmd":"add_service","service":{{"protocol":"tcp","vip":"10.8.0.2","port":80,"scheduler":"rr"}}}},{{"cmd":"add_real","service":{{"protocol":"tcp","vip":"10.8.0.2","port":80}},"real":{real}}}]}}"#
    );
    for request in [one_more, new_service] {
        let answer = ask_slowly(&lbd, &request);
        assert_eq!(answer["result"], "error", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("at most {MAX_REALS}"))),
            "one past the limit: {answer}"
        );
    }
    assert_eq!(count(&lbd), (Some(1), Some(MAX_REALS as u64)));
}

/// Scrapes `/metrics` on lbd's metrics_listen inside its namespace; (status line, body).
fn get(lbd: &SoloLbd, request: &[u8]) -> (String, String) {
    let _in = lbd.ns.enter();
    let mut s = TcpStream::connect(("127.0.0.1", 9406)).expect("metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn a_scrape_answers_within_a_second_while_fifty_silent_connections_are_held_open() {
    require_root!();
    let lbd = SoloLbd::start();
    let (status, body) = get(&lbd, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 200 OK", "{body}");
    assert!(body.contains("lb_packets_total{reason=\"tx\"}"), "{body}");

    // Fifty local processes' connections that send nothing, and one that trickles a header.
    let (silent, mut trickle) = {
        let _in = lbd.ns.enter();
        let silent: Vec<TcpStream> = (0..50)
            .map(|i| {
                TcpStream::connect(("127.0.0.1", 9406))
                    .unwrap_or_else(|e| panic!("silent connection {i}: {e}"))
            })
            .collect();
        let trickle = TcpStream::connect(("127.0.0.1", 9406)).unwrap();
        (silent, trickle)
    };
    trickle
        .write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    for round in 0..3 {
        let t0 = Instant::now();
        let (status, body) = get(&lbd, b"GET /metrics HTTP/1.0\r\n\r\n");
        let took = t0.elapsed();
        assert_eq!(status, "HTTP/1.0 200 OK", "{body}");
        assert!(body.contains("lb_connection_table_capacity"), "{body}");
        assert!(
            took < Duration::from_secs(1),
            "scrape {round} took {took:?} beside 50 silent connections"
        );
    }

    // Other paths and methods, and garbage, are not metrics.
    let (status, _) = get(&lbd, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 404 Not Found");
    let (status, _) = get(&lbd, b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 405 Method Not Allowed");
    let (status, body) = get(&lbd, b"\x16\x03\x01 garbage\r\n\r\n");
    assert!(!status.contains("200"), "garbage got {status}: {body}");
    // More headers than lbd reads (all of them sent: the answer is not lost to a reset).
    let many: String = (0..100).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let (status, _) = get(
        &lbd,
        format!("GET /metrics HTTP/1.0\r\n{many}\r\n").as_bytes(),
    );
    assert!(status.contains(" 431 "), "100 headers got {status:?}");

    // The silent ones are closed after the header timeout (bounded: they hold nothing).
    let mut s = silent.into_iter().next().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let t0 = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        t0.elapsed() < Duration::from_secs(14),
        "a silent connection was kept past the header timeout"
    );
    drop(trickle);
}

/// lbd's resident memory now and at its peak (VmRSS, VmHWM), in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"));
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends `bytes` on a new connection to lbd's socket (from a thread, so that lbd may answer
/// and close before all of it is written) and returns the answer lines lbd wrote.
fn exchange(lbd: &SoloLbd, bytes: Vec<u8>) -> Vec<String> {
    let s = UnixStream::connect(&lbd.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        // lbd closing mid-way (EPIPE) is what a too-large request gets.
        let _ = w.write_all(&bytes);
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let lines: Vec<String> = BufReader::new(s).lines().map_while(Result::ok).collect();
    writer.join().unwrap();
    lines
}

#[test]
fn an_oversized_or_malformed_control_request_gets_an_error_and_memory_stays_bounded() {
    require_root!();
    let lbd = SoloLbd::start();
    let listing = lbd.ok(&["-S", "-n"]);
    let limit = lb_model::api::MAX_REQUEST_BYTES;
    let (rss_before, _) = memory(lbd.pid());

    // Four times the limit, no newline: an error once the limit is passed, then closed.
    let answers = exchange(&lbd, vec![b'x'; 4 * limit]);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let a: serde_json::Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(a["result"], "error", "{a}");
    assert!(
        a["message"].as_str().unwrap().contains("request too large"),
        "{a}"
    );
    let (_, peak) = memory(lbd.pid());
    eprintln!(
        "lbd: {} MiB before, {} MiB at its peak after a {} MiB request",
        rss_before >> 20,
        peak >> 20,
        (4 * limit) >> 20
    );
    // What lbd lets all clients' requests hold together (twice the limit), not what was sent.
    assert!(
        peak < rss_before + 2 * limit as u64,
        "lbd grew from {rss_before} to {peak} bytes for a request it refuses past {limit}"
    );

    // Invalid UTF-8 is answered and the connection goes on; so is JSON that is no request.
    let answers = exchange(
        &lbd,
        b"\xff\xfe{\"v\":2}\n{\"v\":2,\"op\":\"nothing\"}\n{\"v\":2,\"op\":\"timeouts\"}\n"
            .to_vec(),
    );
    assert_eq!(answers.len(), 3, "{answers:?}");
    let a: Vec<serde_json::Value> = answers
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(a[0]["result"], "error", "{}", a[0]);
    assert!(
        a[0]["message"].as_str().unwrap().contains("not UTF-8"),
        "{}",
        a[0]
    );
    assert_eq!(a[1]["result"], "error", "{}", a[1]);
    assert_eq!(a[2]["result"], "timeouts", "{}", a[2]);
    assert_eq!(lbd.ok(&["-S", "-n"]), listing);
}
