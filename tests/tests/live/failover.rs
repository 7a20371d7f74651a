//! A director's death with 200 streaming TCP connections on two directors: the router's ECMP
//! spreads the connections, both directors sync theirs to each other (unicast peers), and one
//! dies as a machine does ([`HaTopology::kill_director`]: link down, `kill -9` of lbd and
//! BIRD, its pins gone). Every connection goes on, with every byte echoed back exactly and no
//! reset, through the other director once the router's BGP hold timer (3 s) drops the dead
//! one; the director then comes back ([`HaTopology::revive_director`]), bulk-syncs the
//! table before it announces, and takes back its share of the flows, again without a
//! connection lost. Under `wlc` (a count-driven scheduler, whose choice the other director
//! would not repeat: only the synced entries keep the flows on their real servers) and under
//! `mh` (hashing, which would repeat it).

use std::{net::SocketAddr, time::Duration};

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service},
    ha::{HA_VIP, HaTopology, ha_director, ha_real, plain, stream_round},
    require_root,
    servers::LineServer,
    wait_until,
};
use serde_json::json;

use super::ha::{BGP_LIMIT, conns_of, counts, reason, scheduled};

/// The connections, and the lines each sends per round (of 200 bytes: 4 KB a round).
const CONNS: usize = 200;
const LINES: usize = 20;

/// With `keyed`, the directors share a sync key: every message, the bulk sync's too, is
/// authenticated.
fn a_killed_director_loses_no_connection(scheduler: &str, flags: &[&str], port: u16, keyed: bool) {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    let key_file = t.workdir().join("sync.key");
    std::fs::write(&key_file, "a key both directors hold\n").unwrap();
    let lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), port))
        .collect();
    let cfgs: Vec<ConfigBuilder> = (0..2)
        .map(|i| {
            let peer = format!("{}:8848", ha_director(1 - i));
            let mut sync = json!({ "peers": [peer], "bulk_from": [peer] });
            if keyed {
                sync["auth_key_file"] = json!(key_file);
            }
            let base = config().conn_table_size(65536).sync(sync).service(
                tcp_service(HA_VIP, port)
                    .scheduler(scheduler)
                    .flags(flags)
                    .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
            );
            t.director_config(i, base)
        })
        .collect();
    for (i, cfg) in cfgs.iter().enumerate() {
        t.start_lbd(i, cfg);
    }
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);

    let vip = SocketAddr::from((HA_VIP, port));
    let (mut streams, served_by) = t.open_streams(vip, CONNS);
    // The router's ECMP spread them (all on one director: once in 2^199 runs).
    let on = [
        scheduled(&t, 0, HA_VIP, port),
        scheduled(&t, 1, HA_VIP, port),
    ];
    assert_eq!(on[0] + on[1], CONNS as u64, "scheduled {on:?}");
    assert!(
        on[0] > 0 && on[1] > 0,
        "ECMP used one director only: {on:?}"
    );
    for j in 0..2 {
        let n = served_by.iter().filter(|s| **s == format!("rs{j}")).count();
        assert!(n > 0, "no connection on rs{j} ({scheduler})");
    }
    // Each director holds every connection, its own and the other's by sync, with the
    // same real server.
    wait_until(
        Duration::from_secs(10),
        "both directors hold every connection",
        || {
            let (a, b) = (conns_of(&t, 0, port), conns_of(&t, 1, port));
            a.len() == CONNS && a == b
        },
    );
    let mut bytes = stream_round(&mut streams, &served_by, 2, LINES, Duration::from_secs(10));

    // Director 0 dies with its share of the connections. Every stream sends its next round
    // at once: director 0's flows retransmit until the router drops its routes.
    t.kill_director(0);
    let died = std::time::Instant::now();
    bytes += stream_round(&mut streams, &served_by, 3, LINES, Duration::from_secs(30));
    let recovered = died.elapsed();
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
    // Director 1 carries all of them now, in its own counts (its own and the ones it took
    // over on their first packet), and scheduled none anew.
    assert_eq!(counts(&t, 1, HA_VIP, port), (CONNS as u64, 0));
    assert_eq!(scheduled(&t, 1, HA_VIP, port), on[1]);

    // Director 0 comes back: a fresh data plane, filled by the bulk sync before it announces.
    t.revive_director(0, &cfgs[0]);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    // Its log (appended to the dead lbd's): the stale include file emptied, then the bulk
    // sync of every connection, then the announcement (logged once BIRD took it: BIRD may
    // have read the file, written by then, at its own start).
    let mut log = String::new();
    wait_until(Duration::from_secs(10), "director 0 announced", || {
        log = plain(&std::fs::read_to_string(&t.directors[0].log).unwrap());
        log.rfind("announced VIPs") > log.rfind("bulk sync done")
    });
    let emptied = log
        .rfind("a new data plane: nothing announced")
        .expect("include file emptied");
    let bulk = log.rfind("bulk sync done").expect("bulk sync logged");
    assert!(emptied < bulk, "{log}");
    assert!(
        log[bulk..]
            .lines()
            .next()
            .unwrap()
            .contains(&format!("connections={CONNS}")),
        "{log}"
    );
    bytes += stream_round(&mut streams, &served_by, 4, LINES, Duration::from_secs(30));
    // The router gave director 0 back the flows it had (the same hash, the same next hop),
    // which it forwarded by their bulk-synced entries (none dropped, none scheduled anew):
    // they are in its counts now.
    assert_eq!(reason(&t, 0, "drop_tcp_mid_flow"), 0);
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
    assert_eq!(scheduled(&t, 0, HA_VIP, port), 0);
    let (back, _) = counts(&t, 0, HA_VIP, port);
    assert_eq!(
        back, on[0],
        "director 0's active connections after its return"
    );
    // Every real server received each line of its connections once.
    for (j, server) in lines.iter().enumerate() {
        let n = served_by.iter().filter(|s| **s == format!("rs{j}")).count();
        assert_eq!(
            server.received().len(),
            n * (1 + 3 * LINES),
            "rs{j}'s lines"
        );
    }
    if keyed {
        // Nothing refused: every message of either director was sealed with the key.
        for i in 0..2 {
            let d: serde_json::Value =
                serde_json::from_str(&t.directors[i].lbctl(&["-L", "--daemon", "--json"])).unwrap();
            assert_eq!(d["daemons"][1]["state"], "backup", "{d}");
            assert_eq!(d["daemons"][1]["refused"], 0, "director {i}: {d}");
        }
    }
    eprintln!(
        "{scheduler}: {CONNS} connections ({} and {} on the directors), {bytes} bytes checked, \
         the dead director's flows went on after {recovered:?}, {back} back on it after its return",
        on[0], on[1]
    );
    drop(streams);
}

