//! Counting across directors: `wlc` (like every count-driven scheduler) decides from the
//! counts of the director that schedules, its own connections only (the entries it learnt by
//! sync are in no count until it carries their traffic). Three directors behind the router's
//! ECMP, each balancing its own share, keep the real servers' totals within the bound the
//! README states: for real servers j and k of weights w_j and w_k, with C the connections
//! summed over the N directors, C_j / w_j - C_k / w_k <= N / w_j (equal weights: within N of
//! each other), since each director's own counts keep (c_j - 1) / w_j <= c_k / w_k.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use lb_tests::{
    config::{config, real, tcp_service},
    ha::{HA_VIP, HaTopology, ha_real},
    listing::service,
    require_root,
    servers::LineServer,
    wait_until,
};
use serde_json::{Value, json};

use super::ha::{BGP_LIMIT, conns_of, scheduled};

const DIRECTORS: usize = 3;
const CONNS: usize = 150;
const PORT: u16 = 7020;
/// The real servers' weights.
const WEIGHTS: [u32; 3] = [1, 1, 2];

/// Director `i`'s own active connections on each real server (by address).
fn active_by_real(t: &HaTopology, i: usize) -> BTreeMap<String, u64> {
    let v: Value = serde_json::from_str(&t.directors[i].lbctl(&["-L", "-n", "--json"])).unwrap();
    service(&v, HA_VIP, PORT)["real_servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_string(),
                r["active_conns"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Whether counts `c` (by real server j) of weights [`WEIGHTS`] keep
/// c_j / w_j - c_k / w_k <= slack / w_j for every pair (cross-multiplied, in integers).
fn within(c: &[u64], slack: u64) -> bool {
    (0..c.len()).all(|j| {
        (0..c.len()).all(|k| {
            let (wj, wk) = (WEIGHTS[j] as u64, WEIGHTS[k] as u64);
            c[j] * wk <= c[k] * wj + slack * wk
        })
    })
}

#[test]
fn wlc_on_three_directors_keeps_the_real_servers_within_the_stated_bound() {
    require_root!();
    HaTopology::check_binaries();
    let mut t = HaTopology::new(DIRECTORS, WEIGHTS.len());
    let _lines: Vec<LineServer> = (0..WEIGHTS.len())
        .map(|j| LineServer::start(&t.reals[j], &format!("rs{j}"), PORT))
        .collect();
    // Synced (multicast): every director holds every connection, counting its own only.
    let base = config().conn_table_size(65536).sync(json!({})).service(
        tcp_service(HA_VIP, PORT).scheduler("wlc").reals(
            WEIGHTS
                .iter()
                .enumerate()
                .map(|(j, w)| real(ha_real(j)).dr().weight(*w)),
        ),
    );
    for i in 0..DIRECTORS {
        let cfg = t.director_config(i, base.clone());
        t.start_lbd(i, &cfg);
    }
    let all: Vec<usize> = (0..DIRECTORS).collect();
    t.wait_next_hops(HA_VIP, &all, BGP_LIMIT);
    let (streams, served_by) = t.open_streams(SocketAddr::from((HA_VIP, PORT)), CONNS);
    wait_until(
        Duration::from_secs(10),
        "every director holds every connection",
        || (0..DIRECTORS).all(|i| conns_of(&t, i, PORT).len() == CONNS),
    );

    let addr = |j: usize| ha_real(j).to_string();
    let mut total = vec![0u64; WEIGHTS.len()];
    for i in 0..DIRECTORS {
        let own = active_by_real(&t, i);
        let c: Vec<u64> = (0..WEIGHTS.len()).map(|j| own[&addr(j)]).collect();
        // Its own connections only: what it scheduled, not the others' synced to it.
        assert_eq!(
            c.iter().sum::<u64>(),
            scheduled(&t, i, HA_VIP, PORT),
            "director {i}: {c:?}"
        );
        assert!(c.iter().sum::<u64>() > 0, "ECMP gave director {i} nothing");
        assert!(
            within(&c, 1),
            "director {i}'s own counts {c:?} (weights {WEIGHTS:?})"
        );
        for j in 0..WEIGHTS.len() {
            total[j] += c[j];
        }
    }
    // What the real servers saw is what the directors counted.
    let seen: Vec<u64> = (0..WEIGHTS.len())
        .map(|j| served_by.iter().filter(|s| **s == format!("rs{j}")).count() as u64)
        .collect();
    assert_eq!(seen, total, "connections per real server");
    assert_eq!(total.iter().sum::<u64>(), CONNS as u64);
    assert!(
        within(&total, DIRECTORS as u64),
        "the real servers' totals {total:?} (weights {WEIGHTS:?}) exceed the bound of {DIRECTORS} directors"
    );
    eprintln!("wlc on {DIRECTORS} directors, weights {WEIGHTS:?}: {total:?} connections");
    drop(streams);
}
