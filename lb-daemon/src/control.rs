//! The changing half of lbd's control API: ipvsadm's commands as edits of the desired config,
//! `apply` of a whole config, the diff either reports, and the state file that makes the
//! applied state survive a restart.
//!
//! Every change goes one way: edit a copy of the desired [`Config`], validate the copy with the
//! config file's own checks (all or nothing), make the maps match with [`State::apply`] (each
//! service flipped in one map update), then persist the copy. A rejected change touches
//! nothing.

use std::{
    io::Write,
    net::IpAddr,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use lb_common::api::{Edit, RealSpec, ServiceKey, ServiceSpec};

use crate::config::{
    Config, ConfigError, ConfigErrors, KNOWN_SCHEDULERS, Protocol, RealServerConfig, ServiceConfig,
    fmt_addr_port,
};

/// Default path of the state file (lbd `--state-file`).
pub const DEFAULT_STATE_FILE: &str = "/var/lib/lb/state.json";

/// Why an edit batch was refused: the message, and which edit (by index) when one edit is to
/// blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditError {
    pub edit: Option<usize>,
    pub message: String,
}

fn fail(edit: usize, message: impl Into<String>) -> EditError {
    EditError {
        edit: Some(edit),
        message: message.into(),
    }
}

fn protocol(p: &str) -> Result<Protocol, String> {
    match p {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(format!(
            "protocol {other:?} is not supported by lb (tcp or udp)"
        )),
    }
}

fn find_service(cfg: &Config, key: &ServiceKey) -> Result<Option<usize>, String> {
    let proto = protocol(&key.protocol)?;
    Ok(cfg
        .services
        .iter()
        .position(|s| s.protocol == proto && s.vip == key.vip && s.port == key.port))
}

fn find_real(s: &ServiceConfig, address: IpAddr, port: u16) -> Option<usize> {
    s.real_servers
        .iter()
        .position(|r| r.address == address && r.port.unwrap_or(s.port) == port)
}

/// A service from ipvsadm's words; `keep` (the service being edited) keeps what ipvsadm has
/// no option for (health checks, sorry server).
fn service_config(
    spec: &ServiceSpec,
    real_servers: Vec<RealServerConfig>,
    keep: Option<&ServiceConfig>,
) -> ServiceConfig {
    ServiceConfig {
        protocol: protocol(&spec.key.protocol).unwrap_or(Protocol::Tcp),
        vip: spec.key.vip,
        port: spec.key.port,
        scheduler: spec.scheduler.clone(),
        mh_table_size: spec.mh_table_size,
        persistent: spec.persistent,
        persistent_netmask: spec.persistent_netmask,
        sched_flags: spec.sched_flags.clone(),
        one_packet: spec.one_packet,
        real_servers,
        health_check: keep.and_then(|k| k.health_check.clone()),
        sorry_server: keep.and_then(|k| k.sorry_server.clone()),
    }
}

/// A real server from ipvsadm's words; `keep` (the real server being edited) keeps what
/// ipvsadm has no option for (its health check).
fn real_config(
    spec: &RealSpec,
    service_port: u16,
    keep: Option<&RealServerConfig>,
) -> RealServerConfig {
    RealServerConfig {
        address: spec.address,
        // The service's port is the default: a config written back stays as short as the
        // user would write it.
        port: (spec.port != service_port).then_some(spec.port),
        weight: spec.weight,
        forwarding: spec.forwarding.clone(),
        // The defaults (ipip, no checksum) are left out, as a config file leaves them out:
        // `-S` names them and `-R` gives them back unchanged.
        tun_type: spec.tun_type.clone().filter(|t| t != "ipip"),
        tun_port: spec.tun_port,
        tun_csum: spec.tun_csum.clone().filter(|c| c != "nocsum"),
        upper_threshold: spec.upper_threshold,
        lower_threshold: spec.lower_threshold,
        health_check: keep.and_then(|k| k.health_check.clone()),
    }
}

