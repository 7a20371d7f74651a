//! The high-availability topology: a client behind a router running BIRD 2 with ECMP, N
//! directors each running lbd and BIRD (eBGP to the router), real servers on a LAN with the
//! directors (`dr`). Every host is a network namespace of its own; the LAN is a bridge in a
//! "switch" namespace. Addresses exist only inside these namespaces; nothing is routed out.
//!
//! ```text
//!   client 198.19.0.10 ── router 198.19.0.1 | 198.18.0.1 ─┐
//!                         (BIRD, AS 65000, ECMP)          │
//!   director i 198.18.0.(2+i) (lbd + BIRD, AS 65001) ─────┼─ br0 (switch ns)
//!   real server j 198.18.0.(11+j) (VIPs on lo) ───────────┘
//!   VIPs 198.18.1.100 (HA_VIP), 198.18.1.101 (HA_VIP2): announced by the directors
//! ```

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    Share,
    config::ConfigBuilder,
    netns::{Netns, unique_name},
    servers::exchange,
    topo::{HttpServer, Proc, bin, lbctl, socket2_connect, spawn_lbd},
};

/// The router's address on the LAN (the directors' BGP neighbour).
pub const HA_ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The router's address on the client's link.
pub const HA_ROUTER_CLIENT_SIDE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
/// The client.
pub const HA_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 10);
/// The VIPs the directors announce.
pub const HA_VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
pub const HA_VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 101);
/// The router's AS and the directors'.
pub const ROUTER_AS: u32 = 65000;
pub const DIRECTOR_AS: u32 = 65001;

/// The router's IPv6 address on the LAN ([`HaTopology::with_ipv6`]).
pub const HA_ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

/// Director `i`'s IPv6 address on the LAN ([`HaTopology::with_ipv6`]).
pub fn ha_director6(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2 + i as u16)
}

/// Real server `j`'s IPv6 address on the LAN ([`HaTopology::with_ipv6`]).
pub fn ha_real6(j: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 11 + j as u16)
}

/// Director `i`'s address on the LAN.
pub fn ha_director(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 2 + i as u8)
}

/// Real server `j`'s address on the LAN.
pub fn ha_real(j: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 11 + j as u8)
}

/// A BIRD 2 daemon in a namespace, in the foreground (`bird -f`), with its config, control
/// socket and log in a directory of the test's; stopped on Drop.
pub struct Bird {
    pub name: String,
    pub socket: PathBuf,
    pub log: PathBuf,
    proc: Option<Proc>,
}

