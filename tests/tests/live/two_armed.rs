//! The classic two-armed LVS director (`Topology::two_armed`): clients on eth0, real servers
//! on eth1, the VIP an address of eth0, the real servers' default route the director. `lb` is
//! attached to both interfaces with one set of maps: a client's packet arrives on eth0 and
//! leaves by eth1 (a redirect the FIB chose), and a `nat` real server's reply arrives on eth1,
//! is rewritten there, and leaves by eth0. The seed example's three ipvsadm lines, verbatim
//! through lbctl, then the same over IPv6 and with `dr` and `tun` real servers.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpStream},
    sync::atomic::Ordering,
    time::Duration,
};

use lb_tests::{
    require_root,
    servers::LineStream,
    topo::{Method, Topology, socket2_connect},
    two_armed::{PORT, VIP, VIP6},
};

/// ipvsadm(8)'s NAT example, as a user types it.
const SEED: [&str; 3] = [
    "lbctl -A -t 192.168.0.1:80 -s rr",
    "lbctl -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m",
    "lbctl -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m",
];

/// `addr:port` as ipvsadm writes it (IPv6 in brackets).
fn endpoint(addr: IpAddr, port: u16) -> String {
    SocketAddr::new(addr, port).to_string()
}

/// The two-armed director serves `vip`:80 (already configured, rr over `reals` with
/// forwarding named `fwd` in ipvsadm's listing): 20 HTTP connections succeed, 10 on each real
/// server; 6 more are held open, 3 on each, and `lbctl -L -n` shows them in ipvsadm's format
/// with ActiveConn 6 in total; the held connections then complete.
fn serves_twenty_and_holds_six(t: &Topology, vip: IpAddr, reals: &[IpAddr], fwd: &str) {
    wait_neighbours_of(t, reals);
    let vip_sa = SocketAddr::new(vip, PORT);
    let answers = t.requests(vip_sa, 20);
    assert_eq!(
        answers.values().sum::<u32>(),
        20,
        "every connection answered: {answers:?}"
    );
    for (i, h) in t.http.iter().enumerate() {
        let served = h.served.load(Ordering::SeqCst) as u32;
        assert_eq!(
            answers.get(&h.name),
            Some(&10),
            "rr: half each: {answers:?}"
        );
        assert_eq!(served, 10, "rs{i}'s own count");
    }
    // Six connections held open, each with half a request sent.
    let mut held: Vec<TcpStream> = Vec::new();
    {
        let _in = t.client.enter();
        for _ in 0..6 {
            let mut s = socket2_connect(vip_sa, None).expect("connect to the VIP");
            s.write_all(b"GET / HTTP/1.0\r\n").unwrap();
            held.push(s);
        }
    }
    let active = |v: &serde_json::Value| -> Vec<u64> {
        v["services"][0]["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["active_conns"].as_u64().unwrap())
            .collect()
    };
    t.wait_listing(
        Duration::from_secs(10),
        "3 active connections on each",
        |v| active(v) == [3, 3],
    );
    let text = t.lbctl(&["-L", "-n"]);
    // InActConn: the twenty closed connections, until their tcpfin timeout; read from the
    // listing (each at most 10), the rest of every line is ipvsadm's format exactly.
    let inact: Vec<u32> = text
        .lines()
        .skip(4)
        .map(|l| {
            l.split_whitespace()
                .nth(5)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no InActConn in {l:?}:\n{text}"))
        })
        .collect();
    assert_eq!(inact.len(), reals.len(), "{text}");
    let mut want = format!(
        "IP Virtual Server version 1.2.1 (size=65536)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  {} rr\n",
        endpoint(vip, PORT)
    );
    for (r, n) in reals.iter().zip(&inact) {
        assert!(*n <= 10, "{text}");
        want.push_str(&format!(
            "  -> {:<28} {:<7} {:<6} {:<10} {:<10}\n",
            endpoint(*r, PORT),
            fwd,
            1,
            3,
            n
        ));
    }
    assert_eq!(text, want);
    // The held connections are still served, each by its real server.
    for mut s in held {
        s.write_all(b"\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.0 200 OK"), "{resp}");
    }
    // The client's packets arrived on eth0 and left by eth1: redirects, not XDP_TX.
    assert!(
        t.reason("redirect") >= 26 * 2,
        "redirects: {}",
        t.reason("redirect")
    );
}

