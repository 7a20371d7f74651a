//! What operators run and read: lbd under the systemd unit's sandbox (its capabilities only,
//! no new privileges, a read-only file system) forwarding traffic and taking its own data
//! plane over again; every line of a failed start as JSON; and the Grafana dashboard, whose
//! queries name only metrics (and labels) a real scrape of lbd has.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, SocketAddr},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use lb_tests::{
    config::{check, tcp_service},
    consts::{VIP, VIP_PORT, real_addr},
    listing::{real_servers_conns, service},
    netns::{Netns, unique_name},
    require_root,
    topo::{Method, Proc, Topology, bin, http_get},
};
use serde_json::{Value, json};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The `[Service]` settings of packaging/lbd.service that the launcher reproduces.
struct Unit {
    capabilities: Vec<String>,
    no_new_privileges: bool,
    umask: String,
    exec_start: Vec<String>,
    exec_start_pre: Vec<String>,
}

fn unit() -> Unit {
    let text = std::fs::read_to_string(repo("packaging/lbd.service")).expect("the unit");
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            settings.entry(k.into()).or_default().push(v.into());
        }
    }
    let one = |k: &str| -> String {
        let v = settings
            .get(k)
            .unwrap_or_else(|| panic!("the unit has no {k}="));
        assert_eq!(v.len(), 1, "{k}= given {} times", v.len());
        v[0].clone()
    };
    Unit {
        capabilities: one("CapabilityBoundingSet")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        no_new_privileges: one("NoNewPrivileges") == "yes",
        umask: one("UMask"),
        exec_start: one("ExecStart")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        exec_start_pre: settings.get("ExecStartPre").cloned().unwrap_or_default(),
    }
}

/// Linux capability numbers (linux/capability.h) of the names a unit may grant lbd.
fn capability_bit(name: &str) -> u32 {
    match name {
        "CAP_NET_ADMIN" => 12,
        "CAP_NET_RAW" => 13,
        "CAP_SYS_ADMIN" => 21,
        "CAP_SYS_RESOURCE" => 24,
        "CAP_PERFMON" => 38,
        "CAP_BPF" => 39,
        other => panic!("capability {other} unknown to this test: add its number"),
    }
}

/// Runs `program args` as the unit would, as far as a launcher can without systemd (PID 1
/// here is not systemd): in the director's network namespace, in a mount namespace of its
/// own where the file system is read-only except `writable` (ProtectSystem=strict with
/// the unit's RuntimeDirectory and StateDirectory; /proc, /sys with bpffs, and /dev stay
/// as they are), with the unit's umask, only the unit's capabilities in the bounding set,
/// none inheritable, and no new privileges. The launcher execs down to lbd, so the process
/// is lbd itself.
fn sandboxed(u: &Unit, netns: &str, writable: &Path, program: &Path, args: &[String]) -> Command {
    let caps: Vec<String> = u
        .capabilities
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{netns}"))
        .args(["--", "unshare", "--mount", "--propagation", "slave", "--"])
        .args([
            "/bin/sh",
            "-c",
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro / && umask \"$2\" && shift 2 && exec \"$@\"",
            "sh",
        ])
        .arg(writable)
        .arg(&u.umask)
        .arg("setpriv")
        .arg(format!("--bounding-set=-all,{}", caps.join(",")))
        .arg("--inh-caps=-all");
    if u.no_new_privileges {
        c.arg("--no-new-privs");
    }
    c.arg(program).args(args);
    c
}

/// The unit's ExecStart with this test's binary, config, socket and state file.
fn exec_start(u: &Unit, t: &Topology) -> Vec<String> {
    let mut words = u.exec_start.clone();
    assert_eq!(words[0], "/usr/sbin/lbd", "{words:?}");
    for (from, to) in [
        ("/etc/lb/lb.json", t.config_path.clone()),
        ("/run/lb/lbd.sock", t.socket.clone()),
        ("/var/lib/lb/state.json", t.state_path()),
    ] {
        let w = words
            .iter_mut()
            .find(|w| *w == from)
            .unwrap_or_else(|| panic!("ExecStart has no {from}: {:?}", u.exec_start));
        *w = to.to_string_lossy().into_owned();
    }
    words.remove(0);
    words
}

