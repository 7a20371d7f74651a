//! `lbctl drain`, `lbctl undrain` and `lbctl health`: taking a real server out of scheduling
//! with a deadline for its connections, putting it back, and the health of every real server.

use std::{
    fmt::Write as _,
    io::Write,
    net::{IpAddr, SocketAddr},
};

use anyhow::{Context, Result, bail};
use lb_model::api::{Op, RealServerView, Response, ServiceView};

use crate::{
    cli::RealTarget,
    client::Client,
    contract::{
        self,
        health::Health,
        services::{RealServer, RealServerOutput},
    },
    format,
};

impl RealTarget {
    fn op_parts(&self) -> (String, IpAddr, u16, IpAddr, u16) {
        let (protocol, svc) = match (self.tcp, self.udp) {
            (Some(t), _) => ("tcp", t),
            (None, Some(u)) => ("udp", u),
            // clap requires one of them.
            (None, None) => ("tcp", SocketAddr::from(([0, 0, 0, 0], 0))),
        };
        (
            protocol.into(),
            svc.ip(),
            svc.port(),
            self.real.address,
            self.real.port.unwrap_or(svc.port()),
        )
    }

    pub fn drain_op(&self, deadline_secs: u64) -> Op {
        let (protocol, vip, port, address, real_port) = self.op_parts();
        Op::Drain {
            protocol,
            vip,
            port,
            address,
            real_port,
            deadline_secs,
        }
    }

    pub fn undrain_op(&self) -> Op {
        let (protocol, vip, port, address, real_port) = self.op_parts();
        Op::Undrain {
            protocol,
            vip,
            port,
            address,
            real_port,
        }
    }
}

/// Sends a drain or undrain and prints lbd's answer.
pub fn run(client: &Client, op: Op, json: bool, out: &mut dyn Write) -> Result<()> {
    let response = client.call(op)?;
    let text = render_real(&response, json)?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the answer")
}

/// The text for lbd's answer to a drain or undrain.
pub fn render_real(response: &Response, json: bool) -> Result<String> {
    let Response::RealServer {
        protocol,
        vip,
        port,
        real,
    } = response
    else {
        bail!(
            "unexpected answer from lbd to drain: {}",
            super::response_kind(response)
        );
    };
    if json {
        return Ok(contract::to_text(&RealServerOutput {
            version: contract::Version,
            protocol: protocol.clone(),
            vip: *vip,
            port: *port,
            real: RealServer::from(real),
        }));
    }
    let name = format!(
        "{} of {} {}",
        format::addrport(real.address, real.port),
        format::protocol_name(protocol),
        format::addrport(*vip, *port)
    );
    let conns = real.active_conns + real.inactive_conns;
    Ok(match real.health.as_ref().and_then(|h| h.draining) {
        Some(d) if d.expired => {
            format!("{name}: drained (deadline passed, connections removed; {conns} now)\n")
        }
        Some(d) => format!(
            "{name}: draining, {} connection{} left, removed in {} s\n",
            d.connections,
            if d.connections == 1 { "" } else { "s" },
            d.remaining_secs
        ),
        None => format!("{name}: in scheduling ({conns} connections)\n"),
    })
}

