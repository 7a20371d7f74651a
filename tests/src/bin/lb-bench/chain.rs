//! The veth chain: a generator, a director and a sink joined by veth pairs in the bench's
//! namespace, every hop a real XDP attach in native mode and every packet really
//! transmitted from one interface to the next. It measures what a director costs a packet
//! on its way through (receive, `lb`, redirect to the other arm, the next hop's receive),
//! as a ratio to a floor of the same chain whose director only redirects.
//!
//! ```text
//!   bench_shim + bench_tx --(cg0 => cd0)--> lb (nat) --(cd1 => cs0)--> bench_drop
//!   bench_shim + bench_tx --(fg0 => fd0)--> bench_redirect --(fd1 => fs0)--> bench_drop
//! ```
//!
//! The generator is `bench_shim` run with `BPF_F_TEST_XDP_LIVE_FRAMES` on `cg0`/`fg0`: it
//! writes each repeat's flow (as in every other case) and `bench_tx` sends it, the kernel
//! turning XDP_TX into a transmit on the ingress interface, so the frame arrives on the
//! director's `cd0`. The kernel's time per packet covers the whole chain: the receiving
//! veths' NAPI polls run on the same CPU when each batch of frames ends.
//!
//! Each run proves its regime twice: `lb`'s counters (every packet a hit, or every packet a
//! new connection, and every one redirected to the other arm) and the sink's veth, which must
//! have received every packet the generator sent.

use std::net::Ipv4Addr;

use aya::programs::xdp::XdpMode as AyaXdpMode;
use lb_common::{BENCH_FIXED, BENCH_FLOOD};
use lb_tests::{
    packet::{ETH_P_IP, Ipv4, eth, tcp},
    shim::Repeats,
    testrun::{Harness, reason_delta},
};

use crate::{CLIENT, TCP_ACK, TCP_SYN, count, median, spread};

/// The chain's nat service: the bench's VIP on this port, over [`REALS`] real servers
/// behind the director's second arm.
pub const PORT: u16 = 86;
pub const REALS: u8 = 16;
/// The established case's flows.
pub const FLOWS: u32 = 16384;

/// Real server `i` of the chain, on the director's second arm (`cd1`, 10.201.1.0/24).
pub fn real(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, 1, 10 + i)
}

/// The interfaces of one chain: the generator's end and the sink's end.
struct Ends {
    gen_ifindex: u32,
    sink: &'static str,
}

pub struct Chain {
    lb: Ends,
    floor: Ends,
    /// The floor's director redirects to this interface (fd1).
    floor_to: u32,
    /// What the director's first arm is sent (the generator's frame).
    syn: Vec<u8>,
    ack: Vec<u8>,
}

