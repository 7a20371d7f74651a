//! The client side of lbd's control socket: one JSON request line out, one JSON response line
//! back (`lb_model::api`).

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use lb_model::api::{API_VERSION, MAX_REQUEST_BYTES, Op, Request, Response};

/// How long lbctl waits for lbd to accept, read and answer before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long lbctl waits for the answer to a change (`Op::Edit`, `Op::Apply`): lbd answers once
/// the change is applied and durable, which for thousands of services on a loaded machine takes
/// longer than a read, and a change given up on is still applied: waiting less would report a
/// failure for a change that happens.
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest response line lbctl accepts (a table of many thousands of real servers fits).
const MAX_RESPONSE: u64 = 64 << 20;

#[derive(Clone, Debug)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    change_timeout: Duration,
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            timeout: DEFAULT_TIMEOUT,
            change_timeout: CHANGE_TIMEOUT,
        }
    }

    /// Waits `timeout` for every answer, changes included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.change_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `op` and returns lbd's answer, turning `Response::Error` into a [`Refused`]
    /// error.
    pub fn call(&self, op: Op) -> Result<Response> {
        match self.request(op)? {
            Response::Error { message, edit } => Err(Refused { message, edit }.into()),
            response => Ok(response),
        }
    }

    /// Sends `op` and returns lbd's answer as is (including `Response::Error`).
    pub fn request(&self, op: Op) -> Result<Response> {
        let at = self.path.display();
        let mut stream =
            UnixStream::connect(&self.path).map_err(|e| connect_error(&self.path, &e))?;
        let read_timeout = match op {
            Op::Edit { .. } | Op::Apply { .. } => self.change_timeout,
            _ => self.timeout,
        };
        stream
            .set_read_timeout(Some(read_timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.timeout)))
            .with_context(|| format!("cannot configure the socket to lbd at {at}"))?;

        let mut line = serde_json::to_string(&Request { v: API_VERSION, op })
            .context("cannot encode the request")?;
        if line.len() > MAX_REQUEST_BYTES {
            bail!(
                "the request is {} bytes; lbd reads requests of at most {MAX_REQUEST_BYTES} bytes",
                line.len()
            );
        }
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| io_error("cannot send the request to lbd", &self.path, &e))?;

        let mut reader = BufReader::new(stream.take(MAX_RESPONSE));
        let mut answer = String::new();
        let n = reader
            .read_line(&mut answer)
            .map_err(|e| io_error("cannot read lbd's answer", &self.path, &e))?;
        if n == 0 {
            return Err(Unavailable(format!(
                "lbd at {at} closed the connection without answering"
            ))
            .into());
        }
        if !answer.ends_with('\n') && n as u64 >= MAX_RESPONSE {
            bail!("lbd's answer at {at} is larger than {MAX_RESPONSE} bytes");
        }
        serde_json::from_str(answer.trim_end())
            .with_context(|| format!("invalid answer from lbd at {at}"))
    }
}

/// lbd refused a request: its message (in ipvsadm's words where ipvsadm has some), and for an
/// edit batch the index of the edit it refused. lbctl prints the message as it is, as
/// ipvsadm prints libipvs's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub message: String,
    pub edit: Option<usize>,
}

/// lbd could not be reached, or did not answer: the message says which and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// `io::Error`'s text without the " (os error N)" suffix std appends to OS errors.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match e.raw_os_error() {
        Some(code) => s
            .strip_suffix(&format!(" (os error {code})"))
            .map(str::to_owned)
            .unwrap_or(s),
        None => s,
    }
}

fn connect_error(path: &Path, e: &io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => " (is lbd running?)",
        io::ErrorKind::PermissionDenied => {
            " (lbctl needs the rights to lbd's socket; run it as root?)"
        }
        _ => "",
    };
    Unavailable(format!(
        "cannot connect to lbd at {}: {}{hint}",
        path.display(),
        strerror(e)
    ))
    .into()
}