/// /proc/PID/status's value of `key`.
fn proc_status(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// Starts lbd sandboxed and waits until it serves, its real servers are resolved and the
/// real servers' decap programs are attached.
fn start_sandboxed(t: &mut Topology, u: &Unit, log: &Path) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut p = Proc::spawn(
        "sandboxed lbd",
        sandboxed(
            u,
            &t.director.name,
            t.workdir(),
            &bin("lbd"),
            &exec_start(u, t),
        )
        .stderr(log)
        .stdout(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(&t.socket).is_err() {
        p.assert_running();
        assert!(Instant::now() < deadline, "sandboxed lbd never served");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.lbd = Some(p);
    let reals: Vec<IpAddr> = (0..t.reals.len()).map(|i| real_addr(i).into()).collect();
    t.wait_neighbours(&reals);
    for rs in &t.reals {
        while !rs.ip(&["link", "show", "dev", "eth0"]).contains("prog/xdp") {
            assert!(
                Instant::now() < deadline,
                "decap did not attach in {}",
                rs.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn get_all(t: &Topology, n: usize) -> BTreeMap<String, usize> {
    let mut answers = BTreeMap::new();
    let _in = t.client.enter();
    for i in 0..n {
        let (status, body) = http_get(SocketAddr::from((VIP, VIP_PORT)), None)
            .unwrap_or_else(|e| panic!("connection {i} through the sandboxed lbd: {e}"));
        assert_eq!(status, 200, "connection {i}: {body}");
        *answers.entry(body.trim().to_string()).or_default() += 1;
    }
    answers
}

/// Every line is one JSON object with a timestamp, a level and a message.
fn all_json(text: &str, what: &str) -> Vec<Value> {
    assert!(!text.trim().is_empty(), "{what}: nothing written");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{what}: not one JSON object ({e}): {l:?}"));
            assert!(
                v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string(),
                "{what}: {v}"
            );
            v
        })
        .collect()
}

#[test]
fn lbd_under_the_units_capabilities_and_sandbox_forwards_and_restarts() {
    require_root!();
    let u = unit();
    assert_eq!(
        u.capabilities,
        ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"],
        "the unit grants what this test checks lbd works with"
    );
    // bpffs is the host's, mounted before the sandbox (a mount lbd made would be private).
    assert!(
        u.exec_start_pre
            .iter()
            .any(|l| l.starts_with("+/bin/sh") && l.contains("mount -t bpf bpf /sys/fs/bpf")),
        "{:?}",
        u.exec_start_pre
    );
    let mut t = Topology::new(2, Method::Tun);
    t.write_config(&t.config(&[1, 1]));
    let log = t.workdir().join("sandboxed-lbd.log");

    // ExecStartPre: the config check, sandboxed too, logs JSON.
    let check = sandboxed(
        &u,
        &t.director.name,
        t.workdir(),
        &bin("lbd"),
        &[
            "--check-config".into(),
            t.config_path.to_string_lossy().into_owned(),
            "--log-format".into(),
            "json".into(),
        ],
    )
    .output()
    .expect("sandboxed check-config");
    assert!(check.status.success(), "{check:?}");
    assert!(check.stdout.is_empty(), "{check:?}");
    let events = all_json(&String::from_utf8_lossy(&check.stderr), "check-config");
    assert!(
        events.iter().any(|e| e["message"] == "config ok"),
        "{events:?}"
    );

    start_sandboxed(&mut t, &u, &log);
    let pid = t.lbd.as_ref().unwrap().pid();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "lbd",
        "the launcher execs down to lbd"
    );
    let want: u64 = u
        .capabilities
        .iter()
        .map(|c| 1u64 << capability_bit(c))
        .sum();
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        let have = u64::from_str_radix(&proc_status(pid, key), 16).unwrap();
        assert_eq!(have, want, "{key} of lbd: {have:#x}, the unit's {want:#x}");
    }
    assert_eq!(proc_status(pid, "CapInh"), "0000000000000000");
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");

    let answers = get_all(&t, 20);
    assert_eq!(answers.values().sum::<usize>(), 20);
    assert_eq!(answers.len(), 2, "both real servers answer: {answers:?}");
    let listing = t.listing();
    let conns = real_servers_conns(service(&listing, VIP, VIP_PORT));
    assert_eq!(conns, 20, "{listing}");

    // systemctl restart: stopped, then started again under the same sandbox, it takes the
    // pinned data plane over (no CAP_SYS_ADMIN needed to adopt it) and forwards on.
    t.lbd.take().unwrap().stop();
    start_sandboxed(&mut t, &u, &log);
    let answers = get_all(&t, 10);
    assert_eq!(answers.values().sum::<usize>(), 10);
    let listing = t.listing();
    let conns = real_servers_conns(service(&listing, VIP, VIP_PORT));
    assert_eq!(
        conns, 30,
        "the counters carried over the restart: {listing}"
    );
    t.lbd.take().unwrap().stop();

    // The unit's --log-format json: every line of both runs.
    let events = all_json(&std::fs::read_to_string(&log).unwrap(), "sandboxed lbd");
    assert!(
        events
            .iter()
            .filter(|e| e["message"] == "lb attached")
            .count()
            >= 1,
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e["level"] == "ERROR"),
        "errors under the sandbox: {events:?}"
    );
}

#[test]
fn every_line_of_a_failed_start_is_json() {
    require_root!();
    let dir = std::env::temp_dir().join(unique_name("failed-start"));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let ns = Netns::new("fail");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        json!({ "interface": "eth0", "services": [
            { "protocol": "tcp", "vip": "198.18.1.100", "port": 80, "scheduler": "frob",
              "real_servers": [ { "address": "198.18.0.11", "weight": 4_294_967_295u64 } ] } ] })
        .to_string(),
    )
    .unwrap();
    let no_interface = dir.join("no-interface.json");
    std::fs::write(
        &no_interface,
        json!({ "interface": "nosuch0", "pin_dir": format!("/sys/fs/bpf/{}", unique_name("fail")),
                "services": [] })
        .to_string(),
    )
    .unwrap();
    let socket = dir.join("lbd.sock");
    let state = dir.join("state.json");
    let common = |cfg: &Path| -> Vec<String> {
        vec![
            "--netns".into(),
            ns.name.clone(),
            "--log-format".into(),
            "json".into(),
            "--config".into(),
            cfg.to_string_lossy().into_owned(),
            "--socket".into(),
            socket.to_string_lossy().into_owned(),
            "--state-file".into(),
            state.to_string_lossy().into_owned(),
        ]
    };
    let cases: Vec<(&str, Vec<String>, i32, &str)> = vec![
        ("a config with errors", common(&bad), 1, "scheduler"),
        ("a missing interface", common(&no_interface), 1, "nosuch0"),
        (
            "no config file",
            common(&dir.join("none.json")),
            1,
            "cannot read",
        ),
        (
            "an unknown option",
            vec!["--log-format".into(), "json".into(), "--frob".into()],
            2,
            "--frob",
        ),
        (
            "a bad log filter",
            vec![
                "--log-format=json".into(),
                "--log-level".into(),
                "a=b=c".into(),
                "--config".into(),
                bad.to_string_lossy().into_owned(),
            ],
            2,
            "--log-level",
        ),
    ];
    for (what, args, status, mentions) in cases {
        let out = Command::new(bin("lbd"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(status), "{what}: {out:?}");
        assert!(out.stdout.is_empty(), "{what}: {out:?}");
        let events = all_json(&String::from_utf8_lossy(&out.stderr), what);
        let last = events.last().unwrap();
        assert_eq!(last["level"], "ERROR", "{what}: {last}");
        assert_eq!(last["exit_status"], status, "{what}: {last}");
        assert!(
            last["message"].as_str().unwrap().contains(mentions),
            "{what}: {last}"
        );
    }
    // The config's errors, one per line in the message, as in the text form.
    let out = Command::new(bin("lbd"))
        .args(common(&bad))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let events = all_json(&String::from_utf8_lossy(&out.stderr), "bad config");
    let message = events.last().unwrap()["message"].as_str().unwrap();
    assert!(
        message.contains("weight") && message.contains("scheduler"),
        "every error of the config: {message}"
    );
    let text = Command::new(bin("lbd"))
        .args(["--check-config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        events.last().unwrap()["message"].as_str().unwrap(),
        String::from_utf8_lossy(&text.stderr).trim_end(),
        "the JSON message is the text form's"
    );
    assert!(!socket.exists());
}

/// Every `expr` of the dashboard (panels' targets) and every templating query.
fn queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) if s.contains("lb_") => out.push(s.clone()),
                    ("query", Value::Object(q)) => {
                        if let Some(Value::String(s)) = q.get("query") {
                            out.push(s.clone());
                        }
                    }
                    _ => queries(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| queries(x, out)),
        _ => {}
    }
}

