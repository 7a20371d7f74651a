//! The config's JSON Schema (docs/lb.schema.json) is as strict as lbd: every config of the
//! corpus in tests/configs/ goes through `lbd check-config` (the real binary) and through
//! Debian's python3-jsonschema (a validator nobody here wrote; draft 2020-12, formats
//! checked, the schema itself checked against the metaschema), and they must agree, except
//! on the rules the schema lists as ones JSON Schema cannot express
//! (`lb_model::config::schema::UNEXPRESSED`), where they must disagree: the schema accepts
//! what only lbd refuses. Each bad config breaks one rule, named by its file
//! (`RULE.json`, `RULE--VARIANT.json`), and lbd must report exactly that one error
//! (tests/configs/bad-errors.tsv). Then the schema's address, socket address and table size
//! definitions against Rust's parsers and lbd's unicast check, on generated strings.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
};

use lb_model::config::{address::not_unicast, schema::UNEXPRESSED};
use lb_tests::{netns::unique_name, topo::bin};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(what));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What python's jsonschema says of each file and of each (definition, value) instance.
struct Judged {
    /// Per file: None when valid, else the validator's first message.
    files: Vec<Option<String>>,
    instances: Vec<bool>,
}

const VALIDATOR: &str = r##"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
job = json.load(open(sys.argv[1]))
schema = json.load(open(job["schema"]))
Draft202012Validator.check_schema(schema)
whole = Draft202012Validator(schema, format_checker=FormatChecker())
files = []
for f in job["files"]:
    errors = sorted(whole.iter_errors(json.load(open(f, encoding="utf-8"))), key=lambda e: list(e.absolute_path))
    files.append(None if not errors else "%s: %s" % ("/".join(map(str, errors[0].absolute_path)), errors[0].message[:300]))
validators = {}
instances = []
for d, value in job["instances"]:
    if d not in validators:
        validators[d] = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/" + d}, format_checker=FormatChecker())
    instances.append(validators[d].is_valid(value))
json.dump({"files": files, "instances": instances}, sys.stdout)
"##;

fn judge(schema: &Path, files: &[PathBuf], instances: &[(&str, Value)], tmp: &Path) -> Judged {
    let job = tmp.join("job.json");
    std::fs::write(
        &job,
        serde_json::to_vec(&json!({
            "schema": schema,
            "files": files,
            "instances": instances.iter().map(|(d, v)| json!([d, v])).collect::<Vec<_>>(),
        }))
        .unwrap(),
    )
    .unwrap();
    let out = Command::new("/usr/bin/python3")
        .args(["-c", VALIDATOR])
        .arg(&job)
        .output()
        .expect("python3 with python3-jsonschema (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "jsonschema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the validator's JSON");
    Judged {
        files: v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().map(str::to_string))
            .collect(),
        instances: v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect(),
    }
}

/// `lbd check-config FILE`: None when it accepts the file, else its error lines.
fn lbd_check(file: &Path) -> Option<Vec<String>> {
    let out = Command::new(bin("lbd"))
        .arg("check-config")
        .arg(file)
        .output()
        .expect("lbd");
    if out.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("lbd: invalid config "),
        "{}: lbd failed otherwise than on the config: {stderr}",
        file.display()
    );
    Some(
        stderr
            .lines()
            .filter_map(|l| l.strip_prefix("  "))
            .map(str::to_string)
            .collect(),
    )
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The rule a bad file is named by: its stem up to `--`.
fn rule_of(stem: &str) -> &str {
    stem.split_once("--").map_or(stem, |(r, _)| r)
}

/// Configs too big to keep in the repository, written for the run: (name, config, whether
/// lbd accepts it).
fn generated() -> Vec<(&'static str, Value, bool)> {
    let service = |port: u32, reals: usize, scheduler: &str| {
        json!({
            "protocol": "tcp", "vip": "198.18.1.1", "port": port, "scheduler": scheduler,
            "real_servers": (0..reals)
                .map(|i| json!({ "address": format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256) }))
                .collect::<Vec<_>>(),
        })
    };
    let max_services = lb_common::MAX_SERVICES as usize - 1;
    let counted = lb_common::MAX_COUNTED_REALS as usize;
    vec![
        (
            "services-at-the-limit",
            json!({ "interface": "eth0", "services": (1..=max_services).map(|p| service(p as u32, 0, "rr")).collect::<Vec<_>>() }),
            true,
        ),
        (
            "services-too-many",
            json!({ "interface": "eth0", "services": (1..=max_services + 1).map(|p| service(p as u32, 0, "rr")).collect::<Vec<_>>() }),
            false,
        ),
        (
            "count-driven-at-the-limit",
            json!({ "interface": "eth0", "services": [service(80, counted, "wlc")] }),
            true,
        ),
        (
            "count-driven-too-many-reals",
            json!({ "interface": "eth0", "services": [service(80, counted + 1, "lc")] }),
            false,
        ),
        (
            "count-driven-too-many-reals--default-scheduler",
            {
                let mut s = service(80, counted + 1, "wlc");
                s.as_object_mut().unwrap().remove("scheduler");
                json!({ "interface": "eth0", "services": [s] })
            },
            false,
        ),
        (
            "not-count-driven-beyond-the-limit",
            json!({ "interface": "eth0", "services": [service(80, counted + 1, "rr")] }),
            true,
        ),
    ]
}

