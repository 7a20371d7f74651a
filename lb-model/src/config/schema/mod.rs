//! The JSON Schema of lbd's config (`docs/lb.schema.json`, `lbd schema`), as strict as
//! lbd's validation wherever JSON Schema can say it. Generated from the config types (field
//! docs become descriptions, serde's defaults and unknown-field refusal carry over), then
//! given what the types alone cannot say, from the validator's own constants and the typed
//! model's names: the names each string field takes, numeric ranges, address patterns
//! ([`patterns`]), and the cross-field rules as `if`/`then` ([`rules`]). What JSON Schema
//! cannot express is [`UNEXPRESSED`], listed in the schema's description; a test runs the
//! corpus in tests/configs/ through `lbd check-config` and python's jsonschema and requires
//! them to disagree on exactly those rules.

mod patterns;
mod rules;

use serde_json::{Map, Value, json};

use super::{
    Config, MAX_CONN_REUSE_MODE, MAX_EXPIRATION_S, MAX_THRESHOLD, MAX_WEIGHT, Raw,
    daemon::{
        MAX_CONN_TABLE_SIZE, MAX_INTERFACE_LEN, MAX_TIMEOUT_S, MIN_CONN_TABLE_SIZE, RESTART_ONLY,
    },
    health::{
        HTTP_STATUSES, MAX_GRACE_MS, MAX_INTERVAL_MS, MAX_PAYLOAD_BYTES, MAX_RISE_FALL,
        MIN_INTERVAL_MS, MIN_TIMEOUT_MS,
    },
    service::{MAX_MH_TABLE_SIZE, MAX_PERSISTENT_S, MIN_MH_TABLE_SIZE},
    sync::{MAX_SYNC_MAXLEN, MIN_SYNC_MAXLEN},
};
use crate::{Forwarding, Named, SchedFlag, Scheduler, TunCsum, TunType, scheduler::is_prime};

/// A rule of lbd's validation the schema does not express: `id` names its cases in the
/// corpus (`tests/configs/bad/ID.json`, `ID--VARIANT.json`).
pub struct Unexpressed {
    pub id: &'static str,
    /// What lbd refuses.
    pub rule: &'static str,
    /// Why JSON Schema cannot say it.
    pub why: &'static str,
}

const COMPARES: &str =
    "JSON Schema compares a value with constants, not with another value of the same document";
const SUMS: &str = "JSON Schema counts the items of one array, not items summed over several";

/// Every rule of lbd's validation that the schema leaves out.
pub const UNEXPRESSED: &[Unexpressed] = &[
    Unexpressed {
        id: "duplicate-service",
        rule: "two services with the same protocol, VIP and port",
        why: "uniqueItems compares whole items, not some of their fields (nor an address written two ways)",
    },
    Unexpressed {
        id: "duplicate-real-server",
        rule: "two real servers of a service with the same address and port (a real server's port defaults to the service's)",
        why: "uniqueItems compares whole items, not some of their fields",
    },
    Unexpressed {
        id: "sorry-is-real",
        rule: "a sorry server that is also a real server of its service",
        why: COMPARES,
    },
    Unexpressed {
        id: "real-is-vip",
        rule: "a real server or sorry server at its service's VIP",
        why: COMPARES,
    },
    Unexpressed {
        id: "real-port-differs",
        rule: "a tun or dr real server (or sorry server) on another port than its service's: only nat changes the port",
        why: COMPARES,
    },
    Unexpressed {
        id: "ftp-real-port",
        rule: "a nat real server of an FTP service (ftp, by default a tcp service on port 21) on another port than its service's",
        why: COMPARES,
    },
    Unexpressed {
        id: "lower-above-upper",
        rule: "a lower_threshold above a non-zero upper_threshold",
        why: COMPARES,
    },
    Unexpressed {
        id: "timeout-above-interval",
        rule: "a health check's timeout_ms above its interval_ms (above the default interval, when interval_ms is not given, the schema refuses it)",
        why: COMPARES,
    },
    Unexpressed {
        id: "mh-table-too-small",
        rule: "an mh service with more real servers of weight above 0 than its table has slots",
        why: COMPARES,
    },
    Unexpressed {
        id: "sched-table-budget",
        rule: "scheduler tables of all services together (two generations each) larger than the data plane's table",
        why: SUMS,
    },
    Unexpressed {
        id: "too-many-real-servers",
        rule: "more real servers and sorry servers in all services together than the data plane has ids for",
        why: SUMS,
    },
    Unexpressed {
        id: "interface-bytes",
        rule: "an interface name of at most 15 characters but more than 15 bytes (the kernel counts bytes)",
        why: "maxLength counts characters",
    },
    Unexpressed {
        id: "payload-bytes",
        rule: "a udp check's payload of at most 1400 characters but more than 1400 bytes",
        why: "maxLength counts characters",
    },
    Unexpressed {
        id: "integer-spelling",
        rule: "an integer written with a fraction or an exponent (3.0, 1e3): lbd's reader wants an integer's syntax",
        why: "JSON Schema sees numbers' values, and 3.0 is the integer 3",
    },
    Unexpressed {
        id: "announce-same-path",
        rule: "announce.include_file the same path as announce.bird_socket",
        why: COMPARES,
    },
    Unexpressed {
        id: "duplicate-key",
        rule: "a key given twice in one object",
        why: "a schema sees the object as parsed, in which one of the two values is gone",
    },
];

