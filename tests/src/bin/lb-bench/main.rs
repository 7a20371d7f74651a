//! `cargo xtask bench`: per-packet cost of lb's paths through `BPF_PROG_TEST_RUN`, as ratios
//! to an XDP_TX baseline measured in the same run. Never a pass/fail test of speed: it prints
//! numbers. It does fail (exit status 1, after writing its report) when a case's packets were
//! not what the case is named for.
//!
//! Method (TOOLCHAIN.md, "Measuring with BPF_PROG_TEST_RUN"): repeats reuse one buffer, so
//! every measured program runs behind `bench_shim`, which strips the IPIP header `lb` added on
//! the previous repeat, restores the packet's first 64 bytes (undoing `nat`'s rewrite) and
//! writes the repeat's flow into it: a 32-bit tuple number in the source address and port
//! (`lb_common::BENCH_*`: one fixed flow, a new flow each repeat, the first and second packets
//! of new flows, a flood among established flows). Every case (baselines too) runs through
//! the same shim, so its cost cancels out of the ratios. Tuple numbers never repeat within a
//! run: each case has its own range and every round continues where the last one stopped, so
//! a new flow is always a table miss.
//!
//! Each case proves its regime with the data plane's own counters, read around the measured
//! run: a new-flow case must count `conn_new` for every packet and `conn_hit` for none, an
//! established case the opposite, a packet for no VIP `pass_not_vip`, and so on; the flood
//! case also checks afterwards that every established flow is still in the table.
//!
//! Rounds are interleaved across cases; the report gives each case's median ns/packet and the
//! median (and spread) of its per-round ratio to that round's `xdp_tx`.

mod chain;
mod sync_load;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use lb_common::{
    BENCH_FIXED, BENCH_FLOOD, BENCH_NEW, BENCH_PAIRS, BENCH_TABLE_DELETE, BENCH_TABLE_HASH16,
    BENCH_TABLE_HASH40, BENCH_TABLE_LRU16, BENCH_TABLE_LRU16_PERCPU, BENCH_TABLE_LRU40,
    BENCH_TABLE_LRU40_PERCPU, CFG_F_CONN_REUSE, CFG_F_NAT, CFG_F_NO_CONN_TABLE, CFG_F_SLOPPY_TCP,
    CFG_F_TRACE, REASON_NAMES, map_name,
};
use lb_tests::{
    config::{RealBuilder, config, real, tcp_service},
    consts::{
        CLIENT_MAC, GATEWAY, REMOTE_CLIENT6 as CLIENT6, VIP, VIP6, real_addr, real_addr6, real_mac,
    },
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, eth, tcp},
    shim::Repeats,
    testrun::Harness,
};

/// Clients are 198.19.0.0/16 (the shim writes the low 16 bits): never a VIP or real server.
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;
/// Each case's tuple numbers: `index << CASE_SHIFT ..`, so ranges never meet.
const CASE_SHIFT: u32 = 26;
/// The veth chain's tuple numbers start at this case index's range (past every table case).
const CHAIN_CASE: usize = 60;
/// The flood case's established flows.
const FLOOD_ESTABLISHED: u32 = 4096;
/// In the flood case, one packet in this many is of an established flow: each of them is
/// idle while some 16 million new flows arrive (16 times what the connection table holds),
/// as idle connections are during a real flood. The established flows are made once, before
/// the first round, and checked after the last.
const FLOOD_EVERY: u32 = 4096;

/// What a case's packets must have been, checked against the reason counters' change over
/// the measured run (`n` packets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Regime {
    /// A baseline program: lb's counters do not move.
    Baseline,
    /// Every packet matched a connection and was forwarded.
    Hits,
    /// Every packet started a connection and was forwarded.
    NewFlows,
    /// Half the packets started a connection, the other half (their second packets) matched it.
    Pairs,
    /// Every packet was a `nat` real server's reply of a known connection, sent back to its
    /// client.
    Replies,
    /// Every packet went to the host stack as not for a VIP.
    NotVip,
    /// One packet in [`FLOOD_EVERY`] matched an established connection, every other one started
    /// a connection; afterwards, every established flow is still known.
    Flood,
    /// Every packet started a connection in flood mode: forwarded by the hash, recorded
    /// nowhere (but for the first of each flood window).
    FloodMode,
}

/// In [`Regime::FloodMode`], how many of a run's new connections may be recorded: one per
/// flood window the run spans.
const FLOOD_MODE_RECORDED_MAX: u64 = 64;

/// (name, what, program, packet, shim mode, config flags, regime, warm-up first)
type TableRow = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u32,
    u32,
    Regime,
    bool,
);

/// One case of one side of `--compare`: name, what, every round's ratio, every round's ns, and
/// whether every run held the regime.
type Side = (String, String, Vec<f64>, Vec<f64>, bool);