impl Bird {
    /// Writes `config` and starts BIRD in `ns`; returns once its control socket greets.
    pub fn start(ns: &Netns, dir: &Path, name: &str, config: &str) -> Bird {
        let conf = dir.join(format!("{name}.conf"));
        let socket = dir.join(format!("{name}.ctl"));
        let log = dir.join(format!("{name}.log"));
        let config = format!("log \"{}\" all;\n{config}", log.display());
        std::fs::write(&conf, config).expect("write bird config");
        let bird = which("bird");
        let mut proc = Proc::spawn(
            &format!("bird {name}"),
            Command::new("ip")
                .args(["netns", "exec", &ns.name])
                .arg(bird)
                .arg("-f")
                .arg("-c")
                .arg(&conf)
                .arg("-s")
                .arg(&socket)
                .arg("-P")
                .arg(dir.join(format!("{name}.pid"))),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = UnixStream::connect(&socket) {
                let mut greeting = String::new();
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                if BufReader::new(s).read_line(&mut greeting).is_ok()
                    && greeting.starts_with("0001 ")
                {
                    break;
                }
            }
            proc.assert_running();
            assert!(
                Instant::now() < deadline,
                "BIRD {name} did not open its control socket; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Bird {
            name: name.into(),
            socket,
            log,
            proc: Some(proc),
        }
    }

    /// `birdc -s SOCKET COMMAND...` (BIRD's own client), its output.
    pub fn birdc(&self, args: &[&str]) -> String {
        let out = Command::new(which("birdc"))
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run birdc");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Panics if BIRD has exited.
    pub fn assert_running(&mut self) {
        if let Some(p) = &mut self.proc {
            p.assert_running();
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// `kill -9`: BIRD closes no session; its peers notice when their hold timer runs out.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        self.stop();
    }
}

/// BIRD's binaries (Debian's bird2 puts them in /usr/sbin).
fn which(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install bird2 (cargo xtask setup does)");
}

/// One director: its namespace, BIRD, and lbd with its files.
pub struct HaDirector {
    pub ns: Netns,
    pub bird: Option<Bird>,
    pub lbd: Option<Proc>,
    pub socket: PathBuf,
    pub config_path: PathBuf,
    pub state_file: PathBuf,
    pub include_file: PathBuf,
    pub pin_dir: PathBuf,
    pub log: PathBuf,
    pub address: Ipv4Addr,
    /// What its BIRD runs (`lbctl bird-config`), to start it again after a death.
    bird_config: String,
}

impl HaDirector {
    /// Runs lbctl against this director's lbd and returns stdout (panics on failure).
    pub fn lbctl(&self, args: &[&str]) -> String {
        let out = lbctl(&self.socket, args, b"");
        assert!(
            out.status.success(),
            "lbctl {args:?} on {} failed: {}{}",
            self.ns.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops lbd cleanly (SIGTERM) and waits for it to exit.
    pub fn stop_lbd(&mut self) {
        if let Some(mut p) = self.lbd.take() {
            p.stop();
        }
    }
}

/// The whole topology (see the module's doc). Drop stops every process, then removes the
/// namespaces, pins and files.
pub struct HaTopology {
    pub client: Netns,
    pub router: Netns,
    pub router_bird: Option<Bird>,
    pub directors: Vec<HaDirector>,
    pub reals: Vec<Netns>,
    pub http: Vec<HttpServer>,
    pub switch: Netns,
    peer_xdp: Vec<aya::Ebpf>,
    workdir: PathBuf,
    _share: Share,
}

/// The BGP timers of the tests: a session comes up within about a second, a silent peer is
/// dropped after 3 s.
const BGP_TIMERS: &str = "hold time 3; keepalive time 1; connect delay time 1; \
                          connect retry time 1; error wait time 1, 2;";

impl HaTopology {
    /// Creates the namespaces and links, starts an HTTP server on each real server (port 80,
    /// answering with its name) and BIRD on the router (ECMP into its kernel table) and on
    /// each of `n_directors` directors (an empty include file, as `lbctl bird-config` says).
    /// lbd is started by [`HaTopology::start_lbd`].
    pub fn new(n_directors: usize, n_reals: usize) -> Self {
        Self::build(n_directors, n_reals, false)
    }

    /// [`HaTopology::new`] with IPv6 on the LAN too: the router, directors and real servers
    /// have [`HA_ROUTER6`], [`ha_director6`] and [`ha_real6`] (/64), and the router's BIRD has
    /// an IPv6 session with each director (IPv6 VIPs, /128, into its kernel table, ECMP).
    pub fn with_ipv6(n_directors: usize, n_reals: usize) -> Self {
        Self::build(n_directors, n_reals, true)
    }

    fn build(n_directors: usize, n_reals: usize, ipv6: bool) -> Self {
        let share = Share::side_by_side();
        let switch = Netns::new("hsw");
        let client = Netns::new("hcl");
        let router = Netns::new("hrt");
        let directors_ns: Vec<Netns> = (0..n_directors)
            .map(|i| Netns::new(&format!("hd{i}")))
            .collect();
        let reals: Vec<Netns> = (0..n_reals)
            .map(|j| Netns::new(&format!("hrs{j}")))
            .collect();
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let plug = |ns: &Netns, port: &str, addr: Ipv4Addr, addr6: Ipv6Addr| {
            switch.ip(&[
                "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
            ]);
            switch.ip(&["link", "set", port, "master", "br0", "up"]);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            if ipv6 {
                let a = format!("{addr6}/64");
                ns.ip(&["addr", "add", &a, "dev", "eth0", "nodad"]);
            }
            ns.ip(&["link", "set", "eth0", "up"]);
        };
        plug(&router, "p-router", HA_ROUTER, HA_ROUTER6);
        for (i, d) in directors_ns.iter().enumerate() {
            let port = format!("p-d{i}");
            plug(d, &port, ha_director(i), ha_director6(i));
            // Unknown unicast is flooded, as switches do: when a director's link goes down
            // the bridge forgets its MAC and floods the frames the router still sends it to
            // every port; `lb` on another director passes them to its kernel, which drops
            // them (`pass_other_host`: not its MAC), so a failover waits for the router.
        }
        for (j, rs) in reals.iter().enumerate() {
            plug(rs, &format!("p-rs{j}"), ha_real(j), ha_real6(j));
        }
        // The client's link to the router.
        router.veth_to("eth1", &client, "eth0");
        router.ip(&[
            "addr",
            "add",
            &format!("{HA_ROUTER_CLIENT_SIDE}/24"),
            "dev",
            "eth1",
        ]);
        router.ip(&["link", "set", "eth1", "up"]);
        client.ip(&["addr", "add", &format!("{HA_CLIENT}/24"), "dev", "eth0"]);
        client.ip(&["link", "set", "eth0", "up"]);
        // The client reaches the VIPs through the router (nothing else is routed).
        client.ip(&[
            "route",
            "add",
            "198.18.0.0/15",
            "via",
            &HA_ROUTER_CLIENT_SIDE.to_string(),
        ]);
        router.sysctl("net.ipv4.ip_forward", "1");
        // ECMP hashes on the ports: one client's connections spread over the directors.
        router.sysctl("net.ipv4.fib_multipath_hash_policy", "1");
        // The router's ECMP hashes a forwarded packet by the hash its sender's socket put on it
        // (the client's TCP, across the veth), which TCP draws again on a retransmission
        // timeout (`net.core.txrehash`, to route around a failed path): kept, so that a flow
        // the router moved off a dead director goes back to it when it is announced again.
        client.sysctl("net.core.txrehash", "0");
        // Frames a director sends back with XDP_TX reach its bridge port only if that veth
        // runs an XDP program too (see the `pass` program).
        let peer_xdp = {
            let _in_switch = switch.enter();
            (0..n_directors)
                .map(|i| {
                    let port = format!("p-d{i}");
                    lb_daemon::dataplane::attach_standalone(
                        "pass",
                        &port,
                        lb_model::config::XdpMode::Native,
                    )
                    .unwrap_or_else(|e| panic!("attaching pass to {port}: {e}"))
                })
                .collect()
        };
        // Senders whose packets cross a director compute their own checksums (see topo.rs).
        client.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
        router.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
        router.exec(&["ethtool", "-K", "eth1", "tx", "off"]);
        let workdir = std::env::temp_dir().join(unique_name("ha"));
        std::fs::create_dir_all(&workdir).expect("workdir");
        let mut http = Vec::new();
        for (j, rs) in reals.iter().enumerate() {
            rs.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
            for vip in [HA_VIP, HA_VIP2] {
                rs.ip(&["addr", "add", &format!("{vip}/32"), "dev", "lo"]);
            }
            // dr: the VIPs are on loopback; the LAN's ARP for them is the directors' business.
            rs.sysctl("net.ipv4.conf.all.arp_ignore", "1");
            rs.sysctl("net.ipv4.conf.all.arp_announce", "2");
            rs.ip(&[
                "route",
                "add",
                "198.19.0.0/24",
                "via",
                &HA_ROUTER.to_string(),
            ]);
            http.push(HttpServer::start(rs, &format!("rs{j}"), 80));
        }
        let mut neighbours: String = (0..n_directors)
            .map(|i| {
                format!(
                    "protocol bgp d{i} {{ local {HA_ROUTER} as {ROUTER_AS}; neighbor {} as {DIRECTOR_AS}; \
                     {BGP_TIMERS} ipv4 {{ import all; export none; }}; }}\n",
                    ha_director(i)
                )
            })
            .collect();
        if ipv6 {
            neighbours.push_str("protocol kernel { ipv6 { export all; }; merge paths on; }\n");
            for i in 0..n_directors {
                neighbours.push_str(&format!(
                    "protocol bgp d{i}v6 {{ local {HA_ROUTER6} as {ROUTER_AS}; neighbor {} as {DIRECTOR_AS}; \
                     {BGP_TIMERS} ipv6 {{ import all; export none; }}; }}\n",
                    ha_director6(i)
                ));
            }
        }
        let router_bird = Bird::start(
            &router,
            &workdir,
            "router",
            &format!(
                "router id {HA_ROUTER};\n\
                 protocol device {{ scan time 1; }}\n\
                 protocol kernel {{ ipv4 {{ export all; }}; merge paths on; }}\n\
                 {neighbours}"
            ),
        );
        let mut directors = Vec::new();
        for (i, ns) in directors_ns.into_iter().enumerate() {
            let include_file = workdir.join(format!("d{i}-vips.conf"));
            // As `lbctl bird-config` says: the file exists before BIRD's first start.
            std::fs::write(&include_file, "").expect("include file");
            let address = ha_director(i);
            // The director's BIRD runs what `lbctl bird-config` prints: the snippet the README
            // gives users is the one tested here.
            let mut lbctl = Command::new(bin("lbctl"));
            lbctl.args(["bird-config", "--router", &HA_ROUTER.to_string()]);
            if ipv6 {
                lbctl.args(["--router", &HA_ROUTER6.to_string()]);
            }
            let snippet = lbctl
                .args(["--router-as", &ROUTER_AS.to_string()])
                .args(["--local-as", &DIRECTOR_AS.to_string()])
                .arg("--include-file")
                .arg(&include_file)
                .output()
                .expect("lbctl bird-config");
            assert!(
                snippet.status.success(),
                "lbctl bird-config failed: {snippet:?}"
            );
            let bird_config = format!(
                "router id {address};\n{}",
                String::from_utf8(snippet.stdout).expect("utf-8")
            );
            let bird = Bird::start(&ns, &workdir, &format!("d{i}-bird"), &bird_config);
            directors.push(HaDirector {
                socket: workdir.join(format!("d{i}-lbd.sock")),
                config_path: workdir.join(format!("d{i}-lb.json")),
                state_file: workdir.join(format!("d{i}-state.json")),
                log: workdir.join(format!("d{i}-lbd.log")),
                pin_dir: PathBuf::from("/sys/fs/bpf").join(unique_name(&format!("hapins{i}"))),
                include_file,
                bird: Some(bird),
                lbd: None,
                ns,
                address,
                bird_config,
            });
        }
        HaTopology {
            client,
            router,
            router_bird: Some(router_bird),
            directors,
            reals,
            http,
            switch,
            peer_xdp,
            workdir,
            _share: share,
        }
    }

    /// Director `i`'s config: `config` with its pins, its address and announcement through
    /// its BIRD.
    pub fn director_config(&self, i: usize, config: ConfigBuilder) -> ConfigBuilder {
        let d = &self.directors[i];
        config
            .pin_dir(&d.pin_dir)
            .director_ipv4(d.address)
            .announce(d.directors_bird_socket(), &d.include_file)
    }

    /// Starts lbd on director `i` with `config` (see [`HaTopology::director_config`]);
    /// returns once `lb` is attached and lbd has resolved the real servers' MACs.
    pub fn start_lbd(&mut self, i: usize, config: &ConfigBuilder) {
        let d = &mut self.directors[i];
        std::fs::write(&d.config_path, config.json()).expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&d.log)
            .expect("lbd log");
        let mut p = spawn_lbd(&d.ns, &d.config_path, &d.socket, &d.state_file, log);
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in config.build().real_addrs() {
            let a = addr.to_string();
            while !d.ns.ip(&["neigh", "show", &a]).contains("lladdr") {
                p.assert_running();
                assert!(Instant::now() < deadline, "{a} never resolved by lbd");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        d.lbd = Some(p);
    }

    /// Director `i` dies as a machine does: its link goes down (nothing it sends or is sent
    /// arrives), lbd and BIRD are killed (`kill -9`: nothing withdrawn, no BGP session
    /// closed), and its memory is gone: the pins are removed, which detaches `lb`. The router
    /// drops its routes when the BGP hold timer runs out. Its include file stays as lbd left
    /// it (a file on disk survives a reboot).
    pub fn kill_director(&mut self, i: usize) {
        let d = &mut self.directors[i];
        d.ns.ip(&["link", "set", "eth0", "down"]);
        if let Some(mut p) = d.lbd.take() {
            p.kill();
        }
        if let Some(b) = &mut d.bird {
            b.kill();
        }
        std::fs::remove_dir_all(&d.pin_dir).expect("removing the dead director's pins");
        // The kernel releases the link when its last reference goes, a moment later.
        crate::wait_until(
            Duration::from_secs(5),
            "lb detached once its pins are gone",
            || {
                !d.ns
                    .ip(&["link", "show", "dev", "eth0"])
                    .contains("prog/xdp")
            },
        );
    }

    /// Director `i` comes back after [`HaTopology::kill_director`], as a machine that boots:
    /// its link up, lbd started with `config` (a fresh data plane: lbd empties the include
    /// file the dead lbd left, bulk-syncs if the config says so, then announces), then BIRD
    /// (ordered after lbd, as the packaged unit's `Before=bird.service` does).
    pub fn revive_director(&mut self, i: usize, config: &ConfigBuilder) {
        self.directors[i].ns.ip(&["link", "set", "eth0", "up"]);
        self.start_lbd(i, config);
        let d = &mut self.directors[i];
        d.bird = Some(Bird::start(
            &d.ns,
            &self.workdir,
            &format!("d{i}-bird"),
            &d.bird_config,
        ));
    }

    /// `n` line connections from the client to `vip`, each with its first line (`cI 1`)
    /// answered whole; the connections and the real server that answered each.
    pub fn open_streams(&self, vip: SocketAddr, n: usize) -> (Vec<TcpStream>, Vec<String>) {
        let _in = self.client.enter();
        let mut streams = Vec::new();
        let mut served_by = Vec::new();
        for i in 0..n {
            let mut s = socket2_connect(vip, None).unwrap_or_else(|e| panic!("connect {i}: {e}"));
            let answer = exchange(&mut s, &format!("c{i} 1")).expect("first line");
            let (name, rest) = answer.split_once(' ').expect("name and line");
            assert_eq!(rest, format!("c{i} 1"));
            served_by.push(name.to_string());
            streams.push(s);
        }
        (streams, served_by)
    }

    /// The router's next hops for `vip` (its kernel table, as BIRD installed it), sorted.
    pub fn next_hops(&self, vip: impl Into<IpAddr>) -> Vec<IpAddr> {
        let out = match vip.into() {
            IpAddr::V4(v) => self.router.ip(&["route", "show", &format!("{v}/32")]),
            IpAddr::V6(v) => self
                .router
                .ip(&["-6", "route", "show", &format!("{v}/128")]),
        };
        let words: Vec<&str> = out.split_whitespace().collect();
        let mut hops: Vec<IpAddr> = words
            .windows(2)
            .filter(|w| w[0] == "via")
            .filter_map(|w| w[1].parse().ok())
            .collect();
        hops.sort();
        hops
    }

    /// Waits (up to `limit`) until the router's next hops for `vip` are the addresses of
    /// `directors` (of `vip`'s family); panics with the router's table, BIRD's view and the
    /// logs otherwise.
    pub fn wait_next_hops(&self, vip: impl Into<IpAddr>, directors: &[usize], limit: Duration) {
        let vip = vip.into();
        let mut want: Vec<IpAddr> = directors
            .iter()
            .map(|i| match vip {
                IpAddr::V4(_) => IpAddr::V4(ha_director(*i)),
                IpAddr::V6(_) => IpAddr::V6(ha_director6(*i)),
            })
            .collect();
        want.sort();
        let t0 = Instant::now();
        loop {
            let got = self.next_hops(vip);
            if got == want {
                return;
            }
            if t0.elapsed() > limit {
                let protocols = self
                    .router_bird
                    .as_ref()
                    .map(|b| b.birdc(&["show", "protocols"]))
                    .unwrap_or_default();
                let routes = self
                    .router_bird
                    .as_ref()
                    .map(|b| b.birdc(&["show", "route", "all"]))
                    .unwrap_or_default();
                panic!(
                    "router's next hops for {vip}: {got:?}, want {want:?} (after {limit:?})\n\
                     ip route: {}{}\nrouter BIRD protocols:\n{protocols}\nroutes:\n{routes}",
                    self.router.ip(&["route"]),
                    self.router.ip(&["-6", "route"]),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A directory of this topology's own, removed with it.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// lbd's binary is there (a clear panic otherwise, before anything starts).
    pub fn check_binaries() {
        let _ = bin("lbd");
        let _ = bin("lbctl");
    }
}

/// One round of every stream of a [`LineServer`]: `lines` lines of [`STREAM_LINE`] bytes
/// written to each stream first (so that every stream has data in flight at once), then each
/// stream's answer read and compared byte for byte with what its real server must send back
/// (`NAME LINE\n` for each line), waiting up to `limit` for each stream (TCP retransmits while
/// the router still sends to a dead director). Panics naming the stream on a reset, a close,
/// a timeout or a wrong byte. Returns the bytes checked.
///
/// [`LineServer`]: crate::servers::LineServer
pub fn stream_round(
    streams: &mut [TcpStream],
    served_by: &[String],
    round: usize,
    lines: usize,
    limit: Duration,
) -> usize {
    let line = |i: usize, k: usize| {
        let head = format!("c{i} r{round} l{k} ");
        let fill: String = (0..STREAM_LINE - head.len())
            .map(|n| char::from(b'a' + ((i + k + n) % 26) as u8))
            .collect();
        format!("{head}{fill}")
    };
    for (i, s) in streams.iter_mut().enumerate() {
        let text: String = (0..lines).map(|k| format!("{}\n", line(i, k))).collect();
        s.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("stream {i}, round {round}: writing: {e}"));
    }
    let mut checked = 0;
    for (i, s) in streams.iter_mut().enumerate() {
        let want: String = (0..lines)
            .map(|k| format!("{} {}\n", served_by[i], line(i, k)))
            .collect();
        let mut got = vec![0u8; want.len()];
        s.set_read_timeout(Some(limit)).expect("read timeout");
        let mut at = 0;
        while at < got.len() {
            match s.read(&mut got[at..]) {
                Ok(0) => panic!(
                    "stream {i}, round {round}: closed after {at} of {} bytes",
                    got.len()
                ),
                Ok(n) => at += n,
                Err(e) => panic!(
                    "stream {i}, round {round} (served by {}): {e} after {at} of {} bytes",
                    served_by[i],
                    got.len()
                ),
            }
        }
        assert!(
            got == want.as_bytes(),
            "stream {i}, round {round}: the answer differs from what was sent:\n got {:?}\nwant {want:?}",
            String::from_utf8_lossy(&got)
        );
        checked += got.len();
    }
    checked
}

/// The length of each line [`stream_round`] sends, newline excluded.
pub const STREAM_LINE: usize = 199;

impl HaDirector {
    /// Takes `addr` over as keepalived's VRRP does when this director becomes the master:
    /// the address is added to its LAN interface (`/24`) and announced by gratuitous ARP (a
    /// broadcast request for the address from this interface's MAC), sent `times` times
    /// `gap` apart (a neighbour entry updated less than `locktime`, 1 s, ago may keep its MAC).
    pub fn take_address(&self, addr: Ipv4Addr, times: usize, gap: Duration) {
        self.ns
            .ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        let mac = self.ns.mac("eth0");
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&mac);
        frame.extend_from_slice(&[0x08, 0x06]);
        // ARP: Ethernet, IPv4, 6- and 4-byte addresses, a request.
        frame.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        frame.extend_from_slice(&mac);
        frame.extend_from_slice(&addr.octets());
        frame.extend_from_slice(&[0; 6]);
        frame.extend_from_slice(&addr.octets());
        let ifindex = self.ns.ifindex("eth0");
        let _in = self.ns.enter();
        let sock = crate::flood::PacketSocket::open(ifindex);
        for k in 0..times {
            if k > 0 {
                std::thread::sleep(gap);
            }
            sock.send(&frame).expect("sending a gratuitous ARP");
        }
    }

    /// This director's BIRD control socket.
    pub fn directors_bird_socket(&self) -> PathBuf {
        self.bird.as_ref().expect("BIRD running").socket.clone()
    }

    /// The VIPs of lbd's include file now (the routes it holds).
    pub fn included_vips(&self) -> Vec<IpAddr> {
        let text = std::fs::read_to_string(&self.include_file).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("route "))
            .filter_map(|r| r.split('/').next()?.parse().ok())
            .collect()
    }
}

impl Drop for HaTopology {
    fn drop(&mut self) {
        for d in &mut self.directors {
            d.stop_lbd();
        }
        let panicking = std::thread::panicking();
        if panicking {
            for d in &self.directors {
                let log = std::fs::read_to_string(&d.log).unwrap_or_default();
                eprintln!("--- lbd log of {}\n{log}--- end", d.ns.name);
            }
        }
        for d in &mut self.directors {
            if let Some(mut b) = d.bird.take() {
                if panicking {
                    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
                    eprintln!("--- BIRD log of {}\n{log}--- end", b.name);
                }
                b.stop();
            }
        }
        if let Some(mut b) = self.router_bird.take() {
            if panicking {
                let log = std::fs::read_to_string(&b.log).unwrap_or_default();
                eprintln!("--- BIRD log of the router\n{log}--- end");
            }
            b.stop();
        }
        self.http.clear();
        self.peer_xdp.clear();
        for d in &self.directors {
            // lbd leaves its data plane pinned when it stops; the test removes it.
            let _ = std::fs::remove_dir_all(&d.pin_dir);
        }
        let _ = std::fs::remove_dir_all(&self.workdir);
        let _ = std::io::stderr().flush();
    }
}

/// A log without its terminal colours (`ESC [ ... m`).
pub fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