/// The schema as JSON.
pub fn schema() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(Config<Raw>)).expect("a schema is JSON");
    integer_bounds(&mut v);
    v["$id"] = json!("https://lb.invalid/lb.schema.json");
    v["title"] = json!("lb config (lbd --config, lbctl apply -f)");
    v["description"] = json!(description());
    let defs = v["$defs"].as_object_mut().expect("$defs");
    defs.extend(address_defs());
    defs.insert("MhTableSize".into(), mh_table_size());
    let svc = "/$defs/ServiceConfig/properties";
    let real = "/$defs/RealServerConfig/properties";
    let check = "/$defs/CheckConfig/properties";
    let nullable =
        |def: &str| json!({ "anyOf": [{ "$ref": format!("#/$defs/{def}") }, { "type": "null" }] });
    let reference = |def: &str| json!({ "$ref": format!("#/$defs/{def}") });

    // The daemon's settings.
    let ifname = ifname_rules();
    extend(&mut v, "/properties/interface", ifname.clone());
    for p in ["/properties/interface", "/properties/interfaces/items"] {
        if let Some(o) = v.pointer_mut(p).and_then(Value::as_object_mut) {
            o.remove("pattern");
        }
    }
    // Given, `interface` is a name (null would leave no interface at all).
    extend(&mut v, "/properties/interface", json!({ "type": "string" }));
    extend(&mut v, "/properties/interfaces/items", ifname);
    extend(
        &mut v,
        "/properties/interfaces",
        json!({ "minItems": 1, "maxItems": super::MAX_INTERFACES, "uniqueItems": true }),
    );
    // `interface` is the one-element shorthand of `interfaces`: exactly one is given.
    v["oneOf"] = json!([{ "required": ["interface"] }, { "required": ["interfaces"] }]);
    for t in ["conn_table_size", "conn_table_size_v6"] {
        extend(
            &mut v,
            &format!("/properties/{t}"),
            json!({ "minimum": MIN_CONN_TABLE_SIZE, "maximum": MAX_CONN_TABLE_SIZE }),
        );
    }
    extend(
        &mut v,
        "/properties/conn_reuse_mode",
        json!({ "maximum": MAX_CONN_REUSE_MODE }),
    );
    for t in ["lblc_expiration", "lblcr_expiration"] {
        extend(
            &mut v,
            &format!("/properties/{t}"),
            json!({ "minimum": 1, "maximum": MAX_EXPIRATION_S }),
        );
    }
    replace(
        &mut v,
        "/properties/metrics_listen",
        nullable("SocketAddress"),
    );
    replace(
        &mut v,
        "/$defs/Director/properties/ipv4",
        nullable("Ipv4Unicast"),
    );
    replace(
        &mut v,
        "/$defs/Director/properties/ipv6",
        nullable("Ipv6Unicast"),
    );
    // The connection-sync section (ipvsadm's sync daemon options).
    let sync = "/$defs/SyncConfig/properties";
    replace(
        &mut v,
        &format!("{sync}/mcast_group"),
        nullable("MulticastAddress"),
    );
    extend(&mut v, &format!("{sync}/mcast_interface"), ifname_rules());
    replace(
        &mut v,
        &format!("{sync}/auth_key_file"),
        nullable("FilePath"),
    );
    for list in ["peers", "bulk_from"] {
        extend(
            &mut v,
            &format!("{sync}/{list}/items"),
            reference("UnicastSocketAddress"),
        );
    }
    extend(
        &mut v,
        "/$defs/SyncConfig",
        json!({ "allOf": [{
            "description": "a sync section sends or receives (or both)",
            "not": {
                "required": ["send", "receive"],
                "properties": { "send": { "const": false }, "receive": { "const": false } },
            },
        }] }),
    );
    // The announce section: absolute paths of files, the include file quotable for BIRD.
    let announce = "/$defs/Announce/properties";
    replace(
        &mut v,
        &format!("{announce}/bird_socket"),
        reference("FilePath"),
    );
    replace(
        &mut v,
        &format!("{announce}/include_file"),
        json!({
            "allOf": [{ "$ref": "#/$defs/FilePath" }],
            "not": {
                "description": "a '\"', '\\' or a control character, which BIRD's include \"...\" cannot quote",
                "type": "string",
                "pattern": "[\"\\\\\\u0000-\\u001f\\u007f-\\u009f]",
            },
        }),
    );
    extend(
        &mut v,
        &format!("{sync}/mcast_port"),
        json!({ "minimum": 1 }),
    );
    extend(
        &mut v,
        &format!("{sync}/mcast_ttl"),
        json!({ "minimum": 1 }),
    );
    extend(
        &mut v,
        &format!("{sync}/sync_maxlen"),
        json!({ "minimum": MIN_SYNC_MAXLEN, "maximum": MAX_SYNC_MAXLEN }),
    );
    extend(
        &mut v,
        "/properties/services",
        json!({ "maxItems": lb_common::MAX_SERVICES - 1 }),
    );
    for t in ["tcp", "tcpfin", "udp"] {
        extend(
            &mut v,
            &format!("/$defs/Timeouts/properties/{t}"),
            json!({ "minimum": 1, "maximum": MAX_TIMEOUT_S }),
        );
    }
    for field in RESTART_ONLY {
        let node = v
            .pointer_mut(&format!("/properties/{field}"))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("RESTART_ONLY names {field}, which the config lacks"));
        let said = node
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        node.insert(
            "description".into(),
            json!(format!(
                "{}{}Read when lbd starts: lbctl apply and a SIGHUP reload refuse a change to it (restart lbd to change it).",
                said,
                if said.is_empty() { "" } else { "\n\n" }
            )),
        );
    }

    // Services.
    replace(&mut v, &format!("{svc}/vip"), reference("UnicastAddress"));
    extend(
        &mut v,
        &format!("{svc}/scheduler"),
        json!({ "enum": Scheduler::names() }),
    );
    extend(
        &mut v,
        &format!("{svc}/persistent"),
        json!({ "minimum": 1, "maximum": MAX_PERSISTENT_S }),
    );
    extend(
        &mut v,
        &format!("{svc}/persistent_netmask"),
        json!({ "maximum": 128 }),
    );
    replace(
        &mut v,
        &format!("{svc}/mh_table_size"),
        nullable("MhTableSize"),
    );
    extend(
        &mut v,
        &format!("{svc}/sched_flags"),
        json!({ "uniqueItems": true }),
    );
    extend(
        &mut v,
        &format!("{svc}/sched_flags/items"),
        json!({ "enum": SchedFlag::names() }),
    );
    extend(
        &mut v,
        &format!("{svc}/real_servers"),
        json!({ "maxItems": lb_common::MAX_REALS - 1 }),
    );

    // Real servers (and sorry servers).
    replace(
        &mut v,
        &format!("{real}/address"),
        reference("UnicastAddress"),
    );
    extend(&mut v, &format!("{real}/port"), json!({ "minimum": 1 }));
    extend(
        &mut v,
        &format!("{real}/weight"),
        json!({ "maximum": MAX_WEIGHT }),
    );
    extend(
        &mut v,
        &format!("{real}/forwarding"),
        json!({ "enum": Forwarding::names() }),
    );
    extend(&mut v, &format!("{real}/tun_port"), json!({ "minimum": 1 }));
    extend(
        &mut v,
        &format!("{real}/tun_type"),
        names_or_null(&TunType::names()),
    );
    extend(
        &mut v,
        &format!("{real}/tun_csum"),
        names_or_null(&TunCsum::names()),
    );
    for t in ["upper_threshold", "lower_threshold"] {
        extend(
            &mut v,
            &format!("{real}/{t}"),
            json!({ "maximum": MAX_THRESHOLD }),
        );
    }

    // Health checks.
    replace(&mut v, &format!("{check}/address"), nullable("IpAddress"));
    extend(&mut v, &format!("{check}/port"), json!({ "minimum": 1 }));
    extend(
        &mut v,
        &format!("{check}/interval_ms"),
        json!({ "minimum": MIN_INTERVAL_MS, "maximum": MAX_INTERVAL_MS }),
    );
    extend(
        &mut v,
        &format!("{check}/timeout_ms"),
        json!({ "minimum": MIN_TIMEOUT_MS, "maximum": MAX_INTERVAL_MS }),
    );
    for t in ["rise", "fall"] {
        extend(
            &mut v,
            &format!("{check}/{t}"),
            json!({ "minimum": 1, "maximum": MAX_RISE_FALL }),
        );
    }
    let space = format!("[{}]", patterns::SPACE_OR_CONTROL);
    extend(
        &mut v,
        &format!("{check}/path"),
        // `not` of a pattern alone would refuse null, which a pattern does not look at.
        json!({ "pattern": "^/", "not": { "type": "string", "pattern": space } }),
    );
    extend(
        &mut v,
        &format!("{check}/host"),
        json!({ "minLength": 1, "not": { "type": "string", "pattern": space } }),
    );
    extend(
        &mut v,
        &format!("{check}/expect_status"),
        json!({ "minimum": HTTP_STATUSES.0, "maximum": HTTP_STATUSES.1 }),
    );
    extend(
        &mut v,
        &format!("{check}/payload"),
        json!({ "maxLength": MAX_PAYLOAD_BYTES }),
    );
    extend(
        &mut v,
        &format!("{check}/command"),
        // `items` covers only what follows `prefixItems`: the program is a string too.
        json!({ "minItems": 1, "prefixItems": [{ "type": "string", "minLength": 1 }] }),
    );
    extend(
        &mut v,
        &format!("{check}/grace_ms"),
        json!({ "maximum": MAX_GRACE_MS }),
    );

    rules::add(&mut v);
    v
}

