//! `cargo xtask demo ha`: high availability for real. A client behind a router running BIRD
//! with ECMP, two directors each running lbd and BIRD and syncing their connections to each
//! other (unicast, authenticated with a shared key), two real servers. 40 TCP connections
//! stream lines through both directors; director 0 is then killed as a machine dies (its
//! link down, `kill -9` of lbd and BIRD, its pins gone) while every connection goes on through
//! director 1 once the router's BGP hold timer drops the dead one; then director 0 comes
//! back, bulk-syncs the table, is announced again, and takes back its flows. Every line is
//! checked byte for byte; the demo exits 0 if no connection lost a byte or was reset.

use std::{
    net::SocketAddr,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service},
    ha::{HA_VIP, HaTopology, ha_director, ha_real, plain, stream_round},
    servers::LineServer,
};
use serde_json::json;

use super::INTERRUPTED;

const PORT: u16 = 7100;
const CONNS: usize = 40;
const LINES: usize = 10;
const BGP: Duration = Duration::from_secs(20);

fn interrupted() -> bool {
    let i = INTERRUPTED.load(Ordering::SeqCst);
    if i {
        println!("interrupted: cleaning up");
    }
    i
}

fn route(t: &HaTopology) -> String {
    t.router
        .ip(&["route", "show", &format!("{HA_VIP}/32")])
        .trim_end()
        .to_string()
}

/// Each director's own connections (what it scheduled or took over: its active counts).
fn carried(t: &HaTopology) -> String {
    (0..t.directors.len())
        .map(|i| {
            if t.directors[i].lbd.is_none() {
                return format!("director {i}: dead");
            }
            let out = t.directors[i].lbctl(&["-L", "-n"]);
            let active: u64 = out
                .lines()
                .filter(|l| l.trim_start().starts_with("->") && l.contains(':'))
                .filter_map(|l| l.split_whitespace().nth(4)?.parse::<u64>().ok())
                .sum();
            format!("director {i}: {active} active")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run() -> bool {
    println!(
        "== building the topology: client, router (BIRD, ECMP), 2 directors (lbd + BIRD), 2 real servers"
    );
    HaTopology::check_binaries();
    let mut t = HaTopology::new(2, 2);
    let _lines: Vec<LineServer> = (0..2)
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    let key = t.workdir().join("sync.key");
    std::fs::write(&key, "the directors' shared sync key\n").expect("key file");
    let cfgs: Vec<ConfigBuilder> = (0..2)
        .map(|i| {
            let peer = format!("{}:8848", ha_director(1 - i));
            t.director_config(
                i,
                config()
                    .conn_table_size(65536)
                    .sync(json!({ "peers": [peer], "bulk_from": [peer], "auth_key_file": key }))
                    .service(
                        tcp_service(HA_VIP, PORT)
                            .scheduler("wlc")
                            .reals([real(ha_real(0)).dr(), real(ha_real(1)).dr()]),
                    ),
            )
        })
        .collect();
    println!("== director 0's lbd config:\n{}", cfgs[0].json());
    for (i, cfg) in cfgs.iter().enumerate() {
        t.start_lbd(i, cfg);
    }
    t.wait_next_hops(HA_VIP, &[0, 1], BGP);
    println!(
        "== both directors announce {HA_VIP}; the router's route:\n{}",
        route(&t)
    );
    if interrupted() {
        return false;
    }

    let (mut streams, served_by) = t.open_streams(SocketAddr::from((HA_VIP, PORT)), CONNS);
    println!(
        "== {CONNS} TCP connections from the client, spread by the router: {}",
        carried(&t)
    );
    std::thread::sleep(Duration::from_millis(300));
    let bytes = stream_round(&mut streams, &served_by, 2, LINES, Duration::from_secs(10));
    println!("== round 2: {bytes} bytes echoed by the real servers, every byte checked");
    if interrupted() {
        return false;
    }

    println!("== killing director 0: link down, kill -9 of its lbd and BIRD, its pins removed");
    t.kill_director(0);
    let died = Instant::now();
    println!(
        "== every connection sends its next round now (director 0's retransmit until the router drops it)"
    );
    let bytes = stream_round(&mut streams, &served_by, 3, LINES, Duration::from_secs(30));
    println!(
        "== round 3: {bytes} bytes, every byte checked, {:.1} s after the death; the router's route:\n{}",
        died.elapsed().as_secs_f64(),
        route(&t)
    );
    println!("== {}", carried(&t));
    if interrupted() {
        return false;
    }

    println!(
        "== director 0 boots again: lbd (a fresh data plane, bulk sync from director 1), then BIRD"
    );
    t.revive_director(0, &cfgs[0]);
    t.wait_next_hops(HA_VIP, &[0, 1], BGP);
    println!(
        "== director 0 announced again; the router's route:\n{}",
        route(&t)
    );
    let bytes = stream_round(&mut streams, &served_by, 4, LINES, Duration::from_secs(30));
    println!(
        "== round 4: {bytes} bytes, every byte checked; {}",
        carried(&t)
    );
    println!(
        "   (director 1 keeps counting the flows that went back until their entries there expire)"
    );
    let log = plain(&std::fs::read_to_string(&t.directors[0].log).unwrap_or_default());
    if let Some(line) = log.lines().rev().find(|l| l.contains("bulk sync done")) {
        println!("== director 0's log: {line}");
    }
    for i in 0..2 {
        println!(
            "== lbctl -L -n on director {i}\n{}",
            t.directors[i].lbctl(&["-L", "-n"])
        );
    }
    println!("== no connection lost a byte or was reset; removing namespaces, processes and pins");
    drop(streams);
    true
}
