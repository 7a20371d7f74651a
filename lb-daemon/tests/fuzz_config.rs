//! Fuzzing lbd's config parser and ipvsadm edits from a fixed seed (reproducible; set
//! LB_FUZZ_SEED to explore others): mangled config text, structurally mutated configs, and
//! random batches of ipvsadm edits. Nothing may panic; every rejection names where (a JSON
//! path, or line and column); text that is not exactly one JSON document (judged by
//! `serde_json::Value`, not by the parser under test) is refused with a line and column;
//! whatever is accepted is valid, and its diff from the original can be computed.

use lb_daemon::control::edit_config;
use lb_model::api::{Edit, RealSpec, ServiceKey, ServiceSpec};
use lb_model::{
    Protocol,
    config::{Config, diff::diff},
};
use serde_json::{Value, json};

fn good() -> Value {
    json!({
        "interface": "eth0",
        "xdp_mode": "native",
        "director": { "ipv4": "198.18.0.2", "ipv6": "2001:2::2" },
        "conn_table_size": 65536,
        "timeouts": { "tcp": 900, "tcpfin": 120, "udp": 300 },
        "services": [
            { "protocol": "tcp", "vip": "198.18.1.100", "port": 80, "scheduler": "mh",
              "mh_table_size": 251, "persistent": 60, "persistent_netmask": 24,
              "real_servers": [
                { "address": "198.18.0.11", "weight": 2, "forwarding": "tun" },
                { "address": "198.18.0.12", "port": 8080, "forwarding": "nat" },
                { "address": "2001:2::13", "forwarding": "tun", "tun_type": "gue", "tun_port": 6080 }
              ] },
            { "protocol": "udp", "vip": "2001:2:0:1::100", "port": 53, "scheduler": "wrr",
              "real_servers": [ { "address": "2001:2::11", "forwarding": "dr" } ] }
        ]
    })
}

fn random_value(r: &mut fastrand::Rng) -> Value {
    match r.usize(..12) {
        0 => Value::Null,
        1 => json!(r.u64(..100) < 50),
        2 => json!(r.u64(..) as i64),
        3 => json!(-(r.usize(..5) as i64)),
        4 => json!(r.u64(..) as u32),
        5 => json!(1.5),
        6 => json!(
            r.choice(&[
                "tcp", "udp", "sctp", "rr", "mh", "fastest", "tun", "nat", "gue", "csum"
            ])
            .expect("a non-empty choice")
        ),
        7 => json!(
            r.choice(&[
                "198.18.0.300",
                "::1",
                "1.2.3.4",
                "",
                "é",
                "eth0/x",
                "0.0.0.0"
            ])
            .expect("a non-empty choice")
        ),
        8 => json!([]),
        9 => json!({}),
        10 => json!({ "bogus": 1 }),
        _ => json!(u64::MAX),
    }
}

/// Replaces or removes a random node, or adds an unknown key somewhere.
fn mutate(v: &mut Value, r: &mut fastrand::Rng, depth: u32) {
    match v {
        Value::Object(m) if !m.is_empty() && depth < 6 => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = r.choice(&keys).expect("a non-empty choice").clone();
            match r.usize(..5) {
                0 => {
                    m.remove(&k);
                }
                1 => {
                    m.insert(format!("x{}", r.usize(..3)), random_value(r));
                }
                2 => {
                    m.insert(k, random_value(r));
                }
                _ => mutate(m.get_mut(&k).unwrap(), r, depth + 1),
            }
        }
        Value::Array(a) if !a.is_empty() && depth < 6 => {
            let i = r.usize(..a.len());
            match r.usize(..4) {
                0 => {
                    let dup = a[i].clone();
                    a.push(dup);
                }
                1 => {
                    a.remove(i);
                }
                _ => mutate(&mut a[i], r, depth + 1),
            }
        }
        other => *other = random_value(r),
    }
}

/// Inputs per fuzzer: 5,000, or `LB_FUZZ_ROUNDS` (`cargo xtask fuzz`).
fn rounds() -> u32 {
    std::env::var("LB_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000)
}

/// One line for `cargo xtask`'s summary (target/tmp/fuzz-report-NAME.txt).
fn report(name: &str, line: &str) {
    eprintln!("{name}: {line}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-report-{name}.txt")),
        line,
    );
}