struct Case {
    name: &'static str,
    what: &'static str,
    program: &'static str,
    packet: Vec<u8>,
    mode: u32,
    cfg_flags: u32,
    regime: Regime,
    /// The flows this case's packets belong to must exist first (established cases).
    warm: bool,
    /// `bench_table`'s experiment table (`BENCH_TABLE_*`; 0 for other programs).
    table: u32,
    /// `bench_table`: fill the table to capacity before the measured run.
    full: bool,
    samples: Vec<f64>,
    ratios: Vec<f64>,
    /// The first regime failure seen, if any.
    failure: Option<String>,
    /// The counters' change over the last measured run (non-zero ones).
    last_delta: Vec<(&'static str, u64)>,
}

fn main() {
    if !lb_tests::is_root() {
        eprintln!("lb-bench: needs root");
        std::process::exit(1);
    }
    let mut args = std::env::args().skip(1);
    let mut out_path = std::path::PathBuf::from("target/bench/bench.json");
    let mut repeat: u32 = 1_000_000;
    let mut rounds: u32 = 7;
    let mut control = true;
    let mut only: Option<String> = None;
    let mut compare: Option<std::path::PathBuf> = None;
    let mut runs: u32 = 3;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out_path = args.next().expect("--out PATH").into(),
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--repeat N")
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--no-control-plane" => control = false,
            "--compare" => compare = Some(args.next().expect("--compare BINARY").into()),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--only" => only = Some(args.next().expect("--only WORD")),
            other => {
                eprintln!(
                    "lb-bench: unknown argument {other} (--out PATH, --repeat N, --rounds N, \
                     --no-control-plane, --only WORD, --compare BINARY, --runs N)"
                );
                std::process::exit(2);
            }
        }
    }
    assert!(
        (repeat as u64) * (rounds as u64 + 1) < 1 << (CASE_SHIFT - 1),
        "--repeat x --rounds must stay below 2^{} flows per case",
        CASE_SHIFT - 1
    );
    if let Some(before) = compare {
        let code = compare_runs(&before, &out_path, repeat, rounds, runs, only.as_deref());
        std::process::exit(code);
    }
    lb_tests::pin_to_cpu(0);

    let reals: Vec<Ipv4Addr> = (0..16).map(real_addr).collect();
    // 128 real servers for the count-driven scheduler's worst case.
    let many: Vec<Ipv4Addr> = (0..128).map(real_addr).collect();
    let reals6: Vec<Ipv6Addr> = (0..16).map(real_addr6).collect();
    let by = |addrs: &[Ipv4Addr], method: fn(RealBuilder) -> RealBuilder| {
        addrs.iter().map(|a| method(real(*a))).collect::<Vec<_>>()
    };
    // Flood mode off: with it on (125,000 new connections per second and CPU by default) most
    // of a new-flow case's packets would be forwarded by the hash and recorded nowhere, which
    // is not what those cases are named for (each regime below checks `conn_flood` is 0).
    let config = config()
        .conn_table_size(1048576)
        .flood_rate(0)
        .service(
            tcp_service(VIP, 80)
                .scheduler("mh")
                .reals(by(&reals, RealBuilder::tun)),
        )
        .service(
            tcp_service(VIP, 81)
                .scheduler("mh")
                .reals(by(&reals, RealBuilder::dr)),
        )
        .service(
            tcp_service(VIP, 82)
                .scheduler("mh")
                .reals(by(&reals, RealBuilder::nat)),
        )
        .service(
            tcp_service(VIP6, 80)
                .scheduler("mh")
                .reals(reals6.iter().map(|a| real(*a).tun())),
        )
        .service(
            tcp_service(VIP, NAT_REPLY_PORT)
                .scheduler("mh")
                .reals([real(NAT_REPLY_REAL).nat()]),
        )
        .service(
            tcp_service(VIP, 83)
                .scheduler("wlc")
                .reals(by(&reals, RealBuilder::tun)),
        )
        .service(
            tcp_service(VIP, 84)
                .scheduler("wlc")
                .reals(by(&many, RealBuilder::tun)),
        )
        .service(
            tcp_service(VIP, 85)
                .scheduler("rr")
                .reals(by(&reals, RealBuilder::tun)),
        )
        .service(
            tcp_service(VIP, chain::PORT)
                .scheduler("mh")
                .reals((0..chain::REALS).map(|i| real(chain::real(i)).nat())),
        );
    let neighbours: Vec<IpAddr> = many
        .iter()
        .map(|a| IpAddr::from(*a))
        .chain(reals6.iter().map(|a| IpAddr::from(*a)))
        .collect();
    // The experiment tables hold a whole round's new flows.
    let table_size = repeat.next_power_of_two().max(1 << 20);
    let loading = std::time::Instant::now();
    let mut h = Harness::with_bench_tables(&config, &neighbours, Some(table_size));
    // The clients' way back (`established_nat_reply`): a router on the director's link.
    h.ns.neighbour("eth0", GATEWAY.into(), real_mac(GATEWAY));
    h.ns.ip(&["route", "add", "198.19.0.0/16", "via", &GATEWAY.to_string()]);
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;
    let v6 = {
        let ip = Ipv6::new(CLIENT6, VIP6, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IPV6,
            &ip.build(&tcp(CLIENT6, VIP6, 40000, 80, TCP_ACK, &[0u8; 20])),
        )
    };
    let v4 = |h: &Harness, dst: Ipv4Addr, port: u16, flags: u8| {
        let ip = Ipv4::new(CLIENT, dst, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip.build(&tcp(CLIENT, dst, 40000, port, flags, &[0u8; 20])),
        )
    };
    let ack = |port| v4(&h, VIP, port, TCP_ACK);
    let syn = |port| v4(&h, VIP, port, TCP_SYN);
    let other = v4(&h, Ipv4Addr::new(198, 18, 0, 99), 80, TCP_ACK);
    let (rr_packet, mh_packet) = (syn(85), syn(80));
    use Regime::*;
    #[rustfmt::skip]
    let mut table: Vec<TableRow> = vec![
        ("xdp_drop", "XDP_DROP, nothing else", "bench_drop", ack(80), BENCH_FIXED, 0, Baseline, false),
        ("xdp_tx", "swap MACs, XDP_TX (the baseline)", "bench_tx", ack(80), BENCH_FIXED, 0, Baseline, false),
        ("established_tun", "an established TCP flow, tun (IPIP), mh", "lb", ack(80), BENCH_FIXED, 0, Hits, true),
        ("established_dr", "an established TCP flow, dr (MAC rewrite), mh", "lb", ack(81), BENCH_FIXED, 0, Hits, true),
        ("established_nat", "an established TCP flow, nat (address, port, TTL, checksums), mh", "lb", ack(82), BENCH_FIXED, 0, Hits, true),
        ("established_nat_reply", "a nat real server's reply of an established flow (back to the client: address, port, checksums)", "lb", Vec::new(), BENCH_FIXED, 0, Replies, true),
        ("established_v6", "an established IPv6 TCP flow, tun (IPv6 in IPv6), mh", "lb", v6.clone(), BENCH_FIXED, 0, Hits, true),
        ("not_vip", "a packet for no VIP, XDP_PASS", "lb", other.clone(), BENCH_FIXED, 0, NotVip, false),
        ("not_vip_nat_on", "a packet for no VIP while nat is configured (the address filter), XDP_PASS", "lb", other.clone(), BENCH_FIXED, CFG_F_NAT, NotVip, false),
        ("syn_new_flow", "a SYN of a flow never seen (table miss, recorded), mh, tun", "lb", syn(80), BENCH_NEW, 0, NewFlows, false),
        ("ack_unknown_flow", "an ACK of a flow never seen (table miss), mh, tun", "lb", ack(80), BENCH_NEW, 0, NewFlows, false),
        ("syn_new_flow_no_table", "a SYN of a flow never seen, connection table off (CFG_F_NO_CONN_TABLE), mh, tun", "lb", syn(80), BENCH_NEW, CFG_F_NO_CONN_TABLE, NewFlows, false),
        ("syn_new_flow_flood_mode", "a SYN of a flow never seen in flood mode (forwarded by the hash, recorded nowhere), mh, tun", "lb", syn(80), BENCH_NEW, FLOOD_MODE, FloodMode, false),
        ("syn_new_flow_rr", "a SYN of a flow never seen, rr over 16 real servers, tun", "lb", syn(85), BENCH_NEW, 0, NewFlows, false),
        ("syn_new_flow_wlc16", "a SYN of a flow never seen, wlc over 16 real servers, tun", "lb", syn(83), BENCH_NEW, 0, NewFlows, false),
        ("syn_new_flow_wlc128", "a SYN of a flow never seen, wlc over 128 real servers, tun", "lb", syn(84), BENCH_NEW, 0, NewFlows, false),
        ("syn_then_ack_new_flow", "a new flow's SYN then its first ACK (per packet), mh, tun", "lb", ack(80), BENCH_PAIRS, 0, Pairs, false),
        ("flood_established", "a SYN flood of flows never seen, one packet in 4096 of 4096 idle established flows, mh, tun", "lb", ack(80), BENCH_FLOOD, 0, Flood, false),
    ];
    // The connection table's choices, apart from the rest of lb: a miss + insert and a hit,
    // by map kind and key size (16-byte values).
    #[rustfmt::skip]
    let flavours: [(&str, &str, &str, u32); 6] = [
        ("table_hash16_miss_insert", "table_hash16_hit", "hash map (no LRU), 16-byte IPv4 key", BENCH_TABLE_HASH16),
        ("table_lru16_miss_insert", "table_lru16_hit", "LRU, common lists, 16-byte IPv4 key", BENCH_TABLE_LRU16),
        ("table_lru16pc_miss_insert", "table_lru16pc_hit", "LRU, per-CPU lists, 16-byte IPv4 key", BENCH_TABLE_LRU16_PERCPU),
        ("table_hash40_miss_insert", "table_hash40_hit", "hash map (no LRU), 40-byte key", BENCH_TABLE_HASH40),
        ("table_lru40_miss_insert", "table_lru40_hit", "LRU, common lists, 40-byte key", BENCH_TABLE_LRU40),
        ("table_lru40pc_miss_insert", "table_lru40pc_hit", "LRU, per-CPU lists, 40-byte key (lb's table before)", BENCH_TABLE_LRU40_PERCPU),
    ];
    let mut tables = Vec::new();
    for (miss, hit, what, t) in flavours {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let w1 = leak(format!("table only: a miss + insert with room, {what}"));
        let w2 = leak(format!("table only: a hit, {what}"));
        table.push((
            miss,
            w1,
            "bench_table",
            syn(80),
            BENCH_NEW,
            0,
            NewFlows,
            false,
        ));
        tables.push((miss, t, false));
        table.push((hit, w2, "bench_table", ack(80), BENCH_FIXED, 0, Hits, true));
        tables.push((hit, t, false));
        if t != BENCH_TABLE_HASH16 && t != BENCH_TABLE_HASH40 {
            // An LRU at capacity: every insert evicts (a hash map without LRU refuses).
            let full = leak(miss.replace("miss_insert", "miss_insert_full"));
            let w3 = leak(format!(
                "table only: a miss + insert into a full table (evicts), {what}"
            ));
            table.push((
                full,
                w3,
                "bench_table",
                syn(80),
                BENCH_NEW,
                0,
                NewFlows,
                false,
            ));
            tables.push((full, t, true));
        }
    }
    let mut cases: Vec<Case> = table
        .into_iter()
        .filter(|r| {
            only.as_deref()
                .is_none_or(|w| r.0.contains(w) || r.0 == "xdp_tx")
        })
        .map(
            |(name, what, program, packet, mode, cfg_flags, regime, warm)| Case {
                name,
                what,
                program,
                packet,
                mode,
                cfg_flags,
                regime,
                warm,
                table: tables
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, t, _)| *t)
                    .unwrap_or(0),
                full: tables.iter().any(|(n, _, full)| *n == name && *full),
                samples: Vec::new(),
                ratios: Vec::new(),
                failure: None,
                last_delta: Vec::new(),
            },
        )
        .collect();
    let base_idx = cases
        .iter()
        .position(|c| c.name == "xdp_tx")
        .expect("the baseline");
    for p in ["lb", "bench_shim", "bench_tx", "bench_drop", "bench_table"] {
        h.dp.program(p).unwrap_or_else(|e| panic!("{e}"));
    }

    let chain_wanted = only.as_deref().is_none_or(|w| {
        [
            "chain_floor",
            "chain_nat_16k_flows",
            "chain_nat_new_flows",
            "chain_nftables_16k_flows",
            "chain_nftables_new_flows",
        ]
        .iter()
        .any(|n| n.contains(w))
    });
    // The veth chain first, while the connection table has room: the cases below fill it
    // (every confirmed flow stays until lbd's expiry, which the bench does not run), and the
    // chain's established flows must be confirmed.
    let (veth_chain, chain_failed) = if chain_wanted {
        assert!(cases.len() < CHAIN_CASE, "the chain's tuple range is taken");
        let c = chain::Chain::new(&mut h);
        let (doc, chain_failed) = chain::bench(
            &mut h,
            &c,
            (repeat / 4).max(1000),
            rounds,
            (CHAIN_CASE as u32) << CASE_SHIFT,
        );
        (doc, chain_failed)
    } else {
        (serde_json::Value::Null, Vec::new())
    };
    println!("lb-bench: {repeat} repeats x {rounds} rounds per case, median ns/packet");
    for round in 0..rounds {
        let mut round_ns = vec![0.0; cases.len()];
        for (k, c) in cases.iter_mut().enumerate() {
            let base = (k as u32) << CASE_SHIFT;
            // Every round continues the case's range: no tuple number is ever used twice.
            let start = base + round * repeat;
            h.shim_target(c.program);
            set_flags(&mut h, c.cfg_flags);
            // The tuple number of the measured packets (a fixed flow's).
            let mut fixed = base;
            if c.regime == Regime::Replies {
                // The connection first (its client's first two packets, tuple `base`), then
                // its real server's replies to the client as the shim wrote it.
                fixed = nat_reply_case(&mut h, c, base);
            } else if c.warm {
                // The flow's first packet and a second one, which makes it established.
                shim_state(&mut h, c, BENCH_FIXED, base, 0, 0);
                run(&mut h, c, 2);
            }
            // A full table: its capacity's worth of other flows first (their range: past what
            // the case's rounds use, below the next case's).
            let fill = base + (1 << (CASE_SHIFT - 1));
            if c.full {
                shim_state(&mut h, c, BENCH_NEW, fill, 0, 0);
                run(&mut h, c, table_size);
            }
            // The flood case's established flows (tuple numbers past what its rounds use).
            let est = base + (1 << CASE_SHIFT) - FLOOD_ESTABLISHED - 1;
            if c.regime == Regime::Flood {
                if round == 0 {
                    // Each one's SYN, then its ACK.
                    shim_state(&mut h, c, BENCH_PAIRS, est, 0, 0);
                    run(&mut h, c, 2 * FLOOD_ESTABLISHED);
                }
                // Each round's established packets take the next flows in turn.
                let per_round = repeat.div_ceil(FLOOD_EVERY);
                let est_i = (round * per_round) % FLOOD_ESTABLISHED;
                shim_state(&mut h, c, BENCH_FLOOD, start, est, est_i);
            } else {
                shim_state(&mut h, c, c.mode, if c.warm { fixed } else { start }, 0, 0);
            }
            let before = h.reasons();
            let ns = run(&mut h, c, repeat);
            let delta = lb_tests::testrun::reason_delta(&before, &h.reasons());
            let mut verdict = check(c.regime, repeat, &delta);
            if c.regime == Regime::Flood && round + 1 == rounds {
                // After the last round every established flow must still be known: its ACKs
                // all hit.
                shim_state(&mut h, c, BENCH_NEW, est, 0, 0);
                let before = h.reasons();
                run(&mut h, c, FLOOD_ESTABLISHED);
                let after = lb_tests::testrun::reason_delta(&before, &h.reasons());
                let hits = count(&after, "conn_hit");
                if hits != FLOOD_ESTABLISHED as u64 && verdict.is_ok() {
                    verdict = Err(format!(
                        "after the flood, {hits} of {FLOOD_ESTABLISHED} established flows were \
                         still known ({after:?})"
                    ));
                }
            }
            if c.table != 0 && c.mode == BENCH_NEW {
                // A hash map without LRU fills up: empty it for the next round (a table under
                // lbd's expiry always has room). The LRU ones are emptied too, so that every
                // flavour's inserts meet the same fill.
                let t = c.table;
                c.table = t | BENCH_TABLE_DELETE;
                shim_state(&mut h, c, BENCH_NEW, start, 0, 0);
                run(&mut h, c, repeat);
                if c.full {
                    shim_state(&mut h, c, BENCH_NEW, fill, 0, 0);
                    run(&mut h, c, table_size);
                }
                c.table = t;
            }
            if let Err(e) = verdict
                && c.failure.is_none()
            {
                c.failure = Some(format!("round {round}: {e}"));
            }
            c.last_delta = delta;
            c.samples.push(ns);
            round_ns[k] = ns;
        }
        let b = round_ns[base_idx];
        for (k, c) in cases.iter_mut().enumerate() {
            c.ratios.push(round_ns[k] / b);
        }
    }
    let base = median(&cases[base_idx].samples);
    report_header("case", "x xdp_tx");
    let mut json = Vec::new();
    let mut failed = chain_failed;
    for c in &cases {
        if let Some(f) = &c.failure {
            failed.push(format!("{}: {f}", c.name));
        }
        let mut row = report_row(
            Row {
                name: c.name,
                what: c.what,
                samples: &c.samples,
                ratios: &c.ratios,
                failure: &c.failure,
                counters: &c.last_delta,
            },
            "ratio_to_xdp_tx",
        );
        row.insert("regime".into(), format!("{:?}", c.regime).into());
        json.push(serde_json::Value::Object(row));
    }
    let table = table_memory();
    let walk = conn_walk(&h);
    let programs = program_sizes(&mut h, load_ms);
    let rr = if only.as_deref().is_none_or(|w| "rr_cursor".contains(w)) {
        rr_cursor(&mut h, &rr_packet, &mh_packet, repeat, rounds)
    } else {
        serde_json::Value::Null
    };
    let (sync_load, sync_failed) = if only.as_deref().is_none_or(|w| "sync_load".contains(w)) {
        sync_load::bench(&mut h, real_addr)
    } else {
        (serde_json::Value::Null, None)
    };
    drop(h);
    let control_plane = if control {
        control_plane(rounds.clamp(1, 5))
    } else {
        serde_json::Value::Null
    };
    let doc = serde_json::json!({
        "repeat": repeat,
        "rounds": rounds,
        "baseline": "xdp_tx",
        "baseline_ns": base,
        "cases": json,
        "connection_table": table,
        "connection_table_walk": walk,
        "programs": programs,
        "rr_cursor": rr,
        "veth_chain": veth_chain,
        "sync_load": sync_load,
        "control_plane": control_plane,
        "regime_failures": failed.iter().chain(&sync_failed).collect::<Vec<_>>(),
    });
    if let Some(dir) = out_path.parent() {
        std::fs::create_dir_all(dir).expect("bench dir");
    }
    std::fs::write(&out_path, serde_json::to_vec_pretty(&doc).unwrap()).expect("write bench.json");
    println!("written to {}", out_path.display());
    failed.extend(sync_failed);
    if !failed.is_empty() {
        eprintln!("lb-bench: cases whose packets were not what they are named for:");
        for f in &failed {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
    std::thread::sleep(Duration::from_millis(1));
}

/// `--compare BEFORE`: the same bench built from older code (`BEFORE`, a copy of an earlier
/// lb-bench binary: its own object embedded) and this one, run alternately `runs` times, each
/// for `rounds` rounds; every ratio is to the `xdp_tx` of its own round and process. Writes
/// the side-by-side table into `out` and returns the exit status (1 if this build's cases
/// failed their regime; the older build's failures are reported, not fatal).
fn compare_runs(
    before: &std::path::Path,
    out: &std::path::Path,
    repeat: u32,
    rounds: u32,
    runs: u32,
    only: Option<&str>,
) -> i32 {
    let me = std::env::current_exe().expect("own path");
    let dir = out
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("compare");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut docs: [Vec<serde_json::Value>; 2] = [Vec::new(), Vec::new()];
    for run in 0..runs {
        for (side, bin) in [before, me.as_path()].into_iter().enumerate() {
            let path = dir.join(format!("{}-{run}.json", ["before", "after"][side]));
            let mut cmd = std::process::Command::new(bin);
            cmd.args(["--repeat", &repeat.to_string()])
                .args(["--rounds", &rounds.to_string()])
                .arg("--no-control-plane")
                .arg("--out")
                .arg(&path);
            if let Some(w) = only {
                cmd.args(["--only", w]);
            }
            let st = cmd.status().expect("run lb-bench");
            println!(
                "lb-bench --compare: {} run {run}: {st}",
                ["before", "after"][side]
            );
            let text = std::fs::read_to_string(&path).expect("its report");
            docs[side].push(serde_json::from_str(&text).expect("json"));
        }
    }
    // Per case and side: every round's ratio, and whether every run held the regime.
    let gather = |docs: &[serde_json::Value]| {
        let mut m: Vec<Side> = Vec::new();
        for d in docs {
            for c in d["cases"].as_array().into_iter().flatten() {
                let name = c["case"].as_str().unwrap_or("").to_string();
                let ratios: Vec<f64> = c["ratios"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_f64())
                    .collect();
                let ns: Vec<f64> = c["samples_ns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_f64())
                    .collect();
                let ok = c["regime_ok"].as_bool().unwrap_or(false);
                match m.iter_mut().find(|e| e.0 == name) {
                    Some(e) => {
                        e.2.extend(ratios);
                        e.3.extend(ns);
                        e.4 &= ok;
                    }
                    None => m.push((
                        name,
                        c["what"].as_str().unwrap_or("").to_string(),
                        ratios,
                        ns,
                        ok,
                    )),
                }
            }
        }
        m
    };
    let b = gather(&docs[0]);
    let a = gather(&docs[1]);
    println!(
        "{:<26} {:>22} {:>22}",
        "case (x xdp_tx, median [spread])", "before", "after"
    );
    let cell = |e: Option<&Side>| match e {
        Some(e) if !e.2.is_empty() => {
            let (lo, hi) = spread(&e.2);
            format!(
                "{:.2} [{lo:.2}-{hi:.2}]{}",
                median(&e.2),
                if e.4 { "" } else { " !!" }
            )
        }
        _ => "-".to_string(),
    };
    let mut rows = Vec::new();
    let mut names: Vec<&String> = a.iter().map(|e| &e.0).collect();
    for e in &b {
        if !names.contains(&&e.0) {
            names.push(&e.0);
        }
    }
    let mut failed = false;
    for name in names {
        let eb = b.iter().find(|e| &e.0 == name);
        let ea = a.iter().find(|e| &e.0 == name);
        println!("{:<26} {:>22} {:>22}", name, cell(eb), cell(ea));
        failed |= ea.is_some_and(|e| !e.4);
        let side = |e: Option<&Side>| {
            e.map(|e| {
                let (lo, hi) = spread(&e.2);
                serde_json::json!({
                    "ratio_to_xdp_tx": median(&e.2),
                    "ratio_min": lo,
                    "ratio_max": hi,
                    "ns_per_packet": median(&e.3),
                    "ratios": e.2,
                    "regime_ok": e.4,
                })
            })
        };
        rows.push(serde_json::json!({
            "case": name,
            "what": ea.or(eb).map(|e| e.1.clone()),
            "before": side(eb),
            "after": side(ea),
        }));
    }
    println!("(!! : the case's packets were not what it is named for, in some run)");
    let doc = serde_json::json!({
        "method": "before and after binaries run alternately, each ratio to the xdp_tx of its own round",
        "before_binary": before.display().to_string(),
        "repeat": repeat,
        "rounds_per_run": rounds,
        "runs": runs,
        "cases": rows,
        "connection_table": docs[1].last().map(|d| d["connection_table"].clone()),
    });
    std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).expect("write report");
    println!("written to {}", out.display());
    if failed { 1 } else { 0 }
}

/// Checks one measured run's counter changes against the case's regime.
fn check(regime: Regime, n: u32, delta: &[(&'static str, u64)]) -> Result<(), String> {
    let n = n as u64;
    let got = |name| count(delta, name);
    let want: Vec<(&str, u64)> = match regime {
        Regime::Baseline => {
            return if delta.is_empty() {
                Ok(())
            } else {
                Err(format!("lb's counters moved: {delta:?}"))
            };
        }
        Regime::Hits => vec![("conn_hit", n), ("conn_new", 0), ("tx", n)],
        Regime::NewFlows => vec![
            ("conn_new", n),
            ("conn_hit", 0),
            ("conn_flood", 0),
            ("tx", n),
        ],
        Regime::Pairs => vec![
            ("conn_new", n / 2),
            ("conn_hit", n / 2),
            ("conn_flood", 0),
            ("tx", n),
        ],
        Regime::Replies => vec![("nat_reply", n), ("conn_new", 0), ("conn_hit", 0)],
        Regime::NotVip => vec![("pass_not_vip", n), ("conn_new", 0), ("conn_hit", 0)],
        Regime::FloodMode => {
            // The first new connection of each flood window (2^FLOOD_WINDOW_SHIFT ns) is
            // below the threshold of one and recorded; a measured run spans a few windows.
            let flood = got("conn_flood");
            if flood + FLOOD_MODE_RECORDED_MAX < n || flood > n {
                return Err(format!(
                    "conn_flood {flood} (expected {n}, less at most {FLOOD_MODE_RECORDED_MAX})"
                ));
            }
            vec![("conn_new", n), ("conn_hit", 0), ("tx", n)]
        }
        Regime::Flood => {
            let est = n.div_ceil(FLOOD_EVERY as u64);
            vec![
                ("conn_hit", est),
                ("conn_new", n - est),
                ("conn_flood", 0),
                ("tx", n),
            ]
        }
    };
    let wrong: Vec<String> = want
        .iter()
        .filter(|(name, v)| got(name) != *v)
        .map(|(name, v)| format!("{name} {} (expected {v})", got(name)))
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} over {n} packets; all counters: {delta:?}",
            wrong.join(", ")
        ))
    }
}

