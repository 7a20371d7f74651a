//! `cargo xtask bench`: per-packet cost of lb's paths through `BPF_PROG_TEST_RUN`, as ratios
//! to an XDP_TX baseline measured in the same run. Never a pass/fail test: it prints numbers.
//!
//! Method (TOOLCHAIN.md, "Measuring with BPF_PROG_TEST_RUN"): repeats reuse one buffer, so
//! every measured program runs behind `bench_shim`, which strips the IPIP header `lb` added on
//! the previous repeat and, for the new-flow case, writes a fresh source port from a per-CPU
//! counter so that every repeat misses the connection table; then it tail-calls the program
//! under test. The baselines go through the same shim, so its cost cancels out of the ratios.
//! Rounds are interleaved across cases and the median is reported.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::AsFd,
    time::Duration,
};

use aya::{
    maps::{PerCpuArray, PerCpuValues, ProgramArray},
    programs::{TestRun, TestRunOptions, Xdp},
};
use lb_common::{BenchState, CFG_F_NAT, CFG_F_NO_CONN_TABLE, map_name};
use lb_tests::{
    config::{RealBuilder, config, real, tcp_service},
    consts::{
        CLIENT_MAC, REMOTE_CLIENT as CLIENT, REMOTE_CLIENT6 as CLIENT6, VIP, VIP6, real_addr,
        real_addr6,
    },
    packet::{ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, eth, tcp},
    testrun::Harness,
};

/// (name, what, program under test, packet, new flow per repeat, skip connection table)
type CaseRow<'a> = (
    &'static str,
    &'static str,
    &'static str,
    &'a [u8],
    bool,
    bool,
);

struct Case {
    name: &'static str,
    what: &'static str,
    program: &'static str,
    packet: Vec<u8>,
    new_flows: bool,
    skip_conn_table: bool,
    /// CFG_F_NAT on: packets for no VIP are looked up as nat replies first.
    nat_replies: bool,
    samples: Vec<f64>,
}