#[test]
fn mutated_configs_never_panic_and_every_error_says_where() {
    let mut r = seeded_rng();
    let base = good();
    let base_cfg = Config::parse(&base.to_string(), "good").expect("the base config is valid");
    let (mut ok, mut bad, mut syntax) = (0u32, 0u32, 0u32);
    for _ in 0..rounds() {
        let mut v = base.clone();
        for _ in 0..1 + r.usize(..3) {
            mutate(&mut v, &mut r, 0);
        }
        let mut text = if r.u64(..100) < 50 {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            v.to_string()
        };
        // Sometimes break the syntax too: a character anywhere, or data after the end.
        if r.u64(..100) < 25 && !text.is_empty() {
            let i = if r.u64(..100) < 30 {
                text.len()
            } else {
                r.usize(..text.len())
            };
            if text.is_char_boundary(i) {
                let c = *r
                    .choice(&['{', '}', '"', ',', ':', '[', 'x', '0', '\u{1F4A5}'])
                    .expect("a non-empty choice");
                text.insert(i, c);
            }
        }
        let one_document = serde_json::from_str::<Value>(&text).is_ok();
        if !one_document {
            syntax += 1;
        }
        match Config::parse(&text, "fuzz.json") {
            Ok(cfg) => {
                assert!(
                    one_document,
                    "accepted text that is not one JSON document:\n{text}"
                );
                ok += 1;
                // What was accepted survives its own serialisation, and differs from itself
                // in nothing.
                let again = Config::parse(&serde_json::to_string(&cfg).unwrap(), "again")
                    .unwrap_or_else(|e| panic!("an accepted config, written out, is refused: {e}"));
                assert_eq!(again, cfg);
                assert!(diff(&cfg, &cfg).is_empty());
                let _ = diff(&base_cfg, &cfg);
            }
            Err(e) => {
                bad += 1;
                assert!(!e.errors.is_empty(), "{text}");
                for err in &e.errors {
                    assert!(!err.path.is_empty() && !err.message.is_empty(), "{err:?}");
                }
                if !one_document {
                    assert!(
                        e.errors.len() == 1
                            && e.errors[0].message.contains(" at line ")
                            && e.errors[0].message.contains(" column "),
                        "a syntax error without its line and column: {e}\n{text}"
                    );
                }
            }
        }
    }
    report(
        "config",
        &format!(
            "{} configs: {ok} accepted, {bad} refused ({syntax} not one JSON document, all refused with line and column)",
            ok + bad
        ),
    );
    assert!(
        ok > 100 && bad > 1000 && syntax > 300,
        "{ok} accepted, {bad} refused, {syntax} broken"
    );
}

#[test]
fn one_character_after_a_valid_config_is_refused() {
    let text = good().to_string();
    for c in ['}', 'x', '0', '{', ',', '"', '\u{1F4A5}', '\0'] {
        for sep in ["", " ", "\n"] {
            let t = format!("{text}{sep}{c}");
            let e = Config::parse(&t, "t.json").expect_err(&t);
            assert!(
                e.to_string().contains("trailing characters at line"),
                "{t:?}: {e}"
            );
        }
    }
}

fn random_key(r: &mut fastrand::Rng) -> ServiceKey {
    ServiceKey {
        protocol: r
            .choice(&["tcp", "udp", "sctp"])
            .expect("a non-empty choice")
            .to_string(),
        vip: r
            .choice(&["198.18.1.100", "2001:2:0:1::100", "198.18.1.101"])
            .expect("a non-empty choice")
            .parse()
            .unwrap(),
        port: *r.choice(&[0u16, 53, 80, 443]).expect("a non-empty choice"),
        fwmark: (r.u64(..100) < 10).then(|| r.u32(..3)),
    }
}

