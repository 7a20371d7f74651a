//! ipvsadm's changing commands as edits of the desired config: each command edits a copy
//! (names as the client sent them), and the copy is validated with the config file's own
//! checks, all or nothing. Errors use ipvsadm's wording (libipvs's `ipvs_strerror`) where
//! ipvsadm has one.

use lb_model::api::{Edit, RealSpec, ServiceKey as WireKey, ServiceSpec};
use lb_model::{
    Protocol, Scheduler,
    config::{Config, ConfigError, MarkConfig, Raw, RealServerConfig, ServiceKey},
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
    if let Some(m) = k.fwmark {
        return Ok(ServiceKey::fwmark(m, lb_model::config::Family::of(k.vip)));
    }
    let protocol: Protocol = k.protocol.parse().map_err(|_| {
        format!(
            "protocol {:?} is not supported by lb (tcp, udp or sctp)",
            k.protocol
        )
    })?;
    Ok(ServiceKey::vip(protocol, k.vip, k.port))
}

/// A real server from ipvsadm's words; `keep` (the real server being edited) keeps what
/// ipvsadm has no option for (its health check) unless the request gives it.
fn real_config(
    spec: &RealSpec,
    service_port: u16,
    keep: Option<&RealServerConfig<Raw>>,
) -> RealServerConfig<Raw> {
    RealServerConfig {
        // The service's port is the default: a config written back stays as short as the
        // user would write it.
        port: spec.port.filter(|p| *p != service_port),
        // The defaults (ipip, no checksum) are left out, as a config file leaves them out:
        // `-S` names them and `-R` gives them back unchanged.
        tun_type: spec.tun_type.clone().filter(|t| t != "ipip"),
        tun_csum: spec.tun_csum.clone().filter(|c| c != "nocsum"),
        health_check: spec
            .health_check
            .clone()
            .or_else(|| keep.and_then(|k| k.health_check.clone())),
        ..spec.clone()
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
    // strerror(ERANGE). A threshold not given is 0, as in ipvsadm's request, so `-y` without
    // `-x` is refused too. (The JSON config takes a lower threshold without an upper one,
    // where it has no effect; ipvsadm's commands refuse it as IPVS does.)
    let thresholds = |i: usize, real: &RealSpec| -> Result<(), EditError> {
        let upper = real.upper_threshold.unwrap_or(0);
        let lower = real.lower_threshold.unwrap_or(0);
        if lower > upper {
            return Err(fail(i, "Numerical result out of range"));
        }
        Ok(())
    };
    for (i, e) in edits.iter().enumerate() {
        match e {
            Edit::AddService { service } => {
                if cfg.find_service(&service.key()).is_some() {
                    return Err(fail(i, "Service already exists"));
                }
                unknown_scheduler(i, service)?;
                cfg.services.push(service.clone());
            }
            Edit::EditService { service } => {
                let Some(k) = cfg.find_service(&service.key()) else {
                    return Err(fail(i, "No such service"));
                };
                unknown_scheduler(i, service)?;
                if !service.real_servers.is_empty() {
                    return Err(fail(
                        i,
                        "edit_service changes a service's settings; its real servers are changed with add_real, edit_real and del_real",
                    ));
                }
                let old = std::mem::replace(&mut cfg.services[k], service.clone());
                let s = &mut cfg.services[k];
                s.real_servers = old.real_servers;
                // ipvsadm has no words for these: kept unless the request gives them.
                s.health_check = s.health_check.take().or(old.health_check);
                s.sorry_server = s.sorry_server.take().or(old.sorry_server);
                s.ftp = s.ftp.or(old.ftp);
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
                if s.find_real(real.address, s.real_port(real)).is_some() {
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
                let Some(j) = s.find_real(real.address, s.real_port(real)) else {
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
            Edit::AddMatches { mark, matches } => {
                match cfg.marks.iter_mut().find(|m| m.mark == *mark) {
                    Some(m) => m.matches.extend(matches.iter().cloned()),
                    None => cfg.marks.push(MarkConfig {
                        mark: *mark,
                        matches: matches.clone(),
                    }),
                }
            }
            Edit::DelMark { mark, index } => {
                let Some(k) = cfg.marks.iter().position(|m| m.mark == *mark) else {
                    return Err(fail(i, format!("No such mark {mark}")));
                };
                match index {
                    None => {
                        cfg.marks.remove(k);
                    }
                    Some(j) => {
                        let m = &mut cfg.marks[k];
                        if *j >= m.matches.len() {
                            return Err(fail(
                                i,
                                format!(
                                    "No such match {j} of mark {mark} (it has {})",
                                    m.matches.len()
                                ),
                            ));
                        }
                        m.matches.remove(*j);
                        if m.matches.is_empty() {
                            cfg.marks.remove(k);
                        }
                    }
                }
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
pub(crate) mod tests {
    use lb_model::config::{ServiceConfig, diff::diff};

    use super::*;

    /// One service with one real server (also the state file's tests').
    pub(crate) fn base() -> Config {
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
            fwmark: None,
        }
    }

    fn spec(vip: &str, port: u16, sched: &str) -> ServiceSpec {
        ServiceSpec {
            scheduler: sched.into(),
            ..ServiceConfig::adopted(Protocol::Tcp, vip.parse().unwrap(), port).raw()
        }
    }

    fn real(addr: &str, port: u16, fwd: &str, weight: u32) -> RealSpec {
        RealSpec {
            port: Some(port),
            weight,
            forwarding: fwd.into(),
            ..RealServerConfig::adopted(addr.parse().unwrap()).raw()
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
                "Scheduler or persistence engine not found (unknown scheduler \"fastest\"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos)",
            ),
            (
                Edit::DelService {
                    service: key("icmp", "192.168.0.3", 80),
                },
                "protocol \"icmp\" is not supported by lb (tcp, udp or sctp)",
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
            // `-y` without `-x`: the upper threshold is 0, so the lower one is above it.
            (
                Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: RealSpec {
                        lower_threshold: Some(5),
                        ..real("172.16.0.1", 80, "dr", 1)
                    },
                },
                "Numerical result out of range",
            ),
            (
                Edit::EditReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: RealSpec {
                        upper_threshold: Some(0),
                        lower_threshold: Some(1),
                        ..real("172.16.0.1", 80, "dr", 1)
                    },
                },
                "Numerical result out of range",
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
    fn edit_service_keeps_what_ipvsadm_cannot_say_and_takes_no_real_servers() {
        let mut checked = base();
        checked.services[0].health_check = Some(serde_json::from_str(r#"{"type":"tcp"}"#).unwrap());
        let c = edit_config(
            &checked,
            &[Edit::EditService {
                service: spec("192.168.0.1", 80, "wrr"),
            }],
        )
        .unwrap();
        assert_eq!(c.services[0].scheduler, Scheduler::Wrr);
        assert_eq!(c.services[0].real_servers, checked.services[0].real_servers);
        assert_eq!(c.services[0].health_check, checked.services[0].health_check);
        let err = edit_config(
            &checked,
            &[Edit::EditService {
                service: ServiceSpec {
                    real_servers: vec![real("172.16.0.9", 80, "dr", 1)],
                    ..spec("192.168.0.1", 80, "wrr")
                },
            }],
        )
        .unwrap_err();
        assert!(
            err.message
                .starts_with("edit_service changes a service's settings"),
            "{err:?}"
        );
    }
}
