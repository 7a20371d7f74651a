//! Live tests of high availability: two directors announcing their VIPs through real BIRD 2
//! (eBGP) to a router running BIRD with ECMP into its kernel table, real servers on the
//! directors' LAN (`dr`), and a client behind the router. The router's `ip route` shows what
//! is announced; real TCP from the client crosses the router's ECMP to either director.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use lb_tests::{
    config::{check, config, fwmark_service, real, tcp_service},
    ha::{HA_VIP, HA_VIP2, HaTopology, ha_director, ha_real, plain},
    listing::{real_servers_conns, requests_from, service},
    require_root,
    servers::{LineServer, exchange},
    topo::{HttpServer, lbctl, socket2_connect},
};
use serde_json::{Value, json};

/// How long BIRD takes to bring a session up or carry a change to the router here (sessions
/// start within a second or two; a change is one `configure` and an UPDATE).
pub(crate) const BGP_LIMIT: Duration = Duration::from_secs(20);

/// `n` GETs from the client to `vip`:80 over new connections; every one must succeed.
/// Returns how many each real server answered.
fn requests(t: &HaTopology, vip: SocketAddr, n: u32) -> BTreeMap<String, u32> {
    requests_from(&t.client, vip, n)
}

/// The connections director `i` has scheduled for service `vip`:`port` (its real servers'
/// `--stats` connection counters, summed).
pub(crate) fn scheduled(t: &HaTopology, i: usize, vip: impl std::fmt::Display, port: u16) -> u64 {
    let v: Value =
        serde_json::from_str(&t.directors[i].lbctl(&["-L", "-n", "--stats", "--json"])).unwrap();
    real_servers_conns(service(&v, vip, port))
}

fn director_status(t: &HaTopology, i: usize) -> Value {
    serde_json::from_str(&t.directors[i].lbctl(&["director", "status", "--json"])).unwrap()
}

fn ips(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("address").to_string())
        .collect()
}

