//! `lbctl drain` and `undrain`: a real server stops taking new connections, and the ones it
//! still has are removed at a deadline.

use std::time::{Duration, Instant};

use lb_model::api::{Op, Response};
use lb_model::{
    Named, Protocol,
    config::{RealKey, ServiceKey},
};
use tracing::info;

use crate::{context::Context, health::MAX_DRAIN_SECS};

/// `Op::Drain` and `Op::Undrain`.
pub(super) fn drain_op(d: &mut Context, op: &Op) -> Response {
    let (protocol, vip, port, address, real_port, deadline) = match op {
        Op::Drain {
            protocol,
            vip,
            port,
            address,
            real_port,
            deadline_secs,
        } => (
            protocol,
            vip,
            port,
            address,
            real_port,
            Some(*deadline_secs),
        ),
        Op::Undrain {
            protocol,
            vip,
            port,
            address,
            real_port,
        } => (protocol, vip, port, address, real_port, None),
        _ => {
            return Response::Error {
                message: "not a drain request".into(),
                edit: None,
            };
        }
    };
    let err = |message: String| Response::Error {
        message,
        edit: None,
    };
    let protocol: Protocol = match protocol.parse() {
        Ok(p) => p,
        Err(_) => return err(format!("protocol: {protocol:?} is not tcp, udp or sctp")),
    };
    let key = RealKey {
        service: ServiceKey::vip(protocol, *vip, *port),
        address: *address,
        port: *real_port,
    };
    let Context {
        dp, plan, health, ..
    } = d;
    let r = match deadline {
        Some(s) if s > MAX_DRAIN_SECS => {
            return err(format!(
                "deadline_secs: {s} is out of range (0 to {MAX_DRAIN_SECS})"
            ));
        }
        Some(s) => plan
            .drain(key, Duration::from_secs(s))
            .inspect(|()| info!(%key, deadline_secs = s, "draining")),
        None => plan.undrain(key).map(|was| {
            if was {
                info!(%key, "drain ended: back in scheduling");
            }
        }),
    };
    if let Err(e) = r {
        return err(e);
    }
    if let Err(e) = plan.reapply(dp) {
        return err(format!("applying the effective config: {e}"));
    }
    // A deadline of 0 takes effect now.
    health.expire_due(plan, dp, Instant::now());
    match d.views() {
        Ok(services) => {
            let real = services
                .iter()
                .find(|s| {
                    s.protocol == protocol.name()
                        && s.vip == key.service.vip
                        && s.port == key.service.port
                })
                .and_then(|s| {
                    s.real_servers
                        .iter()
                        .find(|r| r.address == key.address && r.port == key.port)
                })
                .cloned();
            match real {
                Some(real) => Response::RealServer {
                    protocol: protocol.name().into(),
                    vip: key.service.vip,
                    port: key.service.port,
                    real,
                },
                None => err(format!("{key} is not in the listing")),
            }
        }
        Err(e) => err(e.to_string()),
    }
}
