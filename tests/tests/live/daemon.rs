//! lbd the program: a bad config refused before anything is attached, `--check-config`,
//! JSON logs and systemd's notify protocol, and the systemd unit.

use std::time::Duration;

use lb_tests::{
    config::config,
    netns::{Netns, unique_name},
    require_root,
    topo::{Proc, bin},
};
use serde_json::{Value, json};

#[test]
fn lbd_rejects_a_bad_config_before_attaching_anything() {
    require_root!();
    let ns = Netns::new("bad");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
    ]);
    ns.ip(&["link", "set", "eth0", "up"]);
    let dir = std::env::temp_dir().join(unique_name("badcfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let pin_dir = std::path::PathBuf::from("/sys/fs/bpf").join(unique_name("pins"));
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

#[test]
fn lbd_logs_one_json_object_per_event_and_tells_systemd_its_state() {
    require_root!();
    use std::os::unix::net::UnixDatagram;

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
    std::fs::write(&cfg, config().pin_dir(&pin_dir).json()).unwrap();
    let notify = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let recv = |what: &str| -> String {
        let mut buf = [0u8; 256];
        let n = notify
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what} from lbd: {e}"));
        // sd_notify(3): newline-separated assignments (lbd ends each with one).
        String::from_utf8_lossy(&buf[..n]).trim_end().to_string()
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
        attached["interfaces"], "eth0",
        "fields are flattened: {attached}"
    );
}

#[test]
fn check_config_flag_validates_and_names_the_json_path() {
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
    let lbd = bin("lbd");
    let dir = std::env::temp_dir().join(unique_name("unit"));
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