/// The schema's description: what it is, and the rules it leaves to lbd.
fn description() -> String {
    let mut d = String::from(
        "lbd's config. The schema refuses what lbd's validation refuses, except these rules, \
         which only lbd check-config (or lbd, or lbctl apply) finds:",
    );
    for u in UNEXPRESSED {
        d.push_str(&format!("\n- {} ({}: {}).", u.rule, u.id, u.why));
    }
    d
}

/// `pointer`'s node gains `extra`'s keys.
fn extend(v: &mut Value, pointer: &str, extra: Value) {
    let Some(node) = v.pointer_mut(pointer) else {
        panic!("schema has no {pointer}: the config types changed; update schema/");
    };
    let (Some(node), Value::Object(extra)) = (node.as_object_mut(), extra) else {
        panic!("{pointer} is not an object");
    };
    node.extend(extra);
}

/// `pointer`'s node becomes `new`, keeping its description and default.
fn replace(v: &mut Value, pointer: &str, new: Value) {
    let Some(node) = v.pointer_mut(pointer).and_then(Value::as_object_mut) else {
        panic!("schema has no {pointer}: the config types changed; update schema/");
    };
    let mut kept: Map<String, Value> = ["description", "default"]
        .into_iter()
        .filter_map(|k| node.get(k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let Value::Object(new) = new else {
        panic!("a replacement is an object")
    };
    kept.extend(new);
    *node = kept;
}

/// An optional string's names, or null.
fn names_or_null(v: &[&str]) -> Value {
    let mut all: Vec<Value> = v.iter().map(|s| json!(s)).collect();
    all.push(Value::Null);
    json!({ "enum": all })
}

/// schemars marks Rust's integer types with `format`s that are no JSON Schema format
/// (`uint16`, `uint32`, `int64`): each becomes the bounds of its type, which every validator
/// checks. lbctl's output schemas go through this too.
pub fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let bounds: Option<(Value, Value)> = match m.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((json!(0), json!(u8::MAX))),
                Some("uint16") => Some((json!(0), json!(u16::MAX))),
                Some("uint32") => Some((json!(0), json!(u32::MAX))),
                Some("uint64" | "uint") => Some((json!(0), json!(u64::MAX))),
                Some("int8") => Some((json!(i8::MIN), json!(i8::MAX))),
                Some("int16") => Some((json!(i16::MIN), json!(i16::MAX))),
                Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                Some("int64" | "int") => Some((json!(i64::MIN), json!(i64::MAX))),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                m.remove("format");
                m.entry("minimum").or_insert(min);
                m.entry("maximum").or_insert(max);
            }
            for (_, child) in m.iter_mut() {
                integer_bounds(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// A string that matches `pattern` (anchored here) and none of `refused`, each with its
/// reason. Python's `$` also matches before a final line feed: a line feed is refused too.
fn string_def(description: &str, pattern: &str, refused: Vec<(&str, String)>) -> Value {
    let mut not: Vec<Value> = refused
        .into_iter()
        .map(|(why, p)| json!({ "description": why, "pattern": p }))
        .collect();
    not.push(json!({ "description": "a line feed (no address has one)", "pattern": "\n" }));
    json!({
        "description": description,
        "type": "string",
        "pattern": format!("^(?:{pattern})$"),
        "not": { "anyOf": not },
    })
}

/// An interface name's rules (`interface`, `interfaces`' items).
fn ifname_rules() -> Value {
    json!({
        "minLength": 1,
        "maxLength": MAX_INTERFACE_LEN,
        // A pattern looks at strings only: `not` of it alone would refuse null.
        "not": { "type": "string", "pattern": format!("[/{}]", patterns::WHITESPACE) },
    })
}

/// The address definitions the config's address fields refer to.
fn address_defs() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "Ipv4Unicast".into(),
        string_def(
            "An IPv4 address a packet can be sent to and come from: a dotted quad (no leading zeros) outside 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 and 255.255.255.255.",
            &patterns::ipv4(),
            patterns::ipv4_refused(),
        ),
    );
    m.insert(
        "Ipv6Unicast".into(),
        string_def(
            "An IPv6 address a packet can be sent to and come from (RFC 4291's text forms): not ::, ::1, ff00::/8 or ::ffff:0:0/96 (write an IPv4-mapped address as IPv4).",
            &patterns::ipv6(),
            patterns::ipv6_refused(),
        ),
    );
    m.insert(
        "Ipv4Multicast".into(),
        string_def(
            "An IPv4 multicast address (224.0.0.0/4): a dotted quad without leading zeros.",
            &patterns::ipv4_multicast(),
            Vec::new(),
        ),
    );
    let mut v6 = string_def(
        "An IPv6 multicast address (ff00::/8; RFC 4291's text forms).",
        &patterns::ipv6(),
        Vec::new(),
    );
    // ff00::/8: the first group is ffXX, written with all four digits.
    v6["allOf"] = json!([{ "pattern": "^[fF]{2}[0-9a-fA-F]{2}:" }]);
    m.insert("Ipv6Multicast".into(), v6);
    m.insert(
        "MulticastAddress".into(),
        json!({
            "description": "An IPv4 or IPv6 multicast address.",
            "anyOf": [{ "$ref": "#/$defs/Ipv4Multicast" }, { "$ref": "#/$defs/Ipv6Multicast" }],
        }),
    );
    m.insert(
        "UnicastAddress".into(),
        json!({
            "description": "A unicast IPv4 or IPv6 address.",
            "anyOf": [{ "$ref": "#/$defs/Ipv4Unicast" }, { "$ref": "#/$defs/Ipv6Unicast" }],
        }),
    );
    m.insert(
        "IpAddress".into(),
        string_def(
            "An IPv4 or IPv6 address.",
            &format!("{}|{}", patterns::ipv4(), patterns::ipv6()),
            Vec::new(),
        ),
    );
    m.insert(
        "SocketAddress".into(),
        json!({
            "description": "An address and port: A.B.C.D:PORT or [IPV6]:PORT ([IPV6%SCOPE]:PORT for a link-local address).",
            "type": "string",
            "pattern": patterns::socket_addr(),
            "not": { "pattern": "\n" },
        }),
    );
    let mut unicast_socket = m["SocketAddress"].clone();
    unicast_socket["description"] = json!(
        "An address and port of a peer: a unicast address (as UnicastAddress) and a port from 1."
    );
    let mut refused: Vec<Value> = patterns::socket_refused()
        .into_iter()
        .map(|(why, p)| json!({ "description": why, "pattern": p }))
        .collect();
    refused.push(json!({ "description": "a line feed", "pattern": "\n" }));
    unicast_socket["not"] = json!({ "anyOf": refused });
    m.insert("UnicastSocketAddress".into(), unicast_socket);
    let refused: Vec<Value> = patterns::not_a_file()
        .into_iter()
        .map(|(why, p)| json!({ "description": why, "pattern": p }))
        .collect();
    m.insert(
        "FilePath".into(),
        json!({
            "description": "An absolute path that names a file (not ending in '/' or '..', not the root).",
            "type": "string",
            "pattern": "^/",
            "not": { "anyOf": refused },
        }),
    );
    m
}

/// `mh_table_size`: a prime in range. Every composite number in range has a prime factor
/// below 1024 (the largest size is below 1024 squared), so a prime is a number of the range
/// that is one of the primes below 1024 or a multiple of none of them.
fn mh_table_size() -> Value {
    const SMALL: u32 = 1024;
    assert!(u64::from(MAX_MH_TABLE_SIZE) < u64::from(SMALL) * u64::from(SMALL));
    let primes: Vec<u32> = (2..SMALL).filter(|n| is_prime(*n)).collect();
    let small: Vec<u32> = primes
        .iter()
        .copied()
        .filter(|p| *p >= MIN_MH_TABLE_SIZE)
        .collect();
    let multiples: Vec<Value> = primes.iter().map(|p| json!({ "multipleOf": p })).collect();
    json!({
        "description": format!(
            "A prime from {MIN_MH_TABLE_SIZE} to {MAX_MH_TABLE_SIZE}: one of the primes below {SMALL}, or a multiple of none of them."
        ),
        "type": "integer",
        "minimum": MIN_MH_TABLE_SIZE,
        "maximum": MAX_MH_TABLE_SIZE,
        "anyOf": [{ "enum": small }, { "not": { "anyOf": multiples } }],
    })
}

/// The schema as the text shipped in `docs/lb.schema.json`.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("JSON");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped schema is the generated one (regenerate with
    /// `LB_UPDATE_DOCS=1 cargo test -p lb-model schema`).
    #[test]
    fn shipped_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lb.schema.json");
        let text = schema_text();
        if std::env::var_os("LB_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "{} is out of date: run LB_UPDATE_DOCS=1 cargo test -p lb-model schema",
            path.display()
        );
    }

    #[test]
    fn schema_says_what_is_allowed() {
        let s = schema();
        assert_eq!(s.get("required"), None);
        assert_eq!(
            s["oneOf"],
            json!([{ "required": ["interface"] }, { "required": ["interfaces"] }])
        );
        assert_eq!(
            s["properties"]["interfaces"]["items"]["maxLength"],
            json!(MAX_INTERFACE_LEN)
        );
        assert_eq!(s["additionalProperties"], json!(false));
        let svc = &s["$defs"]["ServiceConfig"];
        assert_eq!(svc["additionalProperties"], json!(false));
        assert_eq!(svc["properties"]["scheduler"]["default"], json!("wlc"));
        assert_eq!(svc["properties"]["scheduler"]["enum"][0], json!("rr"));
        let real = &s["$defs"]["RealServerConfig"]["properties"];
        assert_eq!(real["weight"]["default"], json!(1));
        assert_eq!(real["weight"]["maximum"], json!(2_147_483_647));
        assert_eq!(real["forwarding"]["default"], json!("dr"));
        assert!(
            real["forwarding"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "fields carry their doc comments"
        );
        assert_eq!(s["properties"]["flood_rate"]["maximum"], json!(u32::MAX));
        assert_eq!(
            svc["properties"]["vip"]["$ref"],
            json!("#/$defs/UnicastAddress")
        );
    }

    /// No `format` is left: schemars' `uint32` and `ip` are no JSON Schema formats, and
    /// patterns and bounds say what they meant.
    #[test]
    fn no_format_that_json_schema_lacks() {
        fn walk(v: &Value, at: &str) {
            match v {
                Value::Object(m) => {
                    assert!(!m.contains_key("format"), "{at} has a format");
                    for (k, c) in m {
                        walk(c, &format!("{at}/{k}"));
                    }
                }
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| walk(c, &format!("{at}/{i}"))),
                _ => {}
            }
        }
        walk(&schema(), "");
    }

    #[test]
    fn the_description_lists_every_rule_left_out_and_restart_only_fields_say_so() {
        let s = schema();
        let d = s["description"].as_str().unwrap();
        for u in UNEXPRESSED {
            assert!(d.contains(u.rule) && d.contains(u.id), "{}", u.id);
        }
        for f in RESTART_ONLY {
            let d = s["properties"][f]["description"].as_str().unwrap();
            assert!(
                d.contains("lbctl apply and a SIGHUP reload refuse a change"),
                "{f}: {d}"
            );
        }
        assert!(
            !s["properties"]["timeouts"]["description"]
                .as_str()
                .unwrap_or("")
                .contains("restart lbd")
        );
    }

    /// The table size definition, read as a validator reads it, takes exactly the primes
    /// the validator takes, over the whole range and beyond.
    #[test]
    fn mh_table_size_takes_exactly_the_primes_in_range() {
        let d = mh_table_size();
        let (min, max) = (
            d["minimum"].as_u64().unwrap(),
            d["maximum"].as_u64().unwrap(),
        );
        let listed: Vec<u64> = d["anyOf"][0]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let divisors: Vec<u64> = d["anyOf"][1]["not"]["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["multipleOf"].as_u64().unwrap())
            .collect();
        for n in 0..=u64::from(MAX_MH_TABLE_SIZE) + 100 {
            let taken = (min..=max).contains(&n)
                && (listed.contains(&n) || divisors.iter().all(|p| n % p != 0));
            let lbd =
                (MIN_MH_TABLE_SIZE..=MAX_MH_TABLE_SIZE).contains(&(n as u32)) && is_prime(n as u32);
            assert_eq!(taken, lbd, "{n}");
        }
    }
}