/// Waits (up to 10 s) until lbd has resolved the real servers' neighbour entries.
fn wait_neighbours_of(t: &Topology, reals: &[IpAddr]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for a in reals {
        let a = a.to_string();
        while !t.director.ip(&["neigh", "show", &a]).contains("lladdr") {
            assert!(
                std::time::Instant::now() < deadline,
                "{a} never resolved by lbd"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_seed_example_verbatim_on_a_two_armed_director() {
    require_root!();
    let mut t = Topology::two_armed(2, Method::Nat);
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    let s = t.lbctl(&["status"]);
    assert!(
        s.contains("\nInterfaces:    eth0, eth1 (XDP native mode)\n"),
        "{s}"
    );
    let j: serde_json::Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
    assert_eq!(j["interfaces"], serde_json::json!(["eth0", "eth1"]), "{j}");
    // Each as the kernel reports it: up, native, one program on both.
    let links = j["links"].as_array().expect("links");
    assert_eq!(links.len(), 2, "{j}");
    for (l, name) in links.iter().zip(["eth0", "eth1"]) {
        assert_eq!(l["name"], name, "{l}");
        assert_eq!(
            l["index"].as_u64(),
            Some(t.director.ifindex(name) as u64),
            "{l}"
        );
        assert_eq!(
            (&l["up"], &l["mtu"], &l["xdp_mode"]),
            (
                &serde_json::json!(true),
                &serde_json::json!(1500),
                &serde_json::json!("native")
            ),
            "{l}"
        );
        assert_eq!(
            l["program_id"].as_u64(),
            prog_id(&t, name).map(u64::from),
            "{l}"
        );
    }
    assert!(s.contains("\n  eth1: index "), "{s}");
    for line in SEED {
        t.lbctl_line(line);
    }
    serves_twenty_and_holds_six(&t, VIP.into(), &t.two_armed_reals(false), "Masq");
    replies_were_rewritten(&t);
    // The director forgets the client's MAC (as a link flap makes it do) while the client
    // still knows the VIP's: once `lb`'s cached next hop toward the client has run out, the
    // replies meet no neighbour entry, are handed to the kernel rewritten, and the kernel
    // resolves the client and forwards them.
    assert_eq!(t.reason("pass_no_neigh"), 0);
    t.director.ip(&["neigh", "flush", "dev", "eth0"]);
    std::thread::sleep(std::time::Duration::from_nanos(
        lb_common::NH_CACHE_TTL_NS + 200_000_000,
    ));
    let answers = t.requests(SocketAddr::new(VIP.into(), PORT), 4);
    assert_eq!(answers.values().sum::<u32>(), 4, "{answers:?}");
    assert!(t.reason("pass_no_neigh") >= 1, "{}", t.lbctl(&["status"]));
}

/// The nat replies came back on eth1 and were rewritten there (every one of the 26
/// connections had at least its SYN-ACK and its answer counted out).
fn replies_were_rewritten(t: &Topology) {
    let v = t.stats_listing();
    let out = v["services"][0]["stats"]["out_pkts"].as_u64().unwrap();
    assert!(out >= 26 * 2, "OutPkts {out}: {v}");
}

/// Configures rr on `vip` with the topology's real servers of `family` by lbctl, forwarding
/// flag `flag` (`-m`, `-g`, `-i`).
fn configure(t: &Topology, vip: IpAddr, v6: bool, flag: &str) {
    let svc = endpoint(vip, PORT);
    t.lbctl_line(&format!("lbctl -A -t {svc} -s rr"));
    for r in t.two_armed_reals(v6) {
        t.lbctl_line(&format!(
            "lbctl -a -t {svc} -r {} {flag}",
            endpoint(r, PORT)
        ));
    }
}

#[test]
fn nat_over_ipv6_on_a_two_armed_director() {
    require_root!();
    let mut t = Topology::two_armed(2, Method::Nat);
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    configure(&t, VIP6.into(), true, "-m");
    serves_twenty_and_holds_six(&t, VIP6.into(), &t.two_armed_reals(true), "Masq");
    replies_were_rewritten(&t);
}

#[test]
fn dr_real_servers_behind_the_second_interface_over_ipv4_and_ipv6() {
    require_root!();
    for (vip, v6) in [(IpAddr::from(VIP), false), (IpAddr::from(VIP6), true)] {
        let mut t = Topology::two_armed(2, Method::Dr);
        let cfg = t.two_armed_config();
        t.start_two_armed(&cfg);
        configure(&t, vip, v6, "-g");
        serves_twenty_and_holds_six(&t, vip, &t.two_armed_reals(v6), "Route");
    }
}

#[test]
fn tun_real_servers_behind_the_second_interface_over_ipv4_and_ipv6() {
    require_root!();
    for (vip, v6) in [(IpAddr::from(VIP), false), (IpAddr::from(VIP6), true)] {
        let mut t = Topology::two_armed(2, Method::Tun);
        let cfg = t.two_armed_config();
        t.start_two_armed(&cfg);
        configure(&t, vip, v6, "-i");
        serves_twenty_and_holds_six(&t, vip, &t.two_armed_reals(v6), "Tunnel");
    }
}

/// The id of the XDP program attached to the director's `dev`, if any.
fn prog_id(t: &Topology, dev: &str) -> Option<u32> {
    let out = t.director.ip(&["-d", "link", "show", "dev", dev]);
    let at = out.find("prog/xdp id ")?;
    out[at + "prog/xdp id ".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_restart_adopts_both_interfaces_and_one_with_fewer_detaches_the_other() {
    require_root!();
    let mut t = Topology::two_armed(2, Method::Nat);
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    configure(&t, VIP.into(), false, "-m");
    wait_neighbours_of(&t, &t.two_armed_reals(false));
    let vip = SocketAddr::new(VIP.into(), PORT);
    let mut held = {
        let _in = t.client.enter();
        socket2_connect(vip, None).expect("connect to the VIP")
    };
    held.write_all(b"GET / HTTP/1.0\r\n").unwrap();
    let pins = |t: &Topology| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&t.pin_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("link"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(pins(&t), ["link_lb_eth0", "link_lb_eth1"]);
    let before = (prog_id(&t, "eth0"), prog_id(&t, "eth1"));
    assert!(
        before.0.is_some() && before.0 == before.1,
        "one program on both: {before:?}"
    );
    t.lbd.take().expect("lbd").stop();
    // Stopped, lbd leaves lb attached to both.
    assert_eq!((prog_id(&t, "eth0"), prog_id(&t, "eth1")), before);
    t.start_two_armed(&cfg);
    let after = (prog_id(&t, "eth0"), prog_id(&t, "eth1"));
    assert!(
        after.0.is_some() && after.0 == after.1 && after.0 != before.0,
        "the new build's program swapped into both links: {before:?} -> {after:?}"
    );
    assert_eq!(pins(&t), ["link_lb_eth0", "link_lb_eth1"]);
    // The connection held across the restart completes; new ones are served.
    held.write_all(b"\r\n").unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut resp = String::new();
    held.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.0 200 OK"), "{resp}");
    assert_eq!(t.requests(vip, 4).values().sum::<u32>(), 4);
    // Restarted with eth0 alone, lbd detaches lb from eth1 (the state file, which names
    // both, removed: it would have lbd serve where it served before).
    t.lbd.take().expect("lbd").stop();
    std::fs::remove_file(t.state_path()).expect("the state file");
    let one = cfg.interfaces(&["eth0"]);
    t.start_lbd_resolving(&one, &[]);
    t.lbctl(&["status"]);
    assert!(prog_id(&t, "eth0").is_some());
    assert_eq!(prog_id(&t, "eth1"), None, "detached from eth1");
    assert_eq!(pins(&t), ["link_lb_eth0"]);
    let s = t.lbctl(&["status"]);
    assert!(
        s.contains("\nInterface:     eth0 (XDP native mode)\n"),
        "{s}"
    );
}

/// Starts lbd on the two-armed director with `cfg`, the seed's `nat`
/// service on the VIP's port 80 and one on port 7000 over line servers, and a
/// [`LineStream`] from the client to the latter (for at most `limit`).
fn start_nat_stream(
    t: &mut Topology,
    cfg: &lb_tests::config::ConfigBuilder,
    limit: Duration,
) -> (Vec<lb_tests::servers::LineServer>, LineStream) {
    const STREAM_PORT: u16 = 7000;
    let lines = t.line_servers(STREAM_PORT);
    t.start_two_armed(cfg);
    configure(t, VIP.into(), false, "-m");
    let svc = endpoint(VIP.into(), STREAM_PORT);
    t.lbctl_line(&format!("lbctl -A -t {svc} -s rr"));
    for r in t.two_armed_reals(false) {
        t.lbctl_line(&format!(
            "lbctl -a -t {svc} -r {} -m",
            endpoint(r, STREAM_PORT)
        ));
    }
    wait_neighbours_of(t, &t.two_armed_reals(false));
    let conn = {
        let _in = t.client.enter();
        socket2_connect(SocketAddr::new(VIP.into(), STREAM_PORT), None).expect("connect the stream")
    };
    (lines, LineStream::start(conn, limit))
}

#[test]
fn a_flap_of_the_client_side_link_keeps_the_stream_and_new_connections_succeed_within_2_s() {
    require_root!();
    let mut t = Topology::two_armed(2, Method::Nat);
    let cfg = t.two_armed_config();
    // The stream: a line every 20 ms, each answered by the same real server, for as long as
    // the flap and the reconnection take (bounded: 20 s).
    let (lines, stream) = start_nat_stream(&mut t, &cfg, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let before_flap = stream.progress();
    // The flap: the director's client-side link down for a second, which flushes its
    // neighbour entries (the client's MAC among them).
    t.director.ip(&["link", "set", "eth0", "down"]);
    std::thread::sleep(Duration::from_secs(1));
    t.director.ip(&["link", "set", "eth0", "up"]);
    let up = std::time::Instant::now();
    let at_up = stream.progress();
    // New connections succeed within 2 s of the link coming back.
    let http = SocketAddr::new(VIP.into(), PORT);
    loop {
        let r = {
            let _in = t.client.enter();
            lb_tests::topo::http_get(http, None)
        };
        match r {
            Ok((200, _)) => break,
            other => assert!(
                up.elapsed() < Duration::from_secs(2),
                "no new connection within 2 s of the link coming back: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let reconnect = up.elapsed();
    assert!(reconnect < Duration::from_secs(2), "{reconnect:?}");
    // The stream goes on a second longer, then must have lost nothing.
    std::thread::sleep(Duration::from_secs(1));
    let sent = stream.finish(&lines);
    // The replies that met the flushed client entry went through the kernel, not to waste.
    assert!(t.reason("pass_no_neigh") >= 1, "{}", t.lbctl(&["status"]));
    assert!(
        before_flap > 5 && sent > at_up + 10,
        "the stream ran before the flap ({before_flap} lines) and after it ({at_up} at the link's return, {sent} at the end)"
    );
}

#[test]
fn after_a_flap_of_the_real_servers_link_lbd_resolves_them_again_at_once() {
    require_root!();
    // dr needs the real servers' MACs (nothing can hand a dr packet to the kernel): new
    // connections work again only once lbd has had them resolved, which it does when the
    // kernel announces the link is back (rtnetlink), not at its next periodic round.
    let mut t = Topology::two_armed(2, Method::Dr);
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    configure(&t, VIP6.into(), true, "-g");
    let reals = t.two_armed_reals(true);
    wait_neighbours_of(&t, &reals);
    let http = SocketAddr::new(VIP6.into(), PORT);
    assert_eq!(t.requests(http, 2).values().sum::<u32>(), 2);
    t.director.ip(&["link", "set", "eth1", "down"]);
    std::thread::sleep(Duration::from_secs(1));
    let flushed = t.director.ip(&["-6", "neigh", "show", "dev", "eth1"]);
    assert!(
        !flushed.contains("lladdr"),
        "the flap flushed them: {flushed}"
    );
    t.director.ip(&["link", "set", "eth1", "up"]);
    let up = std::time::Instant::now();
    wait_neighbours_of(&t, &reals);
    let resolved = up.elapsed();
    assert!(
        resolved < Duration::from_millis(1500),
        "real servers resolved {resolved:?} after the link came back"
    );
    assert_eq!(t.requests(http, 4).values().sum::<u32>(), 4);
}

/// The director forgets every neighbour (both families' tables flushed, as `ip neigh flush`
/// or a link flap does).
fn flush_neighbours(t: &Topology) {
    t.director.ip(&["-4", "neigh", "flush", "all"]);
    t.director.ip(&["-6", "neigh", "flush", "all"]);
}

/// One new HTTP connection from the client to `vip`, retried (each try bounded by the
/// client's own connect timeout) until `limit`; returns how long it took to succeed.
fn connect_within(t: &Topology, vip: SocketAddr, limit: Duration) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let r = {
            let _in = t.client.enter();
            lb_tests::topo::http_get(vip, None)
        };
        match r {
            Ok((200, _)) => return start.elapsed(),
            other => assert!(
                start.elapsed() < limit,
                "no connection to {vip} within {limit:?}: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tun_packets_without_a_neighbour_entry_are_forwarded_by_the_kernel_even_with_lbd_stopped() {
    require_root!();
    // lbd is stopped (the data plane forwards without it) so that nothing but the kernel can
    // resolve the real servers again; the next-hop cache's second is let run out. A new
    // connection's packets meet no neighbour entry: `lb` encapsulates them and hands them
    // to the kernel, which resolves the real server and forwards them.
    for (vip, v6) in [(IpAddr::from(VIP), false), (IpAddr::from(VIP6), true)] {
        let mut t = Topology::two_armed(2, Method::Tun);
        let cfg = t.two_armed_config();
        t.start_two_armed(&cfg);
        configure(&t, vip, v6, "-i");
        let reals = t.two_armed_reals(v6);
        wait_neighbours_of(&t, &reals);
        let http = SocketAddr::new(vip, PORT);
        assert_eq!(t.requests(http, 2).values().sum::<u32>(), 2);
        let passed = t.reason("pass_no_neigh");
        t.lbd.take().expect("lbd").stop();
        flush_neighbours(&t);
        for r in &reals {
            let n = t.director.ip(&["neigh", "show", &r.to_string()]);
            assert!(!n.contains("lladdr"), "{r} flushed: {n}");
        }
        std::thread::sleep(Duration::from_millis(1100));
        // Within a second and a half: the first SYN, or at most its one retransmission.
        let took = connect_within(&t, http, Duration::from_millis(1500));
        eprintln!(
            "tun over IPv{}: flush to a served connection {took:?}",
            if v6 { 6 } else { 4 }
        );
        // rr: the second connection goes to the other real server: both are resolved now,
        // by the kernel (lbd is not running).
        connect_within(&t, http, Duration::from_millis(1500));
        for r in &reals {
            let n = t.director.ip(&["neigh", "show", &r.to_string()]);
            assert!(n.contains("lladdr"), "{r} resolved by the kernel: {n}");
        }
        // The counters are pinned: the restarted lbd shows what the data plane did meanwhile.
        t.start_two_armed(&cfg);
        let now = t.reason("pass_no_neigh");
        assert!(
            now >= passed + 2,
            "pass_no_neigh {passed} -> {now}: {}",
            t.lbctl(&["status"])
        );
    }
}

#[test]
fn dr_real_servers_are_resolved_again_at_once_after_a_flush_over_ipv4_and_ipv6() {
    require_root!();
    // dr frames carry the VIP, so the kernel cannot forward them: a dr packet meeting no
    // neighbour entry is dropped (`drop_fib_no_neigh`) and reported to lbd, which has the
    // real server resolved at once, as it does when the kernel announces the flush. A new
    // connection right after the flush succeeds within one SYN retransmission.
    for (vip, v6) in [(IpAddr::from(VIP), false), (IpAddr::from(VIP6), true)] {
        let mut t = Topology::two_armed(2, Method::Dr);
        let cfg = t.two_armed_config();
        t.start_two_armed(&cfg);
        configure(&t, vip, v6, "-g");
        let reals = t.two_armed_reals(v6);
        wait_neighbours_of(&t, &reals);
        let http = SocketAddr::new(vip, PORT);
        assert_eq!(t.requests(http, 2).values().sum::<u32>(), 2);
        // Twice, the second time once the next-hop cache's second has run out, so that the
        // connection's first packet asks the FIB.
        for wait in [0, 1100] {
            flush_neighbours(&t);
            std::thread::sleep(Duration::from_millis(wait));
            let took = connect_within(&t, http, Duration::from_millis(1500));
            eprintln!(
                "dr over IPv{}: flush, {wait} ms, then a served connection in {took:?} (drop_fib_no_neigh {})",
                if v6 { 6 } else { 4 },
                t.reason("drop_fib_no_neigh")
            );
        }
        assert_eq!(t.requests(http, 4).values().sum::<u32>(), 4);
    }
}

/// FNV-1a over a byte stream, as the upload's check: the sender and the sink each compute it.
fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
}
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[test]
fn a_tcp_upload_to_tun_real_servers_behind_a_smaller_mtu_completes() {
    require_root!();
    const SINK_PORT: u16 = 9000;
    const UPLOAD: usize = 2 << 20;
    let mut t = Topology::two_armed(2, Method::Tun);
    // The real servers' link takes 1400-byte frames only (its bridge drops bigger ones), and
    // the director's routes to them say so; the director's own interfaces stay at 1500.
    for i in 0..t.reals.len() {
        t.switch
            .ip(&["link", "set", &format!("p-rs{i}"), "mtu", "1400"]);
        t.reals[i].ip(&["link", "set", "eth0", "mtu", "1400"]);
    }
    for r in t.two_armed_reals(false) {
        t.director.ip(&[
            "route",
            "add",
            &format!("{r}/32"),
            "dev",
            "eth1",
            "mtu",
            "lock",
            "1400",
        ]);
    }
    // A sink on each real server: reads one connection to its end and answers with the byte
    // count and FNV-1a of what arrived.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sinks: Vec<_> = t
        .reals
        .iter()
        .map(|rs| {
            let l = {
                let _in = rs.enter();
                std::net::TcpListener::bind(("::", SINK_PORT)).expect("bind the sink")
            };
            l.set_nonblocking(true).unwrap();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let t0 = std::time::Instant::now();
                while !stop.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(60) {
                    let Ok((mut s, _)) = l.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    let (mut n, mut h) = (0usize, FNV_OFFSET);
                    let mut buf = vec![0u8; 65536];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => {
                                n += k;
                                h = fnv(h, &buf[..k]);
                            }
                        }
                    }
                    let _ = s.write_all(format!("{n} {h:x}\n").as_bytes());
                    return;
                }
            })
        })
        .collect();
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    let svc = endpoint(VIP.into(), SINK_PORT);
    t.lbctl_line(&format!("lbctl -A -t {svc} -s rr"));
    for r in t.two_armed_reals(false) {
        t.lbctl_line(&format!(
            "lbctl -a -t {svc} -r {} -i",
            endpoint(r, SINK_PORT)
        ));
    }
    wait_neighbours_of(&t, &t.two_armed_reals(false));
    let data: Vec<u8> = (0..UPLOAD).map(|i| (i * 7 + i / 1024) as u8).collect();
    let want = format!("{UPLOAD} {:x}", fnv(FNV_OFFSET, &data));
    let got = {
        let _in = t.client.enter();
        let mut s = socket2_connect(SocketAddr::new(VIP.into(), SINK_PORT), None)
            .expect("connect to the VIP");
        s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&data).expect("the upload");
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("the sink's answer");
        answer
    };
    stop.store(true, Ordering::SeqCst);
    for s in sinks {
        s.join().unwrap();
    }
    assert_eq!(got.trim(), want, "every byte arrived");
    // The client learnt the path's size from lb: 1400 less IPIP's 20 bytes.
    assert!(
        t.reason("icmp_too_big_sent") >= 1,
        "{}",
        t.lbctl(&["status"])
    );
    let route = t.client.ip(&["route", "get", &VIP.to_string()]);
    assert!(
        route.contains("mtu 1380"),
        "the client's cached path MTU: {route}"
    );
}

/// The running config (`lbctl get config`) with `interfaces` replaced.
fn config_with_interfaces(t: &Topology, interfaces: &[&str]) -> String {
    let mut c: serde_json::Value =
        serde_json::from_str(&t.lbctl(&["get", "config"])).expect("lbctl get config");
    let o = c.as_object_mut().expect("an object");
    o.remove("interface");
    o.insert("interfaces".into(), serde_json::json!(interfaces));
    c.to_string()
}

/// Waits (10 s at most) until `dev` of the director has an XDP program or has none.
fn wait_attached(t: &Topology, dev: &str, attached: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while prog_id(t, dev).is_some() != attached {
        assert!(
            std::time::Instant::now() < deadline,
            "{dev}: attached {attached} expected; {}",
            t.lbctl(&["status"])
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_interface_added_and_removed_at_run_time_leaves_a_stream_on_the_others_whole() {
    require_root!();
    let mut t = Topology::two_armed(2, Method::Nat);
    let cfg = t.two_armed_config();
    let (lines, stream) = start_nat_stream(&mut t, &cfg, Duration::from_secs(30));
    // The third arm exists but lb is not on it: the second client's request reaches the
    // director's own stack, where nothing listens on the VIP's port.
    let arm = t.third_arm();
    let http = SocketAddr::new(VIP.into(), PORT);
    let from_arm = || {
        let _in = arm.client.enter();
        lb_tests::topo::http_get(http, None)
    };
    assert!(from_arm().is_err(), "served without lb on eth2");
    let file = t.workdir().join("three.json");
    let with = |ifaces: &[&str]| {
        std::fs::write(&file, config_with_interfaces(&t, ifaces)).unwrap();
    };
    // A name that is no interface: refused naming it, nothing changed.
    with(&["eth0", "eth1", "nope0"]);
    let out = t.lbctl_output(&["apply", "-f", file.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "interfaces[2]: \"nope0\": interface nope0: no such interface in this network namespace"
        ),
        "{err}"
    );
    let status: serde_json::Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
    assert_eq!(status["interfaces"], serde_json::json!(["eth0", "eth1"]));
    assert_eq!(prog_id(&t, "eth2"), None);
    // Added by `lbctl apply`: attached at once, with the same program and maps.
    let before = prog_id(&t, "eth0");
    with(&["eth0", "eth1", "eth2"]);
    let applied = t.lbctl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        applied.contains("interfaces: [\"eth0\",\"eth1\"] -> [\"eth0\",\"eth1\",\"eth2\"]"),
        "{applied}"
    );
    assert_eq!(prog_id(&t, "eth2"), before, "one program on all three");
    assert_eq!(prog_id(&t, "eth0"), before, "eth0's link untouched");
    let mut served = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while served < 4 {
        match from_arm() {
            Ok((200, _)) => served += 1,
            other => assert!(
                std::time::Instant::now() < deadline,
                "the client behind eth2 is not served: {other:?}"
            ),
        }
    }
    let status: serde_json::Value = serde_json::from_str(&t.lbctl(&["status", "--json"])).unwrap();
    assert_eq!(
        status["interfaces"],
        serde_json::json!(["eth0", "eth1", "eth2"])
    );
    // eth2's own counters: the second client's packets arrived there and went on to the
    // real servers by eth1 (redirected); the replies arrived on eth1.
    let eth2 = &status["links"][2];
    assert_eq!(eth2["name"], "eth2");
    let c = &eth2["counters"];
    assert!(
        c["packets"].as_u64().unwrap() >= 4 * 3 && c["redirect"].as_u64().unwrap() >= 4 * 3,
        "{eth2}"
    );
    assert!(
        t.scrape().lines().any(|l| l
            .starts_with("lb_interface_verdicts_total{interface=\"eth2\",action=\"redirect\"} ")),
        "metrics name eth2"
    );
    // A hitless restart adopts all three (the state file records them).
    t.lbd.take().expect("lbd").stop();
    t.start_two_armed(&cfg);
    assert!(prog_id(&t, "eth2").is_some(), "eth2 adopted");
    let after_restart = prog_id(&t, "eth0");
    assert_eq!(prog_id(&t, "eth2"), after_restart);
    assert!(matches!(from_arm(), Ok((200, _))));
    // Removed by a SIGHUP reload of a config file without it: detached, the others stay.
    std::fs::write(
        &t.config_path,
        config_with_interfaces(&t, &["eth0", "eth1"]),
    )
    .unwrap();
    let pid = t.lbd.as_ref().expect("lbd").pid();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    wait_attached(&t, "eth2", false);
    assert_eq!(prog_id(&t, "eth0"), after_restart);
    assert_eq!(prog_id(&t, "eth1"), after_restart);
    assert!(from_arm().is_err(), "served with lb detached from eth2");
    // The stream ran through all of it, on eth0 and eth1, and lost nothing.
    let at = stream.progress();
    std::thread::sleep(Duration::from_millis(500));
    assert!(stream.progress() > at + 5, "the stream goes on");
    let sent = stream.finish(&lines);
    assert!(sent > 20, "{sent} lines");
}

/// A counter of `/proc/net/snmp`'s `Ip:` lines in `ns`, by name (`FragOKs`, `ReasmOKs`, ...).
fn ip_counter(ns: &lb_tests::netns::Netns, name: &str) -> u64 {
    let text = {
        let _in = ns.enter();
        // thread-self: /proc/self/net would show the process's (first thread's) namespace.
        std::fs::read_to_string("/proc/thread-self/net/snmp").expect("read snmp")
    };
    let mut ip = text.lines().filter(|l| l.starts_with("Ip:"));
    let (names, values) = (ip.next().unwrap(), ip.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no {name} in {names}"));
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

#[test]
fn udp_datagrams_without_df_through_a_tunnel_behind_a_smaller_mtu_are_fragmented_by_the_kernel() {
    require_root!();
    const UDP_PORT: u16 = 5300;
    const FLOWS: usize = 4;
    const PER_FLOW: usize = 2;
    let mut t = Topology::two_armed(2, Method::Tun);
    // As in the upload test: the real servers' link takes 1400-byte frames, the director's
    // routes to them say so, its own interfaces stay at 1500.
    for i in 0..t.reals.len() {
        t.switch
            .ip(&["link", "set", &format!("p-rs{i}"), "mtu", "1400"]);
        t.reals[i].ip(&["link", "set", "eth0", "mtu", "1400"]);
    }
    for r in t.two_armed_reals(false) {
        t.director.ip(&[
            "route",
            "add",
            &format!("{r}/32"),
            "dev",
            "eth1",
            "mtu",
            "lock",
            "1400",
        ]);
    }
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    let svc = endpoint(VIP.into(), UDP_PORT);
    t.lbctl_line(&format!("lbctl -A -u {svc} -s rr"));
    for r in t.two_armed_reals(false) {
        t.lbctl_line(&format!(
            "lbctl -a -u {svc} -r {} -i",
            endpoint(r, UDP_PORT)
        ));
    }
    wait_neighbours_of(&t, &t.two_armed_reals(false));
    let reasm = |t: &Topology| -> u64 { t.reals.iter().map(|r| ip_counter(r, "ReasmOKs")).sum() };
    let (reasm0, frag0) = (reasm(&t), ip_counter(&t.director, "FragOKs"));
    let passed0 = t.reason("pass_tun_fragment");
    // Datagrams of 1472 bytes (1500 with their headers, 1520 tunnelled) with DF clear, from
    // several sockets (flows), two each.
    {
        let _in = t.client.enter();
        for f in 0..FLOWS {
            let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            let dont: libc::c_int = libc::IP_PMTUDISC_DONT;
            // SAFETY: setsockopt on an fd we own, with an int option.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::IPPROTO_IP,
                    libc::IP_MTU_DISCOVER,
                    &dont as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "IP_MTU_DISCOVER");
            for k in 0..PER_FLOW {
                let d = vec![(f * PER_FLOW + k) as u8; 1472];
                s.send_to(&d, SocketAddr::new(VIP.into(), UDP_PORT))
                    .unwrap();
            }
        }
    }
    let n = (FLOWS * PER_FLOW) as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while reasm(&t) < reasm0 + n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (reasm1, frag1) = (reasm(&t), ip_counter(&t.director, "FragOKs"));
    let passed1 = t.reason("pass_tun_fragment");
    eprintln!(
        "pass_tun_fragment +{}, director FragOKs +{}, real servers ReasmOKs +{}",
        passed1 - passed0,
        frag1 - frag0,
        reasm1 - reasm0
    );
    // Every datagram tunnelled and handed to the kernel, fragmented by the director's kernel
    // on its way out, and reassembled whole by the real server's.
    assert_eq!(passed1 - passed0, n);
    assert_eq!(frag1 - frag0, n);
    assert_eq!(reasm1 - reasm0, n);
}
