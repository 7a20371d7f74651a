//! The control socket's framing: one request per line, read with bounds, so that no client can
//! make lbd hold unbounded memory or a thread forever. A request line is at most
//! [`MAX_REQUEST_BYTES`] and must arrive whole within [`REQUEST_TIMEOUT`] of the connection
//! or of the previous answer; all clients' unread requests together hold at most
//! [`MAX_BUFFERED`] bytes.

use std::{
    io::{ErrorKind, Read},
    os::unix::net::UnixStream,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

pub use lb_model::api::MAX_REQUEST_BYTES;

/// How long a client has to send a whole request line: from connecting, or from lbd's
/// previous answer. lbctl sends its request at once; a connection left idle (or trickling)
/// longer is closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What all clients' partly read requests may hold together: two requests of the largest size
/// at once; a client whose request would go past it is told lbd is busy.
pub const MAX_BUFFERED: usize = 2 * MAX_REQUEST_BYTES;

/// Bytes read from the socket at a time.
const CHUNK: usize = 64 * 1024;

/// Why a request line could not be read. Each is answered with an error; after all but
/// [`FrameError::NotUtf8`] (whose line was read whole) the connection is closed, because where
/// the next request starts is unknown.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "request too large: a request line is at most {MAX_REQUEST_BYTES} bytes; lbd closes the connection"
    )]
    TooLarge,
    #[error("bad request: not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error(
        "request not complete within {} s; lbd closes the connection",
        REQUEST_TIMEOUT.as_secs()
    )]
    Timeout,
    #[error(
        "lbd is busy reading other large requests (at most {MAX_BUFFERED} bytes together); try again"
    )]
    Busy,
    #[error("reading the request: {0}")]
    Io(String),
}

impl FrameError {
    /// Whether the connection can go on after answering this error.
    pub fn keeps_connection(&self) -> bool {
        matches!(self, FrameError::NotUtf8(_))
    }
}

/// The bytes every client's reader holds, against [`MAX_BUFFERED`].
#[derive(Clone, Debug, Default)]
pub struct Budget(Arc<AtomicUsize>);