/// Applies ipvsadm's commands to a copy of `current`, in order, then validates the result.
/// Errors use ipvsadm's wording (libipvs's `ipvs_strerror`) where ipvsadm has one, and name
/// the service and real server (`-t VIP:PORT -r RIP:PORT`) where the config's validation
/// finds something wrong.
pub fn edit_config(current: &Config, edits: &[Edit]) -> Result<Config, EditError> {
    let mut cfg = current.clone();
    // IPVS answers an unknown scheduler with ENOENT: libipvs's words, then which names
    // there are. The kernel looks the service up first (EEXIST for -A of one that exists,
    // ESRCH for -E of one that does not), then the scheduler.
    let unknown_scheduler = |i: usize, service: &ServiceSpec| -> Result<(), EditError> {
        if KNOWN_SCHEDULERS.contains(&service.scheduler.as_str()) {
            return Ok(());
        }
        Err(fail(
            i,
            format!(
                "Scheduler or persistence engine not found (unknown scheduler {:?}; valid: {})",
                service.scheduler,
                KNOWN_SCHEDULERS.join(", ")
            ),
        ))
    };
    // IPVS's ip_vs_add_dest / ip_vs_edit_dest, once the service is found and before the real
    // server is looked up: "l_threshold > u_threshold" is ERANGE, which ipvsadm prints as
    // strerror(ERANGE). (lb, unlike IPVS, also takes a lower threshold without an upper one:
    // it then has no effect.)
    let thresholds = |i: usize, real: &RealSpec| -> Result<(), EditError> {
        match (real.upper_threshold, real.lower_threshold) {
            (Some(u), Some(l)) if u > 0 && l > u => Err(fail(i, "Numerical result out of range")),
            _ => Ok(()),
        }
    };
    for (i, e) in edits.iter().enumerate() {
        match e {
            Edit::AddService { service } => {
                match find_service(&cfg, &service.key).map_err(|m| fail(i, m))? {
                    Some(_) => return Err(fail(i, "Service already exists")),
                    None => {
                        unknown_scheduler(i, service)?;
                        cfg.services.push(service_config(service, Vec::new(), None))
                    }
                }
            }
            Edit::EditService { service } => {
                let Some(k) = find_service(&cfg, &service.key).map_err(|m| fail(i, m))? else {
                    return Err(fail(i, "No such service"));
                };
                unknown_scheduler(i, service)?;
                let reals = std::mem::take(&mut cfg.services[k].real_servers);
                cfg.services[k] = service_config(service, reals, Some(&cfg.services[k]));
            }
            Edit::DelService { service } => {
                let Some(k) = find_service(&cfg, service).map_err(|m| fail(i, m))? else {
                    return Err(fail(i, "No such service"));
                };
                cfg.services.remove(k);
            }
            Edit::Clear => cfg.services.clear(),
            Edit::AddReal { service, real } => {
                let Some(k) = find_service(&cfg, service).map_err(|m| fail(i, m))? else {
                    return Err(fail(i, "Service not defined"));
                };
                thresholds(i, real)?;
                let s = &mut cfg.services[k];
                if find_real(s, real.address, real.port).is_some() {
                    return Err(fail(i, "Destination already exists"));
                }
                let r = real_config(real, s.port, None);
                s.real_servers.push(r);
            }
            Edit::EditReal { service, real } => {
                let Some(k) = find_service(&cfg, service).map_err(|m| fail(i, m))? else {
                    return Err(fail(i, "Service not defined"));
                };
                thresholds(i, real)?;
                let s = &mut cfg.services[k];
                let Some(j) = find_real(s, real.address, real.port) else {
                    return Err(fail(i, "No such destination"));
                };
                s.real_servers[j] = real_config(real, s.port, Some(&s.real_servers[j]));
            }
            Edit::DelReal {
                service,
                address,
                port,
            } => {
                let Some(k) = find_service(&cfg, service).map_err(|m| fail(i, m))? else {
                    return Err(fail(i, "Service not defined"));
                };
                let s = &mut cfg.services[k];
                let Some(j) = find_real(s, *address, *port) else {
                    return Err(fail(i, "No such destination"));
                };
                s.real_servers.remove(j);
            }
            Edit::SetTimeouts { tcp, tcpfin, udp } => {
                // IPVS: a zero leaves that timeout as it is.
                for (v, slot) in [
                    (*tcp, &mut cfg.timeouts.tcp),
                    (*tcpfin, &mut cfg.timeouts.tcpfin),
                    (*udp, &mut cfg.timeouts.udp),
                ] {
                    if v != 0 {
                        *slot = v;
                    }
                }
            }
        }
    }
    let errors = cfg.validate();
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(|e| describe_error(&cfg, e)).collect();
        return Err(EditError {
            edit: if edits.len() == 1 { Some(0) } else { None },
            message: lines.join("\n"),
        });
    }
    Ok(cfg)
}

