//! Live control-plane tests: lbctl's ipvsadm commands, save and restore, `apply`, the
//! persisted state and bad input, against a real lbd attached in network namespaces the tests
//! create, with real HTTP connections where traffic is the point.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use lb_tests::{
    config::ConfigBuilder,
    consts::DIRECTOR,
    listing::real_servers_conns,
    require_root,
    solo::SoloLbd,
    topo::{HttpServer, Method, Topology},
};

/// The seed example's addresses (ipvsadm(8)'s NAT example), held only inside the test's
/// namespaces.
const SEED_VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);

fn seed_real(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 0, 1 + i as u8)
}

const SEED: [&str; 3] = [
    "lbctl -A -t 192.168.0.1:80 -s rr",
    "lbctl -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m",
    "lbctl -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m",
];

const SEED_LISTING: &str = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.0.1:80 rr
  -> 172.16.0.1:80                Masq    1      0          0         
  -> 172.16.0.2:80                Masq    1      0          0         
";

/// A client, a director and two real servers (masquerading) with the seed example's
/// addresses added: the real servers hold 172.16.0.1 and .2 and serve HTTP on port 80, the
/// director holds 172.16.0.254 on the same link, the client routes 192.168.0.1 to the
/// director. lbd starts with no service at all.
fn seed_topology() -> Topology {
    let mut t = Topology::new(2, Method::Nat);
    t.director
        .ip(&["addr", "add", "172.16.0.254/24", "dev", "eth0"]);
    for (i, rs) in t.reals.iter().enumerate() {
        rs.ip(&[
            "addr",
            "add",
            &format!("{}/24", seed_real(i)),
            "dev",
            "eth0",
        ]);
    }
    t.client.ip(&[
        "route",
        "add",
        &format!("{SEED_VIP}/32"),
        "via",
        &DIRECTOR.to_string(),
    ]);
    let servers: Vec<HttpServer> = t
        .reals
        .iter()
        .enumerate()
        .map(|(i, rs)| HttpServer::start(rs, &format!("rs{i}"), 80))
        .collect();
    t.http.extend(servers);
    let cfg = empty_config(&t);
    t.start_lbd_resolving(&cfg, &[]);
    t
}

/// The topology's config without services.
fn empty_config(t: &Topology) -> ConfigBuilder {
    t.config(&[]).no_services()
}

fn seed_reals() -> Vec<IpAddr> {
    (0..2).map(|i| seed_real(i).into()).collect()
}

/// `n` HTTP requests to the seed VIP over new connections; which real server answered how
/// often.
fn requests(t: &Topology, n: u32) -> BTreeMap<String, u32> {
    t.requests(SocketAddr::from((SEED_VIP, 80)), n)
}

