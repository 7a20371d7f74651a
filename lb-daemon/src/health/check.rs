//! Health checks of real servers: what the config says (`health_check` of a service or of a
//! real server), its validation, and running one check (TCP connect, HTTP GET, UDP request and
//! reply, an external command), bounded by the check's timeout.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpStream, UdpSocket},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, RealServerConfig, ServiceConfig, fmt_addr_port};

/// Defaults, in the spirit of keepalived and HAProxy: check every 5 s, give up on one check
/// after 2 s, take a real server out after 3 failures in a row and back after 2 successes.
pub const DEFAULT_INTERVAL_MS: u32 = 5_000;
pub const DEFAULT_TIMEOUT_MS: u32 = 2_000;
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;
/// Bounds of the settings (checked by validation).
pub const MIN_INTERVAL_MS: u32 = 50;
pub const MAX_INTERVAL_MS: u32 = 86_400_000;
pub const MIN_TIMEOUT_MS: u32 = 10;
pub const MAX_RISE_FALL: u32 = 100;
pub const MAX_GRACE_MS: u32 = 86_400_000;
/// How much of an HTTP answer or a UDP reply is read and searched.
const MAX_READ: usize = 64 * 1024;

/// The kind of check (`type` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A TCP connection is accepted.
    Tcp,
    /// An HTTP/1.0 GET answers with the expected status (and body substring).
    Http,
    /// A UDP datagram is answered (with the expected substring).
    Udp,
    /// An external command exits with status 0.
    Exec,
    /// No check: a real server's way to opt out of its service's default check.
    None,
}

impl CheckKind {
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http => "http",
            CheckKind::Udp => "udp",
            CheckKind::Exec => "exec",
            CheckKind::None => "none",
        }
    }
}

/// What happens to the existing connections of a real server that its check took out.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnDown {
    /// They stay on it (IPVS's behaviour for a quiesced real server).
    #[default]
    Keep,
    /// They are removed from the connection table `grace_ms` after it went down; their next
    /// packets are scheduled anew.
    Expire,
}

/// `health_check` in the config. Settings of another kind of check than `type` are errors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    #[serde(rename = "type")]
    pub kind: CheckKind,
    /// Address to check. Default: the real server's address (see the README on `tun` and
    /// `dr`: the director checks the real server's own address, not the VIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Port to check. Default: the real server's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Time between the starts of two checks. Default [`DEFAULT_INTERVAL_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u32>,
    /// A check not done by then failed. Default [`DEFAULT_TIMEOUT_MS`] (at most the interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Successes in a row that bring a down real server back. Default [`DEFAULT_RISE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    /// Failures in a row that take an up real server out. Default [`DEFAULT_FALL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<u32>,
    /// http: the path requested. Default "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// http: the Host header. Default: the checked address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// http: the status that means healthy. Default 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// http: a substring the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// udp: the datagram sent. Default: empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// udp: a substring the reply must contain (any reply will do without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// exec: program and arguments (no shell). Exit status 0 means healthy. The environment
    /// has `LB_REAL_ADDRESS`, `LB_REAL_PORT`, `LB_CHECK_ADDRESS`, `LB_CHECK_PORT`, `LB_VIP`,
    /// `LB_VIP_PORT`, `LB_PROTOCOL` and `LB_FORWARDING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// What happens to the connections of a real server taken out. Default `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_down: Option<OnDown>,
    /// With `on_down: expire`: how long after going down its connections are removed.
    /// Default 0 (at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u32>,
}

