//! The classic two-armed LVS director (ipvsadm(8)'s NAT example, with its addresses): one
//! interface toward the clients, another toward the real servers, each on its own bridge in
//! the switch namespace. The VIP is an address of the director's client-side interface (the
//! client finds it by ARP / neighbour discovery, as in LVS-NAT), and the real servers' default
//! route is the director. Every address exists only inside these namespaces.
//!
//! ```text
//!   client 192.168.0.2 ── br-c ── eth0 director 192.168.0.254, VIP 192.168.0.1
//!                                 eth1 director 172.16.0.254 ── br-s ── rs0 172.16.0.1
//!                                                                    └─ rs1 172.16.0.2
//!   IPv6: 2001:db8:0:c::/64 on the client side (VIP ::1, director ::fe, client ::2),
//!         2001:db8:0:a::/64 on the real servers' (director ::fe, real servers ::1, ::2)
//! ```
//!
//! `dr` and `tun` real servers hold the VIPs on their loopback (`tun` ones run `lbd decap`);
//! their replies go back through the director's kernel, which forwards them to the client.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    Share,
    config::{ConfigBuilder, config},
    netns::{Netns, unique_name},
    topo::{HttpServer, Method, Proc, Topology, bin},
};

/// The seed's VIP, on the director's client-side interface.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0xc, 0, 0, 0, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0xc, 0, 0, 0, 2);
/// The director on the client side.
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 254);
pub const OUTSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0xc, 0, 0, 0, 0xfe);
/// The director on the real servers' side: their default route, and the outer source of
/// tunnels.
pub const INSIDE: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 254);
pub const INSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0xa, 0, 0, 0, 0xfe);

/// The director's third interface (see [`Topology::third_arm`]), and the client behind it.
pub const THIRD: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 254);
pub const CLIENT2: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

/// The second client's namespace, behind the director's eth2, with the `pass` program on the
/// director's veth peer (detached on Drop).
pub struct ThirdArm {
    pub client: Netns,
    _pass: aya::Ebpf,
}

/// A veth from bridge `br` (port `port`) in `switch` to `ns`'s `dev`, with addresses, up.
fn plug(switch: &Netns, ns: &Netns, br: &str, port: &str, dev: &str, addrs: &[String]) {
    switch.ip(&[
        "link", "add", port, "type", "veth", "peer", "name", dev, "netns", &ns.name,
    ]);
    switch.ip(&["link", "set", port, "master", br, "up"]);
    for a in addrs {
        let mut args = vec!["addr", "add", a.as_str(), "dev", dev];
        if a.contains(':') {
            // nodad: usable at once (duplicate address detection would hold it ~1 s).
            args.push("nodad");
        }
        ns.ip(&args);
    }
    ns.ip(&["link", "set", dev, "up"]);
}

/// The object's `pass` program on the switch's end `port` of a director's veth: frames lb
/// sends with XDP_TX or redirects into the veth reach the bridge only if its far end runs an
/// XDP program too.
fn attach_pass(switch: &Netns, port: &str) -> aya::Ebpf {
    let _in_switch = switch.enter();
    lb_daemon::dataplane::attach_standalone("pass", port, lb_model::config::XdpMode::Native)
        .unwrap_or_else(|e| panic!("attaching pass to {port}: {e}"))
}

/// Real server `i`: the seed's 172.16.0.1, .2, ...
pub const fn real(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 0, 1 + i as u8)
}

pub const fn real6(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0xa, 0, 0, 0, 1 + i as u16)
}

/// The port every real server's HTTP server listens on (the seed's `-r 172.16.0.1:80`).
pub const PORT: u16 = 80;