fn main() {
    if !lb_tests::is_root() {
        eprintln!("lb-bench: needs root");
        std::process::exit(1);
    }
    let mut args = std::env::args().skip(1);
    let mut out_path = std::path::PathBuf::from("target/bench/bench.json");
    let mut repeat: u32 = 1_000_000;
    let mut rounds = 7;
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
            other => {
                eprintln!(
                    "lb-bench: unknown argument {other} (--out PATH, --repeat N, --rounds N)"
                );
                std::process::exit(2);
            }
        }
    }
    lb_tests::pin_to_cpu(0);

    let reals: Vec<Ipv4Addr> = (0..16).map(real_addr).collect();
    // 128 real servers for the count-driven scheduler's worst case.
    let many: Vec<Ipv4Addr> = (0..128).map(real_addr).collect();
    let reals6: Vec<Ipv6Addr> = (0..16).map(real_addr6).collect();
    let by = |addrs: &[Ipv4Addr], method: fn(RealBuilder) -> RealBuilder| {
        addrs.iter().map(|a| method(real(*a))).collect::<Vec<_>>()
    };
    let config = config()
        .conn_table_size(1048576)
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
        );
    let neighbours: Vec<IpAddr> = many
        .iter()
        .map(|a| IpAddr::from(*a))
        .chain(reals6.iter().map(|a| IpAddr::from(*a)))
        .collect();
    let mut h = Harness::new(&config, &neighbours);
    let vip6_pkt = {
        let ip = Ipv6::new(CLIENT6, VIP6, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IPV6,
            &ip.build(&tcp(CLIENT6, VIP6, 40000, 80, 0x10, &[0u8; 20])),
        )
    };
    let syn_port = |h: &Harness, dst: Ipv4Addr, port: u16| {
        let ip = Ipv4::new(CLIENT, dst, 6);
        eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &ip.build(&tcp(CLIENT, dst, 40000, port, 0x10, &[0u8; 20])),
        )
    };
    let syn = |h: &Harness, dst: Ipv4Addr| syn_port(h, dst, 80);
    let vip_pkt = syn(&h, VIP);
    let vip_dr = syn_port(&h, VIP, 81);
    let vip_wlc16 = syn_port(&h, VIP, 83);
    let vip_wlc128 = syn_port(&h, VIP, 84);
    let vip_rr = syn_port(&h, VIP, 85);
    let vip_nat = syn_port(&h, VIP, 82);
    let other_pkt = syn(&h, Ipv4Addr::new(198, 18, 0, 99));
    // (name, what, program under test, packet, new flow per repeat, skip connection table)
    let table: [CaseRow<'_>; 13] = [
        (
            "xdp_drop",
            "XDP_DROP, nothing else",
            "bench_drop",
            &vip_pkt,
            false,
            false,
        ),
        (
            "xdp_tx",
            "swap MACs, XDP_TX (baseline)",
            "bench_tx",
            &vip_pkt,
            false,
            false,
        ),
        (
            "lb_established",
            "lb: known TCP flow, tun (IPIP), XDP_TX",
            "lb",
            &vip_pkt,
            false,
            false,
        ),
        (
            "lb_established_dr",
            "lb: known TCP flow, dr (MAC rewrite), XDP_TX",
            "lb",
            &vip_dr,
            false,
            false,
        ),
        (
            "lb_established_nat",
            "lb: known TCP flow, nat (address, port, TTL, checksums), XDP_TX",
            "lb",
            &vip_nat,
            false,
            false,
        ),
        (
            "lb_established_v6",
            "lb: known IPv6 TCP flow, tun (IPv6 in IPv6), XDP_TX",
            "lb",
            &vip6_pkt,
            false,
            false,
        ),
        (
            "lb_not_vip",
            "lb: packet for no VIP, XDP_PASS",
            "lb",
            &other_pkt,
            false,
            false,
        ),
        (
            "lb_new_flow",
            "lb: new flow each packet (conn miss + insert), mh, tun",
            "lb",
            &vip_pkt,
            true,
            false,
        ),
        (
            "lb_new_flow_no_table",
            "lb: new flow, connection table skipped (CFG_F_NO_CONN_TABLE), mh, tun",
            "lb",
            &vip_pkt,
            true,
            true,
        ),
        (
            "lb_new_flow_rr",
            "lb: new flow each packet, rr over 16 real servers, tun",
            "lb",
            &vip_rr,
            true,
            false,
        ),
        (
            "lb_new_flow_wlc16",
            "lb: new flow each packet, wlc over 16 real servers, tun",
            "lb",
            &vip_wlc16,
            true,
            false,
        ),
        (
            "lb_new_flow_wlc128",
            "lb: new flow each packet, wlc over 128 real servers, tun",
            "lb",
            &vip_wlc128,
            true,
            false,
        ),
        (
            "lb_not_vip_nat_on",
            "lb: packet for no VIP while nat is configured (the address filter: looked up only when from a nat real server), XDP_PASS",
            "lb",
            &other_pkt,
            false,
            false,
        ),
    ];
    let mut cases: Vec<Case> = table
        .iter()
        .map(|&(name, what, program, packet, new_flows, skip)| {
            let mut c = case(name, what, program, packet, new_flows, skip);
            c.nat_replies = name == "lb_not_vip_nat_on";
            c
        })
        .collect();
    for p in ["lb", "bench_shim", "bench_tx", "bench_drop"] {
        h.dp.program(p).unwrap_or_else(|e| panic!("{e}"));
    }
    let ifindex = h.ifindex;
    let mut ctx = [0u8; 24];
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());

    println!("lb-bench: {repeat} repeats x {rounds} rounds per case, median ns/packet");
    for _ in 0..rounds {
        for c in cases.iter_mut() {
            set_target(&mut h, c.program);
            set_mode(&mut h, c, &c.packet.clone());
            let mut pctx = ctx;
            pctx[4..8].copy_from_slice(&(c.packet.len() as u32).to_ne_bytes());
            let shim: &mut Xdp = h.dp.program("bench_shim").unwrap();
            let r = shim
                .test_run(TestRunOptions {
                    data_in: Some(&c.packet),
                    ctx_in: Some(&pctx),
                    repeat,
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            c.samples.push(r.duration.as_nanos() as f64);
        }
    }
    let median = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        s[s.len() / 2]
    };
    let base = median(&cases[1].samples);
    println!("{:<22} {:>10} {:>8}  what", "case", "ns/packet", "x xdp_tx");
    let mut json = Vec::new();
    for c in &cases {
        let m = median(&c.samples);
        println!("{:<22} {:>10.1} {:>8.2}  {}", c.name, m, m / base, c.what);
        json.push(serde_json::json!({
            "case": c.name,
            "what": c.what,
            "ns_per_packet": m,
            "ratio_to_xdp_tx": m / base,
            "samples_ns": c.samples,
        }));
    }
    let vip_mh = syn_port(&h, VIP, 80);
    let rr = rr_cursor(&mut h, &vip_rr, &vip_mh, repeat, rounds);
    drop(h);
    let control_plane = control_plane(rounds.clamp(1, 5));
    let doc = serde_json::json!({
        "repeat": repeat,
        "rounds": rounds,
        "baseline": "xdp_tx",
        "cases": json,
        "rr_cursor": rr,
        "control_plane": control_plane,
    });
    if let Some(dir) = out_path.parent() {
        std::fs::create_dir_all(dir).expect("bench dir");
    }
    std::fs::write(&out_path, serde_json::to_vec_pretty(&doc).unwrap()).expect("write bench.json");
    println!("written to {}", out_path.display());
    std::thread::sleep(Duration::from_millis(1));
}

