//! The `lbctl` binary end to end: exit statuses, stderr, and a fake lbd on a Unix socket.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixListener,
    path::PathBuf,
    process::{Command, Output},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};

fn lbctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbctl"))
        .args(args)
        .output()
        .expect("run lbctl")
}

fn sock_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("lbctl-it-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// A fake lbd answering one connection with `answer`; returns the request line it got.
fn fake_lbd(path: &PathBuf, answer: &'static str) -> thread::JoinHandle<String> {
    let listener = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream).write_all(answer.as_bytes()).unwrap();
        line
    })
}

const SERVICES: &str = r#"{"result":"services","conn_table_size":4096,"services":[{"protocol":"udp","vip":"10.0.0.53","port":53,"scheduler":"rr","stats":{"conns":123456789,"in_pkts":5,"out_pkts":0,"in_bytes":1000000000,"out_bytes":0},"real_servers":[{"address":"192.168.1.10","port":53,"forwarding":"dr","weight":1,"active_conns":0,"inactive_conns":2,"stats":{"conns":1,"in_pkts":2,"out_pkts":0,"in_bytes":3,"out_bytes":0}}]},{"protocol":"tcp","vip":"2001:db8::1","port":80,"scheduler":"mh","sched_flags":["mh-port"],"persistent":300,"stats":{"conns":0,"in_pkts":0,"out_pkts":0,"in_bytes":0,"out_bytes":0},"real_servers":[]}]}
"#;

#[test]
fn list_numeric() {
    let path = sock_path();
    let lbd = fake_lbd(&path, SERVICES);
    let out = lbctl(&["-L", "-n", "--socket", path.to_str().unwrap()]);
    assert_eq!(lbd.join().unwrap(), "{\"v\":2,\"op\":\"list\"}\n");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         UDP  10.0.0.53:53 rr\n  \
         -> 192.168.1.10:53              Route   1      0          2         \n\
         TCP  [2001:db8::1]:80 mh (mh-port) persistent 300\n"
    );
}

#[test]
fn list_numeric_stats() {
    let path = sock_path();
    let lbd = fake_lbd(&path, SERVICES);
    let out = lbctl(&["-l", "-n", "--stats", "--socket", path.to_str().unwrap()]);
    lbd.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
         -> RemoteAddress:Port\n\
         UDP  10.0.0.53:53                  123456K        5        0    1000M        0\n  \
         -> 192.168.1.10:53                     1        2        0        3        0\n\
         TCP  [2001:db8::1]:80                    0        0        0        0        0\n"
    );
}

#[test]
fn status_json() {
    let path = sock_path();
    let lbd = fake_lbd(
        &path,
        "{\"result\":\"status\",\"version\":\"0.1.0\",\"interface\":\"eth0\",\"xdp_mode\":\"native\",\"services\":1,\"real_servers\":2,\"connections\":3,\"connection_capacity\":4096,\"reasons\":[[\"pass\",7]]}\n",
    );
    let out = lbctl(&["--json", "status", "--socket", path.to_str().unwrap()]);
    assert_eq!(lbd.join().unwrap(), "{\"v\":2,\"op\":\"status\"}\n");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("{\n  \"version\": 1,\n  \"lbd_version\": \"0.1.0\",\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("  \"reasons\": {\n    \"pass\": 7\n  }\n}\n"),
        "{stdout}"
    );
}

/// lbctl `args` against a fake lbd that answers `answer`.
fn against_fake_lbd(answer: &'static str, args: &[&str]) -> Output {
    let path = sock_path();
    let lbd = fake_lbd(&path, answer);
    let out = Command::new(env!("CARGO_BIN_EXE_lbctl"))
        .args(args)
        .arg("--socket")
        .arg(&path)
        .output()
        .expect("run lbctl");
    lbd.join().unwrap();
    let _ = std::fs::remove_file(&path);
    out
}

