//! `lbctl -L` (`-l`, `--list`) and `-S`: lbd's virtual server table, connections, timeouts
//! and sync daemons, as ipvsadm prints the kernel's.

use anyhow::{Result, bail};
use lb_model::api::{Op, Response, ServiceKey};

use super::Failure;
use crate::{
    cli::ListOptions,
    client::Client,
    command::ListWhat,
    contract::{
        self,
        changes::Rules,
        connections::{Connections, Daemons, Timeouts},
        services::Services,
    },
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
                Response::Connections { connections } if as_json => {
                    Ok(contract::to_text(&Connections::new(connections)))
                }
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
                Response::Timeouts { tcp, tcpfin, udp } if as_json => {
                    Ok(contract::to_text(&Timeouts {
                        version: contract::Version,
                        tcp: *tcp,
                        tcpfin: *tcpfin,
                        udp: *udp,
                    }))
                }
                Response::Timeouts { tcp, tcpfin, udp } => {
                    Ok(format::timeouts(*tcp, *tcpfin, *udp))
                }
                other => unexpected("list timeouts", other),
            }
        }
        ListWhat::Daemons => daemons(&client.call(Op::Daemons)?, as_json),
    }
}

/// `-L --daemon`: the running sync daemons, in ipvsadm's words (nothing when none runs).
fn daemons(r: &Response, as_json: bool) -> Result<String> {
    let Response::Daemons { daemons } = r else {
        return unexpected("list daemons", r);
    };
    if as_json {
        return Ok(contract::to_text(&Daemons::new(daemons)));
    }
    let listed: Vec<format::SyncDaemon> = daemons
        .iter()
        .map(|d| format::SyncDaemon {
            state: d.role.name().into(),
            mcast_interface: d.mcast_interface.clone(),
            syncid: d.syncid,
            sync_maxlen: d.sync_maxlen as u32,
            mcast_group: d.mcast_group,
            mcast_port: d.mcast_port,
            mcast_ttl: d.mcast_ttl,
        })
        .collect();
    Ok(format::daemons(&listed))
}

/// `--start-daemon` and `--stop-daemon`: as ipvsadm, nothing printed when lbd did it (with
/// `--json`, the daemons then running); lbd's refusal is ipvsadm's message, status 255.
pub fn daemon_op(client: &Client, op: Op, as_json: bool) -> Result<String> {
    let r = client
        .call(op)
        .map_err(|e| match e.downcast::<crate::client::Refused>() {
            Ok(r) => Failure::refused(r.message).into(),
            Err(e) => e,
        })?;
    if as_json {
        return daemons(&r, true);
    }
    daemons(&r, false).map(|_| String::new())
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
        None if as_json => Ok(contract::to_text(&Services::new(
            *conn_table_size,
            services,
        ))),
        None => Ok(format::list_all(services, *conn_table_size, fmt, names)),
        Some(k) => {
            let Some(svc) = services.iter().find(|s| match k.fwmark {
                Some(m) => s.fwmark == Some(m) && s.vip.is_ipv6() == k.vip.is_ipv6(),
                None => {
                    s.fwmark.is_none()
                        && s.protocol == k.protocol
                        && s.vip == k.vip
                        && s.port == k.port
                }
            }) else {
                return Err(Failure::listing("No such service").into());
            };
            if as_json {
                return Ok(contract::to_text(&Services::new(
                    *conn_table_size,
                    std::slice::from_ref(svc),
                )));
            }
            Ok(format::list_service(svc, fmt, names))
        }
    }
}

/// `-S`: the table as rules for `-R`.
pub fn save(client: &Client, opts: &ListOptions, as_json: bool) -> Result<String> {
    let r = client.call(Op::List)?;
    match &r {
        Response::Services { services, .. } => {
            let text = format::rules(services, opts.nosort, names(opts));
            if !as_json {
                return Ok(text);
            }
            Ok(contract::to_text(&Rules {
                version: contract::Version,
                rules: text.lines().map(str::to_string).collect(),
            }))
        }
        other => unexpected("save", other),
    }
}

#[cfg(test)]
mod tests {
    use lb_model::api::{RealServerView, ServiceView, StatsView};

    use super::*;

    fn response() -> Response {
        Response::Services {
            conn_table_size: 4096,
            services: vec![ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 80,
                fwmark: None,
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
            fwmark: None,
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
    fn json_is_the_contract() {
        let text = render(&response(), None, &ListOptions::default(), true, &Numeric).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["conn_table_size"], 4096);
        assert!(v.get("result").is_none(), "{text}");
        let s = &v["services"][0];
        assert_eq!(s["scheduler"], "mh");
        assert_eq!(s["sched_flags"], serde_json::json!(["mh-port"]));
        assert_eq!(s["persistent"], serde_json::Value::Null);
        let r = &s["real_servers"][0];
        assert_eq!(
            (&r["address"], &r["active_conns"], &r["stats"]["conns"]),
            (&"192.168.1.10".into(), &2.into(), &5.into())
        );
        assert_eq!(r["tun_type"], serde_json::Value::Null);
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
