//! The config's JSON Schema (docs/lb.schema.json) is as strict as lbd: every config of the
//! corpus in tests/configs/ goes through `lbd check-config` (the real binary) and through
//! Debian's python3-jsonschema (a validator nobody here wrote; draft 2020-12, formats
//! checked, the schema itself checked against the metaschema), and they must agree, except
//! on the rules the schema lists as ones JSON Schema cannot express
//! (`lb_model::config::schema::UNEXPRESSED`), where they must disagree: the schema accepts
//! what only lbd refuses. Each bad config breaks one rule, named by its file
//! (`RULE.json`, `RULE--VARIANT.json`), and lbd must report exactly that one error
//! (tests/configs/bad-errors.tsv). Then the schema's address, socket address and table size
//! definitions against Rust's parsers and lbd's unicast check, on generated strings; and
//! mutations of the good configs, judged both ways, where every error lbd finds in a config
//! the schema takes must be one of the listed rules.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
};

use lb_model::config::{address::not_unicast, schema::UNEXPRESSED};
use lb_tests::{tempdir::TempDir, topo::bin};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What python's jsonschema says of each file and of each (definition, value) instance (the
/// definition "" is the whole schema).
struct Judged {
    /// Per file: None when valid, else the validator's first message.
    files: Vec<Option<String>>,
    /// Per instance: for the whole schema, as `files`; for a definition, whether valid.
    instances: Vec<Value>,
}

const VALIDATOR: &str = r##"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
job = json.load(open(sys.argv[1]))
schema = json.load(open(job["schema"]))
Draft202012Validator.check_schema(schema)
whole = Draft202012Validator(schema, format_checker=FormatChecker())
def first_error(validator, value):
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return None if not errors else "%s: %s" % ("/".join(map(str, errors[0].absolute_path)), errors[0].message[:300])
files = [first_error(whole, json.load(open(f, encoding="utf-8"))) for f in job["files"]]
validators = {}
instances = []
for d, value in job["instances"]:
    if d not in validators:
        validators[d] = whole if d == "" else Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/" + d}, format_checker=FormatChecker())
    instances.append(first_error(validators[d], value) if d == "" else validators[d].is_valid(value))
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
        instances: v["instances"].as_array().unwrap().clone(),
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