#[test]
fn vips_are_announced_through_bird_per_healthy_director_and_withdrawn_on_failure_drain_and_stop() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    // Service B's one real server listens on 8081; its health check takes it down.
    let mut b_server = Some(HttpServer::start(&t.reals[1], "rs1-b", 8081));
    let base = config()
        .conn_table_size(65536)
        .service(
            tcp_service(HA_VIP, 80)
                .scheduler("mh")
                .flags(&["mh-port"])
                .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
        )
        .service(
            tcp_service(HA_VIP2, 8081)
                .scheduler("rr")
                .real(real(ha_real(1)).port(8081).dr())
                .health_check(
                    check("tcp")
                        .interval_ms(200)
                        .timeout_ms(200)
                        .rise(1)
                        .fall(1),
                ),
        );
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }

    // Both directors announce both VIPs: one next hop per director.
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);
    for (i, d) in t.directors.iter().enumerate() {
        let mut want: Vec<IpAddr> = vec![HA_VIP.into(), HA_VIP2.into()];
        want.sort();
        assert_eq!(d.included_vips(), want, "director {i}'s include file");
        let s = director_status(&t, i);
        assert_eq!(s["announcing"], true, "{s}");
        assert_eq!(s["attached"], true, "{s}");
        assert_eq!(s["drained"], false, "{s}");
        assert_eq!(
            ips(&s["announced"]),
            ["198.18.1.100", "198.18.1.101"],
            "{s}"
        );
        assert_eq!(s["error"], Value::Null, "{s}");
    }

    // Real TCP from the client through the router's ECMP: every connection answered, and
    // each director carried some (the router hashes on the ports; 40 connections all on one
    // of two directors would happen once in 2^39 runs).
    let vip = SocketAddr::from((HA_VIP, 80));
    let answers = requests(&t, vip, 40);
    assert_eq!(answers.values().sum::<u32>(), 40, "{answers:?}");
    let (s0, s1) = (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80));
    assert_eq!(s0 + s1, 40, "director 0 scheduled {s0}, director 1 {s1}");
    assert!(s0 > 0 && s1 > 0, "ECMP used one director only: {s0} / {s1}");

    // Service B's only real server fails: both directors withdraw its VIP (and only it).
    b_server.take();
    t.wait_next_hops(HA_VIP2, &[], BGP_LIMIT);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    for (i, d) in t.directors.iter().enumerate() {
        assert_eq!(
            d.included_vips(),
            vec![IpAddr::from(HA_VIP)],
            "director {i}'s include file"
        );
    }
    // It comes back: announced again.
    b_server = Some(HttpServer::start(&t.reals[1], "rs1-b", 8081));
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);

    // Draining director 0 withdraws every VIP it announced; the answer comes once BIRD took
    // the new include file.
    let s: Value =
        serde_json::from_str(&t.directors[0].lbctl(&["director", "drain", "--json"])).unwrap();
    assert_eq!(s["drained"], true, "{s}");
    assert_eq!(ips(&s["announced"]), Vec::<String>::new(), "{s}");
    assert_eq!(s["error"], Value::Null, "{s}");
    assert!(t.directors[0].included_vips().is_empty());
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[1], BGP_LIMIT);
    let text = t.directors[0].lbctl(&["director", "status"]);
    assert!(text.contains("Drained:     yes\n"), "{text}");
    assert!(text.contains("Announced:   none\n"), "{text}");
    // Traffic goes on through director 1 alone.
    let before = (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80));
    requests(&t, vip, 10);
    assert_eq!(
        (scheduled(&t, 0, HA_VIP, 80), scheduled(&t, 1, HA_VIP, 80)),
        (before.0, before.1 + 10),
        "a drained director takes no new connections from the router"
    );

    // Undrain: announced again.
    let s: Value =
        serde_json::from_str(&t.directors[0].lbctl(&["director", "undrain", "--json"])).unwrap();
    assert_eq!(s["drained"], false, "{s}");
    assert_eq!(
        ips(&s["announced"]),
        ["198.18.1.100", "198.18.1.101"],
        "{s}"
    );
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0, 1], BGP_LIMIT);

    // A clean stop of director 1's lbd withdraws its VIPs before it exits.
    t.directors[1].stop_lbd();
    assert!(
        t.directors[1].included_vips().is_empty(),
        "lbd stopped with VIPs in its include file"
    );
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    t.wait_next_hops(HA_VIP2, &[0], BGP_LIMIT);
    let answers = requests(&t, vip, 10);
    assert_eq!(answers.values().sum::<u32>(), 10, "{answers:?}");
    assert_eq!(ha_director(0), t.directors[0].address);
    drop(b_server);
}

