//! What changes from one config to another, one line per change, as `lbctl apply` prints
//! it.

use std::net::IpAddr;

use super::{Config, RealServerConfig, ServiceConfig};
use crate::names::fmt_addr_port;

/// A config value as a change line shows it: strings bare, absent values as `-`, the rest as
/// compact JSON.
fn show(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "-".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// One `~ {prefix}{path}: old -> new` line per leaf that differs between two JSON objects,
/// descending into nested objects (`health_check.interval_ms`), skipping `skip` at the top.
fn diff_values(
    out: &mut Vec<String>,
    prefix: &str,
    path: &str,
    a: Option<&serde_json::Value>,
    b: Option<&serde_json::Value>,
    skip: &[&str],
) {
    use serde_json::Value;
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                if path.is_empty() && skip.contains(&k.as_str()) {
                    continue;
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(out, prefix, &sub, x.get(k), y.get(k), &[]);
            }
        }
        _ => {
            let (a, b) = (show(a), show(b));
            if a != b {
                out.push(format!("~ {prefix}{path}: {a} -> {b}"));
            }
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// What changes from `old` to `new`, one line per change: `+` added, `-` removed, `~`
/// changed (field: old -> new). Services and real servers are matched by identity
/// (protocol, VIP, port; address, port), so a reordered file changes nothing; every other
/// field is compared, whatever it is.
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    // Every top-level field but the services (named one by one, so that a new field is a
    // compile error here rather than a change the diff misses).
    let top = |c: &Config| -> serde_json::Value {
        let Config {
            interface,
            interfaces,
            xdp_mode,
            director,
            pin_dir,
            conn_table_size,
            conn_table_size_v6,
            sloppy_tcp,
            sloppy_sctp,
            conn_reuse_mode,
            flood_rate,
            metrics_listen,
            timeouts,
            expire_nodest_conn,
            lblc_expiration,
            lblcr_expiration,
            announce,
            sync,
            marks: _,
            services: _,
        } = c;
        serde_json::json!({
            "interface": interface,
            "interfaces": interfaces,
            "xdp_mode": xdp_mode,
            "director": director,
            "pin_dir": pin_dir,
            "conn_table_size": conn_table_size,
            "conn_table_size_v6": conn_table_size_v6,
            "sloppy_tcp": sloppy_tcp,
            "sloppy_sctp": sloppy_sctp,
            "conn_reuse_mode": conn_reuse_mode,
            "flood_rate": flood_rate,
            "metrics_listen": metrics_listen,
            "timeouts": timeouts,
            "expire_nodest_conn": expire_nodest_conn,
            "lblc_expiration": lblc_expiration,
            "lblcr_expiration": lblcr_expiration,
            "announce": announce,
            "sync": sync,
        })
    };
    diff_values(&mut out, "", "", Some(&top(old)), Some(&top(new)), &[]);
    // Marks by their number; a mark's matches as one value.
    for m in &old.marks {
        if !new.marks.iter().any(|n| n.mark == m.mark) {
            out.push(format!("- mark {}", m.mark));
        }
    }
    for n in &new.marks {
        match old.marks.iter().find(|o| o.mark == n.mark) {
            None => out.push(format!("+ mark {} match {}", n.mark, to_value(&n.matches))),
            Some(o) if o.matches != n.matches => out.push(format!(
                "~ mark {} match: {} -> {}",
                n.mark,
                to_value(&o.matches),
                to_value(&n.matches)
            )),
            Some(_) => {}
        }
    }
    let same = |a: &ServiceConfig, b: &ServiceConfig| a.key() == b.key();
    for s in &old.services {
        if !new.services.iter().any(|n| same(s, n)) {
            out.push(format!("- service {}", s.key().ipvsadm()));
        }
    }
    for n in &new.services {
        let Some(o) = old.services.iter().find(|o| same(o, n)) else {
            out.push(format!(
                "+ service {} scheduler {}",
                n.key().ipvsadm(),
                n.scheduler
            ));
            for r in &n.real_servers {
                out.push(format!("+   real server {}", real_summary(r, n.port)));
            }
            continue;
        };
        if o == n {
            continue;
        }
        let mut lines = Vec::new();
        diff_values(
            &mut lines,
            &format!("service {} ", n.key().ipvsadm()),
            "",
            Some(&to_value(o)),
            Some(&to_value(n)),
            &["real_servers"],
        );
        // A real server's identity: its address and the port it is reached on.
        let rkey = |s: &ServiceConfig, r: &RealServerConfig| (r.address, s.real_port(r));
        for r in &o.real_servers {
            if !n.real_servers.iter().any(|x| rkey(n, x) == rkey(o, r)) {
                lines.push(format!(
                    "-   real server {} (service {})",
                    fmt_addr_port(r.address, o.real_port(r)),
                    n.key().ipvsadm()
                ));
            }
        }
        for r in &n.real_servers {
            let Some(or) = o.real_servers.iter().find(|x| rkey(o, x) == rkey(n, r)) else {
                lines.push(format!(
                    "+   real server {} (service {})",
                    real_summary(r, n.port),
                    n.key().ipvsadm()
                ));
                continue;
            };
            if or == r {
                continue;
            }
            // The port is the identity; a real server's `port` field only says whether it is
            // the service's.
            diff_values(
                &mut lines,
                &format!(
                    "  real server {} (service {}) ",
                    fmt_addr_port(r.address, n.real_port(r)),
                    n.key().ipvsadm()
                ),
                "",
                Some(&to_value(or)),
                Some(&to_value(r)),
                &["address", "port"],
            );
        }
        // rr, wrr, sh and dh follow the configured order of the real servers.
        let order = |s: &ServiceConfig| -> Vec<(IpAddr, u16)> {
            s.real_servers.iter().map(|r| rkey(s, r)).collect()
        };
        let (oo, no) = (order(o), order(n));
        let common_o: Vec<_> = oo.iter().filter(|k| no.contains(k)).collect();
        let common_n: Vec<_> = no.iter().filter(|k| oo.contains(k)).collect();
        if common_o != common_n {
            lines.push(format!(
                "~ service {}: real servers reordered",
                n.key().ipvsadm()
            ));
        }
        out.extend(lines);
    }
    out
}

fn real_summary(r: &RealServerConfig, service_port: u16) -> String {
    let mut s = format!(
        "{} {} weight {}",
        fmt_addr_port(r.address, r.port.unwrap_or(service_port)),
        r.forwarding,
        r.weight
    );
    if let Some(t) = &r.tun_type {
        s.push_str(&format!(" tun_type {t}"));
    }
    s
}