/// Paths as `announce` takes them: absolute or not, ending in a file, a slash, `..` or `.`.
fn path_strings() -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(19);
    let parts = [
        "/", "//", "a", "bird.ctl", ".", "..", "...", ".a", "a.", " ", "\n",
    ];
    let mut out: Vec<String> = [
        "/",
        "/.",
        "/..",
        "/a",
        "/a/",
        "/a/.",
        "/a/..",
        "/a/../.",
        "/a/..//./",
        "//",
        "/./.",
        "a",
        "",
        "./a",
        "../a",
        "/a\n",
        "/a/\n",
        "/run/bird/bird.ctl",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..600 {
        let n = rng.usize(1..7);
        let start = if rng.u8(0..10) < 7 { "/" } else { "" };
        let rest: String = (0..n).map(|_| parts[rng.usize(0..parts.len())]).collect();
        out.push(format!("{start}{rest}"));
    }
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
        let cases: [(&str, bool); 5] = [
            ("IpAddress", s.parse::<IpAddr>().is_ok()),
            (
                "MulticastAddress",
                s.parse::<IpAddr>().is_ok_and(|a| a.is_multicast()),
            ),
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
    for s in socket_strings() {
        let want = s
            .parse::<SocketAddr>()
            .is_ok_and(|a| a.port() != 0 && unicast(a.ip()));
        instances.push(("UnicastSocketAddress", json!(s)));
        expected.push(want);
    }
    for s in path_strings() {
        let p = Path::new(&s);
        instances.push(("FilePath", json!(s)));
        expected.push(p.is_absolute() && p.file_name().is_some() && !s.ends_with('/'));
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
        .filter(|((_, want), got)| got.as_bool() != Some(**want))
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
        "UnicastSocketAddress",
        "FilePath",
        "MhTableSize",
    ] {
        assert!(
            took(def, true) > 100 && took(def, false) > 100,
            "{def}: {} taken, {} refused",
            took(def, true),
            took(def, false)
        );
    }
    // Fewer multicast addresses come out of the generator (sync.mcast_group's).
    assert!(
        took("MulticastAddress", true) > 20,
        "MulticastAddress: {} taken",
        took("MulticastAddress", true)
    );
    let refused_v6 = address_strings()
        .iter()
        .filter_map(|s| s.parse::<Ipv6Addr>().ok())
        .filter(|a| not_unicast((*a).into()).is_some())
        .count();
    assert!(refused_v6 > 100, "only {refused_v6} refused IPv6 addresses");
}

/// The rule of `UNEXPRESSED` an error of lbd's is an instance of, if any (`config` is the
/// config it was found in).
fn unexpressed_rule(message: &str, config: &Value) -> Option<&'static str> {
    let rules = [
        ("duplicate service", "duplicate-service"),
        ("duplicate real server", "duplicate-real-server"),
        ("a sorry server must be another server", "sorry-is-real"),
        ("is the service's VIP", "real-is-vip"),
        ("differs from the service's port", "real-port-differs"),
        ("is above the upper threshold", "lower-above-upper"),
        ("to the interval,", "timeout-above-interval"),
        ("slots cannot hold", "mh-table-too-small"),
        ("scheduler tables need", "sched-table-budget"),
        (
            "real servers and sorry servers in all",
            "too-many-real-servers",
        ),
        ("floating point", "integer-spelling"),
        ("duplicate field", "duplicate-key"),
    ];
    if let Some((_, id)) = rules.iter().find(|(m, _)| message.contains(m)) {
        return Some(id);
    }
    // Lengths in bytes: only when the characters are few enough for maxLength.
    let (path, _) = message.split_once(": ")?;
    let pointer = format!(
        "/{}",
        path.replace('[', "/").replace(']', "").replace('.', "/")
    );
    if message.contains("is not an interface name")
        && config
            .pointer(&pointer)
            .and_then(Value::as_str)
            .is_some_and(|i| {
                !i.is_empty()
                    && i.chars().count() <= 15
                    && !i.contains(|c: char| c == '/' || c.is_whitespace())
            })
    {
        return Some("interface-bytes");
    }
    if message.contains("bytes; at most") {
        return Some("payload-bytes");
    }
    None
}

/// Every node's path (JSON pointer) in `v`.
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                paths(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                paths(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// A value drawn from what configs are made of: the typed model's names, edge numbers of
/// every bound, addresses of every kind, and other JSON.
fn any_value(rng: &mut fastrand::Rng) -> Value {
    use lb_model::Named;
    let mut names: Vec<&str> = Vec::new();
    names.extend(lb_model::Scheduler::names());
    names.extend(lb_model::SchedFlag::names());
    names.extend(lb_model::Forwarding::names());
    names.extend(lb_model::TunType::names());
    names.extend(lb_model::TunCsum::names());
    names.extend([
        "tcp", "udp", "http", "exec", "none", "keep", "expire", "native", "generic",
    ]);
    let strings = [
        "198.18.0.11",
        "198.18.0.12",
        "198.18.1.1",
        "2001:2::11",
        "2001:2:1::1",
        "::1",
        "::",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::ffff:198.18.0.11",
        "fe80::1",
        "300.1.1.1",
        "127.0.0.1:9100",
        "[::1]:9100",
        "198.18.0.2",
        "2001:2::2",
        "/",
        "/h",
        "h",
        "/a b",
        "",
        "eth0",
        "eth0123456789abc",
        "ééééééééé",
        "x",
    ];
    let numbers: [i64; 44] = [
        0, 1, 2, 5, 6, 7, 10, 11, 31, 32, 33, 49, 50, 99, 100, 101, 127, 128, 129, 251, 599, 600,
        1023, 1024, 1400, 1401, 5000, 5001, 65535, 65536, 65537, 2678400, 2678401, 31536000,
        31536001, 67108864, 67108865, 86400000, 86400001, 1048573, 2147483647, 2147483648,
        4294967295, -1,
    ];
    match rng.u8(0..20) {
        0..=6 => json!(numbers[rng.usize(0..numbers.len())]),
        7..=10 => json!(names[rng.usize(0..names.len())]),
        11..=14 => json!(strings[rng.usize(0..strings.len())]),
        15 if rng.bool() => Value::Null,
        // A name in serde's tagged form.
        15 => json!({ names[rng.usize(0..names.len())]: null }),
        16 => json!(rng.bool()),
        17 => json!(["sh-port"]),
        18 => [json!(["/bin/true"]), json!([""]), json!([])][rng.usize(0..3)].clone(),
        _ => json!({}),
    }
}

/// Configs made by mutating the good corpus one to three times (seeded; `LB_FUZZ_SEED` in
/// hex explores others, `LB_FUZZ_CONFIGS` sets how many).
fn mutated(good: &[Value], keys: &[String], n: usize, seed: u64) -> Vec<Value> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let mut v = good[rng.usize(0..good.len())].clone();
            for _ in 0..rng.usize(1..=3) {
                let mut all = Vec::new();
                paths(&v, String::new(), &mut all);
                let at = all[rng.usize(0..all.len())].clone();
                let node = v.pointer_mut(&at).unwrap();
                match (rng.u8(0..5), node) {
                    (0, Value::Object(m)) if !m.is_empty() => {
                        let k = m.keys().nth(rng.usize(0..m.len())).unwrap().clone();
                        m.remove(&k);
                    }
                    (1, Value::Object(m)) => {
                        m.insert(keys[rng.usize(0..keys.len())].clone(), any_value(&mut rng));
                    }
                    (2, Value::Array(a)) if !a.is_empty() => {
                        let e = a[rng.usize(0..a.len())].clone();
                        a.push(e);
                    }
                    (_, node) => *node = any_value(&mut rng),
                }
            }
            v
        })
        .collect()
}