/// The connections of `lbctl -L -c -n --json` on director `i` to `vip`:`port`, as (client port,
/// real server address, state).
pub(crate) fn conns_of(t: &HaTopology, i: usize, port: u16) -> Vec<(u16, String, String)> {
    let v: Value =
        serde_json::from_str(&t.directors[i].lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
    let mut out: Vec<(u16, String, String)> = v["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter(|c| c["vport"] == port && c["template"] == false)
        .map(|c| {
            (
                c["client_port"].as_u64().unwrap() as u16,
                c["real"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Director `i`'s active and inactive connection counts of service `vip`:`port`, summed over
/// its real servers.
pub(crate) fn counts(
    t: &HaTopology,
    i: usize,
    vip: impl std::fmt::Display,
    port: u16,
) -> (u64, u64) {
    let listing: Value =
        serde_json::from_str(&t.directors[i].lbctl(&["-L", "-n", "--json"])).unwrap();
    let reals = service(&listing, vip, port)["real_servers"]
        .as_array()
        .unwrap()
        .clone();
    let sum = |field: &str| -> u64 { reals.iter().map(|r| r[field].as_u64().unwrap()).sum() };
    (sum("active_conns"), sum("inactive_conns"))
}

pub(crate) fn reason(t: &HaTopology, i: usize, name: &str) -> u64 {
    let s: Value = serde_json::from_str(&t.directors[i].lbctl(&["status", "--json"])).unwrap();
    s["reasons"][name].as_u64().unwrap_or_else(|| panic!("{s}"))
}

/// How director 0's flows leave it for director 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    /// Director 0 drained: the router withdraws it at once.
    Drain,
    /// Director 0 dies ([`HaTopology::kill_director`]): the router drops it when the BGP
    /// hold timer runs out, the clients' TCP retransmitting meanwhile.
    Kill,
}

/// Two directors running lbd with services on `port` (`rr` over two `dr` real servers that
/// run [`LineServer`]s), director 0 sending its connections to director 1: six connections
/// through director 0 alone are listed by director 1 (`-L -c`) with the same real servers and
/// in none of its counts; then the router moves every flow to director 1 (`how`), and each
/// goes on, to its real server, with nothing dropped as mid-flow and every connection in
/// director 1's counts. `listed`: the service's address and port in `-L` (the VIP's, or a
/// firewall-mark service's unspecified address and port 0). Returns the real server that
/// served each connection.
fn connections_synced_to_director_1_survive(
    t: &mut HaTopology,
    port: u16,
    listed: (IpAddr, u16),
    how: Move,
) -> Vec<String> {
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    // Everything through director 0 first.
    t.directors[1].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);

    let vip = SocketAddr::from((HA_VIP, port));
    let (mut streams, served_by) = t.open_streams(vip, 6);
    let ports: Vec<u16> = {
        let mut p: Vec<u16> = streams
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        p.sort();
        p
    };
    // Director 0 holds them, established; director 1 learns each one by sync, with the same
    // real server, within a second or so (a pass every 20 ms, one datagram).
    let on0 = conns_of(t, 0, port);
    assert_eq!(
        on0.iter().map(|c| c.0).collect::<Vec<_>>(),
        ports,
        "{on0:?}"
    );
    assert!(on0.iter().all(|c| c.2 == "ESTABLISHED"), "{on0:?}");
    let mut on1 = Vec::new();
    lb_tests::wait_until(
        Duration::from_secs(10),
        "director 1 has the synced connections",
        || {
            on1 = conns_of(t, 1, port);
            on1 == on0
        },
    );
    // Synced entries are not director 1's: its real servers' counts stay 0.
    let listing: Value =
        serde_json::from_str(&t.directors[1].lbctl(&["-L", "-n", "--json"])).unwrap();
    for r in service(&listing, listed.0, listed.1)["real_servers"]
        .as_array()
        .unwrap()
    {
        assert_eq!(r["active_conns"], 0, "{listing}");
        assert_eq!(r["inactive_conns"], 0, "{listing}");
    }

    // The router moves every flow to director 1: each goes on, to the same real server.
    t.directors[1].lbctl(&["director", "undrain"]);
    match how {
        Move::Drain => {
            t.directors[0].lbctl(&["director", "drain"]);
        }
        Move::Kill => {
            t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
            t.kill_director(0);
        }
    }
    let forwarded_before = reason(t, 1, "tx");
    {
        let _in = t.client.enter();
        for (i, s) in streams.iter_mut().enumerate() {
            for n in 2..5 {
                let line = format!("c{i} {n}");
                let answer = patient_exchange(s, &line, Duration::from_secs(30));
                assert_eq!(answer, format!("{} {line}", served_by[i]), "after the move");
            }
        }
    }
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    assert!(
        reason(t, 1, "tx") >= forwarded_before + 18,
        "director 1 forwarded the moved flows"
    );
    assert_eq!(reason(t, 1, "drop_tcp_mid_flow"), 0);
    // Director 1 carries them now: they are in its counts, each on its real server.
    assert_eq!(
        counts(t, 1, listed.0, listed.1),
        (streams.len() as u64, 0),
        "director 1's active and inactive counts"
    );
    drop(streams);
    served_by
}

/// The rr service of [`connections_synced_to_director_1_survive`] (a count-driven
/// scheduler, so director 1 would not make director 0's choice by itself, and, with
/// sloppy_tcp off, drops a mid-flow packet of a flow it does not hold).
fn rr_service(port: u16) -> lb_tests::config::ServiceBuilder {
    tcp_service(HA_VIP, port)
        .scheduler("rr")
        .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()])
}

#[test]
fn connections_synced_by_multicast_survive_the_router_moving_them_to_the_other_director() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7000;
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    let base = config()
        .conn_table_size(65536)
        .sync(json!({}))
        .service(rr_service(PORT));
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    connections_synced_to_director_1_survive(&mut t, PORT, (HA_VIP.into(), PORT), Move::Drain);
}

/// An IPv6 link-local group (`ff02::1:81`) on the directors' LAN interface, as IPVS joins
/// one: director 0's master daemon started by `lbctl --start-daemon` with ipvsadm's
/// `--mcast-group`, director 1's backup from its config's `sync` section. The connections
/// made through director 0 are listed by director 1 and go on through it after director 0
/// is killed.
#[test]
fn connections_synced_over_an_ipv6_group_survive_the_death_of_their_director() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7005;
    const GROUP: &str = "ff02::1:81";
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    // The messages leave from the interface's link-local address: once it is past DAD.
    for d in &t.directors {
        lb_tests::wait_until(
            Duration::from_secs(10),
            "a usable link-local address on the director's LAN interface",
            || {
                let a =
                    d.ns.ip(&["-6", "addr", "show", "dev", "eth0", "scope", "link"]);
                a.contains("inet6 fe80:") && !a.contains("tentative")
            },
        );
    }
    let syncs = [None, Some(json!({ "send": false, "mcast_group": GROUP }))];
    for (i, sync) in syncs.into_iter().enumerate() {
        let mut base = config().conn_table_size(65536).service(rr_service(PORT));
        if let Some(s) = sync {
            base = base.sync(s);
        }
        let cfg = t.director_config(i, base);
        t.start_lbd(i, &cfg);
    }
    let started = t.directors[0].lbctl(&[
        "--start-daemon",
        "master",
        "--mcast-interface",
        "eth0",
        "--mcast-group",
        GROUP,
    ]);
    assert_eq!(started, "");
    // 1452 bytes: a message and its IPv6 and UDP headers fill a 1500-byte frame.
    assert_eq!(
        t.directors[0].lbctl(&["-L", "--daemon"]),
        format!(
            "master sync daemon (mcast=eth0, syncid=255, maxlen=1452, group={GROUP}, port=8848, ttl=1)\n"
        )
    );
    assert_eq!(
        t.directors[1].lbctl(&["-L", "--daemon"]),
        format!(
            "backup sync daemon (mcast=eth0, syncid=0, maxlen=1452, group={GROUP}, port=8848, ttl=1)\n"
        )
    );
    connections_synced_to_director_1_survive(&mut t, PORT, (HA_VIP.into(), PORT), Move::Kill);
    // Nothing director 1 received was refused.
    let d: Value =
        serde_json::from_str(&t.directors[1].lbctl(&["-L", "--daemon", "--json"])).unwrap();
    assert_eq!(d["daemons"][0]["refused"], 0, "{d}");
    assert!(d["daemons"][0]["messages"].as_u64().unwrap() >= 1, "{d}");
}

/// A firewall-mark service's connections (mark 5: the VIP's tcp port 7010, by lb's
/// classifier) and their persistence templates are synced with the mark, and director 1 finds
/// the service by it: the connections survive the router moving them, as a VIP's do. (The
/// VIP's own service on port 80 is what makes the directors announce it: a mark has no VIP.)
#[test]
fn connections_of_a_fwmark_service_synced_survive_the_router_moving_them_to_the_other_director() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7010;
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    let base = config()
        .conn_table_size(65536)
        .sync(json!({}))
        .mark(
            5,
            json!([{"destination": format!("{HA_VIP}/32"), "protocol": "tcp", "ports": PORT.to_string()}]),
        )
        .service(
            fwmark_service(5)
                .scheduler("rr")
                .persistent(300)
                .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
        )
        .service(rr_service(80));
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    let served = connections_synced_to_director_1_survive(
        &mut t,
        PORT,
        (IpAddr::from([0, 0, 0, 0]), 0),
        Move::Drain,
    );
    assert!(
        served.iter().all(|s| *s == served[0]),
        "persistence: one real server for the client: {served:?}"
    );
    // New connections through director 1 alone follow the template director 0 made (rr by
    // itself would alternate).
    let (_more, now) = t.open_streams(SocketAddr::from((HA_VIP, PORT)), 3);
    assert_eq!(
        now,
        vec![served[0].clone(); 3],
        "the synced template's real server"
    );
}

