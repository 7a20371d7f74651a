//! Schedulers (rr, wrr, sh, dh, the count-driven ones, lblc, lblcr): `lb`'s choices for new
//! flows, run through `BPF_PROG_TEST_RUN`, against the reference models (lbd's table builders,
//! `sched::pick`, `sched::LocalityModel` and the shared hash) that define them.

use std::net::{IpAddr, Ipv4Addr};

use lb_common::hash::{FLOW_HASH_SEED, addr_hash};
use lb_daemon::{config::Protocol, maglev::Backend, sched, state::vip_key};
use lb_tests::{
    packet::{ETH_P_IP, Ipv4, eth, tcp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, Harness},
};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const REALS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 11),
    Ipv4Addr::new(198, 18, 0, 12),
    Ipv4Addr::new(198, 18, 0, 13),
];
const WEIGHTS: [u32; 3] = [4, 3, 2];
const XDP_TX: u32 = 3;

/// A config with one TCP service on the VIP per scheduler, on consecutive ports from
/// `first_port`, each with the same real servers (JSON objects).
fn config(schedulers: &[&str], first_port: u16, reals: &[String]) -> String {
    let services: Vec<String> = schedulers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                r#"{{ "protocol": "tcp", "vip": "{VIP}", "port": {}, "scheduler": "{s}",
                     "real_servers": [ {} ] }}"#,
                first_port + i as u16,
                reals.join(",")
            )
        })
        .collect();
    format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 65536,
            "services": [ {} ] }}"#,
        services.join(",")
    )
}

fn weighted_reals() -> Vec<String> {
    REALS
        .iter()
        .zip(WEIGHTS)
        .map(|(a, w)| format!(r#"{{ "address": "{a}", "weight": {w}, "forwarding": "tun" }}"#))
        .collect()
}

/// One service per scheduler: rr on port 80, wrr 81, sh 82, dh 83; weights 4:3:2.
fn harness() -> Harness {
    Harness::new(
        &config(&["rr", "wrr", "sh", "dh"], 80, &weighted_reals()),
        &REALS,
    )
}

/// The per-CPU cursor of rr / wrr makes choices depend on the CPU: stay on one.
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t with one bit set, for the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// The real server `lb` tunnels a new flow to (outer destination of the IPIP packet).
fn chosen(h: &mut Harness, client: Ipv4Addr, sport: u16, dport: u16) -> u32 {
    let frame = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(client, VIP, 6).build(&tcp(client, VIP, sport, dport, 0x02, b"")),
    );
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX);
    let real = Ipv4Addr::new(out.data[30], out.data[31], out.data[32], out.data[33]);
    id_of(h, dport, real)
}

fn id_of(h: &Harness, port: u16, addr: Ipv4Addr) -> u32 {
    h.state
        .real_ids(&vip_key(Protocol::Tcp, VIP.into(), port))
        .into_iter()
        .find(|(a, _, _)| *a == IpAddr::V4(addr))
        .expect("a real server of the service")
        .2
}

/// The reference table of a scheduler for this harness's service on `port`.
fn model(h: &Harness, name: &str, port: u16) -> Vec<u32> {
    let keys: Vec<Vec<u8>> = REALS.iter().map(|a| a.octets().to_vec()).collect();
    let backends: Vec<Backend<'_>> = REALS
        .iter()
        .zip(WEIGHTS)
        .zip(&keys)
        .map(|((a, w), k)| Backend {
            id: id_of(h, port, *a),
            key: k,
            weight: w,
        })
        .collect();
    sched::table(name, 0, &backends).unwrap()
}

fn words(a: Ipv4Addr) -> [u32; 4] {
    [u32::from_ne_bytes(a.octets()), 0, 0, 0]
}

