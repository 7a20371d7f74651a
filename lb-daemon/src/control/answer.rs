//! lbd's answers to control requests (`lb_model::api::Op`), made under the context's lock:
//! a changing request is applied whole before the next request is looked at.

use std::collections::HashMap;

use lb_common::REASON_NAMES;
use lb_model::api::{Edit, Op, Response, ServiceKey, StatusView};
use lb_model::config::Config;

use super::{
    commit::commit, connections::connections, daemon::daemon_op, director::director_op,
    drain::drain_op, edit::edit_config,
};
use crate::context::Context;

/// Answers one request.
pub fn answer(d: &mut Context, op: &Op) -> Response {
    match op {
        Op::Drain { .. } | Op::Undrain { .. } => drain_op(d, op),
        Op::Director { action } => director_op(d, *action),
        Op::StartDaemon { .. } | Op::StopDaemon { .. } | Op::Daemons => daemon_op(d, op),
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
        Op::GetConfig => match serde_json::to_string_pretty(d.desired()) {
            Ok(mut config) => {
                config.push('\n');
                Response::Config { config }
            }
            Err(e) => error(format!("cannot encode the config: {e}")),
        },
        Op::Zero { service } => zero(d, service.as_ref()),
        Op::Timeouts => {
            let t = d.desired().timeouts;
            Response::Timeouts {
                tcp: t.tcp,
                tcpfin: t.tcpfin,
                udp: t.udp,
            }
        }
        Op::Connections => connections(d),
        Op::CpuStats => match d.cpu_stats() {
            Ok((per_cpu, rate)) => Response::CpuStats {
                per_cpu: per_cpu.into_iter().map(Into::into).collect(),
                rate,
            },
            Err(e) => error(e.to_string()),
        },
    }
}

pub(super) fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
        edit: None,
    }
}

fn edit(d: &mut Context, edits: &[Edit]) -> Response {
    match edit_config(d.desired(), edits) {
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

fn list(d: &Context) -> Response {
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
    for (svc, st) in services.iter_mut().zip(d.plan.services()) {
        for (r, rs) in svc.real_servers.iter_mut().zip(&st.reals) {
            r.persist_conns = persist_conns.get(&rs.id).copied().unwrap_or(0);
        }
    }
    Response::Services {
        conn_table_size: d.dp.conn_capacity(),
        services,
    }
}

fn status(d: &Context) -> Response {
    match d.dp.reasons() {
        Err(e) => error(e.to_string()),
        Ok(reasons) => Response::Status(StatusView {
            version: env!("CARGO_PKG_VERSION").into(),
            interface: d.interfaces.first().cloned().unwrap_or_default(),
            interfaces: d.interfaces.clone(),
            links: d.link_views(),
            xdp_mode: d.xdp_mode.to_string(),
            services: d.plan.service_count(),
            real_servers: d.plan.real_count(),
            connections: d.dp.conn_table_entries(),
            connection_capacity: d.dp.conn_table_capacity(),
            reasons: REASON_NAMES
                .iter()
                .zip(reasons)
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            services_down: d.plan.services_down(),
        }),
    }
}

fn zero(d: &mut Context, service: Option<&ServiceKey>) -> Response {
    let ids: Vec<(u32, Vec<u32>)> = d
        .plan
        .services()
        .iter()
        .map(|s| (s.id, s.reals.iter().map(|r| r.id).collect()))
        .collect();
    let targets: Vec<(u32, Vec<u32>)> = match service {
        None => ids,
        Some(k) => {
            let found = super::edit::service_key(k)
                .ok()
                .and_then(|k| d.plan.service_id(&k));
            match found {
                None => return error("No such service"),
                Some(sid) => ids.into_iter().filter(|(s, _)| *s == sid).collect(),
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
