//! Servers for live tests beyond [`crate::topo::HttpServer`]: a line server that keeps
//! connections open as long as the client wants (for drains and long-lived flows), and its
//! UDP twin that answers each datagram.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::netns::Netns;

/// A TCP server in a namespace that answers every line it reads with `"{name} {line}\n"`, on
/// any number of connections at once, each kept open until the client closes it. Records every
/// line it got. Stops on Drop.
pub struct LineServer {
    pub name: String,
    pub lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LineServer {
    pub fn start(ns: &Netns, name: &str, port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, lines, name) = (stop.clone(), lines.clone(), name.to_string());
            let ns_name = ns.name.clone();
            std::thread::spawn(move || {
                let ns = Netns { name: ns_name };
                let entered = ns.enter();
                std::mem::forget(ns); // the caller owns the namespace
                let l = TcpListener::bind(("::", port)).expect("bind line server");
                l.set_nonblocking(true).expect("nonblocking");
                tx.send(()).expect("ready");
                let mut conns = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match l.accept() {
                        Ok((s, _)) => {
                            let (stop, lines, name) = (stop.clone(), lines.clone(), name.clone());
                            conns.push(std::thread::spawn(move || {
                                serve_lines(s, &name, &lines, &stop)
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
                drop(entered);
            })
        };
        rx.recv_timeout(Duration::from_secs(5))
            .expect("line server started");
        LineServer {
            name: name.into(),
            lines,
            stop,
            thread: Some(thread),
        }
    }

    /// The lines received so far.
    pub fn received(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

fn serve_lines(mut s: TcpStream, name: &str, lines: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            lines.lock().unwrap().push(line.clone());
            if s.write_all(format!("{name} {line}\n").as_bytes()).is_err() {
                return;
            }
        }
    }
}

impl Drop for LineServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl crate::topo::Topology {
    /// A [`LineServer`] on `port` of every real server, named `rs0`, `rs1`, ...
    pub fn line_servers(&self, port: u16) -> Vec<LineServer> {
        self.reals
            .iter()
            .enumerate()
            .map(|(i, ns)| LineServer::start(ns, &format!("rs{i}"), port))
            .collect()
    }

    /// Five rounds from the client, each two HTTP requests to `http` and one line to `line`
    /// (a connection each): all 15 reach one real server, each line one of `lines` once, and
    /// every connection after the first is a persistence hit. What a persistent service that
    /// spans ports (port 0, a firewall mark) promises.
    pub fn assert_one_real_server_for_http_and_lines(
        &self,
        http: SocketAddr,
        line: SocketAddr,
        lines: &[LineServer],
    ) {
        let mut seen = Vec::new();
        for i in 0..5 {
            for (name, n) in crate::listing::requests_from(&self.client, http, 2) {
                seen.extend(std::iter::repeat_n(name, n as usize));
            }
            let _in = self.client.enter();
            let mut s =
                crate::topo::socket2_connect(line, None).unwrap_or_else(|e| panic!("{line}: {e}"));
            let answer = exchange(&mut s, &format!("hello {i}")).expect("an answer");
            let (name, text) = answer.split_once(' ').expect("NAME TEXT");
            assert_eq!(text, format!("hello {i}"));
            seen.push(name.to_string());
        }
        assert_eq!(seen.len(), 15);
        assert!(
            seen.iter().all(|n| *n == seen[0]),
            "one real server for every port of the client: {seen:?}"
        );
        let received: usize = lines.iter().map(|l| l.received().len()).sum();
        assert_eq!(received, 5, "each line reached a line server once");
        assert_eq!(
            self.reason("persist_hit"),
            14,
            "every connection after the first"
        );
    }

    /// A [`UdpLineServer`] on `port` of every real server, named `rs0`, `rs1`, ...
    pub fn udp_line_servers(&self, port: u16) -> Vec<UdpLineServer> {
        self.reals
            .iter()
            .enumerate()
            .map(|(i, ns)| UdpLineServer::start(ns, &format!("rs{i}"), port))
            .collect()
    }
}

/// Sends one line on a connection and reads the one-line answer (5-second timeout).
pub fn exchange(s: &mut TcpStream, line: &str) -> std::io::Result<String> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("{line}\n").as_bytes())?;
    let mut answer = Vec::new();
    let mut b = [0u8; 1];
    while !answer.ends_with(b"\n") {
        match s.read(&mut b)? {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("closed after {:?}", String::from_utf8_lossy(&answer)),
                ));
            }
            _ => answer.push(b[0]),
        }
    }
    answer.pop();
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A stream of lines on one connection through lb, for tests that change the director under
/// it: the first line ("0") names the real server that owns the connection; then a thread
/// sends "1", "2", ... every 20 ms, checking that each answer comes from the owner and echoes
/// the line, until [`LineStream::finish`] (or at most `limit`).
pub struct LineStream {
    pub owner: String,
    stop: Arc<AtomicBool>,
    progress: Arc<std::sync::atomic::AtomicU32>,
    thread: Option<JoinHandle<Result<u32, String>>>,
}