/// Words of `text` that are lb's metric names.
fn metric_names(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"lb_") && (i == 0 || !word(b[i - 1])) {
            let end = i + b[i..].iter().take_while(|c| word(**c)).count();
            out.insert(text[i..end].to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Label names a query groups by (`by (a, b)`) or matches on (`{a="x", b=~"y"}`).
fn label_names(query: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in query.match_indices("by (") {
        let inside = &query[i + 4..i + 4 + query[i + 4..].find(')').unwrap()];
        out.extend(inside.split(',').map(|l| l.trim().to_string()));
    }
    for (i, _) in query.match_indices('{') {
        let inside = &query[i + 1..i + 1 + query[i + 1..].find('}').unwrap()];
        for m in inside.split(',') {
            let name: String = m
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    // label_values(metric, label)
    if let Some((_, label)) = query
        .strip_prefix("label_values(")
        .and_then(|rest| rest.trim_end_matches(')').rsplit_once(','))
    {
        out.insert(label.trim().to_string());
    }
    out
}

#[test]
fn the_dashboards_queries_name_only_metrics_a_live_scrape_has() {
    require_root!();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("docs/grafana/lb-dashboard.json")).expect("dashboard"),
    )
    .expect("the dashboard is JSON");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().expect("panels");
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let targets = p["targets"].as_array();
        assert!(
            targets.is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["expr"].is_string())),
            "panel {} has no query",
            p["title"]
        );
    }
    let mut qs = Vec::new();
    queries(&dashboard, &mut qs);
    assert!(qs.len() >= 10, "{qs:?}");

    // A director with traffic, a health-checked real server, a drain and a dropped packet:
    // every family of metric present.
    let mut t = Topology::new(2, Method::Tun);
    let cfg = t
        .config_sched(&[1, 1], "rr")
        .edit_service(0, |s| s.health_check(check("tcp").interval_ms(200)))
        .service(tcp_service(VIP, 81));
    t.start_lbd(&cfg);
    get_all(&t, 5);
    {
        let _in = t.client.enter();
        let _ = std::net::TcpStream::connect_timeout(
            &SocketAddr::from((VIP, 81)),
            Duration::from_millis(300),
        );
    }
    t.lbctl(&[
        "drain",
        "-t",
        &format!("{VIP}:{VIP_PORT}"),
        "-r",
        &real_addr(1).to_string(),
        "--deadline",
        "300",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let scrape = loop {
        let s = t.scrape();
        if s.contains("lb_health_check_duration_seconds{") {
            break s;
        }
        assert!(Instant::now() < deadline, "no health check metrics:\n{s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Each metric's label names, from the samples.
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..line.find('}').unwrap()]),
            None => (line.split_whitespace().next().unwrap(), ""),
        };
        let set = labels.entry(name.to_string()).or_default();
        for pair in rest.split(',').filter(|p| !p.is_empty()) {
            set.insert(pair.split('=').next().unwrap().to_string());
        }
    }
    let mut named = BTreeSet::new();
    for q in &qs {
        let metrics = metric_names(q);
        assert!(!metrics.is_empty(), "a query names no lb metric: {q}");
        for m in &metrics {
            assert!(
                labels.contains_key(m),
                "the dashboard queries {m}, which lbd does not export (in {q})"
            );
        }
        for l in label_names(q) {
            assert!(
                metrics.iter().any(|m| labels[m].contains(&l)),
                "{q} uses label {l:?}, which none of {metrics:?} has"
            );
        }
        named.extend(metrics);
    }
    for family in [
        "lb_service_connections_total",
        "lb_real_server_connections_total",
        "lb_packets_total",
        "lb_connection_table_entries",
        "lb_connection_table_capacity",
        "lb_real_server_healthy",
    ] {
        assert!(named.contains(family), "the dashboard shows no {family}");
    }
    // The drop panel's selector matches reasons lbd has.
    assert!(
        scrape.contains("lb_packets_total{reason=\"drop_no_real\"}"),
        "{scrape}"
    );
}
