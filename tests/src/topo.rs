//! The live topology of the demo and the live tests: a client, a director and N real servers,
//! each a network namespace with one veth into a bridge that lives in a "switch" namespace.
//! Addresses are from 198.18.0.0/15 (RFC 2544's benchmarking range) and exist only inside
//! these namespaces; nothing is routed out of them.
//!
//! ```text
//!   client 198.18.0.10 ─┐
//!   director 198.18.0.2 ┼─ br0 (switch ns)     VIP 198.18.1.100, routed by the client to the director
//!   rsN 198.18.0.1N ────┘                       (and held on each real server's loopback)
//! ```

use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{
    Share,
    config::{ConfigBuilder, RealBuilder, config, real, tcp_service},
    consts::{
        CLIENT, CLIENT6, DIRECTOR, DIRECTOR6, GUE_PORT, NAT_PORT, VIP, VIP_PORT, VIP6, real_addr,
        real_addr6,
    },
    netns::{Netns, unique_name},
};

/// The forwarding method every real server of a topology uses, and what it needs set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// VIP on loopback, `lbd decap` on eth0; replies go straight to the client.
    Tun,
    /// As `Tun`, in GUE to [`GUE_PORT`] (`lbd decap --gue-port`).
    Gue,
    /// As `Tun`, in GRE.
    Gre,
    /// VIP on loopback; replies go straight to the client.
    Dr,
    /// No VIP; the route back to the client goes through the director, which rewrites the
    /// replies; the HTTP server listens on [`NAT_PORT`].
    Nat,
}

impl Method {
    /// The port the real servers' HTTP servers listen on.
    pub fn real_port(self) -> u16 {
        if self == Method::Nat {
            NAT_PORT
        } else {
            VIP_PORT
        }
    }
}

/// Where the workspace's binaries are: `LB_BIN_DIR`, or the target directory this executable
/// was built into (target/debug for binaries, target/debug/deps for tests).
pub fn bin(name: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("LB_BIN_DIR") {
        return PathBuf::from(d).join(name);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not found: build the binaries first (cargo build --bins), or set LB_BIN_DIR",
        p.display()
    );
    p
}

/// A child process killed (SIGTERM, then SIGKILL) and reaped on Drop.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.into(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited: {st}", self.name);
        }
    }

    /// `kill -9`: the process gets no chance to clean up; reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A tiny HTTP/1.0 server in a namespace that answers every request with its own name, and
/// counts what it served. Stops on Drop.
pub struct HttpServer {
    pub name: String,
    pub served: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves one connection at a time, giving a client 2 s to send its request.
    pub fn start(ns: &Netns, name: &str, port: u16) -> Self {
        Self::start_with(ns, name, port, false)
    }

    /// Serves every connection at once, each in its own thread, giving a client 60 s to
    /// send its request: for connections held open across a restart or a listing.
    pub fn start_patient(ns: &Netns, name: &str, port: u16) -> Self {
        Self::start_with(ns, name, port, true)
    }

    fn start_with(ns: &Netns, name: &str, port: u16, patient: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, served, name) = (stop.clone(), served.clone(), name.to_string());
            let ns_name = ns.name.clone();
            std::thread::spawn(move || {
                let ns = Netns { name: ns_name };
                let entered = ns.enter();
                std::mem::forget(ns); // the caller owns the namespace
                // "[::]" accepts IPv4 too (IPV6_V6ONLY is off by default on Linux).
                let l = TcpListener::bind(("::", port)).expect("bind http");
                l.set_nonblocking(true).expect("nonblocking");
                tx.send(()).expect("ready");
                while !stop.load(Ordering::SeqCst) {
                    match l.accept() {
                        Ok((s, _)) if patient => {
                            let (name, served) = (name.clone(), served.clone());
                            std::thread::spawn(move || {
                                serve_one(s, &name, &served, Duration::from_secs(60))
                            });
                        }
                        Ok((s, _)) => serve_one(s, &name, &served, Duration::from_secs(2)),
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                drop(entered);
            })
        };
        rx.recv_timeout(Duration::from_secs(5))
            .expect("http server started");
        HttpServer {
            name: name.into(),
            served,
            stop,
            thread: Some(thread),
        }
    }
}