fn io_error(what: &str, path: &Path, e: &io::Error) -> anyhow::Error {
    let message = if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        format!("{what} at {}: timed out", path.display())
    } else {
        format!("{what} at {}: {}", path.display(), strerror(e))
    };
    Unavailable(message).into()
}

#[cfg(test)]
mod tests {
    use std::{
        os::unix::net::UnixListener,
        sync::atomic::{AtomicUsize, Ordering},
        thread,
    };

    use super::*;

    /// A fresh socket path in the temporary directory, removed on drop.
    struct TempSock(PathBuf);

    impl TempSock {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("lbctl-test-{}-{n}.sock", std::process::id()));
            let _ = std::fs::remove_file(&p);
            Self(p)
        }
    }

    impl Drop for TempSock {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Serves one connection: checks the request line, answers `answer` verbatim.
    fn serve_once(
        sock: &TempSock,
        expect: &'static str,
        answer: &'static str,
    ) -> thread::JoinHandle<()> {
        let listener = UnixListener::bind(&sock.0).unwrap();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, expect);
            (&stream).write_all(answer.as_bytes()).unwrap();
        })
    }

    #[test]
    fn missing_socket_names_path_and_hint() {
        let sock = TempSock::new();
        let err = Client::new(&sock.0).call(Op::List).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to lbd at {}: No such file or directory (is lbd running?)",
                sock.0.display()
            )
        );
    }

    #[test]
    fn stale_socket_is_refused() {
        let sock = TempSock::new();
        drop(UnixListener::bind(&sock.0).unwrap()); // the file stays, nobody listens
        let err = Client::new(&sock.0).call(Op::Status).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to lbd at {}: Connection refused (is lbd running?)",
                sock.0.display()
            )
        );
    }

    #[test]
    fn round_trip() {
        let sock = TempSock::new();
        let server = serve_once(
            &sock,
            "{\"v\":2,\"op\":\"list\"}\n",
            "{\"result\":\"services\",\"conn_table_size\":4096,\"services\":[]}\n",
        );
        let resp = Client::new(&sock.0).call(Op::List).unwrap();
        server.join().unwrap();
        assert_eq!(
            resp,
            Response::Services {
                conn_table_size: 4096,
                services: vec![]
            }
        );
    }

    #[test]
    fn daemon_error_becomes_error() {
        let sock = TempSock::new();
        let server = serve_once(
            &sock,
            "{\"v\":2,\"op\":\"status\"}\n",
            "{\"result\":\"error\",\"message\":\"api version 1 not supported (lbd speaks 2)\"}\n",
        );
        let err = Client::new(&sock.0).call(Op::Status).unwrap_err();
        server.join().unwrap();
        assert_eq!(
            err.downcast_ref::<Refused>(),
            Some(&Refused {
                message: "api version 1 not supported (lbd speaks 2)".into(),
                edit: None
            })
        );
    }

    #[test]
    fn hang_up_and_garbage() {
        let sock = TempSock::new();
        let server = serve_once(&sock, "{\"v\":2,\"op\":\"list\"}\n", "");
        let err = Client::new(&sock.0).call(Op::List).unwrap_err();
        server.join().unwrap();
        assert!(
            err.to_string()
                .ends_with("closed the connection without answering"),
            "{err}"
        );
        drop(sock);

        let sock = TempSock::new();
        let server = serve_once(&sock, "{\"v\":2,\"op\":\"list\"}\n", "not json\n");
        let err = Client::new(&sock.0).call(Op::List).unwrap_err();
        server.join().unwrap();
        assert!(
            err.to_string().starts_with("invalid answer from lbd at "),
            "{err}"
        );
    }

    #[test]
    fn silent_daemon_times_out() {
        let sock = TempSock::new();
        let listener = UnixListener::bind(&sock.0).unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(500));
            drop(stream);
        });
        let err = Client::new(&sock.0)
            .with_timeout(Duration::from_millis(50))
            .call(Op::List)
            .unwrap_err();
        server.join().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read lbd's answer at {}: timed out",
                sock.0.display()
            )
        );
    }
}
