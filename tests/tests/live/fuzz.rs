//! Fuzzing a running lbd from a fixed seed (reproducible; `LB_FUZZ_SEED` explores others,
//! `LB_FUZZ_ROUNDS` runs more: `cargo xtask fuzz`):
//! - the control socket's framing: request lines (valid, mutated, random bytes, not UTF-8)
//!   sent in random pieces over several connections; every line but a blank one gets exactly
//!   one JSON answer, in order, a valid request its result, and nothing changes;
//! - the state file: mutated copies of lbd's own state file; lbd either refuses to start,
//!   naming the file, and changes nothing, or serves exactly the services the file holds.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use lb_tests::{config::parse, require_root, solo::SoloLbd, topo::bin};
use serde_json::Value;

fn seed() -> u64 {
    std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x5eed_1b02)
}

/// `LB_FUZZ_ROUNDS` scaled from its default of 5,000 (`cargo xtask fuzz`) to `ci` for a
/// run without it.
fn rounds(ci: u64, per_5000: u64) -> u64 {
    std::env::var("LB_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|n| (n * per_5000 / 5000).max(ci))
        .unwrap_or(ci)
}

fn report(name: &str, line: &str) {
    eprintln!("{name}: {line}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-report-{name}.txt")),
        line,
    );
}

/// Services of every kind, for lbd to hold while it is fuzzed.
const SERVICES: &str = "\
-A -t 10.20.0.1:80 -s mh
-a -t 10.20.0.1:80 -r 10.21.0.1:80 -i -w 2
-a -t 10.20.0.1:80 -r 10.21.0.2:8080 -m
-A -u 10.20.0.1:53 -s rr
-a -u 10.20.0.1:53 -r 10.21.0.3:53 -g
-A -t [2001:2:0:20::1]:443 -s wlc -p 60
-a -t [2001:2:0:20::1]:443 -r [2001:2:0:21::1]:443 -i
";

const VALID: [&str; 5] = [
    r#"{"v":2,"op":"list"}"#,
    r#"{"v":2,"op":"status"}"#,
    r#"{"v":2,"op":"timeouts"}"#,
    r#"{"v":2,"op":"get_config"}"#,
    r#"{"v":2,"op":"connections"}"#,
];

/// A request line (no newline in it) and whether it is one of [`VALID`] unchanged.
fn request_line(r: &mut fastrand::Rng) -> (Vec<u8>, bool) {
    let base = VALID[r.usize(..VALID.len())].as_bytes().to_vec();
    let mut line = match r.u8(..100) {
        0..40 => return (base, true),
        40..70 => {
            // Mutated: bytes flipped, inserted, removed.
            let mut l = base;
            for _ in 0..1 + r.usize(..3) {
                let i = r.usize(..l.len());
                match r.u8(..3) {
                    0 => l[i] = r.u8(..),
                    1 => l.insert(i, r.u8(..)),
                    _ => {
                        l.remove(i);
                        if l.is_empty() {
                            l.push(b'{');
                        }
                    }
                }
            }
            l
        }
        70..80 => r#"{"v":1,"op":"list"}"#.as_bytes().to_vec(),
        // A change that must be refused: a service that does not exist.
        80..85 => br#"{"v":2,"op":"edit","edits":[{"cmd":"del_service","service":{"protocol":"tcp","vip":"10.99.0.1","port":1}}]}"#.to_vec(),
        // Noise, often not UTF-8.
        _ => (0..r.usize(..300)).map(|_| r.u8(..)).collect(),
    };
    line.retain(|&b| b != b'\n');
    (line, false)
}

/// Whether lbd answers this line (it skips blank ones).
fn answered(line: &[u8]) -> bool {
    std::str::from_utf8(line).map_or(true, |s| !s.trim().is_empty())
}