#[test]
fn sync_daemons_started_and_stopped_with_ipvsadms_options_sync_a_connection() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 1);
    const PORT: u16 = 7001;
    let _line = LineServer::start(&t.reals[0], "rs0", PORT);
    // No sync section: the daemons come from lbctl, as ipvsadm starts the kernel's.
    let base = config().conn_table_size(65536).service(
        tcp_service(HA_VIP, PORT)
            .scheduler("wlc")
            .real(real(ha_real(0)).dr()),
    );
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    for d in &t.directors {
        assert_eq!(d.lbctl(&["-L", "--daemon"]), "", "no daemon runs yet");
    }
    let (d0, d1) = (&t.directors[0], &t.directors[1]);
    assert_eq!(
        d0.lbctl(&[
            "--start-daemon",
            "master",
            "--mcast-interface",
            "eth0",
            "--syncid",
            "9"
        ]),
        ""
    );
    assert_eq!(
        d1.lbctl(&[
            "--start-daemon",
            "backup",
            "--mcast-interface",
            "eth0",
            "--syncid",
            "9"
        ]),
        ""
    );
    assert_eq!(
        d0.lbctl(&["-L", "--daemon"]),
        "master sync daemon (mcast=eth0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    assert_eq!(
        d1.lbctl(&["-L", "--daemon"]),
        "backup sync daemon (mcast=eth0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    // A second master is refused with ipvsadm's words.
    let again = lbctl(&d0.socket, &["--start-daemon", "master"], b"");
    assert_eq!(again.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "Daemon has already run\n"
    );

    t.directors[1].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let mut s = {
        let _in = t.client.enter();
        let mut s = socket2_connect(SocketAddr::from((HA_VIP, PORT)), None).expect("connect");
        assert_eq!(exchange(&mut s, "hello").unwrap(), "rs0 hello");
        s
    };
    let on0 = conns_of(&t, 0, PORT);
    assert_eq!(on0.len(), 1, "{on0:?}");
    lb_tests::wait_until(
        Duration::from_secs(10),
        "the backup has the connection",
        || conns_of(&t, 1, PORT) == on0,
    );
    let daemons: Value =
        serde_json::from_str(&t.directors[1].lbctl(&["-L", "--daemon", "--json"])).unwrap();
    assert_eq!(daemons["daemons"][0]["state"], "backup", "{daemons}");
    assert!(
        daemons["daemons"][0]["records"].as_u64().unwrap() >= 1,
        "{daemons}"
    );

    // Stopped: listed no more; stopping again is ipvsadm's error.
    assert_eq!(t.directors[1].lbctl(&["--stop-daemon", "backup"]), "");
    assert_eq!(t.directors[1].lbctl(&["-L", "--daemon"]), "");
    let again = lbctl(&t.directors[1].socket, &["--stop-daemon", "backup"], b"");
    assert_eq!(again.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "No daemon is running\n"
    );
    {
        let _in = t.client.enter();
        assert_eq!(exchange(&mut s, "bye").unwrap(), "rs0 bye");
    }
}

