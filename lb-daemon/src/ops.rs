//! lbd's answers to control requests (`lb_common::api::Op`), made under the daemon's lock:
//! a changing request is applied whole before the next request is looked at.

use std::{collections::HashMap, net::IpAddr};

use lb_common::{
    CONN_F_REPLY, CONN_S_CLOSING, CONN_S_ESTABLISHED, CONN_S_SYN, CONN_S_UDP, PROTO_TCP, PROTO_UDP,
    REASON_NAMES,
    api::{ConnView, Edit, Op, Response, ServiceKey, StatusView},
};
use tracing::{info, warn};

use crate::{
    config::{Config, ConfigError, ConfigErrors, Protocol},
    conntrack::monotonic_ns,
    control,
    daemon::Daemon,
    state::{ApplyError, addr_of},
};

/// Answers one request.
pub fn answer(d: &mut Daemon, op: &Op) -> Response {
    match op {
        Op::Drain { .. } | Op::Undrain { .. } => crate::health::drain_op(d, op),
        // handle_client gives a trace its own connection before it gets here.
        Op::Trace { .. } => error("a trace streams: send it on a connection of its own"),
        Op::List => list(d),
        Op::Status => status(d),
        Op::Edit { edits } => edit(d, edits),
        Op::Apply {
            config,
            source,
            dry_run,
        } => match Config::parse(config, source) {
            Err(e) => error(e.to_string()),
            Ok(cfg) => match commit(d, cfg, *dry_run) {
                Ok(changes) => Response::Applied {
                    changes,
                    dry_run: *dry_run,
                },
                Err(e) => error(e.describe(source)),
            },
        },
        Op::GetConfig => match serde_json::to_string_pretty(&desired(d)) {
            Ok(mut config) => {
                config.push('\n');
                Response::Config { config }
            }
            Err(e) => error(format!("cannot encode the config: {e}")),
        },
        Op::Zero { service } => zero(d, service.as_ref()),
        Op::Timeouts => {
            let t = desired(d).timeouts;
            Response::Timeouts {
                tcp: t.tcp,
                tcpfin: t.tcpfin,
                udp: t.udp,
            }
        }
        Op::Connections => connections(d),
    }
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
        edit: None,
    }
}

/// The desired state: the config last applied, as the user gave it (health checks and drains
/// make an effective one of it for the maps).
pub fn desired(d: &Daemon) -> Config {
    d.health
        .desired()
        .cloned()
        .unwrap_or_else(|| d.started.clone())
}

/// Why a change was not made.
#[derive(Debug)]
pub enum CommitError {
    /// Settings that need a restart of lbd differ: nothing was changed.
    Restart(Vec<ConfigError>),
    /// The maps could not be written (the previous state was restored as far as possible).
    Apply(String),
}

impl CommitError {
    /// The error as a person reads it; `source` names the config.
    pub fn describe(&self, source: &str) -> String {
        match self {
            CommitError::Restart(errors) => ConfigErrors {
                source_name: source.into(),
                errors: errors.clone(),
            }
            .to_string(),
            CommitError::Apply(m) => m.clone(),
        }
    }
}

/// Makes `new` (already validated) the desired state: checks that only runtime settings
/// change, applies it to the maps, persists it. Returns the changes (nothing is done when
/// there are none, or with `dry_run`).
pub fn commit(d: &mut Daemon, new: Config, dry_run: bool) -> Result<Vec<String>, CommitError> {
    let restart = control::restart_only_changes(&d.started, &new);
    if !restart.is_empty() {
        return Err(CommitError::Restart(restart));
    }
    let old = desired(d);
    let mut changes = control::diff(&old, &new);
    if dry_run || changes.is_empty() {
        return Ok(changes);
    }
    if let Err(e) = crate::daemon::enable_forwarding(&new) {
        return Err(CommitError::Apply(format!("{e:#}")));
    }
    d.conntrack.timeouts = new.timeouts;
    let Daemon {
        dp, state, health, ..
    } = d;
    let mut applied = crate::health::apply(health, state, dp, &new);
    if let Err(ApplyError::TableFull(_)) = applied {
        // Tables replaced in the last second are still quarantined (a packet may still read
        // them): a burst of changes to large tables can find no free region yet. Once the
        // quarantine is over there is room again; applying again finishes the change.
        std::thread::sleep(crate::state::REGION_QUARANTINE + std::time::Duration::from_millis(50));
        applied = crate::health::apply(health, state, dp, &new);
    }
    if let Err(e) = applied {
        d.conntrack.timeouts = old.timeouts;
        let back = crate::health::apply(&mut d.health, &mut d.state, &mut d.dp, &old).err();
        return Err(CommitError::Apply(match back {
            None => format!("Memory allocation problem: {e} (the previous state is kept)"),
            Some(b) => format!(
                "Memory allocation problem: {e}; restoring the previous state failed too: {b}"
            ),
        }));
    }
    info!(changes = changes.len(), "new state applied");
    if let Some(p) = &d.state_file
        && let Err(e) = control::persist(p, &new)
    {
        warn!(path = %p.display(), "state not persisted: {e}");
        changes.push(format!(
            "! applied, but the state file {} could not be written: {e}",
            p.display()
        ));
    }
    Ok(changes)
}

fn edit(d: &mut Daemon, edits: &[Edit]) -> Response {
    match control::edit_config(&desired(d), edits) {
        Err(e) => Response::Error {
            message: e.message,
            edit: e.edit,
        },
        Ok(new) => match commit(d, new, false) {
            Ok(changes) => Response::Applied {
                changes,
                dry_run: false,
            },
            Err(e) => error(e.describe("the edited state")),
        },
    }
}