#[test]
fn fuzzed_request_lines_in_random_pieces_get_one_answer_each_and_change_nothing() {
    require_root!();
    let lbd = SoloLbd::start();
    let out = lbd.lbctl(&["-R"], SERVICES.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let saved = lbd.ok(&["-S", "-n"]);
    let config = lbd.ok(&["get", "config"]);
    let seed = seed();
    let mut r = fastrand::Rng::with_seed(seed);
    let lines_total = rounds(600, 5000);
    let (mut sent, mut answers_total, mut errors) = (0u64, 0u64, 0u64);
    while sent < lines_total {
        // One connection: up to 60 lines, written in random pieces.
        let lines: Vec<(Vec<u8>, bool)> = (0..1 + r.usize(..60))
            .map(|_| request_line(&mut r))
            .collect();
        sent += lines.len() as u64;
        let mut stream = Vec::new();
        for (l, _) in &lines {
            stream.extend_from_slice(l);
            stream.push(b'\n');
        }
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + r.usize(..2048)).min(stream.len() - at);
            pieces.push(stream[at..at + n].to_vec());
            at += n;
        }
        let s = UnixStream::connect(&lbd.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            for p in pieces {
                w.write_all(&p).expect("lbd reads every piece");
                w.flush().unwrap();
            }
            w.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let got: Vec<String> = BufReader::new(s)
            .lines()
            .map(|l| l.expect("an answer line"))
            .collect();
        writer.join().unwrap();
        let expected: Vec<&(Vec<u8>, bool)> = lines.iter().filter(|(l, _)| answered(l)).collect();
        assert_eq!(
            got.len(),
            expected.len(),
            "seed {seed:#x}: {} answers to {} lines:\n{got:#?}\n{:?}",
            got.len(),
            expected.len(),
            lines
                .iter()
                .map(|(l, _)| String::from_utf8_lossy(l))
                .collect::<Vec<_>>()
        );
        for (answer, (line, valid)) in got.iter().zip(expected) {
            let a: Value = serde_json::from_str(answer)
                .unwrap_or_else(|e| panic!("answer {answer:?} is not JSON: {e}"));
            let result = a["result"].as_str().unwrap_or_else(|| panic!("{a}"));
            let what = String::from_utf8_lossy(line);
            if *valid {
                assert_ne!(result, "error", "{what}: {a}");
            }
            assert_ne!(result, "applied", "{what} changed something: {a}");
            if result == "error" {
                errors += 1;
                assert!(!a["message"].as_str().unwrap_or("").is_empty(), "{a}");
            }
            answers_total += 1;
        }
    }
    assert_eq!(lbd.ok(&["-S", "-n"]), saved);
    assert_eq!(lbd.ok(&["get", "config"]), config);
    report(
        "socket",
        &format!(
            "{sent} request lines, {answers_total} answered ({errors} errors), seed {seed:#x}"
        ),
    );
}

/// Mutates state-file text: a character changed, inserted or removed, data after the end,
/// or (as JSON) a field removed or given another value.
fn mutate_state(text: &str, r: &mut fastrand::Rng) -> String {
    let mut t = text.to_string();
    match r.u8(..4) {
        0 => {
            // Characters, anywhere.
            let mut chars: Vec<char> = t.chars().collect();
            for _ in 0..1 + r.usize(..3) {
                let i = r.usize(..chars.len());
                let c = *r
                    .choice(&['{', '}', '"', ',', ':', '[', '0', '7', 'x', ' '])
                    .unwrap();
                match r.u8(..3) {
                    0 => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ => {
                        chars.remove(i);
                    }
                }
            }
            t = chars.into_iter().collect();
        }
        1 => t.push_str(r.choice(&["}", "x", "{}", "\n\0", " 1"]).unwrap()),
        _ => {
            let mut v: Value = serde_json::from_str(text).unwrap();
            let services = v["services"].as_array_mut().unwrap();
            let s = r.usize(..services.len());
            let svc = services[s].as_object_mut().unwrap();
            match r.u8(..4) {
                0 => {
                    let keys: Vec<String> = svc.keys().cloned().collect();
                    svc.remove(&keys[r.usize(..keys.len())]);
                }
                1 => {
                    svc.insert("port".into(), serde_json::json!(r.u32(..70_000)));
                }
                2 => {
                    let reals = svc["real_servers"].as_array_mut().unwrap();
                    if let Some(first) = reals.first_mut() {
                        first["weight"] = serde_json::json!(r.i64(-2..5));
                        first["address"] = serde_json::json!(
                            *r.choice(&["10.21.0.9", "224.0.0.1", "10.20.0.1", "x", "::1"])
                                .unwrap()
                        );
                    }
                }
                _ => {
                    svc.insert(
                        "scheduler".into(),
                        serde_json::json!(*r.choice(&["rr", "sh", "fastest", ""]).unwrap()),
                    );
                }
            }
            t = serde_json::to_string_pretty(&v).unwrap();
        }
    }
    t
}