/// Answers one request; counts it before answering, so a client that has its answer can rely
/// on the count.
fn serve_one(mut s: TcpStream, name: &str, served: &AtomicU64, patience: Duration) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(patience));
    let mut buf = [0u8; 1024];
    let mut req = Vec::new();
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    served.fetch_add(1, Ordering::SeqCst);
    let body = format!("{name}\n");
    let _ = s.write_all(
        format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP GET over a new TCP connection, from the calling thread's namespace. Returns the
/// status code and body. With `sport`, binds that source port; the connection is closed with
/// a reset (SO_LINGER 0) so that no TIME_WAIT blocks reusing the same 5-tuple.
pub fn http_get(addr: SocketAddr, sport: Option<u16>) -> std::io::Result<(u16, String)> {
    // With a fixed source port the client's own stack may briefly still hold the previous
    // connection of the same 5-tuple (seen under parallel load: EADDRNOTAVAIL from connect);
    // retry a few times, bounded.
    let mut tries = 0;
    let sock = loop {
        match socket2_connect(addr, sport) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) && tries < 40 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            r => break r?,
        }
    };
    let mut s = sock;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: lb\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// A TCP connection from the calling thread's namespace (optionally from a fixed source port),
/// closed with a reset when dropped (SO_LINGER 0).
pub fn socket2_connect(addr: SocketAddr, sport: Option<u16>) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh fd we own; errors are checked.
    unsafe {
        let family = if addr.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let s = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const _ as *const libc::c_void,
            4,
        );
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as u32,
        );
        if let Some(p) = sport {
            if addr.is_ipv6() {
                return Err(std::io::Error::other(
                    "a fixed source port is IPv4-only here",
                ));
            }
            let sa = sockaddr_in(Ipv4Addr::UNSPECIFIED, p);
            if libc::bind(fd, &sa as *const _ as *const libc::sockaddr, 16) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // Bounded connect: a timeout via SO_SNDTIMEO.
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        let rc = match addr {
            SocketAddr::V4(v4) => {
                let sa = sockaddr_in(*v4.ip(), v4.port());
                libc::connect(fd, &sa as *const _ as *const libc::sockaddr, 16)
            }
            SocketAddr::V6(v6) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as u16,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: 0,
                };
                libc::connect(
                    fd,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                )
            }
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(s)
    }
}

fn sockaddr_in(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    }
}