fn list(d: &Daemon) -> Response {
    let mut services = match d.views() {
        Ok(s) => s,
        Err(e) => return error(e.to_string()),
    };
    let mut persist_conns: HashMap<u32, u64> = HashMap::new();
    if services.iter().any(|s| s.persistent.is_some()) {
        for (_, t) in d.dp.persist_templates() {
            *persist_conns.entry(t.real).or_default() += 1;
        }
    }
    for (svc, (_, rids)) in services.iter_mut().zip(d.state.view_ids()) {
        for (r, rid) in svc.real_servers.iter_mut().zip(rids) {
            r.persist_conns = persist_conns.get(&rid).copied().unwrap_or(0);
        }
    }
    Response::Services {
        conn_table_size: d.dp.conn_capacity(),
        services,
    }
}

fn status(d: &Daemon) -> Response {
    match d.dp.reasons() {
        Err(e) => error(e.to_string()),
        Ok(reasons) => Response::Status(StatusView {
            version: env!("CARGO_PKG_VERSION").into(),
            interface: d.interface.clone(),
            xdp_mode: d.xdp_mode.to_string(),
            services: d.state.service_count(),
            real_servers: d.state.real_count(),
            connections: d.dp.conn_table_entries(),
            connection_capacity: d.dp.conn_table_capacity(),
            reasons: REASON_NAMES
                .iter()
                .zip(reasons)
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            services_down: d.health.services_down(),
        }),
    }
}

fn zero(d: &mut Daemon, service: Option<&ServiceKey>) -> Response {
    let ids = d.state.view_ids();
    let targets: Vec<(u32, Vec<u32>)> = match service {
        None => ids,
        Some(k) => {
            let found = d
                .state
                .service_keys()
                .into_iter()
                .find(|(_, p, vip, port)| {
                    p.name() == k.protocol && *vip == k.vip && *port == k.port
                });
            match found {
                None => return error("No such service"),
                Some((sid, ..)) => ids.into_iter().filter(|(s, _)| *s == sid).collect(),
            }
        }
    };
    for (sid, rids) in targets {
        if let Err(e) = d.dp.zero_service_stats(sid) {
            return error(e.to_string());
        }
        d.rates.zero_service(sid);
        for rid in rids {
            if let Err(e) = d.dp.zero_real_stats(rid) {
                return error(e.to_string());
            }
            d.rates.zero_real(rid);
        }
    }
    Response::Applied {
        changes: Vec::new(),
        dry_run: false,
    }
}

/// IPVS's names of the states lb tracks.
fn state_name(state: u8) -> &'static str {
    match state {
        CONN_S_SYN => "SYN_RECV",
        CONN_S_ESTABLISHED => "ESTABLISHED",
        CONN_S_CLOSING => "FIN_WAIT",
        CONN_S_UDP => "UDP",
        _ => "NONE",
    }
}

fn connections(d: &Daemon) -> Response {
    let now = monotonic_ns();
    let secs_left =
        |limit_ns: u64, idle_ns: u64| -> u64 { limit_ns.saturating_sub(idle_ns) / 1_000_000_000 };
    let real = |id: u32, vport: u16| -> Option<(IpAddr, u16)> {
        let r = d.dp.real(id).ok()?;
        if r.family == 0 {
            return None;
        }
        let port = u16::from_be(r.port);
        Some((
            addr_of(&r.addr, r.family),
            if port == 0 { vport } else { port },
        ))
    };
    let mut out = Vec::new();
    for (k, c) in d.dp.connections() {
        if c.flags & CONN_F_REPLY != 0 {
            continue;
        }
        let vport = u16::from_be(k.dport);
        let Some((raddr, rport)) = real(c.real, vport) else {
            continue;
        };
        out.push(ConnView {
            protocol: match k.proto {
                PROTO_TCP => "tcp",
                PROTO_UDP => "udp",
                _ => "?",
            }
            .into(),
            state: state_name(c.state).into(),
            expires: secs_left(
                d.conntrack.timeouts.for_state(c.state),
                lb_common::idle_ns(now, c.last_seen),
            ),
            client: addr_of(&k.src, k.family),
            client_port: u16::from_be(k.sport),
            vip: addr_of(&k.dst, k.family),
            vport,
            real: raddr,
            real_port: rport,
            template: false,
        });
    }
    let services: HashMap<u32, (Protocol, IpAddr, u16)> = d
        .state
        .service_keys()
        .into_iter()
        .map(|(id, p, vip, port)| (id, (p, vip, port)))
        .collect();
    let timeouts = d.state.persist_timeouts();
    for (k, t) in d.dp.persist_templates() {
        let (Some((proto, vip, port)), Some(timeout)) =
            (services.get(&k.service), timeouts.get(&k.service))
        else {
            continue;
        };
        let Some((raddr, rport)) = real(t.real, *port) else {
            continue;
        };
        out.push(ConnView {
            protocol: proto.name().into(),
            state: "NONE".into(),
            expires: secs_left(
                *timeout as u64 * 1_000_000_000,
                now.saturating_sub(t.last_seen_ns),
            ),
            client: addr_of(&k.addr, k.family),
            client_port: 0,
            vip: *vip,
            vport: *port,
            real: raddr,
            real_port: rport,
            template: true,
        });
    }
    out.sort_by(|a, b| {
        (
            &a.protocol,
            a.client,
            a.client_port,
            a.vip,
            a.vport,
            a.template,
        )
            .cmp(&(
                &b.protocol,
                b.client,
                b.client_port,
                b.vip,
                b.vport,
                b.template,
            ))
    });
    Response::Connections { connections: out }
}
