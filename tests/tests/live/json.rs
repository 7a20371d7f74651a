//! The JSON contract and the live view. What scripts read from a real lbd: every `lbctl --json` output and error checked against
//! its JSON Schema in docs/json/ by python's jsonschema (a validator nobody here wrote), with
//! the text form's exit status; and `lbctl top -b`, the operators' live view, in batch mode.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use lb_tests::{
    config::{check, real, udp_service},
    consts::{VIP, VIP_PORT, real_addr},
    require_root,
    topo::{Method, Topology, bin, http_get},
};
use serde_json::{Value, json};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// One instance to validate: the schema file (under docs/), the output, whether it must be
/// valid, and what it is (for the failure message).
struct Case {
    schema: &'static str,
    instance: Value,
    valid: bool,
    label: String,
}

/// Validates every case with Debian's python3-jsonschema (draft 2020-12, formats checked);
/// panics naming each case the validator judged otherwise than expected.
fn validate(cases: &[Case], workdir: &Path) {
    let file = workdir.join("cases.json");
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "schema": docs().join(c.schema),
                "instance": c.instance,
                "valid": c.valid,
                "label": c.label,
            })
        })
        .collect();
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
wrong = 0
for c in json.load(open(sys.argv[1])):
    schema = json.load(open(c["schema"]))
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(c["instance"])]
    if (not errors) != c["valid"]:
        wrong += 1
        print(c["label"], "should be", "valid" if c["valid"] else "invalid", errors[:3])