/// `lbctl health`: every real server's health, check and drain state.
pub fn run_health(client: &Client, json: bool, out: &mut dyn Write) -> Result<()> {
    let response = client.call(Op::List)?;
    let Response::Services { services, .. } = &response else {
        bail!(
            "unexpected answer from lbd to list: {}",
            super::response_kind(&response)
        );
    };
    let text = if json {
        contract::to_text(&Health::new(services))
    } else {
        health_table(services)
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the health table")
}

/// One line per service, then one per real server: state, effective weight, check results.
pub fn health_table(services: &[ServiceView]) -> String {
    let mut out = String::new();
    for s in services {
        let state = match &s.health {
            Some(h) if h.up => "up".to_string(),
            Some(h) if h.sorry_server_active => "DOWN (sorry server in use)".to_string(),
            Some(_) => "DOWN (new connections dropped)".to_string(),
            None => "?".to_string(),
        };
        let _ = writeln!(
            out,
            "{} {}  {state}",
            format::protocol_name(&s.protocol),
            format::addrport(s.vip, s.port)
        );
        for r in &s.real_servers {
            let _ = writeln!(out, "  -> {}", real_line(r));
        }
    }
    out
}

fn real_line(r: &RealServerView) -> String {
    let name = format::addrport(r.address, r.port);
    let Some(h) = &r.health else {
        return format!("{name:<28} ?");
    };
    let mut line = format!(
        "{name:<28} {:<9} weight {} (effective {})",
        if h.sorry_server { "sorry" } else { &h.state },
        r.weight,
        h.effective_weight
    );
    if let Some(c) = &h.check {
        let _ = write!(
            line,
            "  {} {}: ok {} failed {}",
            c.kind, c.target, c.checks_ok, c.checks_failed
        );
        if let Some(us) = c.last_duration_us {
            let _ = write!(line, ", last {:.1} ms", us as f64 / 1000.0);
        }
        if let Some(e) = &c.last_error {
            let _ = write!(line, ", last error: {e}");
        }
    }
    if let Some(d) = &h.draining {
        if d.expired {
            let _ = write!(line, "  drained ({} connections)", d.connections);
        } else {
            let _ = write!(
                line,
                "  draining: {} connections, removed in {} s",
                d.connections, d.remaining_secs
            );
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use lb_model::api::{CheckView, DrainView, RealHealthView, ServiceHealthView, StatsView};

    use super::*;

    #[test]
    fn ops_default_the_real_port_to_the_services() {
        let t = RealTarget {
            tcp: Some("10.0.0.100:80".parse().unwrap()),
            udp: None,
            real: "10.0.0.11".parse().unwrap(),
        };
        assert_eq!(
            t.drain_op(30),
            Op::Drain {
                protocol: "tcp".into(),
                vip: "10.0.0.100".parse().unwrap(),
                port: 80,
                address: "10.0.0.11".parse().unwrap(),
                real_port: 80,
                deadline_secs: 30
            }
        );
        let t = RealTarget {
            tcp: None,
            udp: Some("10.0.0.100:53".parse().unwrap()),
            real: "10.0.0.11:5353".parse().unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&t.undrain_op()).unwrap(),
            r#"{"op":"undrain","protocol":"udp","vip":"10.0.0.100","port":53,"address":"10.0.0.11","real_port":5353}"#
        );
    }

    #[test]
    fn command_lines() {
        use clap::Parser;

        use crate::{cli::Cli, command::Command};
        // Err: the exit status (clap's, or 2 for ipvsadm-style usage errors, as main exits).
        let parse = |args: &[&str]| -> Result<Command, i32> {
            Cli::try_parse_from(std::iter::once("lbctl").chain(args.iter().copied()))
                .map_err(|e| e.exit_code())
                .and_then(|c| c.resolve().map_err(|_| 2))
        };
        let Command::Drain(a) = parse(&[
            "drain",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.11",
            "--deadline",
            "5",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.deadline, 5);
        assert_eq!(a.target.real.address.to_string(), "10.0.0.11");
        assert!(matches!(
            parse(&[
                "--json",
                "undrain",
                "-u",
                "[2001:db8::1]:53",
                "-r",
                "[2001:db8::11]:53"
            ]),
            Ok(Command::Undrain(_))
        ));
        assert!(matches!(parse(&["health"]), Ok(Command::Health)));
        for bad in [
            &["drain", "-r", "10.0.0.11", "--deadline", "5"][..],
            &[
                "drain",
                "-t",
                "10.0.0.1:80",
                "-u",
                "10.0.0.1:53",
                "-r",
                "10.0.0.11",
                "--deadline",
                "5",
            ],
            &["drain", "-t", "10.0.0.1:80", "-r", "10.0.0.11"],
            &[
                "drain",
                "-t",
                "10.0.0.1",
                "-r",
                "10.0.0.11",
                "--deadline",
                "5",
            ],
            &[
                "drain",
                "-t",
                "10.0.0.1:80",
                "-r",
                "web1",
                "--deadline",
                "5",
            ],
            &[
                "-L",
                "drain",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.0.0.11",
                "--deadline",
                "5",
            ],
        ] {
            let code = parse(bad).expect_err(&format!("{bad:?} parsed"));
            assert_eq!(code, 2, "{bad:?}");
        }
    }

    fn real(health: Option<RealHealthView>) -> RealServerView {
        RealServerView {
            address: "10.0.0.11".parse().unwrap(),
            port: 80,
            forwarding: "tun".into(),
            weight: 2,
            active_conns: 1,
            inactive_conns: 0,
            stats: StatsView::default(),
            health,
            ..Default::default()
        }
    }

    #[test]
    fn drain_answers_and_health_table() {
        let draining = RealHealthView {
            state: "up".into(),
            effective_weight: 0,
            sorry_server: false,
            check: Some(CheckView {
                kind: "http".into(),
                target: "10.0.0.11:80".into(),
                successes: 4,
                failures: 0,
                checks_ok: 4,
                checks_failed: 1,
                last_duration_us: Some(1250),
                last_error: None,
                since_secs: 3,
            }),
            draining: Some(DrainView {
                remaining_secs: 30,
                expired: false,
                connections: 1,
            }),
        };
        let resp = Response::RealServer {
            protocol: "tcp".into(),
            vip: "10.0.0.100".parse().unwrap(),
            port: 80,
            real: real(Some(draining.clone())),
        };
        assert_eq!(
            render_real(&resp, false).unwrap(),
            "10.0.0.11:80 of TCP 10.0.0.100:80: draining, 1 connection left, removed in 30 s\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&render_real(&resp, true).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["real"]["health"]["draining"]["remaining_secs"], 30);
        assert_eq!(
            v["real"]["health"]["check"]["last_error"],
            serde_json::Value::Null
        );
        let svc = ServiceView {
            protocol: "tcp".into(),
            vip: "10.0.0.100".parse().unwrap(),
            port: 80,
            scheduler: "mh".into(),
            sched_flags: vec![],
            persistent: None,
            stats: StatsView::default(),
            real_servers: vec![real(Some(draining))],
            health: Some(ServiceHealthView {
                up: false,
                sorry_server_active: false,
                fallback: "drop".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            health_table(&[svc]),
            "TCP 10.0.0.100:80  DOWN (new connections dropped)\n  \
             -> 10.0.0.11:80                 up        weight 2 (effective 0)  http 10.0.0.11:80: ok 4 failed 1, last 1.2 ms  draining: 1 connections, removed in 30 s\n"
        );
    }
}