#[test]
fn the_schema_refuses_what_lbd_refuses_but_the_rules_it_lists() {
    let tmp = TempDir::new("schema");
    let configs = root().join("tests/configs");
    let good = json_files(&configs.join("good"));
    let bad = json_files(&configs.join("bad"));
    assert!(good.len() >= 5 && bad.len() >= 100, "{good:?} {bad:?}");
    let unexpressed: BTreeSet<&str> = UNEXPRESSED.iter().map(|u| u.id).collect();

    // Every bad file and its one error, as recorded.
    let recorded: BTreeMap<String, String> =
        std::fs::read_to_string(configs.join("bad-errors.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (s, e) = l.split_once('\t').expect("STEM<TAB>ERROR");
                (s.to_string(), e.to_string())
            })
            .collect();
    let stems: BTreeSet<String> = bad.iter().map(|p| stem(p)).collect();
    let listed: BTreeSet<String> = recorded.keys().cloned().collect();
    assert_eq!(
        stems, listed,
        "bad/ and bad-errors.tsv name different configs"
    );

    let mut files: Vec<PathBuf> = good.iter().chain(&bad).cloned().collect();
    let mut generated_lbd_ok = Vec::new();
    for (name, config, lbd_ok) in generated() {
        let p = tmp.0.join(format!("{name}.json"));
        std::fs::write(&p, serde_json::to_vec(&config).unwrap()).unwrap();
        files.push(p);
        generated_lbd_ok.push((name, lbd_ok));
    }
    let judged = judge(&root().join("docs/lb.schema.json"), &files, &[], &tmp.0);

    let mut wrong = Vec::new();
    let mut disagreed = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        let name = stem(f);
        let schema = &judged.files[i];
        let lbd = lbd_check(f);
        let is_good = i < good.len();
        let generated = generated_lbd_ok.iter().find(|(n, _)| *n == name);
        let lbd_should_accept = is_good || generated.is_some_and(|(_, ok)| *ok);
        match (&lbd, lbd_should_accept) {
            (None, true) => {}
            (Some(e), true) => wrong.push(format!("{name}: lbd refuses it: {e:?}")),
            (None, false) => wrong.push(format!("{name}: lbd accepts it")),
            (Some(e), false) => {
                if let Some(want) = recorded.get(&name)
                    && (e.len() != 1 || !e[0].starts_with(want.as_str()))
                {
                    wrong.push(format!(
                        "{name}: lbd says {e:?}, not the one error {want:?}"
                    ));
                }
            }
        }
        let rule = rule_of(&name);
        let schema_should_accept = lbd_should_accept || unexpressed.contains(rule);
        match (schema, schema_should_accept) {
            (None, true) | (Some(_), false) => {}
            (Some(e), true) => wrong.push(format!("{name}: the schema refuses it: {e}")),
            (None, false) => wrong.push(format!(
                "{name}: the schema accepts what lbd refuses, and {rule} is not a rule it lists"
            )),
        }
        if !lbd_should_accept && schema.is_none() {
            disagreed.insert(rule.to_string());
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Every rule the schema says it leaves out is one the corpus shows it leaving out, but
    // the sum of all real servers (131,071 of them; lb-model's unit test covers the limit).
    let missing: Vec<&&str> = unexpressed
        .iter()
        .filter(|u| !disagreed.contains(**u) && **u != "too-many-real-servers")
        .collect();
    assert!(missing.is_empty(), "no corpus case shows {missing:?}");
}

/// Strings for the address definitions: the forms lbd's parsers take and refuse, edge
/// values, and random ones (seeded).
fn address_strings() -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(16);
    let mut out: Vec<String> = [
        "0.0.0.0",
        "0.1.2.3",
        "1.0.0.0",
        "9.9.9.9",
        "126.255.255.255",
        "127.0.0.1",
        "128.0.0.1",
        "223.255.255.255",
        "224.0.0.0",
        "239.255.255.255",
        "240.0.0.0",
        "255.255.255.254",
        "255.255.255.255",
        "255.255.254.255",
        "01.2.3.4",
        "1.2.3.04",
        "1.2.3.256",
        "1.2.3",
        "1.2.3.4.5",
        "1..2.3",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4\n",
        "::",
        "::0",
        "0::",
        "0::0",
        "0:0:0:0:0:0:0:0",
        "0000:0000:0000:0000:0000:0000:0000:0000",
        "::1",
        "0::1",
        "::0001",
        "0:0:0:0:0:0:0:1",
        "::0.0.0.1",
        "::0.0.0.0",
        "::0.0.0.2",
        "::1:0",
        "1::",
        "::2",
        "::ffff:1.2.3.4",
        "::FFFF:1.2.3.4",
        "0:0:0:0:0:ffff:1.2.3.4",
        "::ffff:0:0",
        "::ffff:1:2",
        "0:0:0:0:0:ffff::",
        "0:0:0:0:0:ffff::1",
        "::0:ffff:1:2",
        "::ffff:1",
        "::ffff:1:2:3",
        "0:0:0:0:ffff::",
        "::ffff:0:1.2.3.4",
        "ffff::",
        "ff::1",
        "ff02::1",
        "FF00::",
        "fe80::1",
        "fe80::1%1",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::",
        "1:2:3:4:5:6:7:8::",
        "::2:3:4:5:6:7:8",
        "::1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5::1.2.3.4",
        "1:2:3:4:5:6::1.2.3.4",
        "1.2.3.4::",
        "1::2::3",
        ":1::2",
        "1::2:",
        "12345::",
        "g::",
        "::1.2.3",
        "::01.2.3.4",
        "",
        "[::1]",
        "1.2.3.4:80",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let hex = |rng: &mut fastrand::Rng| -> String {
        match rng.u8(0..12) {
            0 => "0".into(),
            1 => "0000".into(),
            2 => "ffff".into(),
            3 => "FF0A".into(),
            4 => format!("{:x}", rng.u32(0..0x10_0000)),
            5 => "".into(),
            _ => {
                let n = rng.usize(1..=4);
                let s: String = (0..n)
                    .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap())
                    .collect();
                if rng.bool() { s.to_uppercase() } else { s }
            }
        }
    };
    let octet = |rng: &mut fastrand::Rng| -> String {
        match rng.u8(0..10) {
            0 => [
                "0", "127", "224", "239", "240", "255", "256", "00", "01", "999",
            ][rng.usize(0..10)]
            .to_string(),
            _ => rng.u32(0..256).to_string(),
        }
    };
    for _ in 0..3000 {
        let quad = |rng: &mut fastrand::Rng| -> String {
            let n = if rng.u8(0..20) == 0 {
                rng.usize(3..=5)
            } else {
                4
            };
            (0..n).map(|_| octet(rng)).collect::<Vec<_>>().join(".")
        };
        let v4 = quad(&mut rng);
        // Mostly zero groups some of the time, to reach ::, ::1 and ::ffff:0:0/96.
        let zeros = rng.bool();
        let n = rng.usize(1..=9);
        let mut groups: Vec<String> = (0..n)
            .map(|_| {
                if zeros && rng.u8(0..5) > 0 {
                    "0".into()
                } else {
                    hex(&mut rng)
                }
            })
            .collect();
        if zeros && n >= 3 && rng.bool() {
            groups[n - 3] = "ffff".into();
        }
        if zeros && rng.bool() {
            groups[n - 1] = "1".into();
        }
        if rng.u8(0..4) == 0 && n >= 2 {
            groups.truncate(n - 1);
            *groups.last_mut().unwrap() = quad(&mut rng);
        }
        let mut v6 = groups.join(":");
        if rng.u8(0..3) > 0 {
            let colons: Vec<usize> = std::iter::once(0)
                .chain(v6.match_indices(':').map(|(i, _)| i))
                .chain(std::iter::once(v6.len()))
                .collect();
            let at = colons[rng.usize(0..colons.len())];
            v6.replace_range(at..at, if rng.u8(0..10) == 0 { ":::" } else { "::" });
            v6 = v6.replace(":::", "::");
        }
        out.push(v4);
        out.push(v6);
    }
    out.sort();
    out.dedup();
    out
}

