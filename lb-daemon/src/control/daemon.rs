//! ipvsadm's `--start-daemon`, `--stop-daemon` and `-L --daemon`: lbd's connection-sync
//! daemons, started and stopped while it runs (not persisted: the config's `sync` section
//! is what starts with lbd).

use lb_model::api::{Op, Response};

use super::answer::error;
use crate::context::Context;

/// `Op::StartDaemon`, `Op::StopDaemon`, `Op::Daemons`.
pub(super) fn daemon_op(d: &mut Context, op: &Op) -> Response {
    match op {
        Op::StartDaemon { role, options } => {
            if let Some(e) = options.errors().first() {
                return error(e.to_string());
            }
            let first = d.interfaces.first().cloned().unwrap_or_default();
            if let Err(e) = d.sync.start(*role, options, &first) {
                return error(e.to_string());
            }
        }
        Op::StopDaemon { role } => {
            if !d.sync.stop(*role) {
                // ipvsadm's words for the kernel's ESRCH.
                return error("No daemon is running");
            }
        }
        Op::Daemons => {}
        _ => return error("not a sync daemon request"),
    }
    Response::Daemons {
        daemons: d.sync.views(),
    }
}