#[test]
fn mutated_configs_are_judged_alike_but_on_the_listed_rules() {
    let tmp = TempDir::new("schema-fuzz");
    let schema_path = root().join("docs/lb.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    // Every property name of the schema, for mutations that add one.
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for node in std::iter::once(&schema).chain(schema["$defs"].as_object().unwrap().values()) {
        if let Some(p) = node["properties"].as_object() {
            keys.extend(p.keys().cloned());
        }
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let good: Vec<Value> = json_files(&root().join("tests/configs/good"))
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    let n = std::env::var("LB_FUZZ_CONFIGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let seed = std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x5c4e_3a16);
    let configs = mutated(&good, &keys, n, seed);
    let instances: Vec<(&str, Value)> = configs.iter().map(|c| ("", c.clone())).collect();
    let judged = judge(&schema_path, &[], &instances, &tmp.0);
    let unexpressed: BTreeSet<&str> = UNEXPRESSED.iter().map(|u| u.id).collect();
    let mut wrong = Vec::new();
    let (mut accepted, mut refused, mut left_to_lbd) = (0, 0, 0);
    for (c, said) in configs.iter().zip(&judged.instances) {
        let schema_ok = &said.is_null();
        // lbd check-config is Config::load: the same parse and validation.
        let text = serde_json::to_string(c).unwrap();
        let lbd = lb_model::config::Config::parse(&text, "fuzz.json");
        match (&lbd, schema_ok) {
            (Ok(_), true) => accepted += 1,
            (Err(_), false) => refused += 1,
            (Ok(_), false) => wrong.push(format!(
                "the schema refuses what lbd takes ({}): {text}",
                said.as_str().unwrap_or("")
            )),
            (Err(e), true) => {
                let not_listed: Vec<String> = e
                    .errors
                    .iter()
                    .map(|e| e.to_string())
                    .filter(|m| !unexpressed_rule(m, c).is_some_and(|r| unexpressed.contains(r)))
                    .collect();
                if not_listed.is_empty() {
                    left_to_lbd += 1;
                } else {
                    wrong.push(format!(
                        "the schema takes what lbd refuses ({not_listed:?}): {text}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "seed {seed:x}: {} of {n} wrong:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(15)].join("\n")
    );
    // The mutations reach both sides.
    assert!(
        accepted > n / 50 && refused > n / 4,
        "{accepted} accepted, {refused} refused, {left_to_lbd} left to lbd"
    );
}