fn count(delta: &[(&'static str, u64)], name: &str) -> u64 {
    debug_assert!(REASON_NAMES.contains(&name) || name.is_empty());
    delta
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or(0)
}

/// `established_nat_reply`'s service: one `nat` real server, so its reply's source is known.
const NAT_REPLY_PORT: u16 = 87;
const NAT_REPLY_REAL: Ipv4Addr = real_addr(0);

/// The shim's IPv4 client of tuple number `t`: [`CLIENT`] with the number's high 16 bits in
/// its address's low 16 bits, the low ones as its port (`lb-ebpf/src/bench.rs`).
fn shim_client(t: u32) -> (Ipv4Addr, u16) {
    let o = CLIENT.octets();
    let hi = ((t >> 16) as u16).to_be_bytes();
    (Ipv4Addr::new(o[0], o[1], hi[0], hi[1]), t as u16)
}

/// Sets up `established_nat_reply` (`c`, tuple numbers from `base`): its connection from
/// the client of tuple `base` (a SYN, then an ACK, through the shim and `lb`), and `c`'s
/// packet, the real server's reply to that client. Returns the reply's tuple number: the one
/// for which the shim writes the real server's own address and port.
fn nat_reply_case(h: &mut Harness, c: &mut Case, base: u32) -> u32 {
    let (client, cport) = shim_client(base);
    let from_client = |flags| {
        let ip = Ipv4::new(client, VIP, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip.build(&tcp(client, VIP, cport, NAT_REPLY_PORT, flags, &[0u8; 20])),
        )
    };
    let (syn, ack) = (from_client(TCP_SYN), from_client(TCP_ACK));
    for p in [syn, ack] {
        h.shim_state(
            &p,
            &Repeats {
                mode: BENCH_FIXED,
                first: base,
                ..Default::default()
            },
        );
        h.shim_run(&p, 1);
    }
    let ip = Ipv4::new(NAT_REPLY_REAL, client, 6);
    let reply = ip.build(&tcp(
        NAT_REPLY_REAL,
        client,
        NAT_REPLY_PORT,
        cport,
        TCP_ACK,
        &[0u8; 20],
    ));
    c.packet = h.from_neighbour(NAT_REPLY_REAL, &reply);
    let r = NAT_REPLY_REAL.octets();
    u32::from(u16::from_be_bytes([r[2], r[3]])) << 16 | u32::from(NAT_REPLY_PORT)
}

/// Runs the shim `repeat` times over the case's packet; returns ns per packet.
fn run(h: &mut Harness, c: &Case, repeat: u32) -> f64 {
    h.shim_run(&c.packet, repeat)
}

/// Not a data-plane flag: a case's mark that it runs in flood mode (`set_flags` turns it
/// into a flood threshold of one new connection per window).
const FLOOD_MODE: u32 = 1 << 31;
const _: () = assert!(
    FLOOD_MODE
        & (CFG_F_NO_CONN_TABLE | CFG_F_NAT | CFG_F_TRACE | CFG_F_SLOPPY_TCP | CFG_F_CONN_REUSE)
        == 0
);

fn set_flags(h: &mut Harness, flags: u32) {
    let mut cfg = h.dp.config().unwrap();
    cfg.flags = flags & !FLOOD_MODE;
    cfg.flood_window_max = u32::from(flags & FLOOD_MODE != 0);
    h.dp.set_config(&cfg).unwrap();
}

/// The shim's state for the next run: mode, first tuple number, and (flood) the established
/// flows' first tuple number and the next one's index. Every case restores the packet's
/// first 64 bytes before each repeat, baselines included, so that the copy cancels out of
/// the ratios.
fn shim_state(h: &mut Harness, c: &Case, mode: u32, first: u32, est_base: u32, est_i: u32) {
    h.shim_state(
        &c.packet,
        &Repeats {
            mode,
            first,
            first_flags: TCP_SYN,
            every: FLOOD_EVERY,
            est_base,
            est_n: FLOOD_ESTABLISHED,
            est_i,
            table: c.table,
            redirect: 0,
        },
    );
}

/// What the connection table (and the experiment tables) cost in kernel memory, as the
/// kernel accounts it (`memlock` in the map's fdinfo), per entry of its capacity.
fn table_memory() -> serde_json::Value {
    let wanted: Vec<&str> = std::iter::once(map_name::CONNS)
        .chain(map_name::BENCH_TABLES)
        .collect();
    let mut v = serde_json::Map::new();
    for (name, _, text) in our_maps() {
        if !wanted.contains(&name.as_str()) {
            continue;
        }
        let (Some(memlock), Some(max)) = (
            fdinfo_field(&text, "memlock:"),
            fdinfo_field(&text, "max_entries:"),
        ) else {
            continue;
        };
        v.insert(
            name,
            serde_json::json!({
                "max_entries": max,
                "key_size": fdinfo_field(&text, "key_size:"),
                "value_size": fdinfo_field(&text, "value_size:"),
                "memlock_bytes": memlock,
                "bytes_per_entry": memlock as f64 / max as f64,
            }),
        );
    }
    for (name, t) in &v {
        println!(
            "memory: {name}: {:.1} bytes per entry ({} entries, key {} value {})",
            t["bytes_per_entry"].as_f64().unwrap_or(0.0),
            t["max_entries"],
            t["key_size"],
            t["value_size"]
        );
    }
    serde_json::Value::Object(v)
}

/// This process's maps (other processes may have maps of the same names): name, id and
/// fdinfo text.
fn our_maps() -> Vec<(String, u32, String)> {
    let mut ours = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fdinfo") {
        for e in dir.flatten() {
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            if let Some(id) = fdinfo_field(&text, "map_id:") {
                ours.insert(id, text);
            }
        }
    }
    aya::maps::loaded_maps()
        .flatten()
        .filter_map(|m| {
            let text = ours.get(&(m.id() as u64))?;
            Some((m.name_as_str()?.to_string(), m.id(), text.clone()))
        })
        .collect()
}

/// What reading the whole IPv4 connection table costs lbd's upkeep (expiry, listings,
/// sync), with the table as the cases left it (full, or nearly): the same map read key by key
/// (two system calls an entry, the way aya iterates a map) and by batches (lbd's reader,
/// `dataplane::batch`, as `Dataplane::connections` uses it for each table); both must find the
/// same entries.
fn conn_walk(_h: &Harness) -> serde_json::Value {
    use aya::maps::{HashMap, Map, MapData};
    use lb_common::{Conn, ConnKey4};
    let Some((_, id, _)) = our_maps()
        .into_iter()
        .find(|(n, _, _)| n == map_name::CONNS)
    else {
        return serde_json::Value::Null;
    };
    let map = MapData::from_id(id).expect("the connection table by id");
    let table: HashMap<MapData, ConnKey4, Conn> =
        HashMap::try_from(Map::HashMap(map)).expect("a hash map");
    let t = std::time::Instant::now();
    let one_by_one = table.iter().filter(|r| r.is_ok()).count();
    let key_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    let batched = lb_daemon::dataplane::batch::entries(&table).len();
    let batch_ms = t.elapsed().as_secs_f64() * 1e3;
    // The cases are over: nothing writes the table meanwhile.
    assert_eq!(
        one_by_one, batched,
        "the connection table read key by key and by batches: the same entries"
    );
    println!(
        "connection table walk: {one_by_one} entries key by key in {key_ms:.0} ms, \
         by batches in {batch_ms:.0} ms"
    );
    serde_json::json!({
        "entries": one_by_one,
        "key_by_key_ms": key_ms,
        "batched_ms": batch_ms,
    })
}

/// The size of `lb` and the programs it tail-calls as the kernel has them: instructions the verifier went
/// through, instructions after it (8 bytes each), bytes of x86 code from the JIT; and how long
/// loading the object took (the verifier's share of it grows with the first two).
fn program_sizes(h: &mut Harness, load_ms: f64) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    for name in std::iter::once("lb").chain(lb_common::prog_slot::NAMES) {
        let Ok(p) = h.dp.program(name) else { continue };
        let Ok(info) = p.info() else { continue };
        let row = serde_json::json!({
            "verified_insns": info.verified_instruction_count(),
            "xlated_insns": info.size_translated().map(|b| b / 8),
            "jited_bytes": info.size_jitted(),
        });
        println!("program {name}: {row}");
        v.insert(name.to_string(), row);
    }
    println!("loading the object (and applying the bench's config): {load_ms:.0} ms");
    v.insert("load_and_apply_ms".to_string(), serde_json::json!(load_ms));
    serde_json::Value::Object(v)
}