#[test]
fn sync_messages_with_a_key_are_applied_only_by_directors_holding_it() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(3, 1);
    const PORT: u16 = 7004;
    let _line = LineServer::start(&t.reals[0], "rs0", PORT);
    let key = |name: &str, text: &str| {
        let p = t.workdir().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (a, b) = (
        key("a.key", "the key of directors 0 and 1\n"),
        key("b.key", "director 2 holds another key\n"),
    );
    // Director 0 sends (multicast), directors 1 and 2 receive; 2 holds another key.
    let syncs = [
        json!({ "receive": false, "auth_key_file": a }),
        json!({ "send": false, "auth_key_file": a }),
        json!({ "send": false, "auth_key_file": b }),
    ];
    for (i, sync) in syncs.into_iter().enumerate() {
        let cfg = t.director_config(
            i,
            config().conn_table_size(65536).sync(sync).service(
                tcp_service(HA_VIP, PORT)
                    .scheduler("wlc")
                    .real(real(ha_real(0)).dr()),
            ),
        );
        t.start_lbd(i, &cfg);
    }
    t.wait_next_hops(HA_VIP, &[0, 1, 2], BGP_LIMIT);
    for i in [1, 2] {
        t.directors[i].lbctl(&["director", "drain"]);
    }
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let (streams, _) = t.open_streams(SocketAddr::from((HA_VIP, PORT)), 3);
    let on0 = conns_of(&t, 0, PORT);
    assert_eq!(on0.len(), 3, "{on0:?}");
    lb_tests::wait_until(
        Duration::from_secs(10),
        "director 1 (the same key) has the connections",
        || conns_of(&t, 1, PORT) == on0,
    );
    let backup = |i: usize| -> Value {
        let v: Value =
            serde_json::from_str(&t.directors[i].lbctl(&["-L", "--daemon", "--json"])).unwrap();
        assert_eq!(v["daemons"][0]["state"], "backup", "{v}");
        v["daemons"][0].clone()
    };
    assert_eq!(backup(1)["refused"], 0);
    // Director 2 refuses every message (the MAC does not match its key), counted, and
    // holds none of them.
    lb_tests::wait_until(
        Duration::from_secs(10),
        "director 2 counts refused messages",
        || backup(2)["refused"].as_u64().unwrap() >= 1,
    );
    let d2 = backup(2);
    assert_eq!(d2["messages"], 0, "{d2}");
    assert_eq!(d2["records"], 0, "{d2}");
    assert_eq!(
        conns_of(&t, 2, PORT),
        vec![],
        "director 2 applied a message of another key"
    );
    drop(streams);
}

