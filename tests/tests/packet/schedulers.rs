//! Schedulers (rr, wrr, sh, dh, the count-driven ones, lblc, lblcr) and persistence: `lb`'s
//! choices for new flows, run through `BPF_PROG_TEST_RUN`, against the reference models that
//! define them (lbd's table builders `lb_daemon::plan::sched`, `lb_tests::models` and the shared
//! hash), connection by connection.

use std::net::Ipv4Addr;

use lb_common::hash::{FLOW_HASH_SEED, addr_hash};
use lb_daemon::plan::{maglev::Backend, sched};
use lb_tests::{
    config::{ConfigBuilder, Protocol, RealBuilder, config, real, service_key, tcp_service},
    consts::{REALS, VIP, XDP_TX, real_addr},
    flow::addr_words,
    models::{self, Load, LocalityModel},
    pin_to_cpu0, require_root,
    testrun::Harness,
};

const WEIGHTS: [u32; 3] = [4, 3, 2];

/// A config with one TCP service on `vip` per scheduler, on consecutive ports from
/// `first_port`, each with the same real servers.
fn per_scheduler(
    cfg: ConfigBuilder,
    vip: Ipv4Addr,
    schedulers: &[&str],
    first_port: u16,
    reals: &[RealBuilder],
) -> ConfigBuilder {
    cfg.services(schedulers.iter().enumerate().map(|(i, s)| {
        tcp_service(vip, first_port + i as u16)
            .scheduler(s)
            .reals(reals.iter().cloned())
    }))
}

/// The three real servers with weights 4:3:2, tunnelled.
fn weighted_reals() -> Vec<RealBuilder> {
    REALS
        .iter()
        .zip(WEIGHTS)
        .map(|(a, w)| real(*a).weight(w).tun())
        .collect()
}

/// The destinations of the dh services: the VIP and seven more virtual addresses.
fn dh_vips() -> Vec<Ipv4Addr> {
    (0..8).map(|k| Ipv4Addr::new(198, 18, 1, 100 + k)).collect()
}

/// One service per scheduler on the VIP: rr on port 80, wrr 81, sh 82, dh 83; and dh on port
/// 83 of every other address of [`dh_vips`]. Weights 4:3:2.
fn table_driven() -> Harness {
    let mut cfg = per_scheduler(
        config().conn_table_size(65536),
        VIP,
        &["rr", "wrr", "sh", "dh"],
        80,
        &weighted_reals(),
    );
    for vip in dh_vips().into_iter().skip(1) {
        cfg = per_scheduler(cfg, vip, &["dh"], 83, &weighted_reals());
    }
    Harness::new(&cfg, &REALS)
}

/// The real server `lb` tunnels a new flow to `vip`:`dport` to (the outer destination of the
/// IPIP packet).
fn chosen_addr(
    h: &mut Harness,
    client: Ipv4Addr,
    sport: u16,
    vip: Ipv4Addr,
    dport: u16,
) -> Ipv4Addr {
    let frame = h.syn(client, vip, sport, dport);
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX, "{client}:{sport} -> {vip}:{dport}");
    Ipv4Addr::new(out.data[30], out.data[31], out.data[32], out.data[33])
}

/// The id of the real server `lb` tunnels a new flow to the VIP's `dport` to.
fn chosen(h: &mut Harness, client: Ipv4Addr, sport: u16, dport: u16) -> u32 {
    let real = chosen_addr(h, client, sport, VIP, dport);
    id_of(h, VIP, dport, real)
}

fn id_of(h: &Harness, vip: Ipv4Addr, port: u16, addr: Ipv4Addr) -> u32 {
    h.real_id(&service_key(Protocol::Tcp, vip, port), addr)
        .expect("a real server of the service")
}

/// The reference table of a scheduler for the service `vip`:`port`.
fn model_table(h: &Harness, name: &str, vip: Ipv4Addr, port: u16) -> Vec<u32> {
    let keys: Vec<Vec<u8>> = REALS.iter().map(|a| a.octets().to_vec()).collect();
    let backends: Vec<Backend<'_>> = REALS
        .iter()
        .zip(WEIGHTS)
        .zip(&keys)
        .map(|((a, w), k)| Backend {
            id: id_of(h, vip, port, *a),
            key: k,
            weight: w,
        })
        .collect();
    sched::table(name.parse().expect("a scheduler name"), 0, &backends).unwrap()
}

/// The slot of `addr` in a 256-bucket hashing table, as lb hashes an address.
fn bucket(table: &[u32], addr: Ipv4Addr) -> u32 {
    table[(addr_hash(&addr_words(addr).0, FLOW_HASH_SEED) % table.len() as u32) as usize]
}

