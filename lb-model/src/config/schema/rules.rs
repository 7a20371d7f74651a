//! The cross-field rules of lbd's validation that JSON Schema can say, as `if`/`then`
//! entries of an `allOf` on the object they concern, each with a description naming the
//! rule. Names and sets come from the typed model (which forwarding methods keep the
//! family, which tunnels have checksum modes, which schedulers take flags), so that a new
//! variant changes the schema with it.
//!
//! A field counts as given when it is present and not null: lbd reads `null` as absent.

use serde_json::{Value, json};

use super::patterns;
use crate::{
    Forwarding, Named, Scheduler, TunType,
    config::{CheckKind, OnDown, health::DEFAULT_INTERVAL_MS},
    forwarding::TunCsum,
};

/// `field` is given (present and not null).
fn given(field: &str) -> Value {
    json!({ "required": [field], "properties": { field: { "not": { "type": "null" } } } })
}

/// `field` is one of `names`; when the field's default is one of them, an absent field is
/// too.
fn one_of(field: &str, names: &[&str], default: &str) -> Value {
    let mut v = json!({ "properties": { field: { "enum": names } } });
    if !names.contains(&default) {
        v["required"] = json!([field]);
    }
    v
}

fn rule(description: &str, when: Value, then: Value) -> Value {
    json!({ "description": description, "if": when, "then": then })
}

fn all_of(v: &mut Value, pointer: &str, rules: Vec<Value>) {
    let node = v
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("schema has no {pointer}"));
    node.insert("allOf".into(), Value::Array(rules));
}

/// Adds every rule to the schema.
pub fn add(v: &mut Value) {
    let real = real_rules();
    all_of(v, "/$defs/RealServerConfig", real);
    let svc = service_rules();
    all_of(v, "/$defs/ServiceConfig", svc);
    let check = check_rules(v);
    all_of(v, "/$defs/CheckConfig", check);
}

fn real_rules() -> Vec<Value> {
    let dflt = Forwarding::default().name();
    let tun = Forwarding::Tun.name();
    let gue = TunType::Gue.name();
    let with_modes: Vec<&str> = TunType::ALL
        .iter()
        .filter(|t| !t.csum_modes().is_empty())
        .map(|t| t.name())
        .collect();
    let mut rules = vec![
        rule(
            "only a tun real server has a tun_type",
            given("tun_type"),
            one_of("forwarding", &[tun], dflt),
        ),
        rule(
            "a gue tunnel needs tun_port",
            json!({ "required": ["tun_type"], "properties": { "tun_type": { "const": gue } } }),
            given("tun_port"),
        ),
        rule(
            "only a gue tunnel has a tun_port",
            given("tun_port"),
            json!({ "required": ["tun_type"], "properties": { "tun_type": { "const": gue } } }),
        ),
        rule(
            "only a tunnel with checksum modes has a tun_csum",
            given("tun_csum"),
            json!({ "required": ["tun_type"], "properties": { "tun_type": { "enum": with_modes } } }),
        ),
    ];
    for t in TunType::ALL.iter().filter(|t| !t.csum_modes().is_empty()) {
        let mut modes: Vec<Value> = t
            .csum_modes()
            .iter()
            .filter(|m| m.is_implemented())
            .map(|m| json!(m.name()))
            .collect();
        modes.push(Value::Null);
        let unimplemented: Vec<&str> = TunCsum::ALL
            .iter()
            .filter(|m| t.csum_modes().contains(m) && !m.is_implemented())
            .map(|m| m.name())
            .collect();
        rules.push(rule(
            &format!(
                "the checksum modes of {} that lb implements (not yet: {})",
                t.name(),
                unimplemented.join(", ")
            ),
            json!({ "required": ["tun_type"], "properties": { "tun_type": { "const": t.name() } } }),
            json!({ "properties": { "tun_csum": { "enum": modes } } }),
        ));
    }
    rules
}

