//! The virtual service of a command line: which one (`-t`, `-u`, `--sctp-service`, `-f`
//! with `-6`), and for `-A`/`-E` its spec: scheduler (`-s`), flags (`-b`), persistence (`-p`,
//! `-M`), one-packet scheduling (`-o`), persistence engine (`--pe`, refused) and lbctl's
//! `--mh-table-size`.

use lb_model::{
    Named, Protocol, SchedFlag, Scheduler,
    api::{ServiceKey, ServiceSpec},
};

use super::{address::parse_address, c_values::number, lookup::Lookup};
use crate::{cli::Cli, command::UsageError};

/// ipvsadm's `DEF_SCHED`: the scheduler of a service given none (or `-s ""`).
pub const DEFAULT_SCHEDULER: &str = "wlc";

/// The service selected by `-t`/`-u`/`--sctp-service`/`-f` (a firewall-mark service: the
/// unspecified address of its family, `-6` for IPv6, protocol tcp and port 0, as ipvsadm
/// fills them).
pub(super) fn selected(
    cli: &Cli,
    lookup: &dyn Lookup,
) -> Result<Option<(ServiceKey, bool /* port given */)>, UsageError> {
    let s = &cli.service;
    if let Some(f) = &s.fwmark {
        if number(f, 1, u32::MAX as i64).is_none() {
            return Err(UsageError::new(format!(
                "invalid fwmark value `{f}' specified"
            )));
        }
        let mark = number(f, 1, u32::MAX as i64).unwrap_or(0) as u32;
        let vip = if s.ipv6 > 0 {
            std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        };
        return Ok(Some((
            ServiceKey {
                protocol: "tcp".into(),
                vip,
                port: 0,
                fwmark: Some(mark),
            },
            false,
        )));
    }
    if s.ipv6 > 0 {
        // ipvsadm's format ends in "\n" and fail() adds another.
        return Err(UsageError::new("-6 used before -f\n"));
    }
    let (proto, text) = match (&s.tcp, &s.udp, &s.sctp) {
        (Some(t), _, _) => ("tcp", t),
        (_, Some(u), _) => ("udp", u),
        (_, _, Some(x)) => ("sctp", x),
        _ => return Ok(None),
    };
    let (vip, port) = parse_address(text, proto, lookup)
        .ok_or_else(|| UsageError::new("illegal virtual server address[:port] specified"))?;
    Ok(Some((
        ServiceKey {
            protocol: proto.into(),
            vip,
            port: port.unwrap_or(0),
            fwmark: None,
        },
        port.is_some(),
    )))
}