impl CheckConfig {
    /// Semantic checks; `path` is where the object is in the config.
    pub fn validate(&self, path: &str, errs: &mut Vec<ConfigError>) {
        let mut err = |field: &str, message: String| {
            errs.push(ConfigError {
                path: if field.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.{field}")
                },
                message,
            })
        };
        let kind = self.kind.name();
        if self.kind == CheckKind::None {
            let set = self.fields_set();
            if let Some(f) = set.first() {
                err(
                    f,
                    "a check of type \"none\" takes no other settings".to_string(),
                );
            }
            return;
        }
        let interval = self.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval) {
            err(
                "interval_ms",
                format!("{interval} is out of range ({MIN_INTERVAL_MS} to {MAX_INTERVAL_MS})"),
            );
        }
        if let Some(t) = self.timeout_ms
            && !(MIN_TIMEOUT_MS..=interval.max(MIN_TIMEOUT_MS)).contains(&t)
        {
            err(
                "timeout_ms",
                format!(
                    "{t} is out of range ({MIN_TIMEOUT_MS} to the interval, {interval}): a check must end before the next one starts"
                ),
            );
        }
        for (name, v) in [("rise", self.rise), ("fall", self.fall)] {
            if let Some(v) = v
                && !(1..=MAX_RISE_FALL).contains(&v)
            {
                err(name, format!("{v} is out of range (1 to {MAX_RISE_FALL})"));
            }
        }
        if self.port == Some(0) {
            err("port", "port 0 is not allowed (1 to 65535)".into());
        }
        let only =
            |field: &str, set: bool, for_kind: CheckKind, err: &mut dyn FnMut(&str, String)| {
                if set && self.kind != for_kind {
                    err(
                        field,
                        format!(
                            "only {} checks have {field} (this check is {kind:?})",
                            for_kind.name()
                        ),
                    );
                }
            };
        only("path", self.path.is_some(), CheckKind::Http, &mut err);
        only("host", self.host.is_some(), CheckKind::Http, &mut err);
        only(
            "expect_status",
            self.expect_status.is_some(),
            CheckKind::Http,
            &mut err,
        );
        only(
            "expect_body",
            self.expect_body.is_some(),
            CheckKind::Http,
            &mut err,
        );
        only("payload", self.payload.is_some(), CheckKind::Udp, &mut err);
        only("expect", self.expect.is_some(), CheckKind::Udp, &mut err);
        only("command", self.command.is_some(), CheckKind::Exec, &mut err);
        if let Some(p) = &self.path
            && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            err(
                "path",
                format!(
                    "{p:?} is not a request path (starts with '/', no spaces or control characters)"
                ),
            );
        }
        if let Some(h) = &self.host
            && (h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            err(
                "host",
                format!(
                    "{h:?} is not a Host header value (not empty, no spaces or control characters)"
                ),
            );
        }
        if let Some(s) = self.expect_status
            && !(100..=599).contains(&s)
        {
            err(
                "expect_status",
                format!("{s} is not an HTTP status (100 to 599)"),
            );
        }
        if let Some(p) = &self.payload
            && p.len() > 1400
        {
            err(
                "payload",
                format!(
                    "{} bytes; at most 1400 (one datagram without fragmentation)",
                    p.len()
                ),
            );
        }
        if self.kind == CheckKind::Exec {
            match &self.command {
                None => err(
                    "command",
                    "required for exec checks: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"--quick\"]".into(),
                ),
                Some(c) if c.is_empty() || c[0].is_empty() => err(
                    "command",
                    "the program to run is missing (the first element)".into(),
                ),
                Some(_) => {}
            }
        }
        if let Some(g) = self.grace_ms {
            if self.on_down != Some(OnDown::Expire) {
                err(
                    "grace_ms",
                    "only with on_down \"expire\" (with \"keep\" connections are never removed)"
                        .into(),
                );
            } else if g > MAX_GRACE_MS {
                err(
                    "grace_ms",
                    format!("{g} is out of range (0 to {MAX_GRACE_MS})"),
                );
            }
        }
    }

    /// The names of the optional settings given (for `type: none`).
    fn fields_set(&self) -> Vec<&'static str> {
        [
            ("address", self.address.is_some()),
            ("port", self.port.is_some()),
            ("interval_ms", self.interval_ms.is_some()),
            ("timeout_ms", self.timeout_ms.is_some()),
            ("rise", self.rise.is_some()),
            ("fall", self.fall.is_some()),
            ("path", self.path.is_some()),
            ("host", self.host.is_some()),
            ("expect_status", self.expect_status.is_some()),
            ("expect_body", self.expect_body.is_some()),
            ("payload", self.payload.is_some()),
            ("expect", self.expect.is_some()),
            ("command", self.command.is_some()),
            ("on_down", self.on_down.is_some()),
            ("grace_ms", self.grace_ms.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect()
    }
}