#[test]
fn rr_and_wrr_follow_their_sequences_connection_by_connection() {
    require_root!();
    pin_to_cpu0();
    let mut h = harness();
    for (name, port) in [("rr", 80u16), ("wrr", 81)] {
        let seq = model(&h, name, port);
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
    let mut h = harness();
    let table = model(&h, "sh", 82);
    for host in 1..40u8 {
        let client = Ipv4Addr::new(198, 18, 6, host);
        let want = table[(addr_hash(&words(client), FLOW_HASH_SEED) % table.len() as u32) as usize];
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
    let mut h = harness();
    let table = model(&h, "dh", 83);
    let want = table[(addr_hash(&words(VIP), FLOW_HASH_SEED) % table.len() as u32) as usize];
    for host in 1..20u8 {
        assert_eq!(
            chosen(&mut h, Ipv4Addr::new(198, 18, 7, host), 5000, 83),
            want
        );
    }
}

/// The count-driven services: lc on port 90, wlc 91, sed 92, nq 93, fo 94, ovf 95; weights
/// 4:3:2 and a
/// real server of weight 0 (never chosen).
fn counted_harness() -> Harness {
    let mut reals = weighted_reals();
    reals.insert(
        1,
        r#"{ "address": "198.18.0.14", "weight": 0, "forwarding": "tun" }"#.into(),
    );
    let config = config(&["lc", "wlc", "sed", "nq", "fo", "ovf"], 90, &reals);
    let mut n = REALS.to_vec();
    n.push(Ipv4Addr::new(198, 18, 0, 14));
    Harness::new(&config, &n)
}

#[test]
fn count_driven_schedulers_agree_with_the_model_connection_by_connection() {
    require_root!();
    let mut h = counted_harness();
    let mut rng: u64 = 0x1bad_5eed;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
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
        order.insert(1, (Ipv4Addr::new(198, 18, 0, 14), 0));
        for round in 0..60u16 {
            // Fresh counts for every real server: small ranges make ties common; every fifth
            // round one real server is idle, which nq takes outright. Every third round one
            // real server is over its upper threshold (the flag lb honours; the threshold
            // itself is far above what the round's connection adds).
            let busy = if round % 3 == 0 {
                Some(next(4) as usize)
            } else {
                None
            };
            for (i, (addr, _)) in order.iter().enumerate() {
                let id = id_of(&h, port, *addr);
                let now = h.dp.real_conns(id).unwrap();
                // Up to 5 active: sometimes above a weight (ovf's overflow).
                let (mut a, b) = (next(6) as i64, next(300) as i64);
                if round % 5 == 0 && i == 3 {
                    a = 0;
                }
                h.dp.add_real_conns(id, a - now.active, b - now.inactive)
                    .unwrap();
                set_overloaded(&mut h, id, busy == Some(i));
            }
            let loads: Vec<sched::Load> = order
                .iter()
                .map(|(addr, w)| {
                    let id = id_of(&h, port, *addr);
                    let c = h.dp.real_conns(id).unwrap();
                    sched::Load {
                        id,
                        weight: *w,
                        active: c.active as u64,
                        inactive: c.inactive as u64,
                        overloaded: h.dp.real_limits(id).unwrap().overloaded != 0,
                    }
                })
                .collect();
            // ovf may find every real server overflowing: lb then drops the new connection.
            let Some(want) = sched::pick(name, &loads) else {
                continue;
            };
            let got = chosen(&mut h, Ipv4Addr::new(198, 18, 8, 1), 30000 + round, port);
            assert_eq!(got, want, "{name} round {round}: loads {loads:?}");
        }
    }
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
fn loads(h: &Harness, port: u16, order: &[(Ipv4Addr, u32)]) -> Vec<sched::Load> {
    order
        .iter()
        .map(|(addr, w)| {
            let id = id_of(h, port, *addr);
            let c = h.dp.real_conns(id).unwrap();
            sched::Load {
                id,
                weight: *w,
                active: c.active.max(0) as u64,
                inactive: c.inactive.max(0) as u64,
                overloaded: h.dp.real_limits(id).unwrap().overloaded != 0,
            }
        })
        .collect()
}

/// lblc on port 96 and lblcr on 97 (their mapping key is the VIP: every connection of a
/// service here shares one destination address): connection by connection against
/// `sched::LocalityModel`, counts and overload flags drawn at random before each, the
/// locality entry compared member by member after each. Every seventh round the lblcr set is
/// aged past its expiration (in the map and the model alike), so that it sheds its most
/// loaded member.
#[test]
fn lblc_and_lblcr_agree_with_the_model_connection_by_connection() {
    require_root!();
    let mut reals = weighted_reals();
    reals.insert(
        1,
        r#"{ "address": "198.18.0.14", "weight": 0, "forwarding": "tun" }"#.into(),
    );
    reals.push(r#"{ "address": "198.18.0.15", "weight": 1, "forwarding": "tun" }"#.into());
    let config = config(&["lblc", "lblcr"], 96, &reals);
    let mut n = REALS.to_vec();
    n.extend([Ipv4Addr::new(198, 18, 0, 14), Ipv4Addr::new(198, 18, 0, 15)]);
    let mut h = Harness::new(&config, &n);
    let mut order: Vec<(Ipv4Addr, u32)> = REALS.iter().copied().zip(WEIGHTS).collect();
    order.insert(1, (Ipv4Addr::new(198, 18, 0, 14), 0));
    order.push((Ipv4Addr::new(198, 18, 0, 15), 1));
    let expiration = lb_common::LOCALITY_DEFAULT_EXPIRATION_S as u64 * 1_000_000_000;
    let mut rng: u64 = 0x10ca_1177;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut grew, mut shed, mut moved) = (0, 0, 0);
    for (name, port) in [("lblc", 96u16), ("lblcr", 97)] {
        let lblcr = name == "lblcr";
        let svc =
            h.dp.service(&vip_key(Protocol::Tcp, VIP.into(), port))
                .unwrap();
        let key = lb_common::PersistKey {
            service: svc.id,
            family: lb_common::FAMILY_V4,
            _pad: [0; 3],
            addr: words(VIP),
        };
        let mut model = sched::LocalityModel::default();
        let mut last: Option<u32> = None;
        for round in 0..120u16 {
            // Counts in small ranges around the weights (4, 0, 3, 2, 1), so that IPVS's
            // overload rule (more active than the weight while another is below half its
            // weight) goes both ways.
            let busy = if round % 4 == 0 {
                Some(next(5) as usize)
            } else {
                None
            };
            for (i, (addr, _)) in order.iter().enumerate() {
                let id = id_of(&h, port, *addr);
                let now = h.dp.real_conns(id).unwrap();
                let (a, b) = (next(7) as i64, next(20) as i64);
                h.dp.add_real_conns(id, a - now.active, b - now.inactive)
                    .unwrap();
                set_overloaded(&mut h, id, busy == Some(i));
            }
            let now = lb_daemon::conntrack::monotonic_ns();
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
    let now = lb_daemon::conntrack::monotonic_ns();
    assert_eq!(
        lb_daemon::conntrack::expire_locality(&mut h.dp, now, &exps),
        0
    );
    assert_eq!(
        lb_daemon::conntrack::expire_locality(&mut h.dp, now + expiration + 1_000_000_000, &exps),
        2
    );
    assert!(h.dp.locality_entries().is_empty());
}

#[test]
fn persistence_keeps_a_client_network_on_one_real_server_until_the_template_expires() {
    require_root!();
    pin_to_cpu0();
    // rr would alternate; persistence (300 s, /24 client networks) must not.
    let reals: Vec<String> = REALS
        .iter()
        .map(|a| format!(r#"{{ "address": "{a}", "forwarding": "tun" }}"#))
        .collect();
    let config = format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 65536,
            "services": [ {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "rr",
                             "persistent": 300, "persistent_netmask": 24,
                             "real_servers": [ {} ] }} ] }}"#,
        reals.join(",")
    );
    let mut h = Harness::new(&config, &REALS);
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
    let now = lb_daemon::conntrack::monotonic_ns();
    assert_eq!(
        lb_daemon::conntrack::expire_templates(&mut h.dp, now, &timeouts),
        0
    );
    assert_eq!(
        lb_daemon::conntrack::expire_templates(&mut h.dp, now + 301_000_000_000, &timeouts),
        2
    );
    // With the template gone, the network is scheduled again: rr's next real server.
    let again = chosen(&mut h, Ipv4Addr::new(198, 18, 9, 1), 50006, 80);
    assert_ne!(again, first, "released after the timeout");
}

#[test]
fn persistence_does_not_send_new_connections_to_a_removed_real_server() {
    require_root!();
    let with = |reals: &[Ipv4Addr]| {
        let reals: Vec<String> = reals
            .iter()
            .map(|a| format!(r#"{{ "address": "{a}", "forwarding": "tun" }}"#))
            .collect();
        format!(
            r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 65536,
                "services": [ {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh",
                                 "persistent": 300, "real_servers": [ {} ] }} ] }}"#,
            reals.join(",")
        )
    };
    let mut h = Harness::new(&with(&REALS), &REALS);
    let client = Ipv4Addr::new(198, 18, 9, 9);
    let first = chosen(&mut h, client, 52000, 80);
    let first_addr = *REALS.iter().find(|a| id_of(&h, 80, **a) == first).unwrap();
    let rest: Vec<Ipv4Addr> = REALS.iter().copied().filter(|a| *a != first_addr).collect();
    let cfg = lb_daemon::config::Config::parse(&with(&rest), "t").unwrap();
    h.state.apply(&mut h.dp, &cfg).unwrap();
    let frame = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(client, VIP, 6).build(&tcp(client, VIP, 52001, 80, 0x02, b"")),
    );
    let out = h.run("lb", &frame);
    assert_eq!(out.action, XDP_TX);
    let to = Ipv4Addr::new(out.data[30], out.data[31], out.data[32], out.data[33]);
    assert_ne!(
        to, first_addr,
        "the template must not outlive its real server's removal"
    );
}