print(wrong, "wrong")
sys.exit(1 if wrong else 0)
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3 with python3-jsonschema (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "jsonschema: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The output of `lbctl ARGS` as JSON, with its exit status.
fn json_of(t: &Topology, args: &[&str], stdin: &[u8]) -> (Option<i32>, Value) {
    let out = t.lbctl_output(args, stdin);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lbctl {args:?} printed no JSON ({e}): {:?} {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.stderr.is_empty(),
        "lbctl {args:?} wrote to stderr: {out:?}"
    );
    (out.status.code(), v)
}

/// `lbctl ARGS` worked; its output, recorded to be validated against `schema`.
fn ok(
    t: &Topology,
    cases: &mut Vec<Case>,
    schema: &'static str,
    args: &[&str],
    stdin: &[u8],
) -> Value {
    let (status, v) = json_of(t, args, stdin);
    assert_eq!(status, Some(0), "lbctl {args:?}: {v}");
    assert_eq!(v["version"], 1, "{args:?}: {v}");
    cases.push(Case {
        schema,
        instance: v.clone(),
        valid: true,
        label: format!("{args:?}"),
    });
    v
}

/// `lbctl ARGS` (with --json) failed as its text form does (status, message), with `code`;
/// its output recorded to be validated against the error schema.
fn err(t: &Topology, cases: &mut Vec<Case>, args: &[&str], code: &str) {
    let text_args: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let text: Output = t.lbctl_output(&text_args, b"");
    let (status, v) = json_of(t, args, b"");
    assert_ne!(status, Some(0), "{args:?}");
    assert_eq!(
        status,
        text.status.code(),
        "{args:?}: JSON and text exit differently"
    );
    assert_eq!(v["error"]["code"], code, "{args:?}: {v}");
    assert_eq!(
        v["error"]["message"].as_str().unwrap(),
        String::from_utf8_lossy(&text.stderr).trim_end(),
        "{args:?}: the message is the text form's"
    );
    cases.push(Case {
        schema: "json/error.schema.json",
        instance: v,
        valid: true,
        label: format!("{args:?}"),
    });
}

#[test]
fn every_json_output_and_error_of_a_real_lbd_matches_its_schema() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t
        .config_sched(&[1, 2], "mh")
        .edit_service(0, |s| {
            s.health_check(check("tcp").interval_ms(200)).persistent(30)
        })
        .service(
            udp_service(VIP, 53)
                .scheduler("rr")
                .real(real(real_addr(0)).gue(6080)),
        );
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, VIP_PORT));
    {
        let _in = t.client.enter();
        for i in 0..6 {
            let (status, _) = http_get(vip, None).unwrap_or_else(|e| panic!("GET {i}: {e}"));
            assert_eq!(status, 200);
        }
    }
    let svc = format!("{VIP}:{VIP_PORT}");
    let rs0 = real_addr(0).to_string();
    let mut cases = Vec::new();
    let mut ok = |schema: &'static str, args: &[&str], stdin: &[u8]| -> Value {
        ok(&t, &mut cases, schema, args, stdin)
    };
    let list = ok("json/list.schema.json", &["-L", "-n", "--json"], b"");
    let reals = list["services"][0]["real_servers"].as_array().unwrap();
    assert_eq!(reals.len(), 2, "{list}");
    let conns: u64 = reals
        .iter()
        .map(|r| r["stats"]["conns"].as_u64().unwrap())
        .sum();
    assert_eq!(conns, 6, "{list}");
    assert_eq!(list["services"][2]["real_servers"][0]["tun_type"], "gue");
    ok(
        "json/list.schema.json",
        &["-L", "-n", "--stats", "-t", &svc, "--json"],
        b"",
    );
    ok(
        "json/connections.schema.json",
        &["-L", "-c", "-n", "--json"],
        b"",
    );
    ok(
        "json/timeouts.schema.json",
        &["-L", "--timeout", "--json"],
        b"",
    );
    ok(
        "json/daemons.schema.json",
        &["-L", "--daemon", "--json"],
        b"",
    );
    let started = ok(
        "json/daemons.schema.json",
        &["--start-daemon", "master", "--syncid", "7", "--json"],
        b"",
    );
    assert_eq!(started["daemons"][0]["state"], "master", "{started}");
    assert_eq!(started["daemons"][0]["syncid"], 7, "{started}");
    assert_eq!(
        started["daemons"][0]["mcast_group"], "224.0.0.81",
        "{started}"
    );
    ok(
        "json/daemons.schema.json",
        &["--stop-daemon", "master", "--json"],
        b"",
    );
    let rules = ok("json/rules.schema.json", &["-S", "-n", "--json"], b"");
    assert!(
        rules["rules"][0].as_str().unwrap().starts_with("-A -t "),
        "{rules}"
    );
    let status = ok("json/status.schema.json", &["status", "--json"], b"");
    assert!(status["reasons"]["tx"].as_u64().unwrap() > 0, "{status}");
    let config = ok("json/config.schema.json", &["get", "config", "--json"], b"");
    let mut more = vec![Case {
        schema: "lb.schema.json",
        instance: config["config"].clone(),
        valid: true,
        label: "get config's config against the config schema".into(),
    }];
    ok("json/health.schema.json", &["health", "--json"], b"");
    // No announce section: nothing announced, and said so.
    let director = ok(
        "json/director.schema.json",
        &["director", "status", "--json"],
        b"",
    );
    assert_eq!(director["announcing"], false, "{director}");
    assert_eq!(director["announced"], json!([]), "{director}");
    let cfg_file = t.workdir().join("apply.json");
    std::fs::write(&cfg_file, cfg.json()).unwrap();
    let dry = ok(
        "json/changes.schema.json",
        &[
            "apply",
            "-f",
            cfg_file.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
        b"",
    );
    assert_eq!(dry["dry_run"], true);
    let added = ok(
        "json/changes.schema.json",
        &["-A", "-t", &format!("{VIP}:81"), "-s", "rr", "--json"],
        b"",
    );
    assert_eq!(added["changes"].as_array().unwrap().len(), 1, "{added}");
    ok(
        "json/changes.schema.json",
        &["-R", "--json"],
        format!("-a -t {VIP}:81 -r {rs0}:81 -i\n").as_bytes(),
    );
    ok(
        "json/changes.schema.json",
        &["-Z", "-t", &format!("{VIP}:81"), "--json"],
        b"",
    );
    let drained = ok(
        "json/real-server.schema.json",
        &[
            "drain",
            "-t",
            &svc,
            "-r",
            &rs0,
            "--deadline",
            "60",
            "--json",
        ],
        b"",
    );
    assert_eq!(
        drained["real"]["health"]["effective_weight"], 0,
        "{drained}"
    );
    ok(
        "json/list.schema.json",
        &["-L", "-n", "--rate", "--json"],
        b"",
    );
    ok("json/health.schema.json", &["health", "--json"], b"");
    ok(
        "json/real-server.schema.json",
        &["undrain", "-t", &svc, "-r", &rs0, "--json"],
        b"",
    );

    // A trace event (one line).
    let mut trace = Command::new(bin("lbctl"))
        .arg("--socket")
        .arg(&t.socket)
        .args(["--json", "trace", "--vip", &VIP.to_string(), "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lbctl trace");
    let (tx, rx) = mpsc::channel();
    let stdout = trace.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut line = None;
    for _ in 0..50 {
        {
            let _in = t.client.enter();
            let _ = http_get(vip, None);
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            line = Some(l);
            break;
        }
    }
    let _ = trace.kill();
    let _ = trace.wait();
    let line = line.expect("lbctl trace --json printed no event");
    let event: Value = serde_json::from_str(&line).expect("a trace line is one JSON object");
    assert_eq!(event["version"], 1, "{event}");
    more.push(Case {
        schema: "json/trace.schema.json",
        instance: event,
        valid: true,
        label: "trace --json".into(),
    });

    // Errors: the contract's object on stdout, the text form's exit status.
    let mut err = |args: &[&str], code: &str| err(&t, &mut more, args, code);
    err(&["-L", "-t", &format!("{VIP}:99"), "--json"], "not_found");
    err(&["-A", "-t", &svc, "--json"], "refused");
    err(&["-A", "-t", &svc, "-s", "frob", "--json"], "refused");
    err(
        &[
            "drain",
            "-t",
            &svc,
            "-r",
            "198.18.0.99",
            "--deadline",
            "1",
            "--json",
        ],
        "refused",
    );
    err(
        &["-a", "-t", &svc, "-r", &rs0, "-w", "-1", "--json"],
        "usage",
    );
    err(&["-L", "--frob", "--json"], "usage");
    err(&["--stop-daemon", "master", "--json"], "refused");
    err(
        &["--start-daemon", "backup", "--sync-maxlen", "20", "--json"],
        "refused",
    );
    let bad = t.workdir().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"interface": "eth0", "services": [{"protocol": "tcp"}]}"#,
    )
    .unwrap();
    err(&["apply", "-f", bad.to_str().unwrap(), "--json"], "refused");
    // lbd not there.
    let gone = Command::new(bin("lbctl"))
        .args(["--socket", "/nonexistent/lbd.sock", "-L", "-n", "--json"])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    more.push(Case {
        schema: "json/error.schema.json",
        instance: v,
        valid: true,
        label: "no lbd".into(),
    });

    // The schemas can fail: a field gone, one too many, a wrong name.
    let mut without_version = list.clone();
    without_version.as_object_mut().unwrap().remove("version");
    let mut extra = status.clone();
    extra["surprise"] = json!(1);
    let mut bad_reason = status.clone();
    bad_reason["reasons"]["no_such_reason"] = json!(1);
    let mut bad_vip = list.clone();
    bad_vip["services"][0]["vip"] = json!("300.1.1.1");
    let mut bad_sched = list.clone();
    bad_sched["services"][0]["scheduler"] = json!("frob");
    for (instance, label) in [
        (without_version, "no version"),
        (extra, "an unknown field"),
        (bad_reason, "an unknown reason"),
        (bad_vip, "a VIP of 300.1.1.1"),
        (bad_sched, "an unknown scheduler"),
    ] {
        let schema = if label.contains("reason") || label.contains("unknown field") {
            "json/status.schema.json"
        } else {
            "json/list.schema.json"
        };
        more.push(Case {
            schema,
            instance,
            valid: false,
            label: label.into(),
        });
    }
    cases.extend(more);
    validate(&cases, t.workdir());
}