#[test]
fn rr_and_wrr_follow_their_sequences_connection_by_connection() {
    require_root!();
    pin_to_cpu0();
    let mut h = table_driven();
    for (name, port) in [("rr", 80u16), ("wrr", 81)] {
        let seq = model_table(&h, name, VIP, port);
        if name == "wrr" {
            assert_eq!(seq.len(), 9, "4:3:2 is a sequence of 9");
        }
        // Two full rounds of new connections (fresh source ports).
        let got: Vec<u32> = (0..2 * seq.len())
            .map(|i| chosen(&mut h, Ipv4Addr::new(198, 18, 5, 7), 41000 + i as u16, port))
            .collect();
        let want: Vec<u32> = seq.iter().chain(seq.iter()).copied().collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn sh_keeps_a_client_on_one_real_server_and_agrees_with_the_model() {
    require_root!();
    let mut h = table_driven();
    let table = model_table(&h, "sh", VIP, 82);
    for host in 1..40u8 {
        let client = Ipv4Addr::new(198, 18, 6, host);
        let want = bucket(&table, client);
        for sport in [1000u16, 2000, 3000] {
            assert_eq!(
                chosen(&mut h, client, sport, 82),
                want,
                "client {client} port {sport}"
            );
        }
    }
}

#[test]
fn dh_picks_by_destination_and_agrees_with_the_model() {
    require_root!();
    let mut h = table_driven();
    let mut used = std::collections::BTreeSet::new();
    for vip in dh_vips() {
        let table = model_table(&h, "dh", vip, 83);
        let want = bucket(&table, vip);
        let want_addr = REALS
            .into_iter()
            .find(|a| id_of(&h, vip, 83, *a) == want)
            .unwrap();
        // Every client and port to this destination: its bucket's real server.
        for host in 1..12u8 {
            let client = Ipv4Addr::new(198, 18, 7, host);
            assert_eq!(
                chosen_addr(&mut h, client, 5000 + host as u16, vip, 83),
                want_addr,
                "{client} to {vip}"
            );
        }
        used.insert(want_addr);
    }
    // A scheduler that ignored the destination would send them all to one real server.
    assert!(
        used.len() > 1,
        "the destinations map to several real servers: {used:?}"
    );
}

/// The count-driven services: lc on port 90, wlc 91, sed 92, nq 93, fo 94, ovf 95; weights
/// 4:3:2 and a real server of weight 0 (never chosen) second.
fn count_driven() -> Harness {
    let mut reals = weighted_reals();
    reals.insert(1, real(real_addr(3)).weight(0).tun());
    let cfg = per_scheduler(
        config().conn_table_size(65536),
        VIP,
        &["lc", "wlc", "sed", "nq", "fo", "ovf"],
        90,
        &reals,
    );
    let mut n = REALS.to_vec();
    n.push(real_addr(3));
    Harness::new(&cfg, &n)
}

fn set_overloaded(h: &mut Harness, id: u32, on: bool) {
    h.dp.set_real_limits(
        id,
        &lb_common::RealLimits {
            upper: if on { 1_000_000 } else { 0 },
            lower: 0,
            overloaded: on as u32,
            _pad: 0,
        },
    )
    .unwrap();
}

/// The loads of a service's real servers as lb sees them, in configured order.
fn loads(h: &Harness, port: u16, order: &[(Ipv4Addr, u32)]) -> Vec<Load> {
    order
        .iter()
        .map(|(addr, w)| {
            let id = id_of(h, VIP, port, *addr);
            let c = h.dp.real_conns(id).unwrap();
            Load {
                id,
                weight: *w,
                active: c.active.max(0) as u64,
                inactive: c.inactive.max(0) as u64,
                overloaded: h.dp.real_limits(id).unwrap().overloaded != 0,
            }
        })
        .collect()
}

#[test]
fn count_driven_schedulers_agree_with_the_model_connection_by_connection() {
    require_root!();
    let mut h = count_driven();
    let mut rng = fastrand::Rng::with_seed(0x1bad_5eed);
    for (name, port) in [
        ("lc", 90u16),
        ("wlc", 91),
        ("sed", 92),
        ("nq", 93),
        ("fo", 94),
        ("ovf", 95),
    ] {
        // In configured order, as lbd lists them (weight 0 included for the model).
        let mut order: Vec<(Ipv4Addr, u32)> = REALS.iter().copied().zip(WEIGHTS).collect();
        order.insert(1, (real_addr(3), 0));
        for round in 0..60u16 {
            // Fresh counts for every real server: small ranges make ties common; every fifth
            // round one real server is idle, which nq takes outright. Every third round one
            // real server is over its upper threshold (the flag lb honours; the threshold
            // itself is far above what the round's connection adds).
            let busy = (round % 3 == 0).then(|| rng.usize(..4));
            for (i, (addr, _)) in order.iter().enumerate() {
                let id = id_of(&h, VIP, port, *addr);
                let now = h.dp.real_conns(id).unwrap();
                // Up to 5 active: sometimes above a weight (ovf's overflow).
                let (mut a, b) = (rng.i64(0..6), rng.i64(0..300));
                if round % 5 == 0 && i == 3 {
                    a = 0;
                }
                h.dp.add_real_conns(id, a - now.active, b - now.inactive)
                    .unwrap();
                set_overloaded(&mut h, id, busy == Some(i));
            }
            let loads = loads(&h, port, &order);
            // ovf may find every real server overflowing: lb then drops the new connection.
            let Some(want) = models::pick(name, &loads) else {
                continue;
            };
            let got = chosen(&mut h, Ipv4Addr::new(198, 18, 8, 1), 30000 + round, port);
            assert_eq!(got, want, "{name} round {round}: loads {loads:?}");
        }
    }
}

/// lblc on port 96 and lblcr on 97 (their mapping key is the VIP: every connection of a
/// service here shares one destination address): connection by connection against
/// [`LocalityModel`], counts and overload flags drawn at random before each, the locality
/// entry compared member by member after each. Every seventh round the lblcr set is aged past
/// its expiration (in the map and the model alike), so that it sheds its most loaded member.
#[test]
fn lblc_and_lblcr_agree_with_the_model_connection_by_connection() {
    require_root!();
    let mut reals = weighted_reals();
    reals.insert(1, real(real_addr(3)).weight(0).tun());
    reals.push(real(real_addr(4)).weight(1).tun());
    let cfg = per_scheduler(
        config().conn_table_size(65536),
        VIP,
        &["lblc", "lblcr"],
        96,
        &reals,
    );
    let mut n = REALS.to_vec();
    n.extend([real_addr(3), real_addr(4)]);
    let mut h = Harness::new(&cfg, &n);
    let mut order: Vec<(Ipv4Addr, u32)> = REALS.iter().copied().zip(WEIGHTS).collect();
    order.insert(1, (real_addr(3), 0));
    order.push((real_addr(4), 1));
    let expiration = lb_common::LOCALITY_DEFAULT_EXPIRATION_S as u64 * 1_000_000_000;
    let mut rng = fastrand::Rng::with_seed(0x10ca_1177);
    let (mut grew, mut shed, mut moved) = (0, 0, 0);
    for (name, port) in [("lblc", 96u16), ("lblcr", 97)] {
        let lblcr = name == "lblcr";
        let key = lb_common::PersistKey {
            service: h.service_id(&service_key(Protocol::Tcp, VIP, port)),
            family: lb_common::FAMILY_V4,
            _pad: [0; 3],
            addr: addr_words(VIP).0,
        };
        let mut model = LocalityModel::default();
        let mut last: Option<u32> = None;
        for round in 0..120u16 {
            // Counts in small ranges around the weights (4, 0, 3, 2, 1), so that IPVS's
            // overload rule (more active than the weight while another is below half its
            // weight) goes both ways.
            let busy = (round % 4 == 0).then(|| rng.usize(..5));
            for (i, (addr, _)) in order.iter().enumerate() {
                let id = id_of(&h, VIP, port, *addr);
                let now = h.dp.real_conns(id).unwrap();
                let (a, b) = (rng.i64(0..7), rng.i64(0..20));
                h.dp.add_real_conns(id, a - now.active, b - now.inactive)
                    .unwrap();
                set_overloaded(&mut h, id, busy == Some(i));
            }
            let now = lb_daemon::dataplane::monotonic_ns();
            if lblcr && round % 7 == 6 {
                let mut e = h.dp.locality(&key).expect("an entry after the first round");
                e.last_mod_ns = now.wrapping_sub(2 * expiration);
                h.dp.set_locality(&key, &e).unwrap();
                model.entries.get_mut(&key.addr).unwrap().last_mod = e.last_mod_ns;
            }
            let loads = loads(&h, port, &order);
            let before = model
                .entries
                .get(&key.addr)
                .map(|e| e.set.len())
                .unwrap_or(0);
            let want = model.pick(lblcr, key.addr, &loads, now, expiration);
            // Every round leaves real servers to choose from (one at most is overloaded).
            let got =
                want.map(|_| chosen(&mut h, Ipv4Addr::new(198, 18, 8, 2), 30000 + round, port));
            assert_eq!(got, want, "{name} round {round}: loads {loads:?}");
            let m = &model.entries[&key.addr];
            let e = h.dp.locality(&key).expect("entry");
            assert_eq!(
                &e.reals[..e.count as usize],
                &m.set[..],
                "{name} round {round}: the destination's real servers"
            );
            let after = m.set.len();
            grew += (after > before) as u32;
            shed += (lblcr && after < before) as u32;
            moved += (last.is_some() && got != last) as u32;
            last = got;
        }
    }
    // The rounds went through every branch worth testing.
    assert!(moved > 10, "mappings changed {moved} times");
    assert!(
        grew > 3 && shed > 3,
        "lblcr sets grew {grew} and shed {shed} times"
    );
    // lbd removes mappings idle longer than their expiration, and no others.
    let exps = h.state.locality_expirations();
    assert_eq!(exps.len(), 2);
    let now = lb_daemon::dataplane::monotonic_ns();
    assert_eq!(lb_daemon::expiry::expire_locality(&mut h.dp, now, &exps), 0);
    assert_eq!(
        lb_daemon::expiry::expire_locality(&mut h.dp, now + expiration + 1_000_000_000, &exps),
        2
    );
    assert!(h.dp.locality_entries().is_empty());
}

/// A persistent service on VIP:80 over `reals` (tunnelled) with scheduler `scheduler`.
fn persistent(scheduler: &str, reals: &[Ipv4Addr], netmask: Option<u8>) -> ConfigBuilder {
    let mut svc = tcp_service(VIP, 80)
        .scheduler(scheduler)
        .persistent(300)
        .reals(reals.iter().map(|a| real(*a).tun()));
    if let Some(m) = netmask {
        svc = svc.persistent_netmask(m);
    }
    config().conn_table_size(65536).service(svc)
}

#[test]
fn persistence_keeps_a_client_network_on_one_real_server_until_the_template_expires() {
    require_root!();
    pin_to_cpu0();
    // rr would alternate; persistence (300 s, /24 client networks) must not.
    let mut h = Harness::new(&persistent("rr", &REALS, Some(24)), &REALS);
    let first = chosen(&mut h, Ipv4Addr::new(198, 18, 9, 1), 50000, 80);
    // Same /24, other hosts and ports: the same real server.
    for (host, port) in [(1u8, 50001u16), (2, 50002), (200, 50003), (2, 50004)] {
        assert_eq!(
            chosen(&mut h, Ipv4Addr::new(198, 18, 9, host), port, 80),
            first
        );
    }
    // Another /24: scheduled on its own (rr moves on to the next real server).
    let other = chosen(&mut h, Ipv4Addr::new(198, 18, 10, 1), 50005, 80);
    assert_ne!(other, first, "a new network is scheduled by rr");
    let r = h.reasons();
    let hits = r[lb_common::PERSIST_HIT as usize];
    assert_eq!(hits, 4, "four connections followed the template");
    // lbd's expiry: nothing before the timeout, both templates after it.
    let timeouts = h.state.persist_timeouts();
    let now = lb_daemon::dataplane::monotonic_ns();
    assert_eq!(
        lb_daemon::expiry::expire_templates(&mut h.dp, now, &timeouts),
        0
    );
    assert_eq!(
        lb_daemon::expiry::expire_templates(&mut h.dp, now + 301_000_000_000, &timeouts),
        2
    );
    // With the template gone, the network is scheduled again: rr's next real server.
    let again = chosen(&mut h, Ipv4Addr::new(198, 18, 9, 1), 50006, 80);
    assert_ne!(again, first, "released after the timeout");
}

#[test]
fn persistence_does_not_send_new_connections_to_a_removed_real_server() {
    require_root!();
    let mut h = Harness::new(&persistent("mh", &REALS, None), &REALS);
    let client = Ipv4Addr::new(198, 18, 9, 9);
    let first = chosen_addr(&mut h, client, 52000, VIP, 80);
    let rest: Vec<Ipv4Addr> = REALS.iter().copied().filter(|a| *a != first).collect();
    h.apply(&persistent("mh", &rest, None));
    let to = chosen_addr(&mut h, client, 52001, VIP, 80);
    assert_ne!(
        to, first,
        "the template must not outlive its real server's removal"
    );
}