/// Starts lbd in namespace `ns` with `config`, its control socket at `socket`, its state file
/// and its log; returns once the socket answers and `lb` is attached to the namespace's eth0
/// (within 20 s, or panics).
pub fn spawn_lbd(
    ns: &Netns,
    config: &std::path::Path,
    socket: &std::path::Path,
    state_file: &std::path::Path,
    log: std::fs::File,
) -> Proc {
    let mut p = Proc::spawn(
        "lbd",
        Command::new(bin("lbd"))
            .stderr(log)
            .arg("--netns")
            .arg(&ns.name)
            .arg("--config")
            .arg(config)
            .arg("--socket")
            .arg(socket)
            .arg("--state-file")
            .arg(state_file),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(socket).is_err() {
        p.assert_running();
        assert!(Instant::now() < deadline, "lbd did not open its socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    // lbd opens its socket before it has loaded the object and attached `lb` (seconds on a
    // loaded machine), and answers only then: a request may time out meanwhile, and a
    // client's SYN that meets the director's own stack is answered "network unreachable".
    // Wait for the attachment.
    while !ns.ip(&["link", "show", "dev", "eth0"]).contains("prog/xdp") {
        p.assert_running();
        assert!(Instant::now() < deadline, "lbd did not attach lb to eth0");
        std::thread::sleep(Duration::from_millis(20));
    }
    // lbd attaches `lb` before it binds the metrics endpoint and answers requests only once
    // everything is up: a test that scraped right after the attachment met a refused
    // connection (CI, once). Wait for an answer.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers_status(socket) {
        p.assert_running();
        assert!(
            Instant::now() < deadline,
            "lbd did not answer a status request"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// Whether the lbd at `socket` answers a status request within two seconds.
fn answers_status(socket: &std::path::Path) -> bool {
    use std::io::{BufRead, Write};
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    if s.set_read_timeout(Some(Duration::from_secs(2))).is_err()
        || writeln!(s, r#"{{"v":2,"op":"status"}}"#).is_err()
    {
        return false;
    }
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with('{')
}

/// Runs lbctl against the lbd at `socket` with `stdin`, returning its whole output (status,
/// stdout, stderr) without judging it.
pub fn lbctl(socket: &std::path::Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(bin("lbctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lbctl");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin)
        .expect("lbctl stdin");
    child.wait_with_output().expect("lbctl output")
}

/// The whole topology. Drop order tears down processes and servers before namespaces.
pub struct Topology {
    pub method: Method,
    /// `pass` on the bridge side of each of the director's veths.
    pub(crate) peer_xdp: Vec<aya::Ebpf>,
    pub lbd: Option<Proc>,
    pub decaps: Vec<Proc>,
    pub http: Vec<HttpServer>,
    pub client: Netns,
    pub director: Netns,
    pub reals: Vec<Netns>,
    pub switch: Netns,
    pub socket: PathBuf,
    pub pin_dir: PathBuf,
    pub config_path: PathBuf,
    pub(crate) workdir: PathBuf,
    // Last: released once everything above is torn down.
    pub(crate) _share: Share,
}

impl Topology {
    /// Creates the namespaces and links, prepares each real server for `method` and starts
    /// an HTTP server on it. Call [`Topology::start_lbd`] to bring the director up.
    pub fn new(n_reals: usize, method: Method) -> Self {
        Self::sharing(n_reals, method, Share::side_by_side())
    }

    /// [`Topology::new`] for a test that keeps the CPUs busy on purpose (a flood): it waits
    /// until no other live test runs, and keeps them waiting while it lives.
    pub fn new_alone(n_reals: usize, method: Method) -> Self {
        Self::sharing(n_reals, method, Share::alone())
    }

    fn sharing(n_reals: usize, method: Method, share: Share) -> Self {
        let switch = Netns::new("sw");
        let client = Netns::new("cl");
        let director = Netns::new("dir");
        let reals: Vec<Netns> = (0..n_reals)
            .map(|i| Netns::new(&format!("rs{i}")))
            .collect();
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let plug = |ns: &Netns, port: &str, addr: Ipv4Addr, addr6: Ipv6Addr| {
            switch.ip(&[
                "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
            ]);
            switch.ip(&["link", "set", port, "master", "br0", "up"]);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            // nodad: usable at once (duplicate address detection would hold it ~1 s).
            ns.ip(&[
                "addr",
                "add",
                &format!("{addr6}/64"),
                "dev",
                "eth0",
                "nodad",
            ]);
            ns.ip(&["link", "set", "eth0", "up"]);
        };
        plug(&client, "p-client", CLIENT, CLIENT6);
        plug(&director, "p-director", DIRECTOR, DIRECTOR6);
        for (i, rs) in reals.iter().enumerate() {
            plug(rs, &format!("p-rs{i}"), real_addr(i), real_addr6(i));
        }
        // Frames the director sends back with XDP_TX reach its bridge port only if that veth
        // runs an XDP program too (see the `pass` program).
        let peer_xdp = {
            let _in_switch = switch.enter();
            lb_daemon::dataplane::attach_standalone(
                "pass",
                "p-director",
                lb_model::config::XdpMode::Native,
            )
            .unwrap_or_else(|e| panic!("attaching pass to p-director: {e}"))
        };
        // The veths keep their default checksum offload: a sender leaves its TCP/UDP
        // checksums to "hardware" (CHECKSUM_PARTIAL), and lb finishes them before it sends a
        // packet on (`csum_completed`; see `lb-ebpf/src/xmit/partial.rs`).
        client.ip(&[
            "route",
            "add",
            &format!("{VIP}/32"),
            "via",
            &DIRECTOR.to_string(),
        ]);
        client.ip(&[
            "-6",
            "route",
            "add",
            &format!("{VIP6}/128"),
            "via",
            &DIRECTOR6.to_string(),
        ]);
        let workdir = std::env::temp_dir().join(unique_name("work"));
        std::fs::create_dir_all(&workdir).expect("workdir");
        let mut decaps = Vec::new();
        let mut http = Vec::new();
        for (i, rs) in reals.iter().enumerate() {
            match method {
                Method::Tun | Method::Gue | Method::Gre | Method::Dr => {
                    rs.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
                    rs.ip(&["addr", "add", &format!("{VIP6}/128"), "dev", "lo"]);
                }
                Method::Nat => {
                    rs.ip(&[
                        "route",
                        "add",
                        &format!("{CLIENT}/32"),
                        "via",
                        &DIRECTOR.to_string(),
                    ]);
                    rs.ip(&[
                        "-6",
                        "route",
                        "add",
                        &format!("{CLIENT6}/128"),
                        "via",
                        &DIRECTOR6.to_string(),
                    ]);
                }
            }
            if matches!(method, Method::Tun | Method::Gue | Method::Gre) {
                let mut cmd = Command::new(bin("lbd"));
                cmd.args(["--netns", &rs.name, "decap", "--interface", "eth0"])
                    .env("RUST_LOG", "warn");
                if method == Method::Gue {
                    cmd.args(["--gue-port", &GUE_PORT.to_string()]);
                }
                decaps.push(Proc::spawn(&format!("decap rs{i}"), &mut cmd));
            }
            http.push(HttpServer::start(rs, &format!("rs{i}"), method.real_port()));
        }
        let pin_dir = PathBuf::from("/sys/fs/bpf").join(unique_name("pins"));
        Topology {
            method,
            peer_xdp: vec![peer_xdp],
            lbd: None,
            decaps,
            http,
            socket: workdir.join("lbd.sock"),
            config_path: workdir.join("lb.json"),
            client,
            director,
            reals,
            switch,
            pin_dir,
            workdir,
            _share: share,
        }
    }

    /// The director's config for this topology: a TCP service on the VIP and one on the IPv6
    /// VIP, Maglev, every real server (by its IPv4 and its IPv6 address respectively) with the
    /// topology's method, weights given per real server.
    pub fn config(&self, weights: &[u32]) -> ConfigBuilder {
        self.config_sched(weights, "mh")
    }

    /// [`Topology::config`] with another scheduler. `mh` gets its `mh-port` flag: the tests
    /// spread one client's connections over the real servers (plain `mh`, like IPVS's,
    /// hashes the client address alone).
    pub fn config_sched(&self, weights: &[u32], scheduler: &str) -> ConfigBuilder {
        let flags: &[&str] = if scheduler == "mh" { &["mh-port"] } else { &[] };
        let reals = |addr: &dyn Fn(usize) -> IpAddr| -> Vec<RealBuilder> {
            weights
                .iter()
                .enumerate()
                .map(|(i, w)| self.real_server(addr(i)).weight(*w))
                .collect()
        };
        config()
            .conn_table_size(65536)
            .pin_dir(&self.pin_dir)
            .service(
                tcp_service(VIP, VIP_PORT)
                    .scheduler(scheduler)
                    .flags(flags)
                    .reals(reals(&|i| real_addr(i).into())),
            )
            .service(
                tcp_service(VIP6, VIP_PORT)
                    .scheduler(scheduler)
                    .flags(flags)
                    .reals(reals(&|i| real_addr6(i).into())),
            )
    }

    /// [`Topology::config`] with the IPv4 service alone, on `port` (and its real servers on
    /// `port` too).
    pub fn config_on_port(&self, weights: &[u32], port: u16) -> ConfigBuilder {
        self.config(weights)
            .first_services(1)
            .edit_service(0, |s| s.port(port).edit_reals(|r| r.port(port)))
    }

    /// A real server at `addr` set up for this topology's method (port, forwarding, tunnel).
    pub fn real_server(&self, addr: impl Into<IpAddr>) -> RealBuilder {
        let r = real(addr).port(self.method.real_port());
        match self.method {
            Method::Tun => r.tun(),
            Method::Gue => r.gue(GUE_PORT),
            Method::Gre => r.gre(),
            Method::Dr => r.dr(),
            Method::Nat => r.nat(),
        }
    }

    /// Writes the config and starts lbd in the director namespace; returns once its control
    /// socket answers and the real servers' neighbour entries are resolved.
    pub fn start_lbd(&mut self, config: &ConfigBuilder) {
        let reals: Vec<IpAddr> = (0..self.reals.len()).map(|i| real_addr(i).into()).collect();
        self.start_lbd_resolving(config, &reals);
    }

    /// [`Topology::start_lbd`], waiting for the neighbour entries of `reals` (the real
    /// servers the config names).
    pub fn start_lbd_resolving(&mut self, config: &ConfigBuilder, reals: &[IpAddr]) {
        self.write_config(config);
        // Appended to: a test that restarts lbd keeps every run's log.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.workdir.join("lbd.log"))
            .expect("lbd log");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut p = spawn_lbd(
            &self.director,
            &self.config_path,
            &self.socket,
            &self.state_path(),
            log,
        );
        // lbd resolves the real servers' MACs (the XDP FIB lookup cannot); on a loaded machine
        // that can take longer than lbd's own 2-second wait, and a first SYN meeting an
        // unresolved neighbour is dropped (and only retried a second later): wait for it.
        for addr in reals {
            self.wait_resolved(*addr, &mut p, deadline);
        }
        // Every real server's decap (tun) must be attached before traffic flows.
        for (d, rs) in self.decaps.iter_mut().zip(&self.reals) {
            while !rs.ip(&["link", "show", "dev", "eth0"]).contains("prog/xdp") {
                d.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "decap did not attach in {}",
                    rs.name
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.lbd = Some(p);
    }

    /// Writes `config` to lbd's config file (read at start and on SIGHUP).
    pub fn write_config(&self, config: &ConfigBuilder) {
        std::fs::write(&self.config_path, config.json()).expect("write config");
    }

    /// Writes `config` and has lbd re-read it (SIGHUP).
    pub fn reload(&self, config: &ConfigBuilder) {
        self.write_config(config);
        let pid = self.lbd.as_ref().expect("lbd running").pid();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    }

    /// Waits until the director has a neighbour entry for `addr` (lbd resolves real servers;
    /// the XDP FIB lookup cannot).
    fn wait_resolved(&self, addr: IpAddr, lbd: &mut Proc, deadline: Instant) {
        let a = addr.to_string();
        while !self.director.ip(&["neigh", "show", &a]).contains("lladdr") {
            lbd.assert_running();
            assert!(Instant::now() < deadline, "{a} never resolved by lbd");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (up to 10 s) until lbd has resolved the neighbour entries of `reals`, e.g.
    /// after adding real servers at run time.
    pub fn wait_neighbours(&mut self, reals: &[IpAddr]) {
        let mut p = self.lbd.take().expect("lbd running");
        let deadline = Instant::now() + Duration::from_secs(10);
        for addr in reals {
            self.wait_resolved(*addr, &mut p, deadline);
        }
        self.lbd = Some(p);
    }

    /// Runs lbctl against this topology's lbd with `stdin`, returning its whole output
    /// (status, stdout, stderr) without judging it.
    pub fn lbctl_output(&self, args: &[&str], stdin: &[u8]) -> std::process::Output {
        lbctl(&self.socket, args, stdin)
    }

    /// Runs one command line as a user types it (`lbctl -A -t ...`: the words after the
    /// first) and checks that it worked silently, as ipvsadm does.
    pub fn lbctl_line(&self, line: &str) {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let out = self.lbctl_output(&args, b"");
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "{line}: {out:?}"
        );
    }

    /// This topology's lbd state file (its own, so that parallel tests never share one).
    pub fn state_path(&self) -> PathBuf {
        self.workdir.join("state.json")
    }

    /// A directory of this topology's own, removed with it.
    pub fn workdir(&self) -> &std::path::Path {
        &self.workdir
    }

    pub fn log_path(&self) -> PathBuf {
        self.workdir.join("lbd.log")
    }

    /// Runs lbctl against this topology's lbd and returns its stdout.
    pub fn lbctl(&self, args: &[&str]) -> String {
        let out = Command::new(bin("lbctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run lbctl");
        assert!(
            out.status.success(),
            "lbctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some(mut p) = self.lbd.take() {
            p.stop();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.workdir.join("lbd.log")).unwrap_or_default();
            eprintln!("--- lbd log\n{log}--- end of lbd log");
        }
        self.decaps.clear();
        self.http.clear();
        self.peer_xdp.clear();
        // lbd removes its pins on a clean stop; this covers a crashed one.
        let _ = std::fs::remove_dir_all(&self.pin_dir);
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}
