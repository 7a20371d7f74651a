//! The control socket: a Unix socket (mode 0600) where each request is one JSON line and
//! each answer one JSON line back ([`answer`] makes it); a trace takes its connection for
//! itself.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::{
        fs::PermissionsExt,
        net::{UnixListener, UnixStream},
    },
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use lb_model::api::{API_VERSION, Op, Request, Response};
use tracing::warn;

use super::answer::answer;
use crate::{context::Context, host};

/// Binds the control socket (mode 0600); a stale socket is replaced, a live one refused.
pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!(
                "another lbd is serving {} (stop it, or use --socket)",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let l = UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves the control socket until the process ends: one thread per client.
pub fn serve(l: UnixListener, daemon: Arc<Mutex<Context>>) {
    for conn in l.incoming() {
        match conn {
            Ok(s) => {
                let d = daemon.clone();
                std::thread::spawn(move || {
                    if let Err(e) = handle_client(s, &d) {
                        warn!("control client: {e:#}");
                    }
                });
            }
            Err(e) => warn!("control socket: {e}"),
        }
    }
}

/// One client's requests, one JSON line each, answered in turn.
fn handle_client(s: UnixStream, daemon: &Mutex<Context>) -> Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    for line in BufReader::new(s).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let resp = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
                edit: None,
            },
            Ok(req) if req.v != API_VERSION => Response::Error {
                message: format!(
                    "request is API version {}, this lbd speaks version {API_VERSION}",
                    req.v
                ),
                edit: None,
            },
            Ok(req) if matches!(req.op, Op::Trace { .. }) => {
                // A trace takes the connection until the client closes it.
                return crate::trace::stream(&req.op, &mut w, daemon);
            }
            Ok(req) => {
                let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
                let before = d.desired().real_addrs();
                let resp = answer(&mut d, &req.op);
                let mut added = d.desired().real_addrs();
                drop(d);
                // New real servers need their neighbour entries before traffic reaches them.
                added.retain(|a| before.binary_search(a).is_err());
                if !added.is_empty() {
                    std::thread::spawn(move || host::neigh::warm_initial(&added));
                }
                resp
            }
        };
        let mut out = serde_json::to_string(&resp)?;
        out.push('\n');
        w.write_all(out.as_bytes())?;
    }
    Ok(())
}