/// A service of port 0.
fn port_zero() -> Value {
    json!({ "required": ["port"], "properties": { "port": { "const": 0 } } })
}

/// A check that connects to a port names it.
fn check_port() -> Value {
    let connects: Vec<&str> = CheckKind::ALL
        .iter()
        .filter(|k| k.connects())
        .map(|k| k.name())
        .collect();
    json!({
        "if": { "required": ["type"], "properties": { "type": { "enum": connects } } },
        "then": given("port"),
    })
}

fn service_rules() -> Vec<Value> {
    let v4 = format!("^(?:{})$", patterns::ipv4());
    let v6 = format!("^(?:{})$", patterns::ipv6());
    let dflt_sched = Scheduler::default().name();
    let dflt_fwd = Forwarding::default().name();
    let mut rules = vec![
        rule(
            "a service has protocol, vip and port, or a fwmark",
            json!({ "not": { "required": ["fwmark"] } }),
            json!({ "required": ["protocol", "vip", "port"] }),
        ),
        rule(
            "only a persistent service has a persistent_netmask",
            given("persistent_netmask"),
            given("persistent"),
        ),
        rule(
            "an IPv4 VIP's persistence prefix is at most 32 bits",
            json!({ "properties": { "vip": { "pattern": v4 } } }),
            json!({ "properties": { "persistent_netmask": { "maximum": 32 } } }),
        ),
        rule(
            "only the mh scheduler has an mh_table_size",
            given("mh_table_size"),
            one_of("scheduler", &[Scheduler::Mh.name()], dflt_sched),
        ),
        rule(
            "a port-0 service (every port of its VIP) is persistent",
            port_zero(),
            given("persistent"),
        ),
        rule(
            "a real server (or sorry server) of a port-0 service has no port: it is reached on each connection's destination port",
            port_zero(),
            json!({ "properties": {
                "real_servers": { "items": { "properties": { "port": { "type": "null" } } } },
                "sorry_server": { "properties": { "port": { "type": "null" } } },
            } }),
        ),
        rule(
            "a health check of a port-0 service that connects names its port",
            port_zero(),
            json!({ "properties": {
                "health_check": check_port(),
                "real_servers": { "items": { "properties": { "health_check": check_port() } } },
            } }),
        ),
        rule(
            "only a tcp service has the FTP helper",
            json!({ "required": ["ftp"], "properties": { "ftp": { "const": true } } }),
            json!({ "properties": { "protocol": { "const": crate::protocol::Protocol::Tcp.name() } } }),
        ),
        rule(
            "a port-0 service has no FTP helper",
            port_zero(),
            json!({ "properties": { "ftp": { "not": { "const": true } } } }),
        ),
        rule(
            "one-packet scheduling is for UDP services only",
            json!({ "required": ["one_packet"], "properties": { "one_packet": { "const": true } } }),
            json!({ "properties": { "protocol": { "const": crate::protocol::Protocol::Udp.name() } } }),
        ),
    ];
    // Scheduler flags: the schedulers grouped by the flags they take.
    let mut groups: Vec<(&[crate::SchedFlag], Vec<&str>)> = Vec::new();
    for s in Scheduler::ALL {
        match groups.iter_mut().find(|(f, _)| *f == s.flags()) {
            Some((_, names)) => names.push(s.name()),
            None => groups.push((s.flags(), vec![s.name()])),
        }
    }
    for (flags, names) in groups {
        let then = if flags.is_empty() {
            json!({ "properties": { "sched_flags": { "maxItems": 0 } } })
        } else {
            let f: Vec<&str> = flags.iter().map(|f| f.name()).collect();
            json!({ "properties": { "sched_flags": { "items": { "enum": f } } } })
        };
        let what = if flags.is_empty() {
            format!("{} take no scheduler flags", names.join(", "))
        } else {
            let f: Vec<&str> = flags.iter().map(|f| f.name()).collect();
            format!("{} takes the flags {}", names.join(", "), f.join(", "))
        };
        rules.push(rule(&what, one_of("scheduler", &names, dflt_sched), then));
    }
    let counted: Vec<&str> = Scheduler::ALL
        .iter()
        .filter(|s| s.is_count_driven())
        .map(|s| s.name())
        .collect();
    rules.push(rule(
        &format!(
            "a count-driven scheduler ({}) looks at every real server for each new connection and takes at most {}",
            counted.join(", "),
            lb_common::MAX_COUNTED_REALS
        ),
        one_of("scheduler", &counted, dflt_sched),
        json!({ "properties": { "real_servers": { "maxItems": lb_common::MAX_COUNTED_REALS } } }),
    ));
    // Families: only a method that crosses families may reach a real server of the other.
    let keeps: Vec<&str> = Forwarding::ALL
        .iter()
        .filter(|f| !f.crosses_families())
        .map(|f| f.name())
        .collect();
    let family = |pattern: &str| {
        let one = json!({
            "if": one_of("forwarding", &keeps, dflt_fwd),
            "then": { "properties": { "address": { "pattern": pattern } } },
        });
        json!({ "properties": { "real_servers": { "items": one }, "sorry_server": one } })
    };
    rules.push(json!({
        "description": format!(
            "{} keep the packet's address family: their real servers (and sorry server) are of the VIP's",
            keeps.join(" and ")
        ),
        "if": { "properties": { "vip": { "pattern": v4 } } },
        "then": family(&v4),
        "else": family(&v6),
    }));
    rules.push(json!({
        "description": "a sorry server takes connections (weight at least 1) and is not checked",
        "properties": { "sorry_server": { "properties": {
            "weight": { "minimum": 1 },
            "health_check": { "type": "null" },
        } } },
    }));
    rules
}