/// A check with every default filled in, for one real server of one service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub kind: CheckKind,
    pub target: SocketAddr,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub on_down: OnDown,
    pub grace: Duration,
    pub http: HttpSpec,
    pub udp: UdpSpec,
    pub command: Vec<String>,
    /// The exec check's environment.
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpSpec {
    pub path: String,
    pub host: String,
    pub status: u16,
    pub body: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UdpSpec {
    pub payload: Vec<u8>,
    pub expect: Option<String>,
}

impl CheckSpec {
    /// The check of real server `r` of service `svc`: its own `health_check`, else the
    /// service's; None when neither has one or it is of type `none`.
    pub fn of(svc: &ServiceConfig, r: &RealServerConfig) -> Option<CheckSpec> {
        let c = r.health_check.as_ref().or(svc.health_check.as_ref())?;
        if c.kind == CheckKind::None {
            return None;
        }
        let real_port = r.port.unwrap_or(svc.port);
        let target = SocketAddr::new(c.address.unwrap_or(r.address), c.port.unwrap_or(real_port));
        let interval = c.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
        let timeout = c.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).min(interval);
        let host = c.host.clone().unwrap_or_else(|| match target.ip() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        });
        Some(CheckSpec {
            kind: c.kind,
            target,
            interval: Duration::from_millis(interval as u64),
            timeout: Duration::from_millis(timeout as u64),
            rise: c.rise.unwrap_or(DEFAULT_RISE),
            fall: c.fall.unwrap_or(DEFAULT_FALL),
            on_down: c.on_down.unwrap_or_default(),
            grace: Duration::from_millis(c.grace_ms.unwrap_or(0) as u64),
            http: HttpSpec {
                path: c.path.clone().unwrap_or_else(|| "/".into()),
                host,
                status: c.expect_status.unwrap_or(200),
                body: c.expect_body.clone(),
            },
            udp: UdpSpec {
                payload: c.payload.clone().unwrap_or_default().into_bytes(),
                expect: c.expect.clone(),
            },
            command: c.command.clone().unwrap_or_default(),
            env: vec![
                ("LB_REAL_ADDRESS".into(), r.address.to_string()),
                ("LB_REAL_PORT".into(), real_port.to_string()),
                ("LB_CHECK_ADDRESS".into(), target.ip().to_string()),
                ("LB_CHECK_PORT".into(), target.port().to_string()),
                ("LB_VIP".into(), svc.vip.to_string()),
                ("LB_VIP_PORT".into(), svc.port.to_string()),
                ("LB_PROTOCOL".into(), svc.protocol.name().into()),
                ("LB_FORWARDING".into(), r.forwarding.clone()),
            ],
        })
    }

    /// Runs the check once: Ok when healthy, else why not. Never takes much longer than the
    /// timeout.
    pub fn run(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        match self.kind {
            CheckKind::Tcp => tcp_connect(self.target, self.timeout).map(drop),
            CheckKind::Http => http_get(self, deadline),
            CheckKind::Udp => udp_exchange(self, deadline),
            CheckKind::Exec => exec(self, deadline),
            CheckKind::None => Ok(()),
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("timed out".into())
    } else {
        Ok(left)
    }
}

fn io_msg(what: &str, target: SocketAddr, e: &std::io::Error) -> String {
    let text = match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => e.to_string(),
    };
    format!(
        "{what} {}: {text}",
        fmt_addr_port(target.ip(), target.port())
    )
}

fn tcp_connect(target: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    TcpStream::connect_timeout(&target, timeout).map_err(|e| io_msg("connect to", target, &e))
}