impl Budget {
    /// Takes `n` bytes, unless that would go past the limit.
    fn take(&self, n: usize) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(n).filter(|t| *t <= MAX_BUFFERED)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.0.fetch_sub(n, Ordering::SeqCst);
    }

    /// Bytes held now (tests).
    pub fn held(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reads one client's request lines.
pub struct Requests {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Where the search for the end of the line goes on (the bytes before hold none).
    scanned: usize,
    /// The bytes of `buf`'s capacity taken from the budget.
    taken: usize,
    budget: Budget,
    timeout: Duration,
}

impl Requests {
    pub fn new(stream: UnixStream, budget: Budget) -> Self {
        Self::with_timeout(stream, budget, REQUEST_TIMEOUT)
    }

    /// With another time limit per request (tests).
    pub fn with_timeout(stream: UnixStream, budget: Budget, timeout: Duration) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            scanned: 0,
            taken: 0,
            budget,
            timeout,
        }
    }

    /// The next request line (without its newline), `Ok(None)` once the client has closed its
    /// side with nothing left unanswered. A last line without a newline is a request too.
    pub fn next_line(&mut self) -> Result<Option<String>, FrameError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(i) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + i;
                if end > MAX_REQUEST_BYTES {
                    return Err(FrameError::TooLarge);
                }
                return self.take_line(end, end + 1).map(Some);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_REQUEST_BYTES {
                return Err(FrameError::TooLarge);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FrameError::Timeout);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| FrameError::Io(e.to_string()))?;
            self.grow()?;
            let len = self.buf.len();
            self.buf.resize(len + CHUNK, 0);
            let n = match self.stream.read(&mut self.buf[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    self.buf.truncate(len);
                    continue;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.buf.truncate(len);
                    return Err(FrameError::Timeout);
                }
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(FrameError::Io(e.to_string()));
                }
            };
            self.buf.truncate(len + n);
            if n == 0 {
                // End of the client's side: what is left is its last request, if anything.
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let end = self.buf.len();
                return self.take_line(end, end).map(Some);
            }
        }
    }

    /// The stream, to answer on.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Room for one more chunk: the buffer's capacity grows by doubling up to the largest
    /// request (plus a chunk), each byte of it taken from the budget first.
    fn grow(&mut self) -> Result<(), FrameError> {
        let need = self.buf.len() + CHUNK;
        if need <= self.buf.capacity() {
            return Ok(());
        }
        let want = (self.buf.capacity() * 2).clamp(need, MAX_REQUEST_BYTES + 2 * CHUNK);
        let more = want.saturating_sub(self.taken);
        if !self.budget.take(more) {
            return Err(FrameError::Busy);
        }
        self.taken += more;
        self.buf.reserve_exact(want - self.buf.len());
        Ok(())
    }

    /// The line `..end` as text; the bytes up to `next` are consumed.
    fn take_line(&mut self, end: usize, next: usize) -> Result<String, FrameError> {
        let line = self.buf[..end].to_vec();
        self.buf.drain(..next);
        self.scanned = 0;
        // After a large request, give its memory back.
        if self.buf.capacity() > 4 * CHUNK && self.buf.len() < CHUNK {
            self.buf.shrink_to(CHUNK);
            let keep = self.buf.capacity();
            self.budget.give(self.taken.saturating_sub(keep));
            self.taken = self.taken.min(keep);
        }
        String::from_utf8(line).map_err(|e| FrameError::NotUtf8(e.utf8_error().valid_up_to()))
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        self.budget.give(self.taken);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn pair(timeout: Duration) -> (UnixStream, Requests, Budget) {
        let (a, b) = UnixStream::pair().unwrap();
        let budget = Budget::default();
        (
            a,
            Requests::with_timeout(b, budget.clone(), timeout),
            budget,
        )
    }

    #[test]
    fn lines_are_read_one_by_one_also_a_last_one_without_newline() {
        let (mut c, mut r, budget) = pair(Duration::from_secs(5));
        c.write_all(b"{\"a\":1}\n\n{\"b\":2}\n{\"c\"").unwrap();
        assert_eq!(r.next_line().unwrap().as_deref(), Some("{\"a\":1}"));
        assert_eq!(r.next_line().unwrap().as_deref(), Some(""));
        assert_eq!(r.next_line().unwrap().as_deref(), Some("{\"b\":2}"));
        c.write_all(b":3}").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(r.next_line().unwrap().as_deref(), Some("{\"c\":3}"));
        assert_eq!(r.next_line().unwrap(), None);
        assert!(budget.held() > 0);
        drop(r);
        assert_eq!(budget.held(), 0, "a closed client gives its bytes back");
    }

    #[test]
    fn invalid_utf8_is_an_error_for_its_line_only() {
        let (mut c, mut r, _) = pair(Duration::from_secs(5));
        c.write_all(b"ok\xff\xfe\nnext\n").unwrap();
        let e = r.next_line().unwrap_err();
        assert_eq!(e, FrameError::NotUtf8(2));
        assert!(e.keeps_connection());
        assert_eq!(
            e.to_string(),
            "bad request: not UTF-8 (invalid byte at offset 2)"
        );
        assert_eq!(r.next_line().unwrap().as_deref(), Some("next"));
    }

    #[test]
    fn a_line_past_the_limit_is_refused_before_its_end_arrives() {
        let (c, mut r, budget) = pair(Duration::from_secs(30));
        let writer = std::thread::spawn(move || {
            let mut c = c;
            let chunk = vec![b'a'; 1 << 20];
            let mut sent = 0usize;
            // Stops when lbd's side closes (the reader is dropped after the error).
            while sent < 2 * MAX_REQUEST_BYTES && c.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let e = r.next_line().unwrap_err();
        assert_eq!(e, FrameError::TooLarge);
        assert!(!e.keeps_connection());
        assert!(
            budget.held() <= MAX_REQUEST_BYTES + 2 * CHUNK,
            "{} bytes held",
            budget.held()
        );
        drop(r);
        let sent = writer.join().unwrap();
        assert!(sent < 2 * MAX_REQUEST_BYTES, "{sent}");
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_line_at_the_limit_is_read() {
        let (c, mut r, _) = pair(Duration::from_secs(30));
        let writer = std::thread::spawn(move || {
            let mut c = c;
            let mut line = vec![b'x'; MAX_REQUEST_BYTES];
            line.push(b'\n');
            c.write_all(&line).unwrap();
        });
        let got = r.next_line().unwrap().unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), MAX_REQUEST_BYTES);
        assert!(
            r.buf.capacity() <= CHUNK,
            "its memory is given back: {}",
            r.buf.capacity()
        );
    }

    #[test]
    fn a_silent_or_trickling_client_times_out() {
        let (mut c, mut r, _) = pair(Duration::from_millis(300));
        let t0 = Instant::now();
        assert_eq!(r.next_line().unwrap_err(), FrameError::Timeout);
        assert!(t0.elapsed() < Duration::from_secs(2));
        // A byte every 100 ms never finishes a line in time.
        let trickle = std::thread::spawn(move || {
            for _ in 0..10 {
                if c.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let t0 = Instant::now();
        assert_eq!(r.next_line().unwrap_err(), FrameError::Timeout);
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "{:?}",
            t0.elapsed()
        );
        drop(r);
        trickle.join().unwrap();
    }

    #[test]
    fn the_budget_is_shared_by_all_clients() {
        let budget = Budget::default();
        assert!(budget.take(MAX_BUFFERED - 10));
        let (mut c, b) = UnixStream::pair().unwrap();
        let mut r = Requests::new(b, budget.clone());
        c.write_all(b"a request\n").unwrap();
        assert_eq!(r.next_line().unwrap_err(), FrameError::Busy);
        budget.give(MAX_BUFFERED - 10);
        assert_eq!(r.next_line().unwrap().as_deref(), Some("a request"));
    }
}