fn random_edit(r: &mut fastrand::Rng) -> Edit {
    let real = |r: &mut fastrand::Rng| RealSpec {
        address: r
            .choice(&["198.18.0.11", "198.18.0.12", "2001:2::11", "10.0.0.1"])
            .expect("a non-empty choice")
            .parse()
            .unwrap(),
        port: Some(*r.choice(&[0u16, 53, 80, 8080]).expect("a non-empty choice")),
        weight: *r
            .choice(&[0u32, 1, 7, 2_147_483_647, 2_147_483_648, u32::MAX])
            .expect("a non-empty choice"),
        forwarding: r
            .choice(&["dr", "tun", "nat", "local"])
            .expect("a non-empty choice")
            .to_string(),
        tun_type: (r.u64(..100) < 20).then(|| {
            r.choice(&["ipip", "gue", "gre"])
                .expect("a non-empty choice")
                .to_string()
        }),
        tun_port: (r.u64(..100) < 20).then(|| r.u64(..) as u16),
        tun_csum: (r.u64(..100) < 10).then(|| {
            r.choice(&["nocsum", "csum", "x"])
                .expect("a non-empty choice")
                .to_string()
        }),
        upper_threshold: (r.u64(..100) < 10).then(|| r.u64(..) as u32),
        lower_threshold: (r.u64(..100) < 10).then(|| r.u64(..) as u32),
        health_check: None,
    };
    match r.usize(..8) {
        0 | 1 => Edit::AddService {
            service: ServiceSpec {
                fwmark: None,
                family: None,
                // The service's own protocol is typed (another is refused by the request's
                // parse); the keys of the other edits carry any name.
                protocol: *r
                    .choice(&[Protocol::Tcp, Protocol::Udp])
                    .expect("a non-empty choice"),
                vip: random_key(r).vip,
                port: random_key(r).port,
                scheduler: r
                    .choice(&["rr", "wlc", "mh", "sh", "lblc", "fastest"])
                    .expect("a non-empty choice")
                    .to_string(),
                persistent: (r.u64(..100) < 30).then(|| r.u64(..) as u32 % 4_000_000),
                persistent_netmask: (r.u64(..100) < 20).then(|| r.u64(..) as u8),
                sched_flags: if r.u64(..100) < 20 {
                    vec![
                        r.choice(&["sh-port", "mh-port", "flag-1"])
                            .expect("a non-empty choice")
                            .to_string(),
                    ]
                } else {
                    vec![]
                },
                one_packet: r.u64(..100) < 10,
                mh_table_size: (r.u64(..100) < 20).then(|| {
                    *r.choice(&[7u32, 100, 251, 65537, u32::MAX])
                        .expect("a non-empty choice")
                }),
                real_servers: Vec::new(),
                health_check: None,
                sorry_server: None,
                ftp: (r.u64(..100) < 10).then(|| r.u64(..100) < 50),
            },
        },
        2 => Edit::DelService {
            service: random_key(r),
        },
        3 => Edit::Clear,
        4 | 5 => Edit::AddReal {
            service: random_key(r),
            real: real(r),
        },
        6 => Edit::EditReal {
            service: random_key(r),
            real: real(r),
        },
        _ => Edit::SetTimeouts {
            tcp: *r
                .choice(&[0u32, 1, 900, 40_000_000])
                .expect("a non-empty choice"),
            tcpfin: *r.choice(&[0u32, 60]).expect("a non-empty choice"),
            udp: *r.choice(&[0u32, 300]).expect("a non-empty choice"),
        },
    }
}

#[test]
fn random_ipvsadm_edits_never_panic_and_leave_valid_configs() {
    let mut r = seeded_rng();
    let base = Config::parse(&good().to_string(), "good").unwrap();
    let (mut ok, mut bad) = (0u32, 0u32);
    let mut cur = base.clone();
    for _ in 0..rounds() {
        let edits: Vec<Edit> = (0..1 + r.usize(..4)).map(|_| random_edit(&mut r)).collect();
        match edit_config(&cur, &edits) {
            Ok(next) => {
                ok += 1;
                assert!(diff(&next, &next).is_empty());
                let _ = diff(&cur, &next);
                cur = if r.u64(..100) < 10 {
                    base.clone()
                } else {
                    next
                };
            }
            Err(e) => {
                bad += 1;
                assert!(!e.message.is_empty());
                assert!(e.edit.is_none_or(|i| i < edits.len()), "{e:?}");
            }
        }
    }
    assert!(ok > 100 && bad > 100, "{ok} accepted, {bad} refused");
    report(
        "ipvsadm-edits",
        &format!(
            "{} batches of edits: {ok} accepted, {bad} refused",
            ok + bad
        ),
    );
}

const SEED: u64 = 0x5eed_c0f1_2026;

/// The fuzzer's generator, seeded from `LB_FUZZ_SEED` or a fixed seed (reproducible).
fn seeded_rng() -> fastrand::Rng {
    let seed = std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED);
    eprintln!("fuzz seed {seed} (set LB_FUZZ_SEED to change)");
    fastrand::Rng::with_seed(seed)
}