/// With a sync key: authenticated messages and bulk sync.
#[test]
fn a_killed_director_loses_no_connection_under_wlc() {
    a_killed_director_loses_no_connection("wlc", &[], 7010, true);
}

#[test]
fn a_killed_director_loses_no_connection_under_mh() {
    a_killed_director_loses_no_connection("mh", &["mh-port"], 7011, false);
}

/// The persistence templates director `i` lists for service port `port`: (client network,
/// real server), sorted.
fn templates_of(t: &HaTopology, i: usize, port: u16) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&t.directors[i].lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
    let mut out: Vec<(String, String)> = v["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter(|c| c["vport"] == port && c["template"] == true)
        .map(|c| {
            (
                c["client"].as_str().unwrap().to_string(),
                c["real"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A persistent service (`-p 300`) on two directors syncing to each other: the client's
/// template (its real server) is synced with its connection, so after director 0 dies the
/// client's new connections through director 1 go to the real server director 0 chose, although
/// director 1's own scheduler would choose the other one (its weights are the reverse of
/// director 0's: each director's zero-weight real server still takes persistent clients, as in
/// IPVS, but none of its own new ones). Without the template synced every new connection
/// would go to `rs0`.
#[test]
fn a_persistent_client_reconnects_to_its_real_server_after_its_director_is_killed() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7012;
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    let cfgs: Vec<ConfigBuilder> = (0..2)
        .map(|i| {
            let peer = format!("{}:8848", ha_director(1 - i));
            // Director 0 schedules rs1, director 1 would schedule rs0.
            let weights = if i == 0 { [0, 1] } else { [1, 0] };
            let base = config()
                .conn_table_size(65536)
                .sync(json!({ "peers": [peer] }))
                .service(
                    tcp_service(HA_VIP, PORT)
                        .scheduler("wrr")
                        .persistent(300)
                        .reals([
                            real(ha_real(0)).dr().weight(weights[0]),
                            real(ha_real(1)).dr().weight(weights[1]),
                        ]),
                );
            t.director_config(i, base)
        })
        .collect();
    for (i, cfg) in cfgs.iter().enumerate() {
        t.start_lbd(i, cfg);
    }
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    // The client's first connection reaches director 0 only.
    t.directors[1].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let vip = SocketAddr::from((HA_VIP, PORT));
    let (mut first, served_by) = t.open_streams(vip, 1);
    assert_eq!(served_by, ["rs1"], "director 0 schedules rs1");
    let template = vec![(lb_tests::ha::HA_CLIENT.to_string(), ha_real(1).to_string())];
    assert_eq!(templates_of(&t, 0, PORT), template);
    wait_until(
        Duration::from_secs(10),
        "director 1 holds the client's template, synced",
        || templates_of(&t, 1, PORT) == template,
    );
    t.directors[1].lbctl(&["director", "undrain"]);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);

    t.kill_director(0);
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    // New connections of the client (new source ports), through director 1 alone now.
    let (_again, served_by) = t.open_streams(vip, 6);
    assert_eq!(
        served_by,
        vec!["rs1"; 6],
        "the client's new connections follow its synced template"
    );
    assert_eq!(
        scheduled(&t, 1, HA_VIP, PORT),
        6,
        "director 1 gave them their real server (by the template)"
    );
    // The first connection goes on too (its entry was synced).
    {
        let _in = t.client.enter();
        let answer = lb_tests::servers::exchange(&mut first[0], "c0 2").expect("c0 2");
        assert_eq!(answer, "rs1 c0 2");
    }
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
}

/// The real servers' default gateway for the client's network in the `nat` test: an address
/// on the LAN that the active director holds (keepalived's VRRP address; the test moves it).
const NAT_GATEWAY: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 254);

/// Two `nat` directors (both with the VIP's service, `rr` over two real servers) syncing to
/// each other by multicast; the real servers reach the client through [`NAT_GATEWAY`], which
/// director 0 holds. Four connections through director 0 stream bytes both ways (each line
/// echoed back by its real server, compared byte for byte); director 1 holds each connection
/// by sync. Director 0 dies ([`HaTopology::kill_director`]); the test moves the gateway
/// address to director 1 and announces it by gratuitous ARP, as keepalived would; every
/// connection goes on through director 1 both ways: the client's packets by their synced
/// entries, the real servers' replies rewritten back to the VIP by the synced reply entries.
#[test]
fn nat_connections_survive_the_death_of_their_director_when_the_gateway_moves() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    const PORT: u16 = 7013;
    const STREAMS: usize = 4;
    let lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    for rs in &t.reals {
        rs.ip(&[
            "route",
            "replace",
            "198.19.0.0/24",
            "via",
            &NAT_GATEWAY.to_string(),
        ]);
    }
    // A nat director sends the replies on to the client: through the router.
    for d in &t.directors {
        d.ns.ip(&[
            "route",
            "add",
            "198.19.0.0/24",
            "via",
            &lb_tests::ha::HA_ROUTER.to_string(),
        ]);
    }
    t.directors[0].take_address(NAT_GATEWAY, 1, Duration::ZERO);
    let base = config().conn_table_size(65536).sync(json!({})).service(
        tcp_service(HA_VIP, PORT)
            .scheduler("rr")
            .reals([real(ha_real(0)).nat(), real(ha_real(1)).nat()]),
    );
    for i in 0..2 {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);
    // Every connection through director 0 first.
    t.directors[1].lbctl(&["director", "drain"]);
    t.wait_next_hops(HA_VIP, &[0], BGP_LIMIT);
    let vip = SocketAddr::from((HA_VIP, PORT));
    let (mut streams, served_by) = t.open_streams(vip, STREAMS);
    for j in 0..2 {
        assert!(
            served_by.contains(&format!("rs{j}")),
            "rr gave rs{j} nothing: {served_by:?}"
        );
    }
    let mut bytes = stream_round(&mut streams, &served_by, 2, LINES, Duration::from_secs(10));
    let on0 = conns_of(&t, 0, PORT);
    assert_eq!(on0.len(), STREAMS, "{on0:?}");
    wait_until(
        Duration::from_secs(10),
        "director 1 holds director 0's nat connections",
        || conns_of(&t, 1, PORT) == on0,
    );
    let replies_before = reason(&t, 1, "nat_reply");
    t.directors[1].lbctl(&["director", "undrain"]);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP_LIMIT);

    // Director 0 dies; its gateway address moves to director 1 (twice announced, more than
    // the neighbour table's locktime apart).
    t.kill_director(0);
    t.directors[1].take_address(NAT_GATEWAY, 2, Duration::from_millis(1200));
    bytes += stream_round(&mut streams, &served_by, 3, LINES, Duration::from_secs(30));
    t.wait_next_hops(HA_VIP, &[1], BGP_LIMIT);
    bytes += stream_round(&mut streams, &served_by, 4, LINES, Duration::from_secs(10));
    assert_eq!(reason(&t, 1, "drop_tcp_mid_flow"), 0);
    // Director 1 rewrote the real servers' replies (by the reply entries it learnt) and
    // carries every connection now, in its own counts; it scheduled none of them.
    let replies = reason(&t, 1, "nat_reply") - replies_before;
    assert!(
        replies >= (STREAMS * 2) as u64,
        "director 1 rewrote {replies} replies"
    );
    assert_eq!(counts(&t, 1, HA_VIP, PORT), (STREAMS as u64, 0));
    assert_eq!(scheduled(&t, 1, HA_VIP, PORT), 0);
    for (j, server) in lines.iter().enumerate() {
        let n = served_by.iter().filter(|s| **s == format!("rs{j}")).count();
        assert_eq!(
            server.received().len(),
            n * (1 + 3 * LINES),
            "rs{j}'s lines"
        );
    }
    eprintln!(
        "nat: {STREAMS} connections, {bytes} bytes checked both ways, {replies} replies rewritten by director 1"
    );
    drop(streams);
}