fn fdinfo_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// `rr`'s shared position (one per service, as IPVS's): the cost of scheduling with it, on one
/// CPU and on two CPUs at once scheduling the same service (each thread pinned to its own
/// CPU), against `mh` on the same real servers, whose choice touches nothing shared. The
/// connection table is skipped (`CFG_F_NO_CONN_TABLE`) so that every repeat is scheduled.
/// Median ns per packet of `rounds` runs of `repeat` repeats each (per thread).
fn rr_cursor(
    h: &mut Harness,
    rr_packet: &[u8],
    mh_packet: &[u8],
    repeat: u32,
    rounds: u32,
) -> serde_json::Value {
    use aya::programs::TestRun as _;
    let cpus = aya::util::online_cpus().map(|c| c.len()).unwrap_or(1);
    let variants: [(&str, &[u8]); 2] = [("rr", rr_packet), ("mh", mh_packet)];
    let mut samples: Vec<[Vec<f64>; 2]> = variants.iter().map(|_| [vec![], vec![]]).collect();
    h.shim_target("lb");
    set_flags(h, CFG_F_NO_CONN_TABLE);
    for _ in 0..rounds {
        for (v, (_, packet)) in variants.iter().enumerate() {
            h.shim_state(
                packet,
                &Repeats {
                    mode: BENCH_FIXED,
                    ..Default::default()
                },
            );
            let ctx = lb_tests::shim::xdp_md(packet.len(), h.ifindex);
            let shim: &aya::programs::Xdp = h.dp.program("bench_shim").unwrap();
            let run = |cpu: usize| {
                lb_tests::pin_to_cpu(cpu);
                let r = shim
                    .test_run(aya::programs::TestRunOptions {
                        data_in: Some(packet),
                        ctx_in: Some(&ctx),
                        repeat,
                        ..Default::default()
                    })
                    .unwrap_or_else(|e| panic!("rr_cursor: {e}"));
                r.duration.as_nanos() as f64
            };
            samples[v][0].push(run(0));
            if cpus >= 2 {
                let barrier = std::sync::Barrier::new(2);
                let both: Vec<f64> = std::thread::scope(|s| {
                    let t: Vec<_> = [0, 1]
                        .map(|cpu| {
                            let (run, barrier) = (&run, &barrier);
                            s.spawn(move || {
                                barrier.wait();
                                run(cpu)
                            })
                        })
                        .into_iter()
                        .collect();
                    t.into_iter().map(|t| t.join().unwrap()).collect()
                });
                samples[v][1].push(both.iter().sum::<f64>() / 2.0);
            }
            lb_tests::pin_to_cpu(0);
        }
    }
    let median = |v: &[f64]| if v.is_empty() { f64::NAN } else { median(v) };
    println!(
        "rr's shared cursor, connection table skipped (every packet scheduled), median ns/packet:"
    );
    println!(
        "{:<12} {:>10} {:>16}",
        "scheduler", "one CPU", "two CPUs at once"
    );
    let mut out = Vec::new();
    for (v, (name, _)) in variants.iter().enumerate() {
        let (one, two) = (median(&samples[v][0]), median(&samples[v][1]));
        println!("{name:<12} {one:>10.1} {two:>16.1}");
        out.push(serde_json::json!({
            "scheduler": name,
            "one_cpu_ns": one,
            "two_cpus_ns": two,
            "samples_one_cpu_ns": samples[v][0],
            "samples_two_cpus_ns": samples[v][1],
        }));
    }
    serde_json::Value::Array(out)
}