/// Sends one line and reads the one-line answer, waiting up to `limit` (TCP retransmits
/// while the router still sends to a dead director).
fn patient_exchange(s: &mut std::net::TcpStream, line: &str, limit: Duration) -> String {
    use std::io::{Read, Write};
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(format!("{line}\n").as_bytes())
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    let mut answer = Vec::new();
    let mut b = [0u8; 1];
    while !answer.ends_with(b"\n") {
        match s.read(&mut b) {
            Ok(0) => panic!(
                "{line}: closed after {:?}",
                String::from_utf8_lossy(&answer)
            ),
            Ok(_) => answer.push(b[0]),
            Err(e) => panic!("{line}: {e} after {:?}", String::from_utf8_lossy(&answer)),
        }
    }
    answer.pop();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_director_whose_link_goes_down_loses_no_synced_connection() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7002;
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    // Unicast peers instead of the multicast group (directors behind routers share no group).
    let base = |peer: std::net::Ipv4Addr| {
        config()
            .conn_table_size(65536)
            .sync(json!({ "peers": [format!("{peer}:8848")] }))
            .service(
                tcp_service(HA_VIP, PORT)
                    .scheduler("wlc")
                    .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
            )
    };
    for i in 0..2 {
        let cfg = t.director_config(i, base(ha_director(1 - i)));
        t.start_lbd(i, &cfg);
    }
    assert_eq!(
        t.directors[0].lbctl(&["-L", "--daemon"]),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, port=8848, ttl=1)\n\
         backup sync daemon (mcast=eth0, syncid=0, maxlen=1472, port=8848, ttl=1)\n"
    );
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    t.directors[1].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let vip = SocketAddr::from((HA_VIP, PORT));
    let (mut streams, served_by) = t.open_streams(vip, 6);
    let on0 = conns_of(&t, 0, PORT);
    assert_eq!(on0.len(), 6, "{on0:?}");
    lb_tests::wait_until(
        Duration::from_secs(10),
        "director 1 has the synced connections",
        || conns_of(&t, 1, PORT) == on0,
    );
    t.directors[1].lbctl(&["director", "undrain"]);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);

    // Director 0's link goes down: its BIRD and lbd run on, unreachable. The router drops its
    // routes when the BGP hold timer (3 s) runs out; meanwhile the clients' TCP retransmits.
    t.directors[0].ns.ip(&["link", "set", "eth0", "down"]);
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    {
        let _in = t.client.enter();
        for (i, s) in streams.iter_mut().enumerate() {
            for n in 2..4 {
                let line = format!("c{i} {n}");
                let answer = patient_exchange(s, &line, Duration::from_secs(30));
                assert_eq!(answer, format!("{} {line}", served_by[i]));
            }
        }
    }
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
}