fn http_get(spec: &CheckSpec, deadline: Instant) -> Result<(), String> {
    let target = spec.target;
    let mut s = tcp_connect(target, remaining(deadline)?)?;
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: lbd-health-check\r\nConnection: close\r\n\r\n",
        spec.http.path, spec.http.host
    );
    s.set_write_timeout(Some(remaining(deadline)?))
        .and_then(|()| s.write_all(req.as_bytes()))
        .map_err(|e| io_msg("sending the request to", target, &e))?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    while resp.len() < MAX_READ {
        s.set_read_timeout(Some(remaining(deadline)?))
            .map_err(|e| io_msg("reading from", target, &e))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_msg("reading the answer from", target, &e)),
        }
    }
    let text = String::from_utf8_lossy(&resp);
    let status_line = text.lines().next().unwrap_or("");
    let status: u16 = match status_line.split_whitespace().collect::<Vec<_>>()[..] {
        [proto, code, ..] if proto.starts_with("HTTP/") => code
            .parse()
            .map_err(|_| format!("not an HTTP answer: {status_line:?}"))?,
        _ => return Err(format!("not an HTTP answer: {:?}", truncate(status_line))),
    };
    if status != spec.http.status {
        return Err(format!(
            "HTTP status {status}, expected {}",
            spec.http.status
        ));
    }
    if let Some(want) = &spec.http.body {
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        if !body.contains(want.as_str()) {
            return Err(format!("the body does not contain {want:?}"));
        }
    }
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn udp_exchange(spec: &CheckSpec, deadline: Instant) -> Result<(), String> {
    let target = spec.target;
    let local: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().expect("valid")
    } else {
        "0.0.0.0:0".parse().expect("valid")
    };
    let s = UdpSocket::bind(local).map_err(|e| format!("opening a UDP socket: {e}"))?;
    // Connected: an ICMP port unreachable comes back as ECONNREFUSED.
    s.connect(target)
        .map_err(|e| io_msg("connecting to", target, &e))?;
    s.send(&spec.udp.payload)
        .map_err(|e| io_msg("sending to", target, &e))?;
    let mut buf = vec![0u8; MAX_READ];
    // A reply without the expected text may be a stray datagram: keep waiting for another
    // until the deadline, then say what was wrong with it.
    let mut mismatch = false;
    loop {
        let left = match remaining(deadline) {
            Ok(l) => l,
            Err(_) if mismatch => break,
            Err(e) => return Err(e),
        };
        s.set_read_timeout(Some(left))
            .map_err(|e| io_msg("reading from", target, &e))?;
        match s.recv(&mut buf) {
            Ok(n) => {
                let Some(want) = &spec.udp.expect else {
                    return Ok(());
                };
                if String::from_utf8_lossy(&buf[..n]).contains(want.as_str()) {
                    return Ok(());
                }
                mismatch = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) if mismatch => break,
            Err(e) => return Err(io_msg("no reply from", target, &e)),
        }
    }
    Err(format!(
        "the reply does not contain {:?}",
        spec.udp.expect.as_deref().unwrap_or("")
    ))
}