fn case(
    name: &'static str,
    what: &'static str,
    program: &'static str,
    packet: &[u8],
    new_flows: bool,
    skip_conn_table: bool,
) -> Case {
    Case {
        name,
        what,
        program,
        packet: packet.to_vec(),
        new_flows,
        skip_conn_table,
        nat_replies: false,
        samples: Vec::new(),
    }
}

/// Puts `program` into the shim's tail-call slot.
fn set_target(h: &mut Harness, program: &'static str) {
    let fd = {
        let p = h.dp.program(program).unwrap();
        p.fd().unwrap().try_clone().unwrap()
    };
    let ebpf = h.dp.ebpf_mut();
    let mut slots = ProgramArray::try_from(ebpf.map_mut(map_name::BENCH_PROGS).unwrap()).unwrap();
    slots.set(0, &fd, 0).unwrap();
    let _ = fd.as_fd();
}

/// Every case restores the packet's first 64 bytes before each repeat (so that `nat`'s
/// rewrite is undone), baselines included, so the copy cancels out of the ratios.
fn set_mode(h: &mut Harness, c: &Case, packet: &[u8]) {
    let (new_flows, skip_conn_table) = (c.new_flows, c.skip_conn_table);
    let n = aya::util::nr_cpus().unwrap();
    {
        let ebpf = h.dp.ebpf_mut();
        let mut st: PerCpuArray<_, BenchState> =
            PerCpuArray::try_from(ebpf.map_mut(map_name::BENCH_STATE).unwrap()).unwrap();
        let mut head = [0u64; 8];
        for (i, w) in head.iter_mut().enumerate() {
            *w = u64::from_ne_bytes(packet[i * 8..i * 8 + 8].try_into().unwrap());
        }
        let v = BenchState {
            counter: 0,
            new_flows: new_flows as u32,
            restore: 1,
            _pad: 0,
            head,
        };
        st.set(0, PerCpuValues::try_from(vec![v; n]).unwrap(), 0)
            .unwrap();
    }
    let mut cfg = h.dp.config().unwrap();
    cfg.flags = (if skip_conn_table {
        CFG_F_NO_CONN_TABLE
    } else {
        0
    }) | (if c.nat_replies { CFG_F_NAT } else { 0 });
    h.dp.set_config(&cfg).unwrap();
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
    let cpus = aya::util::online_cpus().map(|c| c.len()).unwrap_or(1);
    let variants: [(&str, &[u8]); 2] = [("rr", rr_packet), ("mh", mh_packet)];
    let mut samples: Vec<[Vec<f64>; 2]> = variants.iter().map(|_| [vec![], vec![]]).collect();
    set_target(h, "lb");
    for _ in 0..rounds {
        for (v, (_, packet)) in variants.iter().enumerate() {
            let mut c = case("rr_cursor", "", "lb", packet, false, true);
            c.skip_conn_table = true;
            set_mode(h, &c, packet);
            let mut ctx = [0u8; 24];
            ctx[4..8].copy_from_slice(&(packet.len() as u32).to_ne_bytes());
            ctx[12..16].copy_from_slice(&h.ifindex.to_ne_bytes());
            let shim: &Xdp = h.dp.program("bench_shim").unwrap();
            let run = |cpu: usize| {
                lb_tests::pin_to_cpu(cpu);
                let r = shim
                    .test_run(TestRunOptions {
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
    let median = |v: &[f64]| if v.is_empty() { f64::NAN } else { median_ms(v) };
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

fn median_ms(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s[s.len() / 2]
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
    let mut mh = Vec::new();
    for _ in 0..rounds.max(5) {
        let t = Instant::now();
        let cells = sched::cells(Scheduler::Mh, 65537, &backends).expect("table");
        mh.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(cells.len(), 65537);
    }
    let v = serde_json::json!({
        "apply_1000_services_x_100_reals_ms": {
            "total": median_ms(&total),
            "parse_and_validate": median_ms(&parse),
            "diff_and_write_maps": median_ms(&apply),
            "persist_state": median_ms(&persist),
            "samples_total": total,
        },
        "apply_same_file_again_ms": median_ms(&again),
        "maglev_rebuild_65537_slots_1000_reals_ms": median_ms(&mh),
        "maglev_samples_ms": mh,
    });
    println!(
        "control plane: apply 1,000 services x 100 real servers from one JSON file: {:.0} ms \
         (parse+validate {:.0}, diff+maps {:.0}, persist {:.0}); the same file again: {:.0} ms; \
         one Maglev table of 65537 slots for 1,000 real servers: {:.1} ms",
        median_ms(&total),
        median_ms(&parse),
        median_ms(&apply),
        median_ms(&persist),
        median_ms(&again),
        median_ms(&mh)
    );
    v
}
