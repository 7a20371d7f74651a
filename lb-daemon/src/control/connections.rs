//! The connection table and the persistence templates as ipvsadm `-L -c` lists them.

use std::net::IpAddr;

use lb_common::{CONN_F_REPLY, state_name};
use lb_model::api::{ConnView, Response};
use lb_model::{Named, addr::addr_of};

use crate::{context::Context, dataplane::monotonic_ns};

pub(super) fn connections(d: &Context) -> Response {
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
            protocol: lb_model::Protocol::from_number(k.proto)
                .map(|p| p.name())
                .unwrap_or("?")
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
    let services = d.plan.service_keys();
    let timeouts = d.plan.persist_timeouts();
    for (k, t) in d.dp.persist_templates() {
        let (Some(svc), Some(timeout)) = (services.get(&k.service), timeouts.get(&k.service))
        else {
            continue;
        };
        let Some((raddr, rport)) = real(t.real, svc.port) else {
            continue;
        };
        out.push(ConnView {
            protocol: svc.protocol.name().into(),
            state: "NONE".into(),
            expires: secs_left(
                *timeout as u64 * 1_000_000_000,
                now.saturating_sub(t.last_seen_ns),
            ),
            client: addr_of(&k.addr, k.family),
            client_port: 0,
            vip: svc.vip,
            vport: svc.port,
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