impl LineStream {
    pub fn start(mut conn: TcpStream, limit: Duration) -> Self {
        let first = exchange(&mut conn, "0").expect("the stream's first line");
        let owner = first
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let thread = {
            let (stop, owner, progress) = (stop.clone(), owner.clone(), progress.clone());
            std::thread::spawn(move || -> Result<u32, String> {
                let t0 = std::time::Instant::now();
                let mut i = 1u32;
                while !stop.load(Ordering::SeqCst) && t0.elapsed() < limit {
                    let line = i.to_string();
                    match exchange(&mut conn, &line) {
                        Ok(a) if a == format!("{owner} {line}") => {}
                        Ok(a) => return Err(format!("line {i}: answer {a:?}")),
                        Err(e) => return Err(format!("line {i}: {e}")),
                    }
                    progress.store(i, Ordering::SeqCst);
                    i += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(i)
            })
        };
        LineStream {
            owner,
            stop,
            progress,
            thread: Some(thread),
        }
    }

    /// The last line answered.
    pub fn progress(&self) -> u32 {
        self.progress.load(Ordering::SeqCst)
    }

    /// Stops the stream; panics unless every answer was right and the owner among `servers`
    /// received every line once, in order. Returns how many lines were sent.
    pub fn finish(mut self, servers: &[LineServer]) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self
            .thread
            .take()
            .expect("running")
            .join()
            .expect("the stream's thread")
            .unwrap_or_else(|e| panic!("the stream broke: {e}"));
        let got = servers
            .iter()
            .find(|l| l.name == self.owner)
            .unwrap_or_else(|| panic!("no server named {:?}", self.owner))
            .received();
        let want: Vec<String> = (0..sent).map(|i| i.to_string()).collect();
        assert_eq!(got, want, "every line once, in order, at the owner");
        sent
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A UDP server in a namespace that answers every non-empty datagram with `"{name} {text}"`
/// and records each one it got; empty datagrams (a flood's) it reads and ignores. Answers it
/// cannot send (to a source with no route back) are dropped. Stops on Drop.
pub struct UdpLineServer {
    pub name: String,
    pub lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpLineServer {
    pub fn start(ns: &Netns, name: &str, port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, lines, name) = (stop.clone(), lines.clone(), name.to_string());
            let ns_name = ns.name.clone();
            std::thread::spawn(move || {
                let ns = Netns { name: ns_name };
                let entered = ns.enter();
                std::mem::forget(ns); // the caller owns the namespace
                // "[::]" takes IPv4 too (IPV6_V6ONLY is off by default on Linux).
                let s = UdpSocket::bind(("::", port)).expect("bind udp line server");
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .expect("read timeout");
                tx.send(()).expect("ready");
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::SeqCst) {
                    let (n, from): (usize, SocketAddr) = match s.recv_from(&mut buf) {
                        Ok(r) => r,
                        Err(_) => continue,
                    };
                    if n == 0 {
                        continue;
                    }
                    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                    lines.lock().unwrap().push(line.clone());
                    let _ = s.send_to(format!("{name} {line}").as_bytes(), from);
                }
                drop(entered);
            })
        };
        rx.recv_timeout(Duration::from_secs(5))
            .expect("udp line server started");
        UdpLineServer {
            name: name.into(),
            lines,
            stop,
            thread: Some(thread),
        }
    }

    /// The datagrams received so far (empty ones left out).
    pub fn received(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for UdpLineServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a [`BulkServer`] sends, over and over: a pseudo-random period of a prime length, so
/// that no TCP segment (nor any run of whole segments) lines up with it.
pub const BULK_PERIOD: usize = 65521;

/// One period of [`BulkServer`]'s bytes (byte `i` of a stream is `bulk_pattern()[i %
/// BULK_PERIOD]`).
pub fn bulk_pattern() -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..BULK_PERIOD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Whether `got`, bytes from offset `at` of a [`BulkServer`]'s stream, are what it sent.
pub fn bulk_matches(pattern: &[u8], at: u64, got: &[u8]) -> bool {
    let mut off = (at % BULK_PERIOD as u64) as usize;
    let mut rest = got;
    while !rest.is_empty() {
        let k = rest.len().min(BULK_PERIOD - off);
        if rest[..k] != pattern[off..off + k] {
            return false;
        }
        rest = &rest[k..];
        off = 0;
    }
    true
}

/// A TCP server in a namespace that answers each connection's first line, a byte count `N`,
/// with `N` bytes of [`bulk_pattern`] and then closes it. Stops on Drop.
pub struct BulkServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BulkServer {
    pub fn start(ns: &Netns, port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let stop = stop.clone();
            let ns_name = ns.name.clone();
            std::thread::spawn(move || {
                let ns = Netns { name: ns_name };
                let entered = ns.enter();
                std::mem::forget(ns); // the caller owns the namespace
                let l = TcpListener::bind(("::", port)).expect("bind bulk server");
                l.set_nonblocking(true).expect("nonblocking");
                tx.send(()).expect("ready");
                let mut conns = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match l.accept() {
                        Ok((s, _)) => conns.push(std::thread::spawn(move || serve_bulk(s))),
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
                drop(entered);
            })
        };
        rx.recv_timeout(Duration::from_secs(5))
            .expect("bulk server started");
        BulkServer {
            stop,
            thread: Some(thread),
        }
    }
}

fn serve_bulk(mut s: TcpStream) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(60)));
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 32 {
        match s.read(&mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => line.push(b[0]),
            _ => return,
        }
    }
    let Some(n) = std::str::from_utf8(&line)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    else {
        return;
    };
    let pattern = bulk_pattern();
    let mut sent = 0u64;
    while sent < n {
        let off = (sent % BULK_PERIOD as u64) as usize;
        let k = ((n - sent) as usize).min(BULK_PERIOD - off);
        if s.write_all(&pattern[off..off + k]).is_err() {
            return;
        }
        sent += k as u64;
    }
}

impl Drop for BulkServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
