//! `lbctl -L` (`-l`, `--list`) and `-S`: lbd's virtual server table, connections, timeouts
//! and sync daemons, as ipvsadm prints the kernel's.

use anyhow::{Result, bail};
use lb_common::api::{Op, Response, ServiceKey};

use super::{Failure, json};
use crate::{
    cli::ListOptions,
    client::Client,
    command::ListWhat,
    format::{self, ListFormat, Numeric, Resolve, SystemNames},
};

/// ipvsadm resolves names unless `-n`.
fn names(opts: &ListOptions) -> &'static dyn Resolve {
    if opts.numeric { &Numeric } else { &SystemNames }
}

pub fn run(client: &Client, what: &ListWhat, opts: &ListOptions, as_json: bool) -> Result<String> {
    match what {
        ListWhat::Table(service) => {
            let r = client.call(Op::List)?;
            render(&r, service.as_ref(), opts, as_json, names(opts))
        }
        ListWhat::Connections => {
            let r = client.call(Op::Connections)?;
            match &r {
                _ if as_json => json(&r),
                Response::Connections { connections } => Ok(format::connections(
                    connections,
                    opts.persistent_conn,
                    names(opts),
                )),
                other => unexpected("list connections", other),
            }
        }
        ListWhat::Timeouts => {
            let r = client.call(Op::Timeouts)?;
            match &r {
                _ if as_json => json(&r),
                Response::Timeouts { tcp, tcpfin, udp } => {
                    Ok(format::timeouts(*tcp, *tcpfin, *udp))
                }
                other => unexpected("list timeouts", other),
            }
        }
        ListWhat::Daemons => {
            // lb runs no connection-sync daemon: ipvsadm prints nothing then. Asking lbd
            // still tells whether it is there at all.
            client.call(Op::Status)?;
            if as_json {
                return Ok("[]\n".into());
            }
            Ok(format::daemons(&[]))
        }
    }
}

fn unexpected(what: &str, r: &Response) -> Result<String> {
    bail!(
        "unexpected answer from lbd to {what}: {}",
        super::response_kind(r)
    )
}

/// The text to print for lbd's answer to `Op::List`.
pub fn render(
    response: &Response,
    service: Option<&ServiceKey>,
    opts: &ListOptions,
    as_json: bool,
    names: &dyn Resolve,
) -> Result<String> {
    let Response::Services {
        conn_table_size,
        services,
    } = response
    else {
        return unexpected("list", response);
    };
    let fmt = ListFormat {
        stats: opts.stats,
        rate: opts.rate,
        thresholds: opts.thresholds,
        persistent_conn: opts.persistent_conn,
        tun_info: opts.tun_info,
        exact: opts.exact,
        nosort: opts.nosort,
    };
    match service {
        None if as_json => json(response),
        None => Ok(format::list_all(services, *conn_table_size, fmt, names)),
        Some(k) => {
            let Some(svc) = services.iter().find(|s| {
                s.fwmark.is_none() && s.protocol == k.protocol && s.vip == k.vip && s.port == k.port
            }) else {
                return Err(Failure::listing("No such service").into());
            };
            if as_json {
                return json(&Response::Services {
                    conn_table_size: *conn_table_size,
                    services: vec![svc.clone()],
                });
            }
            Ok(format::list_service(svc, fmt, names))
        }
    }
}

/// `-S`: the table as rules for `-R`.
pub fn save(client: &Client, opts: &ListOptions, as_json: bool) -> Result<String> {
    let r = client.call(Op::List)?;
    match &r {
        _ if as_json => json(&r),
        Response::Services { services, .. } => {
            Ok(format::rules(services, opts.nosort, names(opts)))
        }
        other => unexpected("save", other),
    }
}

#[cfg(test)]
mod tests {
    use lb_common::api::{RealServerView, ServiceView, StatsView};

    use super::*;

    fn response() -> Response {
        Response::Services {
            conn_table_size: 4096,
            services: vec![ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 80,
                scheduler: "mh".into(),
                sched_flags: vec!["mh-port".into()],
                stats: StatsView::default(),
                real_servers: vec![RealServerView {
                    address: "192.168.1.10".parse().unwrap(),
                    port: 80,
                    forwarding: "tun".into(),
                    weight: 1,
                    active_conns: 2,
                    inactive_conns: 3,
                    health: None,
                    stats: StatsView {
                        conns: 5,
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn numeric() -> ListOptions {
        ListOptions {
            numeric: true,
            ..Default::default()
        }
    }

    #[test]
    fn table() {
        assert_eq!(
            render(&response(), None, &numeric(), false, &Numeric).unwrap(),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.0.0.1:80 mh (mh-port)\n  \
             -> 192.168.1.10:80              Tunnel  1      2          3         \n"
        );
    }

    #[test]
    fn one_service_has_no_banner_and_a_missing_one_is_an_error() {
        let k = ServiceKey {
            protocol: "tcp".into(),
            vip: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(
            render(&response(), Some(&k), &numeric(), false, &Numeric).unwrap(),
            "Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.0.0.1:80 mh (mh-port)\n  \
             -> 192.168.1.10:80              Tunnel  1      2          3         \n"
        );
        let other = ServiceKey { port: 81, ..k };
        let e = render(&response(), Some(&other), &numeric(), false, &Numeric).unwrap_err();
        assert_eq!(e.to_string(), "No such service");
    }

    #[test]
    fn json_round_trips() {
        let text = render(&response(), None, &ListOptions::default(), true, &Numeric).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\n  \"conn_table_size\": 4096,\n"), "{text}");
        let back: Response = serde_json::from_str(&text).unwrap();
        assert_eq!(back, response());
    }

    #[test]
    fn wrong_answer_is_an_error() {
        let err = render(
            &Response::Error {
                message: "x".into(),
                edit: None,
            },
            None,
            &ListOptions::default(),
            false,
            &Numeric,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "unexpected answer from lbd to list: error");
    }
}