/// One measured case of the chain.
struct ChainCase {
    name: &'static str,
    what: &'static str,
    samples: Vec<f64>,
    ratios: Vec<f64>,
    failure: Option<String>,
    counters: Vec<(&'static str, u64)>,
}

impl Chain {
    /// Builds both chains in the harness's namespace (which the bench has entered) and
    /// attaches their programs; the nat service on [`PORT`] is in the harness's config.
    pub fn new(h: &mut Harness) -> Chain {
        let ns = &h.ns;
        for (a, b) in [
            ("cg0", "cd0"),
            ("cd1", "cs0"),
            ("fg0", "fd0"),
            ("fd1", "fs0"),
        ] {
            ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
            for dev in [a, b] {
                // No IPv6 on the chain: the kernel's own solicitations and reports would
                // reach the sink (and lb) uncounted by the generator.
                ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6"), "1");
                ns.ip(&["link", "set", dev, "up"]);
            }
        }
        ns.ip(&["addr", "add", "10.201.0.1/24", "dev", "cd0"]);
        ns.ip(&["addr", "add", "10.201.1.1/24", "dev", "cd1"]);
        for dev in ["cd0", "cd1"] {
            ns.sysctl(&format!("net.ipv4.conf.{dev}.forwarding"), "1");
        }
        let sink_mac = ns.mac("cs0");
        for i in 0..REALS {
            ns.neighbour("cd1", real(i).into(), sink_mac);
        }
        let lb = Ends {
            gen_ifindex: ns.ifindex("cg0"),
            sink: "cs0",
        };
        let floor = Ends {
            gen_ifindex: ns.ifindex("fg0"),
            sink: "fs0",
        };
        let cd0_mac = ns.mac("cd0");
        let fd1 = ns.ifindex("fd1");
        let gen_mac = ns.mac("cg0");
        for (prog, dev) in [
            ("lb", "cd0"),
            ("lb", "cd1"),
            ("bench_redirect", "fd0"),
            ("bench_drop", "cs0"),
            ("bench_drop", "fs0"),
        ] {
            let p = h.dp.program(prog).unwrap_or_else(|e| panic!("{e}"));
            p.attach(dev, AyaXdpMode::Driver)
                .unwrap_or_else(|e| panic!("attach {prog} to {dev} (native): {e}"));
        }
        // bench_tx swaps the MACs: the frame leaves the generator addressed to cd0.
        let frame = |flags: u8| {
            let ip = Ipv4::new(CLIENT, lb_tests::consts::VIP, 6);
            eth(
                gen_mac,
                cd0_mac,
                ETH_P_IP,
                &ip.build(&tcp(
                    CLIENT,
                    lb_tests::consts::VIP,
                    40000,
                    PORT,
                    flags,
                    &[0u8; 20],
                )),
            )
        };
        Chain {
            lb,
            floor,
            floor_to: fd1,
            syn: frame(TCP_SYN),
            ack: frame(TCP_ACK),
        }
    }
}

/// Packets the sink's veth has received (its NAPI counts every XDP frame it polls).
fn received(h: &Harness, dev: &str) -> u64 {
    let out = h.ns.ip(&["-s", "-j", "link", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link");
    v[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("rx packets of {dev} in {out}"))
}

/// Runs `n` frames through one chain with the shim in `r`'s mode; returns the kernel's ns
/// per packet, lb's counters' change and how many frames the sink received.
fn run(
    h: &mut Harness,
    ends: &Ends,
    packet: &[u8],
    r: &Repeats,
    n: u32,
) -> (f64, Vec<(&'static str, u64)>, u64) {
    h.shim_target("bench_tx");
    h.shim_state(packet, r);
    let before = h.reasons();
    let got = received(h, ends.sink);
    let ns = h.shim_run_live(packet, n, ends.gen_ifindex);
    // The last batch's polls ran before the call returned; a frame still queued would show
    // as missing below.
    let delta = reason_delta(&before, &h.reasons());
    (ns, delta, received(h, ends.sink) - got)
}

/// What the run's counters must say: every packet through `lb` a hit (or a new
/// connection), redirected to the other arm, and every one received by the sink.
fn check(new: bool, n: u32, delta: &[(&'static str, u64)], sunk: u64) -> Result<(), String> {
    let n = n as u64;
    let (want_new, want_hit) = if new { (n, 0) } else { (0, n) };
    let mut wrong = Vec::new();
    for (name, v) in [
        ("conn_new", want_new),
        ("conn_hit", want_hit),
        ("conn_flood", 0),
        ("redirect", n),
    ] {
        if count(delta, name) != v {
            wrong.push(format!("{name} {} (expected {v})", count(delta, name)));
        }
    }
    if sunk != n {
        wrong.push(format!("the sink received {sunk} (expected {n})"));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{}; all counters: {delta:?}", wrong.join(", ")))
    }
}

/// The chain's cases over `rounds` interleaved rounds of `repeat` frames; tuple numbers from
/// `base` on (past every other case's range). Returns bench.json's `veth_chain` and the
/// regime failures.
pub fn bench(
    h: &mut Harness,
    chain: &Chain,
    repeat: u32,
    rounds: u32,
    base: u32,
) -> (serde_json::Value, Vec<String>) {
    let mut cases: Vec<ChainCase> = [
        (
            "chain_floor",
            "veth chain, the director only redirects to its other arm (the floor)",
        ),
        (
            "chain_nat_16k_flows",
            "veth chain, two-armed nat director, 16384 established flows in turn, mh",
        ),
        (
            "chain_nat_new_flows",
            "veth chain, two-armed nat director, every packet the SYN of a flow never seen, mh",
        ),
    ]
    .into_iter()
    .map(|(name, what)| ChainCase {
        name,
        what,
        samples: Vec::new(),
        ratios: Vec::new(),
        failure: None,
        counters: Vec::new(),
    })
    .collect();
    // The established flows: each one's SYN, then its ACK, through the chain itself.
    let est = base;
    let (_, delta, sunk) = run(
        h,
        &chain.lb,
        &chain.ack,
        &Repeats::pairs(est, TCP_SYN),
        2 * FLOWS,
    );
    let warm = if count(&delta, "conn_new") == FLOWS as u64 && sunk == 2 * FLOWS as u64 {
        Ok(())
    } else {
        Err(format!(
            "making the {FLOWS} established flows: conn_new {} (expected {FLOWS}), the sink \
             received {sunk} (expected {}); all counters: {delta:?}",
            count(&delta, "conn_new"),
            2 * FLOWS
        ))
    };
    let new_base = base + FLOWS;
    for round in 0..rounds {
        let mut ns = [0.0; 3];
        for (k, c) in cases.iter_mut().enumerate() {
            let (t, verdict, delta) = match k {
                0 => {
                    let r = Repeats {
                        mode: BENCH_FIXED,
                        first: base,
                        redirect: chain.floor_to,
                        ..Default::default()
                    };
                    let (t, delta, sunk) = run(h, &chain.floor, &chain.ack, &r, repeat);
                    let v = if !delta.is_empty() {
                        Err(format!("lb's counters moved: {delta:?}"))
                    } else if sunk != repeat as u64 {
                        Err(format!("the sink received {sunk} (expected {repeat})"))
                    } else {
                        Ok(())
                    };
                    (t, v, delta)
                }
                1 => {
                    // Every repeat the next established flow, in turn.
                    let r = Repeats {
                        mode: BENCH_FLOOD,
                        first: base,
                        every: 1,
                        est_base: est,
                        est_n: FLOWS,
                        est_i: (round * repeat) % FLOWS,
                        ..Default::default()
                    };
                    let (t, delta, sunk) = run(h, &chain.lb, &chain.ack, &r, repeat);
                    let v = warm
                        .clone()
                        .and_then(|()| check(false, repeat, &delta, sunk));
                    (t, v, delta)
                }
                _ => {
                    let r = Repeats::new_flows(new_base + round * repeat);
                    let (t, delta, sunk) = run(h, &chain.lb, &chain.syn, &r, repeat);
                    (t, check(true, repeat, &delta, sunk), delta)
                }
            };
            if let Err(e) = verdict
                && c.failure.is_none()
            {
                c.failure = Some(format!("round {round}: {e}"));
            }
            c.samples.push(t);
            c.counters = delta;
            ns[k] = t;
        }
        for (k, c) in cases.iter_mut().enumerate() {
            c.ratios.push(ns[k] / ns[0]);
        }
    }
    println!(
        "{:<22} {:>9} {:>8} {:>13}  what",
        "veth chain", "ns/packet", "x floor", "[spread]"
    );
    let mut failed = Vec::new();
    let mut json = Vec::new();
    for c in &cases {
        let m = median(&c.samples);
        let r = median(&c.ratios);
        let (lo, hi) = spread(&c.ratios);
        println!(
            "{:<22} {:>9.1} {:>8.2} {:>13}  {}{}",
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
        if let Some(f) = &c.failure {
            failed.push(format!("{}: {f}", c.name));
        }
        json.push(serde_json::json!({
            "case": c.name,
            "what": c.what,
            "ns_per_packet": m,
            "ratio_to_floor": r,
            "ratio_min": lo,
            "ratio_max": hi,
            "samples_ns": c.samples,
            "ratios": c.ratios,
            "regime_ok": c.failure.is_none(),
            "regime_failure": c.failure,
            "counters_last_round": c.counters.iter().map(|(n, v)| (n.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        }));
    }
    let doc = serde_json::json!({
        "repeat": repeat,
        "rounds": rounds,
        "baseline": "chain_floor",
        "cases": json,
    });
    (doc, failed)
}
