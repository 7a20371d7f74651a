//! Running one health check of a real server (TCP connect, HTTP GET, UDP request and reply,
//! an external command), bounded by the check's timeout. What the config says about checks,
//! and its validation, is `lb_model::config::health`.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpStream, UdpSocket},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use lb_model::{
    Named,
    config::{
        CheckKind, OnDown, RealServerConfig, ServiceConfig,
        health::{DEFAULT_FALL, DEFAULT_INTERVAL_MS, DEFAULT_RISE, DEFAULT_TIMEOUT_MS},
    },
    names::fmt_addr_port,
};

/// How much of an HTTP answer or a UDP reply is read and searched.
const MAX_READ: usize = 64 * 1024;

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
        let c = r.check(svc)?;
        let real_port = svc.real_port(r);
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
                ("LB_FORWARDING".into(), r.forwarding.name().into()),
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
}
