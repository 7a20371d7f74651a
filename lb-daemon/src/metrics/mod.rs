//! The metrics endpoint (a door on top of the context): `GET /metrics` over HTTP/1
//! (`metrics_listen` in the config; loopback by default), served by hyper on a small tokio
//! runtime of its own so that no client can hold it: every connection is a task, a client
//! gets [`HEADER_TIMEOUT`] to send its request head of at most [`MAX_HEADER_BYTES`], at most
//! [`MAX_CONNECTIONS`] are open at once, and a scrape takes the daemon's lock only while it
//! copies what it shows ([`exposition`]). Other paths get 404, other methods 405.

pub mod exposition;

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{ALLOW, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tracing::{debug, warn};

pub use self::exposition::{Snapshot, render};
use crate::context::Context;

/// Default address of the metrics endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9406";

/// How long a client has to send its request line and headers (for each request on a kept-alive
/// connection too); then the connection is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest request line and headers together; a larger head is answered 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The most headers a request may have; more are answered 431.
pub const MAX_HEADERS: usize = 64;

/// Connections open at once; one more is closed at once.
pub const MAX_CONNECTIONS: usize = 256;

/// What a scrape answers: the exposition text, or None when the data plane cannot be read.
pub type Scraper = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Binds `addr` (an error now if it cannot), then serves the daemon's metrics on a thread of
/// its own until the process ends.
pub fn serve(addr: SocketAddr, daemon: Arc<Mutex<Context>>) -> std::io::Result<SocketAddr> {
    serve_with(
        addr,
        Arc::new(move || {
            let snap = {
                let d = daemon.lock().unwrap_or_else(|e| e.into_inner());
                Snapshot::of(&d)
            };
            snap.map(render)
        }),
    )
}

/// Serves what `scrape` makes; returns the bound address.
pub fn serve_with(addr: SocketAddr, scrape: Scraper) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(4)
        .thread_name("lbd-metrics")
        .build()?;
    std::thread::Builder::new()
        .name("lbd-metrics".into())
        .spawn(move || rt.block_on(accept_loop(std_listener, scrape)))?;
    Ok(bound)
}

async fn accept_loop(l: std::net::TcpListener, scrape: Scraper) {
    let l = match tokio::net::TcpListener::from_std(l) {
        Ok(l) => l,
        Err(e) => {
            warn!("metrics endpoint: {e}");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .max_headers(MAX_HEADERS);
    loop {
        let (stream, peer) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                debug!("metrics endpoint: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "metrics endpoint: {MAX_CONNECTIONS} connections open, closing one more");
            continue;
        };
        let conn = http.serve_connection(
            TokioIo::new(stream),
            service_fn({
                let scrape = scrape.clone();
                move |req| answer(req, scrape.clone())
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(%peer, "metrics client: {e}");
            }
            drop(slot);
        });
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        "text/plain; charset=utf-8".parse().expect("a valid header"),
    );
    r
}

/// One request: `GET` (or `HEAD`) of `/metrics` is a scrape.
async fn answer(
    req: Request<Incoming>,
    scrape: Scraper,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = if req.uri().path() != "/metrics" {
        plain(StatusCode::NOT_FOUND, "not found: lbd serves /metrics\n")
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: GET or HEAD\n",
        );
        r.headers_mut()
            .insert(ALLOW, "GET, HEAD".parse().expect("a valid header"));
        r
    } else {
        // The daemon's lock is a std mutex other threads hold for whole changes: taken off
        // the runtime's thread, so that other connections go on meanwhile.
        let body = tokio::task::spawn_blocking(move || scrape())
            .await
            .ok()
            .flatten();
        match body {
            Some(b) => {
                let mut r = Response::new(Full::new(Bytes::from(b)));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    exposition::CONTENT_TYPE.parse().expect("a valid header"),
                );
                r
            }
            None => {
                warn!("metrics: reading the data plane failed");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "reading the data plane failed\n",
                )
            }
        }
    };
    // An HTTP/1.0 client is answered in its version (hyper closes the connection after it).
    *resp.version_mut() = req.version();
    Ok(resp)
}