impl Topology {
    /// A two-armed director with `n_reals` real servers of `method` (`Nat`, `Dr` or `Tun`)
    /// behind its eth1, each serving HTTP on [`PORT`]. Start lbd with
    /// [`Topology::start_two_armed`].
    pub fn two_armed(n_reals: usize, method: Method) -> Self {
        assert!(
            matches!(method, Method::Nat | Method::Dr | Method::Tun),
            "two-armed topologies have nat, dr or tun real servers"
        );
        let share = Share::side_by_side();
        let switch = Netns::new("sw");
        let client = Netns::new("cl");
        let director = Netns::new("dir");
        let reals: Vec<Netns> = (0..n_reals)
            .map(|i| Netns::new(&format!("rs{i}")))
            .collect();
        for br in ["br-c", "br-s"] {
            switch.ip(&["link", "add", br, "type", "bridge"]);
            switch.ip(&["link", "set", br, "up"]);
        }
        let plug = |ns: &Netns, br: &str, port: &str, dev: &str, addrs: &[String]| {
            plug(&switch, ns, br, port, dev, addrs)
        };
        plug(
            &client,
            "br-c",
            "p-client",
            "eth0",
            &[format!("{CLIENT}/24"), format!("{CLIENT6}/64")],
        );
        plug(
            &director,
            "br-c",
            "p-dir0",
            "eth0",
            &[
                format!("{OUTSIDE}/24"),
                format!("{VIP}/24"),
                format!("{OUTSIDE6}/64"),
                format!("{VIP6}/64"),
            ],
        );
        plug(
            &director,
            "br-s",
            "p-dir1",
            "eth1",
            &[format!("{INSIDE}/24"), format!("{INSIDE6}/64")],
        );
        for (i, rs) in reals.iter().enumerate() {
            plug(
                rs,
                "br-s",
                &format!("p-rs{i}"),
                "eth0",
                &[format!("{}/24", real(i)), format!("{}/64", real6(i))],
            );
            rs.ip(&["route", "add", "default", "via", &INSIDE.to_string()]);
            rs.ip(&["-6", "route", "add", "default", "via", &INSIDE6.to_string()]);
        }
        // The admin's part of a two-armed director: the kernel forwards what lb hands it
        // and the dr / tun real servers' replies.
        director.sysctl("net.ipv4.ip_forward", "1");
        director.sysctl("net.ipv6.conf.all.forwarding", "1");
        // Without it a link flap deletes the director's static IPv6 addresses.
        director.sysctl("net.ipv6.conf.all.keep_addr_on_down", "1");
        // Frames lb sends with XDP_TX or redirects into a veth reach the bridge only if the
        // veth's far end runs an XDP program too (see the `pass` program).
        let peer_xdp = ["p-dir0", "p-dir1"]
            .iter()
            .map(|p| attach_pass(&switch, p))
            .collect();
        // Senders whose packets cross XDP compute their own checksums (see Topology::new).
        client.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
        let mut decaps = Vec::new();
        let mut http = Vec::new();
        for (i, rs) in reals.iter().enumerate() {
            rs.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
            if method != Method::Nat {
                rs.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
                rs.ip(&["addr", "add", &format!("{VIP6}/128"), "dev", "lo"]);
            }
            if method == Method::Tun {
                let mut cmd = Command::new(bin("lbd"));
                cmd.args(["--netns", &rs.name, "decap", "--interface", "eth0"])
                    .env("RUST_LOG", "warn");
                decaps.push(Proc::spawn(&format!("decap rs{i}"), &mut cmd));
            }
            // Patient: the tests hold connections open across listings and restarts.
            http.push(HttpServer::start_patient(rs, &format!("rs{i}"), PORT));
        }
        let workdir = std::env::temp_dir().join(unique_name("work"));
        std::fs::create_dir_all(&workdir).expect("workdir");
        Topology {
            method,
            peer_xdp,
            lbd: None,
            decaps,
            http,
            socket: workdir.join("lbd.sock"),
            config_path: workdir.join("lb.json"),
            client,
            director,
            reals,
            switch,
            pin_dir: PathBuf::from("/sys/fs/bpf").join(unique_name("pins")),
            workdir,
            _share: share,
        }
    }

    /// The two-armed director's config: `lb` on eth0 and eth1, the inside addresses as the
    /// director's own (tunnels' outer source), no services (the tests add them with lbctl).
    pub fn two_armed_config(&self) -> ConfigBuilder {
        config()
            .interfaces(&["eth0", "eth1"])
            .director(INSIDE, INSIDE6)
            .conn_table_size(65536)
            .pin_dir(&self.pin_dir)
    }

    /// Starts lbd with `config` and waits until `lb` is attached to both interfaces (a
    /// restarted lbd finds them attached already: it answers once its program is swapped in).
    pub fn start_two_armed(&mut self, config: &ConfigBuilder) {
        self.start_lbd_resolving(config, &[]);
        self.lbctl(&["status"]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .director
            .ip(&["link", "show", "dev", "eth1"])
            .contains("prog/xdp")
        {
            self.lbd.as_mut().expect("lbd").assert_running();
            assert!(Instant::now() < deadline, "lbd did not attach lb to eth1");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A third arm: a bridge `br-x` in the switch namespace with the director's `eth2`
    /// ([`THIRD`]/24) and a second client ([`CLIENT2`]/24, its route to the VIP through
    /// the director) on it. lbd is not told: a test adds `eth2` to the config while lbd runs.
    pub fn third_arm(&self) -> ThirdArm {
        let client = Netns::new("cl2");
        self.switch.ip(&["link", "add", "br-x", "type", "bridge"]);
        self.switch.ip(&["link", "set", "br-x", "up"]);
        plug(
            &self.switch,
            &self.director,
            "br-x",
            "p-dir2",
            "eth2",
            &[format!("{THIRD}/24")],
        );
        plug(
            &self.switch,
            &client,
            "br-x",
            "p-client2",
            "eth0",
            &[format!("{CLIENT2}/24")],
        );
        client.ip(&[
            "route",
            "add",
            &format!("{VIP}/32"),
            "via",
            &THIRD.to_string(),
        ]);
        client.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
        ThirdArm {
            _pass: attach_pass(&self.switch, "p-dir2"),
            client,
        }
    }

    /// The real servers' addresses of a family.
    pub fn two_armed_reals(&self, v6: bool) -> Vec<IpAddr> {
        (0..self.reals.len())
            .map(|i| {
                if v6 {
                    IpAddr::from(real6(i))
                } else {
                    IpAddr::from(real(i))
                }
            })
            .collect()
    }
}