#[test]
fn a_director_that_starts_bulk_syncs_the_table_before_it_announces() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7003;
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    let base = |peer: std::net::Ipv4Addr| {
        config()
            .conn_table_size(65536)
            .sync(json!({
                "peers": [format!("{peer}:8848")],
                "bulk_from": [format!("{peer}:8848")],
            }))
            .service(
                tcp_service(HA_VIP, PORT)
                    .scheduler("lc")
                    .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
            )
    };
    // Director 0 alone (its bulk sync finds no one and it starts anyway).
    let cfg0 = t.director_config(0, base(ha_director(1)));
    t.start_lbd(0, &cfg0);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let vip = SocketAddr::from((HA_VIP, PORT));
    let (mut streams, served_by) = t.open_streams(vip, 4);
    let on0 = conns_of(&t, 0, PORT);
    assert_eq!(on0.len(), 4, "{on0:?}");
    // Director 0 sent them to a peer that was not there; it sends them again only as a
    // refresh (minutes away). Director 1 starting now learns them by its bulk sync alone.
    let cfg1 = t.director_config(1, base(ha_director(0)));
    t.start_lbd(1, &cfg1);
    lb_tests::wait_until(
        Duration::from_secs(10),
        "director 1 has director 0's connections",
        || conns_of(&t, 1, PORT) == on0,
    );
    // Announced only after the bulk sync (lbd's log, in order).
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    let log = plain(&std::fs::read_to_string(&t.directors[1].log).unwrap());
    let bulk = log.find("bulk sync done").expect("bulk sync logged");
    assert!(
        log[bulk..]
            .lines()
            .next()
            .unwrap()
            .contains("connections=4"),
        "{log}"
    );
    let announced = log.find("announced VIPs").expect("announced");
    assert!(bulk < announced, "announced before the bulk sync:\n{log}");

    // The router moves every flow to director 1: each goes on.
    t.directors[0].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    {
        let _in = t.client.enter();
        for (i, s) in streams.iter_mut().enumerate() {
            let line = format!("c{i} 2");
            assert_eq!(
                exchange(s, &line).unwrap_or_else(|e| panic!("{line}: {e}")),
                format!("{} {line}", served_by[i])
            );
        }
    }
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
}

/// An IPv6 VIP, announced by both directors as a /128 over their IPv6 sessions with the
/// router (what `lbctl bird-config --router <IPv6>` configures: the `lb_vips6` protocol
/// exported to it), is in the router's kernel table with one next hop per director; a drain
/// withdraws it, an undrain announces it again, a clean stop withdraws it.
#[test]
fn an_ipv6_vip_is_announced_as_a_128_through_bird_and_withdrawn_on_drain_and_stop() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::with_ipv6(2, 1);
    let vip6: std::net::Ipv6Addr = "2001:2:0:1::100".parse().unwrap();
    let base = config().conn_table_size(65536).service(
        tcp_service(vip6, 80)
            .scheduler("rr")
            .real(real(lb_tests::ha::ha_real6(0)).dr()),
    );
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    t.wait_next_hops(vip6, &[0, 1], BGP_LIMIT);
    for (i, d) in t.directors.iter().enumerate() {
        assert_eq!(
            d.included_vips(),
            vec![IpAddr::from(vip6)],
            "director {i}'s include file"
        );
        let s = director_status(&t, i);
        assert_eq!(ips(&s["announced"]), ["2001:2:0:1::100"], "{s}");
    }
    let route = t
        .router
        .ip(&["-6", "route", "show", &format!("{vip6}/128")]);
    assert!(route.contains("proto bird"), "{route}");

    let s: Value =
        serde_json::from_str(&t.directors[0].lbctl(&["director", "drain", "--json"])).unwrap();
    assert_eq!(ips(&s["announced"]), Vec::<String>::new(), "{s}");
    t.wait_next_hops(vip6, &[1], BGP_LIMIT);
    assert!(t.directors[0].included_vips().is_empty());
    t.directors[0].lbctl(&["director", "undrain"]);
    t.wait_next_hops(vip6, &[0, 1], BGP_LIMIT);

    t.directors[1].stop_lbd();
    assert!(t.directors[1].included_vips().is_empty());
    t.wait_next_hops(vip6, &[0], BGP_LIMIT);
}