#[test]
fn the_seed_example_verbatim_serves_http_from_both_real_servers() {
    require_root!();
    let mut t = seed_topology();
    for line in SEED {
        t.lbctl_line(line);
    }
    assert_eq!(t.lbctl(&["-L", "-n"]), SEED_LISTING);
    t.wait_neighbours(&seed_reals());
    let answers = requests(&t, 20);
    assert_eq!(answers.values().sum::<u32>(), 20);
    for rs in ["rs0", "rs1"] {
        assert!(
            answers.get(rs).copied().unwrap_or(0) > 0,
            "{rs} got no connection: {answers:?}"
        );
    }
    // The real servers' own counts (port 80 servers are the last two) agree.
    for h in &t.http[2..] {
        let served = h.served.load(std::sync::atomic::Ordering::SeqCst) as u32;
        assert_eq!(Some(&served), answers.get(&h.name), "{}", h.name);
    }
    // lbd counted them, and -Z zeroes them.
    let v = t.stats_listing();
    let svc = &v["services"][0];
    assert_eq!(svc["stats"]["conns"], 20, "{v}");
    assert_eq!(real_servers_conns(svc), 20);
    assert!(
        svc["stats"]["out_pkts"].as_u64().unwrap() >= 3 * 20,
        "{svc}"
    );
    // The estimator (2-second samples) sees the connections as a rate.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let v: serde_json::Value =
            serde_json::from_str(&t.lbctl(&["-L", "-n", "--rate", "--json"])).unwrap();
        let r = &v["services"][0]["rate"];
        if r["cps"].as_u64().unwrap() > 0 && r["in_bps"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no rate after traffic: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let rate = t.lbctl(&["-L", "-n", "--rate"]);
    assert!(
        rate.starts_with(
            "IP Virtual Server version 1.2.1 (size=65536)\n\
             Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  \
             -> RemoteAddress:Port\n\
             TCP  192.168.0.1:80 "
        ),
        "{rate}"
    );
    // The connections are listed (-c) with IPVS's state names.
    let conns = t.lbctl(&["-L", "-c", "-n"]);
    assert!(
        conns.starts_with(
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n"
        ),
        "{conns}"
    );
    let entries: Vec<&str> = conns.lines().skip(2).collect();
    assert_eq!(entries.len(), 20, "{conns}");
    for e in &entries {
        assert!(
            e.starts_with("TCP ") && e.contains(" 198.18.0.10:") && e.contains(" 192.168.0.1:80 "),
            "{e}"
        );
        assert!(
            e.ends_with(" 172.16.0.1:80") || e.ends_with(" 172.16.0.2:80"),
            "{e}"
        );
    }
    // -Z zeroes the counters.
    t.lbctl_line("lbctl -Z -t 192.168.0.1:80");
    let v = t.stats_listing();
    assert_eq!(v["services"][0]["stats"]["conns"], 0, "{v}");
    assert_eq!(
        v["services"][0]["real_servers"][0]["stats"]["in_pkts"], 0,
        "{v}"
    );
    // -E makes the service persistent: the client then sticks to one real server, whose
    // template -c lists and --persistent-conn counts.
    t.lbctl_line("lbctl -E -t 192.168.0.1:80 -s rr -p 60");
    let answers = requests(&t, 6);
    assert_eq!(
        answers.len(),
        1,
        "one real server for the client: {answers:?}"
    );
    let owner = if answers.contains_key("rs0") { 1 } else { 2 };
    let conns = t.lbctl(&["-L", "-c", "-n"]);
    let template = format!("NONE        198.18.0.10:0      192.168.0.1:80     172.16.0.{owner}:80");
    assert_eq!(
        conns.lines().filter(|l| l.contains(&template)).count(),
        1,
        "{conns}"
    );
    let pc = t.lbctl(&["-L", "-n", "--persistent-conn"]);
    assert!(
        pc.contains(&format!(
            "  -> 172.16.0.{owner}:80                1         1           "
        )),
        "{pc}"
    );
}

/// More than the seed: a persistent UDP service and an IPv6 service with a tunnelled real
/// server, added in the order `-S` sorts them (so that the config reads back the same).
const MORE: [&str; 5] = [
    "lbctl -A -u 192.168.0.1:53 -s wrr -p 600 -M 255.255.255.0",
    "lbctl -a -u 192.168.0.1:53 -r 172.16.0.1:5353 -m -w 3",
    "lbctl -A -t [2001:2:0:1::100]:443 -s mh",
    "lbctl -a -t [2001:2:0:1::100]:443 -r [2001:2::11]:443 -i -w 2",
    "lbctl --set 600 100 200",
];

const SAVED: &str = "\
-A -t 192.168.0.1:80 -s rr
-a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1
-a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 1
-A -u 192.168.0.1:53 -s wrr -p 600 -M 255.255.255.0
-a -u 192.168.0.1:53 -r 172.16.0.1:5353 -m -w 3
-A -t [2001:2:0:1::100]:443 -s mh
-a -t [2001:2:0:1::100]:443 -r [2001:2::11]:443 -i -w 2 --tun-type ipip
";

#[test]
fn save_clear_restore_apply_restart_and_sighup_keep_or_replace_the_state_as_told() {
    require_root!();
    let mut t = seed_topology();
    for line in SEED.iter().chain(&MORE) {
        t.lbctl_line(line);
    }
    assert_eq!(t.lbctl(&["-S", "-n"]), SAVED);
    assert_eq!(
        t.lbctl(&["-L", "--timeout"]),
        "Timeout (tcp tcpfin udp): 600 100 200\n"
    );
    let listing = t.lbctl(&["-L", "-n"]);
    let config = t.lbctl(&["get", "config"]);

    // -S, -C, -R: the same state again.
    t.lbctl_line("lbctl -C");
    assert_eq!(
        t.lbctl(&["-L", "-n"]),
        "IP Virtual Server version 1.2.1 (size=65536)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    );
    let out = t.lbctl_output(&["-R"], SAVED.as_bytes());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(t.lbctl(&["-S", "-n"]), SAVED);
    assert_eq!(t.lbctl(&["-L", "-n"]), listing);
    assert_eq!(t.lbctl(&["get", "config"]), config);

    // apply of what get config said: nothing to do, twice.
    let file = t.workdir().join("applied.json");
    std::fs::write(&file, &config).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(t.lbctl(&["apply", "-f", f]), "no changes\n");
    // A change: one real server less, another's weight, a timeout.
    let mut v: serde_json::Value = serde_json::from_str(&config).unwrap();
    v["services"][0]["real_servers"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    v["services"][1]["real_servers"][0]["weight"] = 5.into();
    v["timeouts"]["udp"] = 300.into();
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    assert_eq!(
        t.lbctl(&["apply", "-f", f, "--dry-run"]),
        "~ timeouts.udp: 200 -> 300\n\
         -   real server 172.16.0.2:80 (service -t 192.168.0.1:80)\n\
         ~   real server 172.16.0.1:5353 (service -u 192.168.0.1:53) weight: 3 -> 5\n\
         (dry run: nothing was changed)\n"
    );
    assert_eq!(
        t.lbctl(&["get", "config"]),
        config,
        "a dry run changes nothing"
    );
    assert_eq!(
        t.lbctl(&["apply", "-f", f]),
        "~ timeouts.udp: 200 -> 300\n\
         -   real server 172.16.0.2:80 (service -t 192.168.0.1:80)\n\
         ~   real server 172.16.0.1:5353 (service -u 192.168.0.1:53) weight: 3 -> 5\n"
    );
    assert_eq!(t.lbctl(&["apply", "-f", f]), "no changes\n");
    let applied = t.lbctl(&["-S", "-n"]);
    assert!(applied.contains("-a -u 192.168.0.1:53 -r 172.16.0.1:5353 -m -w 5\n"));
    assert!(!applied.contains("172.16.0.2"));

    // The state file has it, mode 0600, as has the socket.
    use std::os::unix::fs::PermissionsExt;
    for p in [t.state_path(), t.socket.clone()] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }

    // A restart of lbd (the config file still has no services) restores the applied state,
    // and traffic flows again.
    drop(t.lbd.take().expect("lbd")); // SIGTERM: a clean stop
    let empty = empty_config(&t);
    t.start_lbd_resolving(&empty, &[]);
    assert_eq!(t.lbctl(&["-S", "-n"]), applied);
    assert_eq!(
        t.lbctl(&["-L", "--timeout"]),
        "Timeout (tcp tcpfin udp): 600 100 300\n"
    );
    t.wait_neighbours(&seed_reals()[..1]);
    let answers = requests(&t, 5);
    assert_eq!(answers.get("rs0"), Some(&5), "{answers:?}");

    // SIGHUP: the config file replaces the state (and the state file).
    let pid = t.lbd.as_ref().unwrap().pid();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !t.lbctl(&["-S", "-n"]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not replace the state"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.state_path()).unwrap()).unwrap();
    assert_eq!(state["services"], serde_json::json!([]));
    assert_eq!(state["timeouts"]["tcp"], 900);
}

#[test]
fn bad_input_gets_its_exact_message_a_failing_status_and_changes_nothing() {
    require_root!();
    let lbd = SoloLbd::start();
    let seed = "-A -t 192.168.0.1:80 -s rr\n\
                -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m\n\
                -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m\n";
    let out = lbd.lbctl(&["-R"], seed.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let saved = lbd.ok(&["-S", "-n"]);
    let config = lbd.ok(&["get", "config"]);
    let state_file = std::fs::read_to_string(lbd.dir.join("state.json")).unwrap();

    // A config file for apply: the running daemon settings with `services` (and more) set.
    let file = lbd.dir.join("bad.json");
    let f = file.to_str().unwrap().to_string();
    let running: serde_json::Value = serde_json::from_str(&lbd.config.json()).unwrap();
    let with = |services: serde_json::Value| {
        let mut c = running.clone();
        c["services"] = services;
        c
    };
    let svc = |reals: serde_json::Value| {
        serde_json::json!({ "protocol": "tcp", "vip": "192.168.0.1", "port": 80,
                            "scheduler": "rr", "real_servers": reals })
    };
    let valid: Vec<String> = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf",
        "twos",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let valid = valid.join(", ");

    enum Input {
        Args(&'static [&'static str]),
        Restore(&'static str),
        /// apply -f of this text.
        Apply(String),
    }
    use Input::*;
    let json_text = |v: serde_json::Value| serde_json::to_string(&v).unwrap();
    let cases: Vec<(&str, Input, i32, String)> = vec![
        (
            "bad virtual address",
            Args(&["-A", "-t", "192.168.0.300:80"]),
            2,
            "illegal virtual server address[:port] specified".into(),
        ),
        (
            "bad virtual port",
            Args(&["-A", "-t", "192.168.0.2:65536", "-s", "rr"]),
            2,
            "illegal virtual server address[:port] specified".into(),
        ),
        (
            "bad real-server address",
            Args(&["-a", "-t", "192.168.0.1:80", "-r", "172.16.0.256:80", "-m"]),
            2,
            "illegal real server address[:port] specified".into(),
        ),
        (
            "unknown scheduler",
            Args(&["-A", "-t", "192.168.0.2:80", "-s", "fastest"]),
            255,
            format!(
                "Scheduler or persistence engine not found (unknown scheduler \"fastest\"; valid: {valid})"
            ),
        ),
        (
            "weight out of range",
            Args(&[
                "-a",
                "-t",
                "192.168.0.1:80",
                "-r",
                "172.16.0.3:80",
                "-m",
                "-w",
                "2147483648",
            ]),
            2,
            "illegal weight specified".into(),
        ),
        (
            "weight above ipvsadm's 65535",
            Args(&[
                "-a",
                "-t",
                "192.168.0.1:80",
                "-r",
                "172.16.0.3:80",
                "-m",
                "-w",
                "65536",
            ]),
            2,
            "illegal weight specified".into(),
        ),
        (
            "lower threshold without an upper one",
            Args(&[
                "-a",
                "-t",
                "192.168.0.1:80",
                "-r",
                "172.16.0.3:80",
                "-m",
                "-y",
                "5",
            ]),
            255,
            "Numerical result out of range".into(),
        ),
        (
            "duplicate service",
            Args(&["-A", "-t", "192.168.0.1:80", "-s", "wlc"]),
            255,
            "Service already exists".into(),
        ),
        (
            "duplicate real server",
            Args(&["-a", "-t", "192.168.0.1:80", "-r", "172.16.0.1:80", "-m"]),
            255,
            "Destination already exists".into(),
        ),
        (
            "missing real server (delete)",
            Args(&["-d", "-t", "192.168.0.1:80", "-r", "172.16.0.9:80"]),
            255,
            "No such destination".into(),
        ),
        (
            "missing real server (edit)",
            Args(&["-e", "-t", "192.168.0.1:80", "-r", "172.16.0.9:80", "-m"]),
            255,
            "No such destination".into(),
        ),
        (
            "missing service (add real server)",
            Args(&["-a", "-t", "192.168.0.9:80", "-r", "172.16.0.1:80", "-m"]),
            255,
            "Service not defined".into(),
        ),
        (
            "missing service (delete)",
            Args(&["-D", "-u", "192.168.0.1:80"]),
            255,
            "No such service".into(),
        ),
        (
            "table size not a prime",
            Args(&[
                "-A",
                "-t",
                "192.168.0.2:80",
                "-s",
                "mh",
                "--mh-table-size",
                "100",
            ]),
            255,
            "-t 192.168.0.2:80 (mh_table_size): 100 is not a prime between 7 and 1048573".into(),
        ),
        (
            "--set with two values",
            Args(&["--set", "1", "2"]),
            2,
            "--set option requires 3 timeout values".into(),
        ),
        (
            "restore whose third line fails",
            Restore(
                "-A -t 192.168.0.5:80 -s rr\n\
                 -a -t 192.168.0.5:80 -r 172.16.0.5:80 -m\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m\n",
            ),
            255,
            "line 3: Destination already exists (nothing was restored)".into(),
        ),
        (
            "restore with a bad value on line 2",
            Restore("-A -t 192.168.0.5:80\n-a -t 192.168.0.5:80 -r 172.16.0.5:80 -w x\n"),
            2,
            "line 2: illegal weight specified (nothing was restored)".into(),
        ),
        (
            "malformed JSON",
            Apply(r#"{ "interface": "eth0", "services": [ }"#.into()),
            1,
            format!("invalid config {f}:\n  services[0]: expected value at line 1 column 38"),
        ),
        (
            "unknown field",
            Apply(json_text(with(serde_json::json!([svc(
                serde_json::json!([
                    { "address": "172.16.0.1", "forwarding": "nat", "wieght": 2 }
                ])
            )])))),
            1,
            String::new(), // checked by prefix below: serde names the expected fields
        ),
        (
            "weight out of range in JSON",
            Apply(json_text(with(serde_json::json!([svc(
                serde_json::json!([
                    { "address": "172.16.0.1", "forwarding": "nat", "weight": 3000000000u64 }
                ])
            )])))),
            1,
            format!(
                "invalid config {f}:\n  services[0].real_servers[0].weight: 3000000000 is out of range (0 to 2147483647)"
            ),
        ),
        (
            "bad address in JSON",
            Apply(
                json_text(with(serde_json::json!([svc(serde_json::json!([]))])))
                    .replace("192.168.0.1", "192.168.0.300"),
            ),
            1,
            String::new(),
        ),
        (
            "duplicate service in JSON",
            Apply(json_text(with(serde_json::json!([
                svc(serde_json::json!([])),
                svc(serde_json::json!([]))
            ])))),
            1,
            format!(
                "invalid config {f}:\n  services[1]: duplicate service tcp 192.168.0.1:80: already defined at services[0]"
            ),
        ),
        (
            "a setting that needs a restart",
            Apply({
                let mut c = with(serde_json::json!([]));
                c["xdp_mode"] = "generic".into();
                json_text(c)
            }),
            1,
            format!(
                "invalid config {f}:\n  xdp_mode: cannot change while lbd runs (running: native, new: generic); restart lbd to change it"
            ),
        ),
        (
            "an interface that does not exist",
            Apply({
                let mut c = with(serde_json::json!([]));
                c["interface"] = "eth9".into();
                json_text(c)
            }),
            1,
            format!(
                "invalid config {f}:\n  interface: \"eth9\": interface eth9: no such interface in this network namespace"
            ),
        ),
    ];
    for (what, input, code, want) in cases {
        let out = match &input {
            Args(a) => lbd.lbctl(a, b""),
            Restore(text) => lbd.lbctl(&["-R"], text.as_bytes()),
            Apply(text) => {
                std::fs::write(&file, text).unwrap();
                lbd.lbctl(&["apply", "-f", &f], b"")
            }
        };
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        assert!(out.stdout.is_empty(), "{what}: stdout {:?}", out.stdout);
        match what {
            "unknown field" => assert!(
                stderr.starts_with(&format!(
                    "invalid config {f}:\n  services[0].real_servers[0].wieght: unknown field `wieght`, expected one of `address`, `port`, `weight`"
                )),
                "{what}: {stderr}"
            ),
            "bad address in JSON" => assert!(
                stderr.starts_with(&format!(
                    "invalid config {f}:\n  services[0].vip: invalid IP address syntax at line 1 column "
                )),
                "{what}: {stderr}"
            ),
            _ => assert_eq!(stderr, format!("{want}\n"), "{what}"),
        }
        assert_eq!(lbd.ok(&["-S", "-n"]), saved, "{what}: the table changed");
        assert_eq!(
            lbd.ok(&["get", "config"]),
            config,
            "{what}: the config changed"
        );
        assert_eq!(
            std::fs::read_to_string(lbd.dir.join("state.json")).unwrap(),
            state_file,
            "{what}: the state file changed"
        );
    }
}

/// ipvsadm's details: `--nosort` lists real servers newest first (as the kernel does), and
/// `-R --line-by-line` restores as ipvsadm does (lines before a refused one stay, the next
/// ones are tried, a usage error stops, the status is the last line's), while `-R` stays all
/// or nothing.
#[test]
fn nosort_lists_newest_first_and_line_by_line_restore_keeps_what_worked() {
    require_root!();
    let lbd = SoloLbd::start();
    let rules = "-A -t 192.168.0.1:80 -s rr\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.3:80 -m -w 65535\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -x 10 -y 5\n";
    let out = lbd.lbctl(&["-R"], rules.as_bytes());
    assert!(out.status.success(), "{out:?}");
    // The banner's size is the solo lbd's table size, which this test does not choose.
    let banner = lbd.ok(&["-L", "-n"]).lines().next().unwrap().to_string();
    let head = format!(
        "{banner}\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  192.168.0.1:80 rr\n"
    );
    assert_eq!(
        lbd.ok(&["-L", "-n"]),
        format!(
            "{head}  \
             -> 172.16.0.1:80                Masq    1      0          0         \n  \
             -> 172.16.0.2:80                Masq    1      0          0         \n  \
             -> 172.16.0.3:80                Masq    65535  0          0         \n"
        )
    );
    assert_eq!(
        lbd.ok(&["-L", "-n", "--nosort"]),
        format!(
            "{head}  \
             -> 172.16.0.1:80                Masq    1      0          0         \n  \
             -> 172.16.0.3:80                Masq    65535  0          0         \n  \
             -> 172.16.0.2:80                Masq    1      0          0         \n"
        )
    );
    // -S restores under ipvsadm's own limits: every weight within 65535, -y only with -x.
    let saved = lbd.ok(&["-S", "-n"]);
    assert_eq!(
        saved,
        "-A -t 192.168.0.1:80 -s rr\n\
         -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1 -x 10 -y 5\n\
         -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 1\n\
         -a -t 192.168.0.1:80 -r 172.16.0.3:80 -m -w 65535\n"
    );

    // The batch: one refused line (a duplicate) and nothing is restored.
    let more = "-a -t 192.168.0.1:80 -r 172.16.0.4:80 -m\n\
                -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m\n\
                -a -t 192.168.0.1:80 -r 172.16.0.5:80 -m\n";
    let out = lbd.lbctl(&["-R"], more.as_bytes());
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "line 2: Destination already exists (nothing was restored)\n"
    );
    assert_eq!(lbd.ok(&["-S", "-n"]), saved);

    // Line by line: line 2 is reported, lines 1 and 3 are applied, the last line worked: 0.
    let out = lbd.lbctl(&["-R", "--line-by-line"], more.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "line 2: Destination already exists\n"
    );
    let now = lbd.ok(&["-S", "-n"]);
    assert!(now.contains("-r 172.16.0.4:80 -m -w 1\n"), "{now}");
    assert!(now.contains("-r 172.16.0.5:80 -m -w 1\n"), "{now}");
    // The last line refused: status 255 with its message.
    let out = lbd.lbctl(
        &["-R", "--line-by-line"],
        b"-a -t 192.168.0.1:80 -r 172.16.0.6:80 -m\n-d -t 192.168.0.1:80 -r 172.16.0.9:80\n",
    );
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "line 2: No such destination\n"
    );
    // A line ipvsadm's checks refuse stops there: line 1 stays, line 3 is never read.
    let out = lbd.lbctl(
        &["-R", "--line-by-line"],
        b"-a -t 192.168.0.1:80 -r 172.16.0.7:80 -m\n-a -t 192.168.0.1:80 -r 172.16.0.8:80 -w 70000\n-a -t 192.168.0.1:80 -r 172.16.0.9:80 -m\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "line 2: illegal weight specified\n"
    );
    let now = lbd.ok(&["-S", "-n"]);
    assert!(now.contains("-r 172.16.0.7:80 -m -w 1\n"), "{now}");
    assert!(
        !now.contains("172.16.0.8") && !now.contains("172.16.0.9"),
        "{now}"
    );
}

/// `lbctl proc` prints the kernel's /proc/net files of IPVS for lbd's state, and `lbctl
/// sysctl` lists, describes and sets the IPVS sysctls lb honours (through the config).
#[test]
fn proc_files_and_sysctls_come_from_the_running_lbd() {
    require_root!();
    let lbd = SoloLbd::start();
    let rules = "-A -t 192.168.0.1:80 -s rr\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m\n\
                 -a -t 192.168.0.1:80 -r 172.16.0.2:8080 -m -w 3\n\
                 -A -u 10.0.0.53:53 -s sh -p 600 -M 255.255.255.0\n\
                 -a -u 10.0.0.53:53 -r 10.1.0.1:53 -g -w 2\n";
    let out = lbd.lbctl(&["-R"], rules.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let size = lbd.ok(&["-L", "-n"]).lines().next().unwrap().to_string();
    // The kernel's format: hexadecimal addresses and ports, real servers newest first, the
    // persistence timeout in jiffies (HZ given), the mask as a word.
    assert_eq!(
        lbd.ok(&["proc", "ip_vs", "--hz", "100"]),
        format!(
            "{size}\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
             TCP  C0A80001:0050 rr  \n  \
             -> AC100002:1F90      Masq    3      0          0         \n  \
             -> AC100001:0050      Masq    1      0          0         \n\
             UDP  0A000035:0035 sh  persistent 60000 FFFFFF00\n  \
             -> 0A010001:0035      Route   2      0          0         \n"
        )
    );
    assert_eq!(
        lbd.ok(&["proc", "ip_vs_conn"]),
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
    );
    assert_eq!(
        lbd.ok(&["proc", "ip_vs_stats"]),
        "   Total Incoming Outgoing         Incoming         Outgoing\n   \
         Conns  Packets  Packets            Bytes            Bytes\n       \
         0        0        0                0                0\n\n \
         Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n       \
         0        0        0                0                0\n"
    );
    // One line per possible CPU, as the kernel's per-CPU counters have.
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    let cpus = possible
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum::<usize>();
    let percpu = lbd.ok(&["proc", "ip_vs_stats_percpu"]);
    let lines: Vec<&str> = percpu.lines().collect();
    assert_eq!(lines.len(), 2 + cpus + 4, "{percpu}");
    for (i, l) in lines[2..2 + cpus].iter().enumerate() {
        assert_eq!(
            *l,
            format!("{i:3X}        0        0        0                0                0"),
            "{percpu}"
        );
    }
    let out = lbd.lbctl(&["proc", "ip_vs_nope"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // sysctl: the values the config gives (defaults here), then one set, as sysctl -w does.
    assert_eq!(
        lbd.ok(&["sysctl"]),
        "net.ipv4.vs.conn_reuse_mode = 1\n\
         net.ipv4.vs.expire_nodest_conn = 0\n\
         net.ipv4.vs.lblc_expiration = 86400\n\
         net.ipv4.vs.lblcr_expiration = 86400\n\
         net.ipv4.vs.sloppy_sctp = 0\n\
         net.ipv4.vs.sloppy_tcp = 0\n"
    );
    assert_eq!(
        lbd.ok(&["sysctl", "-w", "net.ipv4.vs.expire_nodest_conn=1"]),
        "net.ipv4.vs.expire_nodest_conn = 1\n"
    );
    let config: serde_json::Value = serde_json::from_str(&lbd.ok(&["get", "config"])).unwrap();
    assert_eq!(config["expire_nodest_conn"], true);
    assert_eq!(
        lbd.ok(&[
            "sysctl",
            "-w",
            "net.ipv4.vs.sloppy_tcp=1",
            "-w",
            "conn_reuse_mode=0"
        ]),
        "net.ipv4.vs.sloppy_tcp = 1\nnet.ipv4.vs.conn_reuse_mode = 0\n"
    );
    let config: serde_json::Value = serde_json::from_str(&lbd.ok(&["get", "config"])).unwrap();
    assert_eq!(
        (&config["sloppy_tcp"], &config["conn_reuse_mode"]),
        (&serde_json::json!(true), &serde_json::json!(0))
    );
    assert_eq!(
        lbd.ok(&["sysctl", "-w", "net.ipv4.vs.sloppy_sctp=1"]),
        "net.ipv4.vs.sloppy_sctp = 1\n"
    );
    let config: serde_json::Value = serde_json::from_str(&lbd.ok(&["get", "config"])).unwrap();
    assert_eq!(config["sloppy_sctp"], true);
    assert_eq!(
        lbd.ok(&[
            "sysctl",
            "expire_nodest_conn",
            "net/ipv4/vs/lblc_expiration"
        ]),
        "net.ipv4.vs.expire_nodest_conn = 1\nnet.ipv4.vs.lblc_expiration = 86400\n"
    );
    let described = lbd.ok(&["sysctl", "-d"]);
    assert_eq!(described.lines().count(), 6, "{described}");
    assert!(
        described
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("net.ipv4.vs.expire_nodest_conn: 1: when a real server")),
        "{described}"
    );
    // An IPVS sysctl lb does not honour, and a value out of range: refused, nothing changed.
    let out = lbd.lbctl(&["sysctl", "-w", "net.ipv4.vs.secure_tcp=1"], b"");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    let out = lbd.lbctl(&["sysctl", "-w", "lblc_expiration=0"], b"");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sysctl: setting key \"net.ipv4.vs.lblc_expiration\": Invalid argument (0 is out of range: 1 to 31536000)\n"
    );
    assert_eq!(
        lbd.ok(&["sysctl", "lblc_expiration"]),
        "net.ipv4.vs.lblc_expiration = 86400\n"
    );
}

#[test]
fn concurrent_clients_each_get_their_change_applied_whole() {
    require_root!();
    let lbd = SoloLbd::start();
    lbd.ok(&["-A", "-t", "192.168.0.1:80", "-s", "mh"]);
    // Four clients add 20 real servers each at the same time, every one its own connection.
    std::thread::scope(|s| {
        for c in 0..4u8 {
            let lbd = &lbd;
            s.spawn(move || {
                for i in 0..20u8 {
                    let rs = format!("172.16.{c}.{}:80", i + 1);
                    let out = lbd.lbctl(&["-a", "-t", "192.168.0.1:80", "-r", &rs, "-g"], b"");
                    assert!(out.status.success(), "{rs}: {out:?}");
                }
            });
        }
    });
    let saved = lbd.ok(&["-S", "-n"]);
    for c in 0..4 {
        for i in 1..=20 {
            let line = format!("-a -t 192.168.0.1:80 -r 172.16.{c}.{i}:80 -g -w 1\n");
            assert_eq!(saved.matches(&line).count(), 1, "{line} in\n{saved}");
        }
    }
    assert_eq!(saved.lines().count(), 81);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lbd.dir.join("state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["services"][0]["real_servers"]
            .as_array()
            .unwrap()
            .len(),
        80
    );
}