fn socket_strings() -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(17);
    let hosts = [
        "127.0.0.1",
        "0.0.0.0",
        "198.18.0.2",
        "300.0.0.1",
        "[::1]",
        "[::]",
        "::1",
        "[fe80::1%2]",
        "[fe80::1%0004294967295]",
        "[fe80::1%4294967296]",
        "[fe80::1%eth0]",
        "[fe80::1%]",
        "[1.2.3.4]",
        "[::ffff:1.2.3.4]",
        "localhost",
        "",
    ];
    let ports = [
        "0",
        "80",
        "65535",
        "65536",
        "0080",
        "000000000000080",
        "",
        "-1",
        "99999",
        "6553",
        "65530",
        "+80",
        "80 ",
    ];
    let mut out = Vec::new();
    for h in hosts {
        for p in ports {
            out.push(format!("{h}:{p}"));
        }
        out.push(h.to_string());
    }
    for _ in 0..500 {
        let p = rng.u32(0..70_000);
        out.push(format!("198.18.0.1:{:0w$}", p, w = rng.usize(0..8)));
        out.push(format!(
            "[2001:2::{:x}%{}]:{p}",
            rng.u16(..),
            rng.u64(0..5_000_000_000)
        ));
    }
    out
}

#[test]
fn address_definitions_take_what_lbds_parsers_and_unicast_check_take() {
    let tmp = TempDir::new("schema-addr");
    let unicast = |a: IpAddr| not_unicast(a).is_none();
    let mut instances: Vec<(&str, Value)> = Vec::new();
    let mut expected: Vec<bool> = Vec::new();
    for s in address_strings() {
        let cases: [(&str, bool); 4] = [
            ("IpAddress", s.parse::<IpAddr>().is_ok()),
            ("UnicastAddress", s.parse::<IpAddr>().is_ok_and(unicast)),
            (
                "Ipv4Unicast",
                s.parse::<Ipv4Addr>().is_ok_and(|a| unicast(a.into())),
            ),
            (
                "Ipv6Unicast",
                s.parse::<Ipv6Addr>().is_ok_and(|a| unicast(a.into())),
            ),
        ];
        for (def, want) in cases {
            instances.push((def, json!(s)));
            expected.push(want);
        }
    }
    for s in socket_strings() {
        instances.push(("SocketAddress", json!(s)));
        expected.push(s.parse::<SocketAddr>().is_ok());
    }
    let mut rng = fastrand::Rng::with_seed(18);
    let sizes: Vec<u32> = (0..3000)
        .chain(
            lb_model::config::service::MAX_MH_TABLE_SIZE - 2000
                ..lb_model::config::service::MAX_MH_TABLE_SIZE + 50,
        )
        .chain((0..3000).map(|_| rng.u32(0..1_100_000)))
        .collect();
    for n in sizes {
        instances.push(("MhTableSize", json!(n)));
        let range = lb_model::config::service::MIN_MH_TABLE_SIZE
            ..=lb_model::config::service::MAX_MH_TABLE_SIZE;
        expected.push(range.contains(&n) && lb_model::scheduler::is_prime(n));
    }
    let judged = judge(&root().join("docs/lb.schema.json"), &[], &instances, &tmp.0);
    let wrong: Vec<String> = instances
        .iter()
        .zip(&expected)
        .zip(&judged.instances)
        .filter(|((_, want), got)| *want != *got)
        .map(|(((def, v), want), _)| {
            format!(
                "{def} {v}: lbd {}",
                if *want { "takes it" } else { "refuses it" }
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} disagree:\n{}",
        wrong.len(),
        instances.len(),
        wrong[..wrong.len().min(40)].join("\n")
    );
    // The generator reached every kind of address.
    let took = |def: &str, want: bool| {
        instances
            .iter()
            .zip(&expected)
            .filter(|((d, _), w)| *d == def && **w == want)
            .count()
    };
    for def in [
        "UnicastAddress",
        "Ipv4Unicast",
        "Ipv6Unicast",
        "IpAddress",
        "SocketAddress",
        "MhTableSize",
    ] {
        assert!(
            took(def, true) > 100 && took(def, false) > 100,
            "{def}: {} taken, {} refused",
            took(def, true),
            took(def, false)
        );
    }
    let refused_v6 = address_strings()
        .iter()
        .filter_map(|s| s.parse::<Ipv6Addr>().ok())
        .filter(|a| not_unicast((*a).into()).is_some())
        .count();
    assert!(refused_v6 > 100, "only {refused_v6} refused IPv6 addresses");
}