/// `-t 192.168.0.1:80` / `-u [2001:db8::1]:53`: how ipvsadm names a service.
fn service_flag(s: &ServiceConfig) -> String {
    let flag = match s.protocol {
        Protocol::Tcp => "-t",
        Protocol::Udp => "-u",
    };
    format!("{flag} {}", fmt_addr_port(s.vip, s.port))
}

/// Replaces the config paths `services[i]` and `services[i].real_servers[j]` in `text` by
/// ipvsadm's names of what they point at.
fn humanize(cfg: &Config, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("services[") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "services[".len()..];
        let Some((i, after)) = index_and_rest(tail) else {
            out.push_str("services[");
            rest = tail;
            continue;
        };
        let Some(s) = cfg.services.get(i) else {
            out.push_str(&rest[at..at + "services[".len()]);
            rest = tail;
            continue;
        };
        out.push_str(&service_flag(s));
        rest = after;
        if let Some(t) = rest.strip_prefix(".real_servers[")
            && let Some((j, after)) = index_and_rest(t)
            && let Some(r) = s.real_servers.get(j)
        {
            out.push_str(&format!(
                " -r {}",
                fmt_addr_port(r.address, r.port.unwrap_or(s.port))
            ));
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `"3].rest"` -> (3, ".rest").
fn index_and_rest(s: &str) -> Option<(usize, &str)> {
    let end = s.find(']')?;
    Some((s[..end].parse().ok()?, &s[end + 1..]))
}

/// One validation error of an edited config, for a person who typed an ipvsadm command:
/// `-t 192.168.0.1:80 -r 172.16.0.1:80 (weight): 4294967295 is out of range ...`.
fn describe_error(cfg: &Config, e: &ConfigError) -> String {
    let message = humanize(cfg, &e.message);
    // The object the path names, then the field (if any) within it.
    let object_len = e
        .path
        .strip_prefix("services[")
        .and_then(index_and_rest)
        .map(|(_, rest)| {
            let rest = match rest.strip_prefix(".real_servers[").and_then(index_and_rest) {
                Some((_, r)) => r,
                None => rest,
            };
            e.path.len() - rest.len()
        });
    match object_len {
        Some(n) if n < e.path.len() => format!(
            "{} ({}): {message}",
            humanize(cfg, &e.path[..n]),
            e.path[n..].trim_start_matches('.')
        ),
        _ => format!("{}: {message}", humanize(cfg, &e.path)),
    }
}

/// The settings that need a restart of lbd: loading, attaching and pinning depend on them.
pub fn restart_only_changes(running: &Config, new: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut check = |field: &str, a: String, b: String| {
        if a != b {
            out.push(ConfigError {
                path: field.into(),
                message: format!(
                    "cannot change while lbd runs (running: {a}, new: {b}); restart lbd to change it"
                ),
            });
        }
    };
    check(
        "interface",
        format!("{:?}", running.interface),
        format!("{:?}", new.interface),
    );
    check(
        "xdp_mode",
        running.xdp_mode.to_string(),
        new.xdp_mode.to_string(),
    );
    check(
        "pin_dir",
        running.pin_dir().display().to_string(),
        new.pin_dir().display().to_string(),
    );
    check(
        "conn_table_size",
        running.conn_table_size().to_string(),
        new.conn_table_size().to_string(),
    );
    // Unset, the IPv6 table's size follows conn_table_size (which says so itself).
    if running.conn_table_size_v6.is_some() || new.conn_table_size_v6.is_some() {
        check(
            "conn_table_size_v6",
            running.conn_table_size_v6().to_string(),
            new.conn_table_size_v6().to_string(),
        );
    }
    check(
        "metrics_listen",
        format!("{:?}", running.metrics_listen),
        format!("{:?}", new.metrics_listen),
    );
    out
}

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
            xdp_mode,
            director,
            pin_dir,
            conn_table_size,
            conn_table_size_v6,
            sloppy_tcp,
            conn_reuse_mode,
            flood_rate,
            metrics_listen,
            timeouts,
            expire_nodest_conn,
            lblc_expiration,
            lblcr_expiration,
            services: _,
        } = c;
        serde_json::json!({
            "interface": interface,
            "xdp_mode": xdp_mode,
            "director": director,
            "pin_dir": pin_dir,
            "conn_table_size": conn_table_size,
            "conn_table_size_v6": conn_table_size_v6,
            "sloppy_tcp": sloppy_tcp,
            "conn_reuse_mode": conn_reuse_mode,
            "flood_rate": flood_rate,
            "metrics_listen": metrics_listen,
            "timeouts": timeouts,
            "expire_nodest_conn": expire_nodest_conn,
            "lblc_expiration": lblc_expiration,
            "lblcr_expiration": lblcr_expiration,
        })
    };
    diff_values(&mut out, "", "", Some(&top(old)), Some(&top(new)), &[]);
    let same = |a: &ServiceConfig, b: &ServiceConfig| {
        a.protocol == b.protocol && a.vip == b.vip && a.port == b.port
    };
    for s in &old.services {
        if !new.services.iter().any(|n| same(s, n)) {
            out.push(format!("- service {}", service_flag(s)));
        }
    }
    for n in &new.services {
        let Some(o) = old.services.iter().find(|o| same(o, n)) else {
            out.push(format!(
                "+ service {} scheduler {}",
                service_flag(n),
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
            &format!("service {} ", service_flag(n)),
            "",
            Some(&to_value(o)),
            Some(&to_value(n)),
            &["real_servers"],
        );
        let rkey = |r: &RealServerConfig, port: u16| (r.address, r.port.unwrap_or(port));
        for r in &o.real_servers {
            if !n
                .real_servers
                .iter()
                .any(|x| rkey(x, n.port) == rkey(r, o.port))
            {
                lines.push(format!(
                    "-   real server {} (service {})",
                    fmt_addr_port(r.address, r.port.unwrap_or(o.port)),
                    service_flag(n)
                ));
            }
        }
        for r in &n.real_servers {
            let Some(or) = o
                .real_servers
                .iter()
                .find(|x| rkey(x, o.port) == rkey(r, n.port))
            else {
                lines.push(format!(
                    "+   real server {} (service {})",
                    real_summary(r, n.port),
                    service_flag(n)
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
                    fmt_addr_port(r.address, r.port.unwrap_or(n.port)),
                    service_flag(n)
                ),
                "",
                Some(&to_value(or)),
                Some(&to_value(r)),
                &["address", "port"],
            );
        }
        // rr, wrr, sh and dh follow the configured order of the real servers.
        let order = |s: &ServiceConfig| -> Vec<(IpAddr, u16)> {
            s.real_servers.iter().map(|r| rkey(r, s.port)).collect()
        };
        let (oo, no) = (order(o), order(n));
        let common_o: Vec<_> = oo.iter().filter(|k| no.contains(k)).collect();
        let common_n: Vec<_> = no.iter().filter(|k| oo.contains(k)).collect();
        if common_o != common_n {
            lines.push(format!(
                "~ service {}: real servers reordered",
                service_flag(n)
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

/// The runtime part of a state file over the daemon settings of the config file: the config
/// file says how lbd runs (interface, XDP mode, pins, table size, metrics); the state file
/// says what it serves (director addresses, timeouts, services).
pub fn merge_state(file: &Config, state: &Config) -> Config {
    Config {
        director: state.director.clone(),
        timeouts: state.timeouts,
        services: state.services.clone(),
        ..file.clone()
    }
}

/// Reads the state file, if there is one, and merges it over `file`. A state file that
/// cannot be read or is invalid is an error naming it: lbd would otherwise serve something
/// other than what was last applied.
pub fn restore(file: &Config, state_file: &Path) -> Result<Option<Config>, ConfigErrors> {
    let text = match std::fs::read_to_string(state_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigErrors {
                source_name: state_file.display().to_string(),
                errors: vec![ConfigError {
                    path: "(file)".into(),
                    message: format!("cannot read: {e}"),
                }],
            });
        }
    };
    let name = format!(
        "{} (the state file; remove it to start from the config file)",
        state_file.display()
    );
    let state = Config::parse(&text, &name)?;
    let merged = merge_state(file, &state);
    let errors = merged.validate();
    if !errors.is_empty() {
        return Err(ConfigErrors {
            source_name: name,
            errors,
        });
    }
    Ok(Some(merged))
}

/// Writes the config to `path` atomically (a temporary file in the same directory, synced,
/// then renamed over the old one), mode 0600.
pub fn persist(path: &Path, cfg: &Config) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp: PathBuf = path.to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    tmp.set_file_name(format!(".{name}.tmp"));
    let text = serde_json::to_string_pretty(cfg).map_err(std::io::Error::other)?;
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        Config::parse(
            r#"{ "interface": "eth0", "director": { "ipv4": "10.0.0.2" }, "services": [
                { "protocol": "tcp", "vip": "192.168.0.1", "port": 80, "scheduler": "rr",
                  "real_servers": [ { "address": "172.16.0.1", "forwarding": "nat" } ] } ] }"#,
            "t",
        )
        .unwrap()
    }

    fn key(p: &str, vip: &str, port: u16) -> ServiceKey {
        ServiceKey {
            protocol: p.into(),
            vip: vip.parse().unwrap(),
            port,
        }
    }

    fn spec(vip: &str, port: u16, sched: &str) -> ServiceSpec {
        ServiceSpec {
            key: key("tcp", vip, port),
            scheduler: sched.into(),
            persistent: None,
            persistent_netmask: None,
            sched_flags: vec![],
            one_packet: false,
            mh_table_size: None,
        }
    }

    fn real(addr: &str, port: u16, fwd: &str, weight: u32) -> RealSpec {
        RealSpec {
            address: addr.parse().unwrap(),
            port,
            weight,
            forwarding: fwd.into(),
            tun_type: None,
            tun_port: None,
            tun_csum: None,
            upper_threshold: None,
            lower_threshold: None,
        }
    }

    #[test]
    fn ipvsadm_commands_edit_the_config() {
        let c = edit_config(
            &base(),
            &[
                Edit::AddService {
                    service: spec("192.168.0.2", 443, "wlc"),
                },
                Edit::AddReal {
                    service: key("tcp", "192.168.0.2", 443),
                    real: real("172.16.0.2", 443, "dr", 1),
                },
                Edit::EditReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: real("172.16.0.1", 80, "nat", 5),
                },
                Edit::EditService {
                    service: spec("192.168.0.1", 80, "wrr"),
                },
                Edit::SetTimeouts {
                    tcp: 0,
                    tcpfin: 60,
                    udp: 0,
                },
            ],
        )
        .unwrap();
        assert_eq!(c.services.len(), 2);
        assert_eq!(c.services[0].scheduler, "wrr");
        assert_eq!(c.services[0].real_servers[0].weight, 5);
        assert_eq!(c.services[1].real_servers[0].port, None);
        assert_eq!(
            (c.timeouts.tcp, c.timeouts.tcpfin, c.timeouts.udp),
            (900, 60, 300)
        );
        let d = diff(&base(), &c);
        assert_eq!(
            d,
            vec![
                "~ timeouts.tcpfin: 120 -> 60",
                "~ service -t 192.168.0.1:80 scheduler: rr -> wrr",
                "~   real server 172.16.0.1:80 (service -t 192.168.0.1:80) weight: 1 -> 5",
                "+ service -t 192.168.0.2:443 scheduler wlc",
                "+   real server 172.16.0.2:443 dr weight 1",
            ]
        );
        assert!(diff(&c, &c).is_empty());
    }

    #[test]
    fn errors_use_ipvsadm_wording_and_change_nothing() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Edit::AddService {
                    service: spec("192.168.0.1", 80, "rr"),
                },
                "Service already exists",
            ),
            (
                Edit::DelService {
                    service: key("udp", "192.168.0.1", 80),
                },
                "No such service",
            ),
            (
                Edit::AddReal {
                    service: key("tcp", "192.168.0.9", 80),
                    real: real("172.16.0.1", 80, "dr", 1),
                },
                "Service not defined",
            ),
            (
                Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: real("172.16.0.1", 80, "dr", 1),
                },
                "Destination already exists",
            ),
            (
                Edit::DelReal {
                    service: key("tcp", "192.168.0.1", 80),
                    address: "172.16.0.9".parse().unwrap(),
                    port: 80,
                },
                "No such destination",
            ),
            (
                Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: real("172.16.0.2", 80, "dr", 3_000_000_000),
                },
                "-t 192.168.0.1:80 -r 172.16.0.2:80 (weight): 3000000000 is out of range (0 to 2147483647)",
            ),
            (
                Edit::AddService {
                    service: spec("192.168.0.3", 80, "fastest"),
                },
                "Scheduler or persistence engine not found (unknown scheduler \"fastest\"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf)",
            ),
            (
                Edit::AddService {
                    service: ServiceSpec {
                        key: key("sctp", "192.168.0.3", 80),
                        ..spec("192.168.0.3", 80, "rr")
                    },
                },
                "protocol \"sctp\" is not supported by lb (tcp or udp)",
            ),
            // The kernel looks the service up before the scheduler (ip_vs_genl_set_cmd).
            (
                Edit::AddService {
                    service: spec("192.168.0.1", 80, "fastest"),
                },
                "Service already exists",
            ),
            (
                Edit::EditService {
                    service: spec("192.168.0.9", 80, "fastest"),
                },
                "No such service",
            ),
            // ip_vs_add_dest / ip_vs_edit_dest: l_threshold > u_threshold is ERANGE, which
            // ipvsadm prints as strerror(ERANGE); checked before the real server is looked up.
            (
                Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: RealSpec {
                        upper_threshold: Some(10),
                        lower_threshold: Some(20),
                        ..real("172.16.0.1", 80, "dr", 1)
                    },
                },
                "Numerical result out of range",
            ),
            (
                Edit::EditReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: RealSpec {
                        upper_threshold: Some(10),
                        lower_threshold: Some(20),
                        ..real("172.16.0.9", 80, "dr", 1)
                    },
                },
                "Numerical result out of range",
            ),
            (
                Edit::EditReal {
                    service: key("tcp", "192.168.0.9", 80),
                    real: RealSpec {
                        upper_threshold: Some(10),
                        lower_threshold: Some(20),
                        ..real("172.16.0.1", 80, "dr", 1)
                    },
                },
                "Service not defined",
            ),
        ];
        for (e, want) in cases {
            let err = edit_config(&base(), std::slice::from_ref(&e)).unwrap_err();
            assert_eq!(err.message, want, "{e:?}");
            assert_eq!(err.edit, Some(0));
        }
        // In a batch, the failing edit is named.
        let err = edit_config(
            &base(),
            &[
                Edit::Clear,
                Edit::DelService {
                    service: key("tcp", "192.168.0.1", 80),
                },
            ],
        )
        .unwrap_err();
        assert_eq!(err.edit, Some(1));
    }

    #[test]
    fn daemon_settings_need_a_restart() {
        let mut n = base();
        n.interface = "eth1".into();
        n.conn_table_size = Some(4096);
        let e: Vec<String> = restart_only_changes(&base(), &n)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            e,
            vec![
                "interface: cannot change while lbd runs (running: \"eth0\", new: \"eth1\"); restart lbd to change it",
                "conn_table_size: cannot change while lbd runs (running: 1048576, new: 4096); restart lbd to change it",
            ]
        );
    }

    #[test]
    fn state_file_round_trip_and_merge() {
        let dir = std::env::temp_dir().join(format!("lbd-state-test-{}", std::process::id()));
        let path = dir.join("state.json");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(restore(&base(), &path).unwrap(), None);
        let mut applied = base();
        applied.interface = "other0".into();
        applied.timeouts.udp = 42;
        applied.services[0].scheduler = "wlc".into();
        persist(&path, &applied).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let got = restore(&base(), &path).unwrap().unwrap();
        // Daemon settings from the config file, the rest from the state.
        assert_eq!(got.interface, "eth0");
        assert_eq!(got.timeouts.udp, 42);
        assert_eq!(got.services[0].scheduler, "wlc");
        std::fs::write(&path, "{ not json").unwrap();
        let e = restore(&base(), &path).unwrap_err().to_string();
        assert!(e.contains("the state file; remove it"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