fn exec(spec: &CheckSpec, deadline: Instant) -> Result<(), String> {
    let prog = &spec.command[0];
    let mut child = Command::new(prog)
        .args(&spec.command[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {prog:?}: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("{prog:?} {st}")),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {prog:?}: {e}")),
        }
        if Instant::now() >= deadline {
            // Our own child: kill and reap it.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{prog:?} timed out (killed)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::{TcpListener, UdpSocket},
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        thread,
    };

    use super::*;

    fn spec(kind: CheckKind, target: SocketAddr) -> CheckSpec {
        CheckSpec {
            kind,
            target,
            interval: Duration::from_millis(1000),
            timeout: Duration::from_millis(500),
            rise: 1,
            fall: 1,
            on_down: OnDown::Keep,
            grace: Duration::ZERO,
            http: HttpSpec {
                path: "/health".into(),
                host: "lb".into(),
                status: 200,
                body: None,
            },
            udp: UdpSpec::default(),
            command: vec![],
            env: vec![],
        }
    }

    /// A port on 127.0.0.1 where nothing listens (bound, then closed).
    fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    /// Serves `n` HTTP requests with a fixed answer; returns the address and the requests seen.
    fn http_server(
        answer: &'static str,
        n: usize,
    ) -> (SocketAddr, thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..n {
                let (mut s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => req.extend_from_slice(&buf[..k]),
                    }
                }
                seen.push(String::from_utf8_lossy(&req).into_owned());
                let _ = s.write_all(answer.as_bytes());
            }
            seen
        });
        (addr, h)
    }

    #[test]
    fn tcp_check_up_when_accepted_down_when_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(spec(CheckKind::Tcp, l.local_addr().unwrap()).run(), Ok(()));
        let closed = closed_port();
        let e = spec(CheckKind::Tcp, closed).run().unwrap_err();
        assert!(e.starts_with(&format!("connect to {closed}: ")), "{e}");
        assert!(e.contains("refused"), "{e}");
    }

    #[test]
    fn http_check_status_and_body() {
        let ok = "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nall good\n";
        let (addr, h) = http_server(ok, 3);
        let mut s = spec(CheckKind::Http, addr);
        assert_eq!(s.run(), Ok(()));
        s.http.body = Some("good".into());
        assert_eq!(s.run(), Ok(()));
        s.http.body = Some("bad".into());
        assert_eq!(
            s.run(),
            Err("the body does not contain \"bad\"".to_string())
        );
        let seen = h.join().unwrap();
        assert!(
            seen[0].starts_with("GET /health HTTP/1.0\r\nHost: lb\r\n"),
            "{seen:?}"
        );

        let (addr, h) = http_server("HTTP/1.1 503 Service Unavailable\r\n\r\n", 2);
        let mut s = spec(CheckKind::Http, addr);
        assert_eq!(s.run(), Err("HTTP status 503, expected 200".to_string()));
        s.http.status = 503;
        assert_eq!(s.run(), Ok(()), "503 when 503 is what is expected");
        h.join().unwrap();

        let (addr, h) = http_server("SSH-2.0-OpenSSH\r\n", 1);
        let e = spec(CheckKind::Http, addr).run().unwrap_err();
        assert!(e.starts_with("not an HTTP answer"), "{e}");
        h.join().unwrap();

        assert!(spec(CheckKind::Http, closed_port()).run().is_err());
    }

    #[test]
    fn http_check_times_out_on_a_silent_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = spec(CheckKind::Http, l.local_addr().unwrap());
        s.timeout = Duration::from_millis(200);
        let t0 = Instant::now();
        let e = s.run().unwrap_err();
        assert!(e.ends_with("timed out"), "{e}");
        // Bounded by the timeout (generously: the machine may be busy).
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        drop(l);
    }

    /// A UDP server answering each datagram with "pong " + the datagram, until stopped.
    fn udp_echo() -> (SocketAddr, Arc<AtomicBool>, thread::JoinHandle<()>) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = s.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let h = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let mut out = b"pong ".to_vec();
                    out.extend_from_slice(&buf[..n]);
                    let _ = s.send_to(&out, from);
                }
            }
        });
        (addr, stop, h)
    }

    #[test]
    fn udp_check_reply_expectation_refusal_and_silence() {
        let (addr, stop, h) = udp_echo();
        let mut s = spec(CheckKind::Udp, addr);
        s.udp.payload = b"ping".to_vec();
        assert_eq!(s.run(), Ok(()));
        s.udp.expect = Some("pong ping".into());
        assert_eq!(s.run(), Ok(()));
        s.udp.expect = Some("nope".into());
        assert_eq!(
            s.run(),
            Err("the reply does not contain \"nope\"".to_string())
        );
        stop.store(true, Ordering::SeqCst);
        h.join().unwrap();

        // Nobody on the port: ICMP port unreachable, seen as a refusal.
        let gone = {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.local_addr().unwrap()
        };
        let e = spec(CheckKind::Udp, gone).run().unwrap_err();
        assert!(e.starts_with(&format!("no reply from {gone}: ")), "{e}");

        // A socket that never answers: the timeout.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = spec(CheckKind::Udp, silent.local_addr().unwrap())
            .run()
            .unwrap_err();
        assert!(e.ends_with("timed out"), "{e}");
    }

    #[test]
    fn exec_check_exit_status_environment_and_timeout() {
        let target: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let mut s = spec(CheckKind::Exec, target);
        s.env = vec![
            ("LB_REAL_ADDRESS".into(), "127.0.0.1".into()),
            ("LB_REAL_PORT".into(), "8080".into()),
        ];
        s.command = vec!["/bin/sh".into(), "-c".into(), "exit 0".into()];
        assert_eq!(s.run(), Ok(()));
        s.command[2] = "exit 3".into();
        assert_eq!(s.run(), Err("\"/bin/sh\" exit status: 3".to_string()));
        s.command[2] = "test \"$LB_REAL_ADDRESS:$LB_REAL_PORT\" = 127.0.0.1:8080".into();
        assert_eq!(s.run(), Ok(()), "the environment names the real server");
        s.command[2] = "test \"$LB_REAL_PORT\" = 9999".into();
        assert!(s.run().is_err());
        s.command[2] = "sleep 5".into();
        s.timeout = Duration::from_millis(100);
        let t0 = Instant::now();
        assert_eq!(s.run(), Err("\"/bin/sh\" timed out (killed)".to_string()));
        assert!(t0.elapsed() < Duration::from_secs(3));
        s.command = vec!["/nonexistent/check".into()];
        assert!(
            s.run()
                .unwrap_err()
                .starts_with("cannot run \"/nonexistent/check\"")
        );
    }

    fn errors(c: &str) -> Vec<String> {
        let c: CheckConfig = serde_json::from_str(c).unwrap();
        let mut errs = Vec::new();
        c.validate("services[0].health_check", &mut errs);
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn validation_names_the_field() {
        assert!(errors(r#"{"type":"tcp"}"#).is_empty());
        assert!(errors(r#"{"type":"http","path":"/h","expect_status":204,"expect_body":"ok","interval_ms":200,"timeout_ms":100,"rise":2,"fall":2}"#).is_empty());
        assert_eq!(
            errors(r#"{"type":"tcp","interval_ms":10,"rise":0,"path":"/x","port":0}"#),
            vec![
                "services[0].health_check.interval_ms: 10 is out of range (50 to 86400000)",
                "services[0].health_check.rise: 0 is out of range (1 to 100)",
                "services[0].health_check.port: port 0 is not allowed (1 to 65535)",
                "services[0].health_check.path: only http checks have path (this check is \"tcp\")",
            ]
        );
        assert_eq!(
            errors(r#"{"type":"http","interval_ms":1000,"timeout_ms":2000,"path":"health"}"#),
            vec![
                "services[0].health_check.timeout_ms: 2000 is out of range (10 to the interval, 1000): a check must end before the next one starts",
                "services[0].health_check.path: \"health\" is not a request path (starts with '/', no spaces or control characters)",
            ]
        );
        assert_eq!(
            errors(r#"{"type":"exec"}"#),
            vec![
                "services[0].health_check.command: required for exec checks: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"--quick\"]"
            ]
        );
        assert_eq!(
            errors(r#"{"type":"none","fall":2}"#),
            vec!["services[0].health_check.fall: a check of type \"none\" takes no other settings"]
        );
        assert_eq!(
            errors(r#"{"type":"udp","grace_ms":100}"#),
            vec![
                "services[0].health_check.grace_ms: only with on_down \"expire\" (with \"keep\" connections are never removed)"
            ]
        );
        assert!(
            errors(
                r#"{"type":"udp","payload":"x","expect":"y","on_down":"expire","grace_ms":100}"#
            )
            .is_empty()
        );
    }
}