/// The header of a table of cases.
fn report_header(title: &str, ratio: &str) {
    println!(
        "{:<25} {:>9} {:>8} {:>13}  what",
        title, "ns/packet", ratio, "[spread]"
    );
}

/// One case's results, for its row in the printed table and bench.json.
struct Row<'a> {
    name: &'a str,
    what: &'a str,
    samples: &'a [f64],
    ratios: &'a [f64],
    failure: &'a Option<String>,
    counters: &'a [(&'static str, u64)],
}

/// Prints a case's row (median ns per packet, median ratio and its spread, what it is,
/// whether its regime failed) and returns its bench.json object, the ratio under `ratio_key`.
fn report_row(c: Row, ratio_key: &str) -> serde_json::Map<String, serde_json::Value> {
    let m = median(c.samples);
    let r = median(c.ratios);
    let (lo, hi) = spread(c.ratios);
    println!(
        "{:<25} {:>9.1} {:>8.2} {:>13}  {}{}",
        c.name,
        m,
        r,
        format!("[{lo:.2}-{hi:.2}]"),
        c.what,
        if c.failure.is_some() {
            "  ** REGIME FAILED **"
        } else {
            ""
        }
    );
    let counters: std::collections::BTreeMap<String, u64> = c
        .counters
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    let v = serde_json::json!({
        "case": c.name,
        "what": c.what,
        "ns_per_packet": m,
        ratio_key: r,
        "ratio_min": lo,
        "ratio_max": hi,
        "samples_ns": c.samples,
        "ratios": c.ratios,
        "regime_ok": c.failure.is_none(),
        "regime_failure": c.failure,
        "counters_last_round": counters,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a JSON object"),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s[s.len() / 2]
}

fn spread(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The control plane's costs: applying one JSON file of 1,000 services with 100 real servers
/// each as lbd does (parse and validate, diff, write the maps, persist the state), applying
/// it again (nothing to do), and rebuilding one Maglev table of 65537 slots for 1,000 real
/// servers. Median of `rounds`, in milliseconds.
fn control_plane(rounds: u32) -> serde_json::Value {
    use lb_daemon::{
        control,
        dataplane::{Dataplane, LoadOptions},
        health::{self, Health},
        plan::{Planner as State, maglev, sched},
    };
    use lb_model::{
        Scheduler,
        config::{Config, diff::diff},
    };
    use std::time::Instant;

    // 1,000 services (scheduler wlc, ipvsadm's default) x 100 real servers (dr).
    let services: Vec<serde_json::Value> = (0..1000u32)
        .map(|i| {
            let reals: Vec<serde_json::Value> = (0..100u32)
                .map(|j| {
                    serde_json::json!({
                        "address": format!("10.{}.{}.{}", 100 + i / 256, i % 256, j + 1),
                        "forwarding": "dr",
                    })
                })
                .collect();
            serde_json::json!({
                "protocol": "tcp",
                "vip": format!("10.{}.{}.1", i / 256, i % 256),
                "port": 80,
                "real_servers": reals,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "interface": "eth0",
        "director": { "ipv4": "10.255.0.1" },
        "services": services,
    }))
    .unwrap();
    let state_file =
        std::env::temp_dir().join(format!("lb-bench-state-{}.json", std::process::id()));
    let (mut parse, mut apply, mut persist, mut total, mut again) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        // A fresh data plane each round: real-server ids are never reused within one.
        let mut dp = Dataplane::load(&LoadOptions::default()).expect("load");
        let mut st = State::new(dp.table_capacity(), 1500);
        // lbd's own path to the maps: through health (no checks configured here).
        let mut hl = Health::without_checkers();
        let t0 = Instant::now();
        let cfg = Config::parse(&text, "bench.json").expect("valid");
        let t1 = Instant::now();
        let empty = Config {
            services: Vec::new(),
            ..cfg.clone()
        };
        let changes = diff(&empty, &cfg);
        health::apply(&mut hl, &mut st, &mut dp, &cfg).expect("apply");
        let t2 = Instant::now();
        control::persist(&state_file, &cfg).expect("persist");
        let t3 = Instant::now();
        assert_eq!(changes.len(), 1000 * 101);
        assert_eq!(st.real_count(), 100_000);
        parse.push((t1 - t0).as_secs_f64() * 1e3);
        apply.push((t2 - t1).as_secs_f64() * 1e3);
        persist.push((t3 - t2).as_secs_f64() * 1e3);
        total.push((t3 - t0).as_secs_f64() * 1e3);
        // The same file again: parse, an empty diff, nothing written.
        let t4 = Instant::now();
        let same = Config::parse(&text, "bench.json").expect("valid");
        assert!(diff(&cfg, &same).is_empty());
        let report = health::apply(&mut hl, &mut st, &mut dp, &same).expect("apply");
        assert_eq!(report.tables_rewritten, 0);
        again.push(t4.elapsed().as_secs_f64() * 1e3);
    }
    let _ = std::fs::remove_file(&state_file);

    let keys: Vec<Vec<u8>> = (0..1000u32)
        .map(|j| {
            let mut k = Ipv4Addr::from(0x0a64_0000 + j).octets().to_vec();
            k.extend_from_slice(&80u16.to_be_bytes());
            k
        })
        .collect();
    let backends: Vec<maglev::Backend<'_>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| maglev::Backend {
            id: i as u32 + 1,
            key: k,
            weight: 1 + (i as u32 % 3),
        })
        .collect();
    let equal: Vec<maglev::Backend<'_>> = backends
        .iter()
        .map(|b| maglev::Backend { weight: 1, ..*b })
        .collect();
    let mut mh = Vec::new();
    let mut mh_equal = Vec::new();
    for _ in 0..rounds.max(5) {
        let t = Instant::now();
        let cells = sched::cells(Scheduler::Mh, 65537, &backends).expect("table");
        mh.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(cells.len(), 65537);
        let t = Instant::now();
        let cells = sched::cells(Scheduler::Mh, 65537, &equal).expect("table");
        mh_equal.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(cells.len(), 65537);
    }
    let v = serde_json::json!({
        "apply_1000_services_x_100_reals_ms": {
            "total": median(&total),
            "parse_and_validate": median(&parse),
            "diff_and_write_maps": median(&apply),
            "persist_state": median(&persist),
            "samples_total": total,
        },
        "apply_same_file_again_ms": median(&again),
        "maglev_rebuild_65537_slots_1000_reals_ms": median(&mh),
        "maglev_samples_ms": mh,
        "maglev_rebuild_65537_slots_1000_equal_weights_ms": median(&mh_equal),
        "maglev_equal_samples_ms": mh_equal,
    });
    println!(
        "control plane: apply 1,000 services x 100 real servers from one JSON file: {:.0} ms \
         (parse+validate {:.0}, diff+maps {:.0}, persist {:.0}); the same file again: {:.0} ms; \
         one Maglev table of 65537 slots for 1,000 real servers: {:.2} ms (weights 1-3), \
         {:.2} ms (equal weights)",
        median(&total),
        median(&parse),
        median(&apply),
        median(&persist),
        median(&again),
        median(&mh),
        median(&mh_equal),
    );
    v
}