fn check_rules(v: &Value) -> Vec<Value> {
    let kind = |k: CheckKind| json!({ "required": ["type"], "properties": { "type": { "const": k.name() } } });
    // Every setting but the type, as the schema has them.
    let settings: Vec<String> = v
        .pointer("/$defs/CheckConfig/properties")
        .and_then(Value::as_object)
        .expect("CheckConfig's properties")
        .keys()
        .filter(|k| *k != "type")
        .cloned()
        .collect();
    let nothing: serde_json::Map<String, Value> = settings
        .iter()
        .map(|s| (s.clone(), json!({ "type": "null" })))
        .collect();
    let mut rules = vec![rule(
        "a check of type none takes no other settings",
        kind(CheckKind::None),
        json!({ "properties": nothing }),
    )];
    for (k, fields) in [
        (
            CheckKind::Http,
            &["path", "host", "expect_status", "expect_body"][..],
        ),
        (CheckKind::Udp, &["payload", "expect"][..]),
        (CheckKind::Exec, &["command"][..]),
    ] {
        assert!(fields.iter().all(|f| settings.iter().any(|s| s == f)));
        let any: Vec<Value> = fields.iter().map(|f| given(f)).collect();
        rules.push(rule(
            &format!("only {} checks have {}", k.name(), fields.join(", ")),
            json!({ "anyOf": any }),
            kind(k),
        ));
    }
    rules.extend([
        rule(
            "an exec check needs its command",
            kind(CheckKind::Exec),
            given("command"),
        ),
        rule(
            "grace_ms only with on_down \"expire\"",
            given("grace_ms"),
            json!({ "required": ["on_down"], "properties": { "on_down": { "const": OnDown::Expire } } }),
        ),
        rule(
            &format!(
                "without interval_ms, timeout_ms is at most the default interval, {DEFAULT_INTERVAL_MS}"
            ),
            json!({ "not": given("interval_ms") }),
            json!({ "properties": { "timeout_ms": { "maximum": DEFAULT_INTERVAL_MS } } }),
        ),
    ]);
    rules
}