/// With --json a failure is the contract's error object on stdout (nothing on stderr), with
/// the exit status of the text form.
#[test]
fn errors_as_json_keep_the_exit_status() {
    let error = |out: &Output| -> (String, String) {
        assert!(out.stderr.is_empty(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON: {e}: {out:?}"));
        assert_eq!(v["version"], 1, "{v}");
        assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
        assert_eq!(v["error"].as_object().unwrap().len(), 2, "{v}");
        (
            v["error"]["code"].as_str().unwrap().to_string(),
            v["error"]["message"].as_str().unwrap().to_string(),
        )
    };
    // -L -t of a missing service: status 1.
    let out = against_fake_lbd(SERVICES, &["-L", "-t", "10.0.0.9:80", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error(&out), ("not_found".into(), "No such service".into()));
    // A refused change: 255.
    let out = against_fake_lbd(
        "{\"result\":\"error\",\"message\":\"Service already exists\",\"edit\":0}\n",
        &["-A", "-t", "10.0.0.1:80", "--json"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        error(&out),
        ("refused".into(), "Service already exists".into())
    );
    // lbd refusing a verb's request: 1.
    let out = against_fake_lbd(
        "{\"result\":\"error\",\"message\":\"boom\"}\n",
        &["status", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error(&out), ("refused".into(), "boom".into()));
    // No lbd: 1.
    let path = sock_path();
    let out = lbctl(&["-L", "-n", "--json", "--socket", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let (code, message) = error(&out);
    assert_eq!(code, "unavailable");
    assert!(
        message.starts_with("cannot connect to lbd at "),
        "{message}"
    );
    // Command lines refused: ipvsadm's (2), popt's (255), clap's for verbs (2).
    for (args, status, message) in [
        (
            &["-A", "--json"][..],
            2,
            "You need to supply the 'service-address' option for the 'add-service' command",
        ),
        (
            &["-L", "--frobnicate", "--json"],
            255,
            "--frobnicate: unknown option",
        ),
        (&["-A", "-6", "--json"], 2, "-6 used before -f"),
        (
            &["--json", "top"],
            2,
            "top has no JSON output: lbctl -L --json and lbctl status --json carry its numbers",
        ),
    ] {
        let out = lbctl(args);
        assert_eq!(out.status.code(), Some(status), "{args:?}");
        assert_eq!(error(&out), ("usage".into(), message.into()), "{args:?}");
    }
    let out = lbctl(&["status", "--stats", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let (code, message) = error(&out);
    assert_eq!(code, "usage");
    assert!(
        message.starts_with("error: unexpected argument '--stats'"),
        "{message}"
    );
}

/// `--start-daemon` with an IPv6 group (`--mcast-group ff02::...`, as ipvsadm takes it) asks
/// lbd for a daemon on that group, the other options as given.
#[test]
fn start_daemon_with_an_ipv6_group() {
    let path = sock_path();
    let lbd = fake_lbd(&path, "{\"result\":\"daemons\",\"daemons\":[]}\n");
    let out = lbctl(&[
        "--start-daemon",
        "backup",
        "--mcast-interface",
        "eth0",
        "--mcast-group",
        "ff02::1:81",
        "--mcast-ttl",
        "2",
        "--socket",
        path.to_str().unwrap(),
    ]);
    let request: serde_json::Value = serde_json::from_str(&lbd.join().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(request["op"], "start_daemon", "{request}");
    assert_eq!(request["role"], "backup", "{request}");
    let o = &request["options"];
    assert_eq!(o["mcast_group"], "ff02::1:81", "{request}");
    assert_eq!(o["mcast_interface"], "eth0", "{request}");
    assert_eq!(o["mcast_ttl"], 2, "{request}");
    assert_eq!(o["syncid"], 255, "{request}");
}

#[test]
fn daemon_error_fails() {
    let path = sock_path();
    let lbd = fake_lbd(&path, "{\"result\":\"error\",\"message\":\"boom\"}\n");
    let out = lbctl(&["status", "--socket", path.to_str().unwrap()]);
    lbd.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "boom\n");
}

#[test]
fn missing_socket() {
    let path = sock_path();
    let out = lbctl(&["-L", "-n", "--socket", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "lbctl: cannot connect to lbd at {}: No such file or directory (is lbd running?)\n",
            path.display()
        )
    );
}

/// lbd refusing a change: ipvsadm prints `ipvs_strerror(errno)` and exits with 255
/// (`process_options` returns -1).
#[test]
fn refused_change_exits_255() {
    let path = sock_path();
    let lbd = fake_lbd(
        &path,
        "{\"result\":\"error\",\"message\":\"Service already exists\",\"edit\":0}\n",
    );
    let out = lbctl(&[
        "-A",
        "-t",
        "10.0.0.1:80",
        "--socket",
        path.to_str().unwrap(),
    ]);
    lbd.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "Service already exists\n"
    );
}

/// `-L -t` of a service lbd does not have: ipvsadm's list_service prints "No such service"
/// and exits with 1.
#[test]
fn listing_a_missing_service_exits_1() {
    let path = sock_path();
    let lbd = fake_lbd(&path, SERVICES);
    let out = lbctl(&[
        "-L",
        "-t",
        "10.0.0.9:80",
        "--socket",
        path.to_str().unwrap(),
    ]);
    lbd.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "No such service\n");
}

#[test]
fn usage_errors_exit_2() {
    // popt's errors, as ipvsadm prints them: status 255.
    for (args, want) in [
        (
            &["--bogus"][..],
            "Try `LBCTL -h' or 'LBCTL --help' for more information.\n",
        ),
        (&["-L", "--frobnicate"], "--frobnicate: unknown option\n"),
        (&["-A", "-t"], "-t: missing argument\n"),
    ] {
        let out = lbctl(args);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let want = want.replace("LBCTL", env!("CARGO_BIN_EXE_lbctl"));
        assert_eq!(String::from_utf8(out.stderr).unwrap(), want, "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // clap's own errors, for lbctl's verbs.
    for args in [&["status", "--stats"][..], &["frobnicate"]] {
        let out = lbctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    // ipvsadm's, in its words, without lbd.
    for (args, want) in [
        (
            &["-A"][..],
            "You need to supply the 'service-address' option for the 'add-service' command\n",
        ),
        (
            &["-n", "status"],
            "the verb 'status' cannot be used with '--numeric'\n",
        ),
        (
            &["-a", "-t", "1.2.3.4:80", "-r", "5.6.7.8", "-w", "-2"],
            "illegal weight specified\n",
        ),
        (
            &["-L", "-n", "--stats", "--stats"],
            "multiple 'stats' options specified\n",
        ),
        (&["-L", "-n", "extra"], "unexpected argument extra\n"),
        // fail(2, "-6 used before -f\n"): fail() adds a second newline.
        (&["-A", "-6"], "-6 used before -f\n\n"),
    ] {
        let out = lbctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8(out.stderr).unwrap(), want, "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_exits_0() {
    let out = lbctl(&["-h"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("-L, --list"), "{stdout}");
}
