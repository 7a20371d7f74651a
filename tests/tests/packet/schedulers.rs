//! Schedulers (rr, wrr, sh, dh, the count-driven ones, twos, lblc, lblcr) and persistence:
//! `lb`'s choices for new flows, run through `BPF_PROG_TEST_RUN`, against the reference models
//! that define them (lbd's table builders `lb_daemon::plan::sched`, `lb_tests::models` and the
//! shared hash), connection by connection.

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

/// `rr` and `wrr` keep one position per service for every CPU, as IPVS does: 20 new
/// connections over two real servers, taken by the two CPUs in a random order, follow one
/// sequence and split 10/10 (`rr`) or 15/5 (`wrr`, weights 3:1). Per-CPU positions would start
/// each CPU at the first real server and repeat it whenever the CPU changes.
#[test]
fn rr_and_wrr_are_one_sequence_across_cpus() {
    require_root!();
    let cpus = aya::util::online_cpus().map(|c| c.len()).unwrap_or(1);
    if cpus < 2 {
        eprintln!("skipped: needs two online CPUs, this machine has {cpus}");
        return;
    }
    let two = |w: [u32; 2]| {
        REALS[..2]
            .iter()
            .zip(w)
            .map(|(a, w)| real(*a).weight(w).tun())
            .collect::<Vec<_>>()
    };
    let cfg = config()
        .conn_table_size(65536)
        .service(tcp_service(VIP, 86).scheduler("rr").reals(two([1, 1])))
        .service(tcp_service(VIP, 87).scheduler("wrr").reals(two([3, 1])));
    let mut h = Harness::new(&cfg, &REALS);
    let mut rng = fastrand::Rng::with_seed(0xc0ffee);
    for (name, port, split) in [("rr", 86u16, [10, 10]), ("wrr", 87, [15, 5])] {
        let ids: Vec<u32> = REALS[..2]
            .iter()
            .map(|a| id_of(&h, VIP, port, *a))
            .collect();
        let backends: Vec<Backend<'_>> = ids
            .iter()
            .zip(if name == "rr" { [1, 1] } else { [3, 1] })
            .map(|(id, weight)| Backend {
                id: *id,
                key: &[],
                weight,
            })
            .collect();
        let seq = sched::table(name.parse().unwrap(), 0, &backends).unwrap();
        let mut on = Vec::new();
        let got: Vec<u32> = (0..20u16)
            .map(|k| {
                let cpu = rng.usize(..2);
                on.push(cpu);
                lb_tests::pin_to_cpu(cpu);
                chosen(&mut h, Ipv4Addr::new(198, 18, 5, 8), 42000 + k, port)
            })
            .collect();
        pin_to_cpu0();
        assert!(
            on.contains(&0) && on.contains(&1),
            "both CPUs took connections: {on:?}"
        );
        let want: Vec<u32> = seq.iter().cycle().take(20).copied().collect();
        assert_eq!(got, want, "{name}: one sequence whatever the CPU ({on:?})");
        let counts: Vec<usize> = ids
            .iter()
            .map(|id| got.iter().filter(|g| *g == id).count())
            .collect();
        assert_eq!(counts, split.to_vec(), "{name}: the split");
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

/// `twos` on port 98 over the count-driven services' real servers (weights 4, 0, 3, 2), and
/// the order the model sees them in.
fn twos_director() -> (Harness, Vec<(Ipv4Addr, u32)>) {
    let mut reals = weighted_reals();
    reals.insert(1, real(real_addr(3)).weight(0).tun());
    let cfg = per_scheduler(config().conn_table_size(65536), VIP, &["twos"], 98, &reals);
    let mut n = REALS.to_vec();
    n.push(real_addr(3));
    let mut order: Vec<(Ipv4Addr, u32)> = REALS.iter().copied().zip(WEIGHTS).collect();
    order.insert(1, (real_addr(3), 0));
    (Harness::new(&cfg, &n), order)
}

/// Sets every real server's counts in `order` to `counts(i)` (active, inactive).
fn set_counts(
    h: &Harness,
    port: u16,
    order: &[(Ipv4Addr, u32)],
    mut counts: impl FnMut(usize) -> (i64, i64),
) {
    for (i, (addr, _)) in order.iter().enumerate() {
        let id = id_of(h, VIP, port, *addr);
        let now = h.dp.real_conns(id).unwrap();
        let (a, b) = counts(i);
        h.dp.add_real_conns(id, a - now.active, b - now.inactive)
            .unwrap();
    }
}

/// `twos` connection by connection against [`models::twos`] given the two numbers `lb` drew
/// (read back from `lb_twos_draw` on the test's CPU): counts and overload flags drawn at
/// random before each connection, so that the second draw wins sometimes and loses other
/// times, and ties. The model computes the reduction of the draws, the placing by weight and the
/// comparison on its own (128-bit arithmetic, none of the data plane's code).
#[test]
fn twos_agrees_with_the_model_given_the_data_planes_draws() {
    require_root!();
    pin_to_cpu0();
    let (mut h, order) = twos_director();
    let port = 98;
    let mut rng = fastrand::Rng::with_seed(0x2_c401ce);
    let (mut first, mut second) = (0, 0);
    for round in 0..300u16 {
        let busy = (round % 3 == 0).then(|| rng.usize(..4));
        // Every fourth round the loads tie per weight (active = weight x k): the first draw's
        // real server must win the tie.
        let k = rng.i64(0..3);
        set_counts(&h, port, &order, |i| {
            if round % 4 == 1 {
                (order[i].1 as i64 * k, 0)
            } else {
                (rng.i64(0..6), rng.i64(0..300))
            }
        });
        for (i, (addr, _)) in order.iter().enumerate() {
            let id = id_of(&h, VIP, port, *addr);
            set_overloaded(&mut h, id, busy == Some(i));
        }
        let loads = loads(&h, port, &order);
        let got = chosen(&mut h, Ipv4Addr::new(198, 18, 8, 3), 20000 + round, port);
        let d = h.dp.twos_draws().unwrap()[0];
        let svc =
            h.dp.service(&service_key(Protocol::Tcp, VIP, port))
                .unwrap();
        assert_eq!(
            (d.off, d.len),
            (svc.table_off, svc.table_len),
            "round {round}: the draws of this service's connection"
        );
        let want = models::twos(&loads, d.draw1, d.draw2);
        assert_eq!(
            Some(got),
            want,
            "round {round}: draws {:#x} {:#x}, loads {loads:?}",
            d.draw1,
            d.draw2
        );
        assert_eq!(d.chosen, got, "round {round}: the choice the map records");
        // Which draw won (the model's own placing of the first draw alone).
        if models::twos(&loads, d.draw1, d.draw1) == Some(got) {
            first += 1;
        } else {
            second += 1;
        }
    }
    assert!(
        first > 30 && second > 30,
        "both draws must win sometimes: first {first}, second {second}"
    );
}

/// With every count at 0 the two draws tie and the first draw's real server is taken, so
/// `twos` picks real server i with probability (weight_i, + 1 for the first) / (sum + 1):
/// 5/10, 0, 3/10 and 2/10 for weights 4, 0, 3, 2. Over 3,000 connections each share must be
/// within 0.04 of that (more than 4 standard deviations: a correct data plane fails this
/// about once in 10^4 runs; one whose draws are not uniform, or that places them by anything
/// but weight, fails it every time), and the draws must not repeat.
#[test]
fn twos_draws_real_servers_in_proportion_to_their_weights() {
    require_root!();
    pin_to_cpu0();
    let (mut h, order) = twos_director();
    let port = 98;
    const N: usize = 3000;
    let ids: Vec<u32> = order
        .iter()
        .map(|(a, _)| id_of(&h, VIP, port, *a))
        .collect();
    let mut counts = vec![0usize; ids.len()];
    let mut draws = std::collections::HashSet::new();
    for k in 0..N {
        set_counts(&h, port, &order, |_| (0, 0));
        let got = chosen(
            &mut h,
            Ipv4Addr::new(198, 18, 9, (k % 250) as u8 + 1),
            10000 + (k / 250) as u16,
            port,
        );
        counts[ids
            .iter()
            .position(|i| *i == got)
            .expect("a real server of the service")] += 1;
        let d = h.dp.twos_draws().unwrap()[0];
        draws.insert(d.draw1);
        draws.insert(d.draw2);
        assert_eq!(d.total, 10, "weights 4 + 0 + 3 + 2, plus one");
    }
    let want = [0.5, 0.0, 0.3, 0.2];
    for (i, (c, p)) in counts.iter().zip(want).enumerate() {
        let share = *c as f64 / N as f64;
        assert!(
            (share - p).abs() <= 0.04,
            "real server {i} (weight {}): share {share:.3}, expected {p} (counts {counts:?})",
            order[i].1
        );
    }
    // 6,000 draws of 32 bits: a repeat is a one-in-a-thousand event; allow two.
    assert!(
        draws.len() >= 2 * N - 2,
        "{} distinct draws of {}",
        draws.len(),
        2 * N
    );
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