#[test]
fn top_in_batch_mode_shows_services_real_servers_health_and_drains() {
    require_root!();
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t
        .config_sched(&[1, 1], "rr")
        .edit_service(0, |s| s.health_check(check("tcp").interval_ms(200)));
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, VIP_PORT));
    {
        let _in = t.client.enter();
        for i in 0..10 {
            let (status, _) = http_get(vip, None).unwrap_or_else(|e| panic!("GET {i}: {e}"));
            assert_eq!(status, 200);
        }
    }
    let rs1 = real_addr(1).to_string();
    t.lbctl(&[
        "drain",
        "-t",
        &format!("{VIP}:{VIP_PORT}"),
        "-r",
        &rs1,
        "--deadline",
        "300",
    ]);
    // Both real servers checked up before the frames are read.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v: Value = serde_json::from_str(&t.lbctl(&["health", "--json"])).unwrap();
        let states: Vec<&Value> = v["services"][0]["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["health"]["state"])
            .collect();
        if states.iter().all(|s| *s == "up") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never up: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = t.lbctl_output(&["top", "-b", "-n", "3", "-d", "0.2"], b"");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let frames: Vec<&str> = text
        .split("\n\n")
        .filter(|f| f.starts_with("lbctl top - "))
        .collect();
    assert_eq!(frames.len(), 3, "{text}");
    let list: Value = serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).unwrap();
    let conns = |i: usize| list["services"][0]["real_servers"][i]["stats"]["conns"].clone();
    for frame in &frames {
        assert!(frame.contains("(XDP native)"), "{frame}");
        assert!(
            frame.contains("Services: 2, 0 down   Real servers: 4"),
            "{frame}"
        );
    }
    let last = text.rsplit("lbctl top - ").next().unwrap();
    let line = |needle: &str| -> Vec<String> {
        last.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line starting {needle:?} in\n{last}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let svc = line(&format!("TCP  {VIP}:{VIP_PORT} rr"));
    assert_eq!(svc[3], "up", "{svc:?}");
    assert_eq!(svc.last().unwrap(), "10", "{svc:?}");
    let rs0 = line(&format!("  -> {}:{VIP_PORT}", real_addr(0)));
    assert_eq!(rs0[2], "up", "{rs0:?}");
    assert_eq!(rs0[3], "1", "weight: {rs0:?}");
    assert_eq!(
        Value::from(rs0.last().unwrap().parse::<u64>().unwrap()),
        conns(0)
    );
    let rs1_line = line(&format!("  -> {rs1}:{VIP_PORT}"));
    assert_eq!(rs1_line[2], "drain", "{rs1_line:?}");
    assert!(rs1_line[3].ends_with('s'), "{rs1_line:?}");
    assert_eq!(
        &rs1_line[4..6],
        ["0", "(1)"],
        "effective weight 0 of 1: {rs1_line:?}"
    );
    assert_eq!(
        Value::from(rs1_line.last().unwrap().parse::<u64>().unwrap()),
        conns(1)
    );
}
