//! ipvsadm's changing commands as edits of the desired config: each command edits a copy
//! (names as the client sent them), and the copy is validated with the config file's own
//! checks, all or nothing. Errors use ipvsadm's wording (libipvs's `ipvs_strerror`) where
//! ipvsadm has one.

use lb_common::api::{Edit, RealSpec, ServiceKey as WireKey, ServiceSpec};
use lb_model::{
    Protocol, Scheduler,
    config::{Config, ConfigError, Raw, RealServerConfig, ServiceConfig, ServiceKey},
    names::fmt_addr_port,
};

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

/// A service's identity from the request's words.
pub fn service_key(k: &WireKey) -> Result<ServiceKey, String> {
    let protocol: Protocol = k.protocol.parse().map_err(|_| {
        format!(
            "protocol {:?} is not supported by lb (tcp or udp)",
            k.protocol
        )
    })?;
    Ok(ServiceKey {
        protocol,
        vip: k.vip,
        port: k.port,
    })
}

/// A service from ipvsadm's words; `keep` (the service being edited) keeps what ipvsadm has
/// no option for (health checks, sorry server).
fn service_config(
    key: ServiceKey,
    spec: &ServiceSpec,
    real_servers: Vec<RealServerConfig<Raw>>,
    keep: Option<&ServiceConfig<Raw>>,
) -> ServiceConfig<Raw> {
    ServiceConfig {
        protocol: key.protocol,
        vip: key.vip,
        port: key.port,
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
    keep: Option<&RealServerConfig<Raw>>,
) -> RealServerConfig<Raw> {
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
    let mut cfg = current.raw();
    // IPVS answers an unknown scheduler with ENOENT: libipvs's words, then which names
    // there are. The kernel looks the service up first (EEXIST for -A of one that exists,
    // ESRCH for -E of one that does not), then the scheduler.
    let unknown_scheduler = |i: usize, service: &ServiceSpec| -> Result<(), EditError> {
        match service.scheduler.parse::<Scheduler>() {
            Ok(_) => Ok(()),
            Err(e) => Err(fail(
                i,
                format!("Scheduler or persistence engine not found ({e})"),
            )),
        }
    };
    let find = |cfg: &Config<Raw>,
                i: usize,
                k: &WireKey|
     -> Result<(ServiceKey, Option<usize>), EditError> {
        let key = service_key(k).map_err(|m| fail(i, m))?;
        Ok((key, cfg.find_service(&key)))
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
            Edit::AddService { service } => match find(&cfg, i, &service.key)? {
                (_, Some(_)) => return Err(fail(i, "Service already exists")),
                (key, None) => {
                    unknown_scheduler(i, service)?;
                    cfg.services
                        .push(service_config(key, service, Vec::new(), None))
                }
            },
            Edit::EditService { service } => {
                let (key, Some(k)) = find(&cfg, i, &service.key)? else {
                    return Err(fail(i, "No such service"));
                };
                unknown_scheduler(i, service)?;
                let reals = std::mem::take(&mut cfg.services[k].real_servers);
                cfg.services[k] = service_config(key, service, reals, Some(&cfg.services[k]));
            }
            Edit::DelService { service } => {
                let (_, Some(k)) = find(&cfg, i, service)? else {
                    return Err(fail(i, "No such service"));
                };
                cfg.services.remove(k);
            }
            Edit::Clear => cfg.services.clear(),
            Edit::AddReal { service, real } => {
                let (_, Some(k)) = find(&cfg, i, service)? else {
                    return Err(fail(i, "Service not defined"));
                };
                thresholds(i, real)?;
                let s = &mut cfg.services[k];
                if s.find_real(real.address, real.port).is_some() {
                    return Err(fail(i, "Destination already exists"));
                }
                let r = real_config(real, s.port, None);
                s.real_servers.push(r);
            }
            Edit::EditReal { service, real } => {
                let (_, Some(k)) = find(&cfg, i, service)? else {
                    return Err(fail(i, "Service not defined"));
                };
                thresholds(i, real)?;
                let s = &mut cfg.services[k];
                let Some(j) = s.find_real(real.address, real.port) else {
                    return Err(fail(i, "No such destination"));
                };
                s.real_servers[j] = real_config(real, s.port, Some(&s.real_servers[j]));
            }
            Edit::DelReal {
                service,
                address,
                port,
            } => {
                let (_, Some(k)) = find(&cfg, i, service)? else {
                    return Err(fail(i, "Service not defined"));
                };
                let s = &mut cfg.services[k];
                let Some(j) = s.find_real(*address, *port) else {
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
    cfg.check().map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| describe_error(&cfg, e)).collect();
        EditError {
            edit: if edits.len() == 1 { Some(0) } else { None },
            message: lines.join("\n"),
        }
    })
}

/// Replaces the config paths `services[i]` and `services[i].real_servers[j]` in `text` by
/// ipvsadm's names of what they point at.
fn humanize(cfg: &Config<Raw>, text: &str) -> String {
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
        out.push_str(&s.key().ipvsadm());
        rest = after;
        if let Some(t) = rest.strip_prefix(".real_servers[")
            && let Some((j, after)) = index_and_rest(t)
            && let Some(r) = s.real_servers.get(j)
        {
            out.push_str(&format!(" -r {}", fmt_addr_port(r.address, s.real_port(r))));
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
fn describe_error(cfg: &Config<Raw>, e: &ConfigError) -> String {
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

#[cfg(test)]
mod tests {
    use lb_model::config::diff::diff;

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

    fn key(p: &str, vip: &str, port: u16) -> WireKey {
        WireKey {
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
        assert_eq!(c.services[0].scheduler, Scheduler::Wrr);
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
}