/// One answer of lbd to `request` on its socket.
fn ask(socket: &std::path::Path, request: &str) -> Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    writeln!(s, "{request}").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn fuzzed_state_files_are_refused_naming_the_file_or_served_exactly() {
    require_root!();
    let mut lbd = SoloLbd::start();
    let out = lbd.lbctl(&["-R"], SERVICES.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let saved = lbd.ok(&["-S", "-n"]);
    let original = std::fs::read_to_string(&lbd.state_file).unwrap();
    let seed = seed();
    let mut r = fastrand::Rng::with_seed(seed);
    let n = rounds(16, 60);
    let (mut refused, mut served) = (0u64, 0u64);
    lbd.stop();
    for i in 0..n {
        let text = mutate_state(&original, &mut r);
        std::fs::write(&lbd.state_file, &text).unwrap();
        let expected = parse(&text, "fuzzed state");
        let log = lbd.dir.join(format!("lbd-fuzz-{i}.log"));
        let mut child = Command::new(bin("lbd"))
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .arg("--netns")
            .arg(&lbd.ns.name)
            .arg("--config")
            .arg(lbd.dir.join("lb.json"))
            .arg("--socket")
            .arg(&lbd.socket)
            .arg("--state-file")
            .arg(&lbd.state_file)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let exited = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if UnixStream::connect(&lbd.socket).is_ok()
                && ask(&lbd.socket, r#"{"v":2,"op":"timeouts"}"#)["result"] == "timeouts"
            {
                break None;
            }
            assert!(
                Instant::now() < deadline,
                "round {i}: lbd neither started nor exited"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        match (exited, expected) {
            (Some(st), Err(_)) => {
                assert!(!st.success(), "round {i}: {st}");
                assert!(
                    logged.contains(&lbd.state_file.display().to_string())
                        && logged.contains("the state file; remove it"),
                    "round {i}: refused without naming the state file:\n{logged}\n--- file\n{text}"
                );
                refused += 1;
            }
            (None, Ok(cfg)) => {
                let a = ask(&lbd.socket, r#"{"v":2,"op":"get_config"}"#);
                let running: Value =
                    serde_json::from_str(a["config"].as_str().unwrap_or_else(|| panic!("{a}")))
                        .unwrap();
                assert_eq!(
                    running["services"],
                    serde_json::to_value(&cfg).unwrap()["services"],
                    "round {i}: lbd does not serve what its state file holds:\n{text}"
                );
                served += 1;
                // SAFETY: signalling our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                child.wait().unwrap();
            }
            (Some(st), Ok(_)) => {
                panic!("round {i}: lbd exited ({st}) on a valid state file:\n{logged}\n{text}")
            }
            (None, Err(e)) => {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                child.wait().unwrap();
                panic!("round {i}: lbd started on a state file it should refuse ({e}):\n{text}")
            }
        }
        let _ = std::fs::remove_file(&lbd.socket);
    }
    // The last confirmed state back: served exactly as before the fuzz.
    std::fs::write(&lbd.state_file, &original).unwrap();
    lbd.kill_and_restart();
    assert_eq!(lbd.ok(&["-S", "-n"]), saved);
    report(
        "state-file",
        &format!(
            "{n} state files: {refused} refused naming the file, {served} served exactly, seed {seed:#x}"
        ),
    );
    assert!(refused > 0, "no fuzzed state file was refused");
}
