//! Atomic changes: while lbctl replaces the real servers of a service again and again (each
//! replacement one `-R` batch: delete the four old real servers, add four new ones), packets
//! of new flows run through `lb` with `BPF_PROG_TEST_RUN` against the very maps lbd writes
//! (a second instance of the object adopting lbd's pinned maps) must always be forwarded, and
//! only to a real server of the set in place before or after the replacement under way,
//! never to one of neither and never dropped for a half-written table.

use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use aya::programs::{TestRun, TestRunOptions};
use lb_daemon::dataplane::{Dataplane, LoadOptions};
use lb_tests::{
    consts::{CLIENT_MAC, VIP, XDP_TX, real_addr},
    packet::{TCP_SYN, eth_ip, tcp_ip},
    require_root,
    solo::SoloLbd,
};

/// Rotating sets of real servers: set k is real servers 10k ..= 10k + 3 (198.18.0.{10k+11
/// ..= 10k+14}).
const SETS: usize = 6;
const SWAPS: usize = 100;

fn set(k: usize) -> Vec<Ipv4Addr> {
    let k = k % SETS;
    (0..4).map(|i| real_addr(10 * k + i)).collect()
}

/// The `-R` batch that replaces set `from` by set `to`.
fn swap(from: usize, to: usize) -> String {
    let mut s = String::new();
    for a in set(from) {
        s.push_str(&format!("-d -t {VIP}:80 -r {a}:80\n"));
    }
    for a in set(to) {
        s.push_str(&format!("-a -t {VIP}:80 -r {a}:80 -i\n"));
    }
    s
}

#[test]
fn packets_during_real_server_replacements_reach_only_the_old_or_the_new_set() {
    require_root!();
    // Its reader keeps a CPU busy with test runs: alone, so that no other test measures that.
    let lbd = SoloLbd::start_alone();
    let all: Vec<Ipv4Addr> = (0..SETS).flat_map(set).collect();
    lbd.neighbours(&all);
    let mut first = format!("-A -t {VIP}:80 -s mh --mh-table-size 4093\n");
    for a in set(0) {
        first.push_str(&format!("-a -t {VIP}:80 -r {a}:80 -i\n"));
    }
    let out = lbd.lbctl(&["-R"], first.as_bytes());
    assert!(out.status.success(), "{out:?}");

    // Replacements begun and finished: while `done` = d, set d is in place; while
    // `started` = d + 1, set d + 1 is being put in place.
    let started = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let finished = AtomicBool::new(false);
    // The reader loads (verifies) its own copy of the programs first, which takes seconds;
    // the replacements wait for it, or they could all be over before its first packet.
    let ready = AtomicBool::new(false);
    let (packets, during_swaps) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let _in = lbd.ns.enter();
            let mut dp = Dataplane::load(&LoadOptions {
                pin_dir: Some(lbd.pin_dir.clone()),
                conn_table_size: Some(65536),
                ..Default::default()
            })
            .expect("load lb adopting lbd's pinned maps");
            let ifindex = lbd.ns.ifindex("eth0");
            let if_mac = lbd.ns.mac("eth0");
            let prog = dp.program("lb").expect("lb");
            let (mut n, mut overlapping) = (0u64, 0u64);
            ready.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !finished.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "replacements took too long");
                // Every packet a new flow: a fresh (client address, source port).
                let client = Ipv4Addr::new(198, 18, 5 + (n / 60_000) as u8, 7);
                let sport = 1024 + (n % 60_000) as u16;
                let frame = eth_ip(
                    if_mac,
                    CLIENT_MAC,
                    &tcp_ip(client, VIP, sport, 80, TCP_SYN, b""),
                );
                let ctx = lb_tests::shim::xdp_md(frame.len(), ifindex);
                let mut out = vec![0u8; frame.len() + 256];
                let before = done.load(Ordering::SeqCst);
                let r = prog
                    .test_run(TestRunOptions {
                        data_in: Some(&frame),
                        data_out: Some(&mut out),
                        ctx_in: Some(&ctx),
                        repeat: 1,
                        ..Default::default()
                    })
                    .expect("test run");
                let after = started.load(Ordering::SeqCst);
                assert_eq!(
                    r.return_value, XDP_TX,
                    "packet {n} (sets {before}..={after}) was not forwarded"
                );
                // IPIP: the outer IPv4 destination is the real server.
                let real = Ipv4Addr::new(out[30], out[31], out[32], out[33]);
                let allowed: Vec<Ipv4Addr> = (before..=after).flat_map(set).collect();
                assert!(
                    allowed.contains(&real),
                    "packet {n} went to {real}, in neither set {before} nor set {after}: allowed {allowed:?}"
                );
                if after > before {
                    overlapping += 1;
                }
                n += 1;
            }
            (n, overlapping)
        });
        let loading = Instant::now() + Duration::from_secs(120);
        while !ready.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < loading,
                "the reader did not load lb in 120 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        for g in 0..SWAPS {
            started.store(g + 1, Ordering::SeqCst);
            let out = lbd.lbctl(&["-R"], swap(g, g + 1).as_bytes());
            assert!(out.status.success(), "swap {g}: {out:?}");
            done.store(g + 1, Ordering::SeqCst);
        }
        finished.store(true, Ordering::SeqCst);
        reader.join().expect("reader")
    });
    // The last set is in place, alone.
    let saved = lbd.ok(&["-S", "-n"]);
    for a in set(SWAPS) {
        assert!(saved.contains(&format!("-r {a}:80 -i")), "{saved}");
    }
    assert_eq!(saved.lines().count(), 5, "{saved}");
    eprintln!("{packets} packets, {during_swaps} of them during a replacement");
    // The test exercised what it claims: many packets, many of them during replacements.
    assert!(packets >= 1000, "only {packets} packets");
    assert!(
        during_swaps >= 100,
        "only {during_swaps} of {packets} packets overlapped a replacement"
    );
}