/// ipvsadm 1.31's `parse_sched_flags`, with the generic `flag-1`/`flag-2` named as the
/// scheduler's own flags (lbd knows them by name).
pub(super) fn sched_flags(sched: &str, arg: &str) -> Result<Vec<String>, UsageError> {
    let scheduler: Option<Scheduler> = sched.parse().ok();
    let own = scheduler.map(Scheduler::flags).unwrap_or(&[]);
    let mut out: Vec<String> = Vec::new();
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        let name = match flag {
            // IPVS's flag bits by number: the scheduler's own name of the bit where it has
            // one (sh: flag-1 is sh-fallback, flag-2 sh-port; mh likewise).
            "flag-1" | "flag-2" | "flag-3" => {
                let bit = 1u8 << (flag.as_bytes()[5] - b'1');
                own.iter()
                    .find(|f| f.bit() == bit)
                    .map(|f| f.name())
                    .unwrap_or(flag)
            }
            _ => match SchedFlag::from_name(flag) {
                Some(f) if own.contains(&f) => f.name(),
                Some(_) => {
                    return Err(UsageError::new(format!(
                        "incompatible scheduler flag `{flag}'"
                    )));
                }
                None => return Err(UsageError::new(format!("invalid scheduler flag `{flag}'"))),
            },
        };
        if !out.iter().any(|f| f == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// `--mh-table-size`: lbctl's own, a prime checked by lbd.
pub(super) fn mh_table_size(t: Option<&str>) -> Result<Option<u32>, UsageError> {
    Ok(match t {
        None => None,
        Some(t) => Some(
            number(t, 1, u32::MAX as i64)
                .ok_or_else(|| UsageError::new("illegal mh-table-size specified"))?
                as u32,
        ),
    })
}

/// `-A`, `-E`: the service's spec, with the checks ipvsadm makes after the command-option
/// table.
pub(super) fn spec(
    cli: &Cli,
    key: ServiceKey,
    persistent: Option<u32>,
    netmask: Option<u8>,
    mh_table_size: Option<u32>,
) -> Result<ServiceSpec, UsageError> {
    if key.fwmark.is_none() && key.port == 0 && persistent.is_none() {
        return Err(UsageError::new(
            "Zero port specified for non-persistent service",
        ));
    }
    if cli.service.ops && key.protocol != "udp" {
        return Err(UsageError::new(
            "One-Packet Scheduling is only for UDP virtual services",
        ));
    }
    if let Some(pe) = &cli.service.pe {
        return Err(UsageError::new(format!(
            "persistence engine `{pe}' is not supported by lb (--pe)"
        )));
    }
    // "if (strlen(ce.svc.sched_name) == 0) strcpy(ce.svc.sched_name, DEF_SCHED)":
    // `-s ""` is the default too.
    let scheduler = cli
        .service
        .scheduler
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SCHEDULER.into());
    let flags = match &cli.service.sched_flags {
        None => Vec::new(),
        Some(f) => sched_flags(&scheduler, f)?,
    };
    let protocol: Protocol = key
        .protocol
        .parse()
        .map_err(|e: lb_model::UnknownName| UsageError::new(e.to_string()))?;
    Ok(ServiceSpec {
        fwmark: key.fwmark,
        family: key
            .fwmark
            .map(|_| lb_model::config::Family::of(key.vip))
            .filter(|f| *f == lb_model::config::Family::Ipv6),
        protocol,
        vip: key.vip,
        port: key.port,
        scheduler,
        persistent,
        // IPVS keeps a netmask without -p, where it means nothing and no listing
        // shows it (a later -E without -M resets it): lb keeps none.
        persistent_netmask: netmask.filter(|_| persistent.is_some()),
        sched_flags: flags,
        one_packet: cli.service.ops,
        mh_table_size,
        // ipvsadm's -A/-E have no words for these: lbd keeps a service's.
        real_servers: Vec::new(),
        health_check: None,
        sorry_server: None,
        ftp: None,
    })
}

#[cfg(test)]
mod tests {
    use lb_model::api::{Edit, ServiceSpec};

    use crate::{
        command::Command,
        ipvsadm::test_util::{run, spec},
    };

    #[test]
    fn service_options() {
        assert_eq!(
            run(&[
                "-E",
                "-t",
                "10.0.0.1:443",
                "-s",
                "sh",
                "-b",
                "sh-port,flag-1",
                "-p",
                "600",
                "-M",
                "255.255.255.0"
            ])
            .unwrap(),
            Command::Edit(Edit::EditService {
                service: ServiceSpec {
                    persistent: Some(600),
                    persistent_netmask: Some(24),
                    sched_flags: vec!["sh-port".into(), "sh-fallback".into()],
                    ..spec("tcp", "10.0.0.1", 443, "sh")
                }
            })
        );
        assert_eq!(
            run(&[
                "-A",
                "-u",
                "[2001:db8::1]:53",
                "-o",
                "-p",
                "-M",
                "64",
                "--mh-table-size",
                "251",
                "-s",
                "mh"
            ])
            .unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    persistent: Some(300),
                    persistent_netmask: Some(64),
                    one_packet: true,
                    mh_table_size: Some(251),
                    ..spec("udp", "2001:db8::1", 53, "mh")
                }
            })
        );
        // Port 0 is allowed for a persistent service (lbd then says what it thinks).
        assert!(run(&["-A", "-t", "10.0.0.1", "-p"]).is_ok());
    }
}
