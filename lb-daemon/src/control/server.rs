//! The control socket: a Unix socket (mode 0600) where each request is one JSON line and
//! each answer one JSON line back ([`answer`] makes it); a trace takes its connection for
//! itself. Lines are read with bounds ([`super::framing`]), clients are served at most
//! [`MAX_CLIENTS`] at once, and a client that does not read its answers is given up after
//! [`WRITE_TIMEOUT`].

use std::{
    io::Write,
    os::unix::{
        fs::PermissionsExt,
        net::{UnixListener, UnixStream},
    },
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use lb_model::api::{API_VERSION, Op, Request, Response};
use tracing::{debug, warn};

use super::{
    answer::answer,
    framing::{Budget, Requests},
};
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

/// Clients served at once; one more is answered with an error and closed at once, so that
/// lbd's threads and memory stay bounded whatever connects.
pub const MAX_CLIENTS: usize = 64;

/// How long an answer may wait for the client to read it before lbd gives the client up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the control socket until the process ends: one thread per client, at most
/// [`MAX_CLIENTS`] at once, all of them reading within one [`Budget`].
pub fn serve(l: UnixListener, daemon: Arc<Mutex<Context>>) {
    let clients = Arc::new(AtomicUsize::new(0));
    let budget = Budget::default();
    for conn in l.incoming() {
        match conn {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                    clients.fetch_sub(1, Ordering::SeqCst);
                    let _ = reply(
                        &s,
                        &error(format!(
                            "lbd is serving {MAX_CLIENTS} clients already; try again"
                        )),
                    );
                    continue;
                }
                let (d, n, b) = (daemon.clone(), clients.clone(), budget.clone());
                std::thread::spawn(move || {
                    if let Err(e) = handle_client(Requests::new(s, b), &d) {
                        debug!("control client: {e:#}");
                    }
                    n.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) => warn!("control socket: {e}"),
        }
    }
}

fn error(message: String) -> Response {
    Response::Error {
        message,
        edit: None,
    }
}

/// One answer line.
fn reply(mut w: &UnixStream, resp: &Response) -> Result<()> {
    let mut out = serde_json::to_string(resp)?;
    out.push('\n');
    w.write_all(out.as_bytes())?;
    Ok(())
}

/// One client's requests, one JSON line each, answered in turn; every line gets one answer,
/// an error for one that cannot be read.
fn handle_client(mut requests: Requests, daemon: &Mutex<Context>) -> Result<()> {
    loop {
        let line = match requests.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) => {
                reply(requests.stream(), &error(e.to_string()))?;
                if e.keeps_connection() {
                    continue;
                }
                return Ok(());
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let resp = match serde_json::from_str::<Request>(&line) {
            Err(e) => error(format!("bad request: {e}")),
            Ok(req) if req.v != API_VERSION => error(format!(
                "request is API version {}, this lbd speaks version {API_VERSION}",
                req.v
            )),
            Ok(req) if matches!(req.op, Op::Trace { .. }) => {
                // A trace takes the connection until the client closes it.
                let mut w = requests.stream().try_clone()?;
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
        reply(requests.stream(), &resp)?;
    }
}
