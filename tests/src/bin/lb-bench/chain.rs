//! The veth chain: a generator, a director and a sink joined by veth pairs in the bench's
//! namespace, every hop a real XDP attach in native mode and every frame really transmitted
//! from one interface to the next. It measures what a director costs a packet on its way
//! through (receive, the director's work, transmit on the other arm, the next hop's
//! receive), as a ratio to a floor of the same chain whose director only redirects, and
//! against the kernel's own DNAT (nftables) in the same chain.
//!
//! ```text
//!   bench_shim + bench_tx --(cg0 => cd0)--> lb (nat)        --(cd1 => cs0)--> bench_drop
//!   bench_shim + bench_tx --(fg0 => fd0)--> bench_redirect  --(fd1 => fs0)--> bench_drop
//!   bench_shim + bench_tx --(ng0 => nd0)--> pass, nftables  --(nd1 => ns0)--> bench_drop
//! ```
//!
//! The generator is `bench_shim` run with `BPF_F_TEST_XDP_LIVE_FRAMES` on `cg0` (`fg0`,
//! `ng0`): it writes each repeat's flow (as in every other case) and `bench_tx` sends it, the
//! kernel turning XDP_TX into a transmit on the ingress interface, so the frame arrives on the
//! director's first arm. The kernel's time per packet covers the whole chain: the receiving
//! veths' NAPI polls run on the same CPU when each batch of frames ends.
//!
//! Each run proves its regime: the sink's veth must have received every frame the generator
//! sent; `lb`'s counters must say every packet was a hit (or a new connection) redirected to
//! the other arm; the nftables DNAT rule's counter, which only a packet that starts a
//! conntrack entry passes, must count every packet of the new-flow case and none of the
//! established one's.

use std::net::Ipv4Addr;

use aya::programs::xdp::XdpMode as AyaXdpMode;
use lb_common::{BENCH_FIXED, BENCH_FLOOD};
use lb_tests::{
    consts::VIP,
    netns::Netns,
    packet::{ETH_P_IP, Ipv4, eth, tcp},
    shim::Repeats,
    testrun::{Harness, reason_delta},
};

use crate::{CLIENT, Row, TCP_ACK, TCP_SYN, count, report_header, report_row};

/// The chain's nat service: the bench's VIP on this port, over [`REALS`] real servers
/// behind the director's second arm.
pub const PORT: u16 = 86;
pub const REALS: u8 = 16;
/// The established cases' flows.
pub const FLOWS: u32 = 16384;

/// Real server `i` of lb's chain, on the director's second arm (`cd1`, 10.201.1.0/24).
pub fn real(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, 1, 10 + i)
}

/// Real server `i` of the nftables chain (`nd1`, 10.202.1.0/24).
fn nft_real(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 202, 1, 10 + i)
}

/// One chain: where the generator sends, where the sink counts, and the generator's frames
/// (addressed to the director's first arm once `bench_tx` has swapped the MACs).
struct Ends {
    gen_ifindex: u32,
    sink: &'static str,
    syn: Vec<u8>,
    ack: Vec<u8>,
}

pub struct Chain {
    lb: Ends,
    floor: Ends,
    nft: Ends,
    /// The floor's director redirects to this interface (fd1).
    floor_to: u32,
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

/// The nftables chain's director: DNAT of new connections to the VIP's port, by a hash of
/// the client's address and port over 16 real servers, as `mh` does; a named counter on the
/// rule (the nat chain sees only a connection's first packet).
fn nft_ruleset() -> String {
    let map: Vec<String> = (0..REALS)
        .map(|i| format!("{i} : {}", nft_real(i)))
        .collect();
    format!(
        "table ip lb_bench {{\n\
         \tcounter new_conns {{ }}\n\
         \tchain pre {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tip daddr {VIP} tcp dport {PORT} counter name \"new_conns\" dnat to jhash ip saddr . tcp sport mod {REALS} map {{ {} }}\n\
         \t}}\n\
         }}\n",
        map.join(", ")
    )
}

fn nft_dnat_count(ns: &Netns) -> u64 {
    let out = ns.exec(&[
        "nft",
        "-j",
        "list",
        "counter",
        "ip",
        "lb_bench",
        "new_conns",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("nft -j");
    v["nftables"]
        .as_array()
        .and_then(|a| a.iter().find_map(|e| e["counter"]["packets"].as_u64()))
        .unwrap_or_else(|| panic!("the dnat counter in {out}"))
}

impl Chain {
    /// Builds the three chains in the harness's namespace (which the bench has entered) and
    /// attaches their programs; the nat service on [`PORT`] is in the harness's config.
    pub fn new(h: &mut Harness) -> Chain {
        let ns = &h.ns;
        for (a, b) in [
            ("cg0", "cd0"),
            ("cd1", "cs0"),
            ("fg0", "fd0"),
            ("fd1", "fs0"),
            ("ng0", "nd0"),
            ("nd1", "ns0"),
        ] {
            ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
            for dev in [a, b] {
                // No IPv6 on the chain: the kernel's own solicitations and reports would
                // reach the sink (and lb) uncounted by the generator.
                ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6"), "1");
                ns.ip(&["link", "set", dev, "up"]);
            }
        }
        for (dev, addr) in [
            ("cd0", "10.201.0.1/24"),
            ("cd1", "10.201.1.1/24"),
            ("nd0", "10.202.0.1/24"),
            ("nd1", "10.202.1.1/24"),
        ] {
            ns.ip(&["addr", "add", addr, "dev", dev]);
            ns.sysctl(&format!("net.ipv4.conf.{dev}.forwarding"), "1");
            ns.sysctl(&format!("net.ipv4.conf.{dev}.rp_filter"), "0");
        }
        ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
        let (cs0_mac, ns0_mac) = (ns.mac("cs0"), ns.mac("ns0"));
        for i in 0..REALS {
            ns.neighbour("cd1", real(i).into(), cs0_mac);
            ns.neighbour("nd1", nft_real(i).into(), ns0_mac);
        }
        let path = std::env::temp_dir().join(format!("lb-bench-{}.nft", std::process::id()));
        std::fs::write(&path, nft_ruleset()).expect("the nftables ruleset");
        ns.exec(&["nft", "-f", path.to_str().expect("a path")]);
        let _ = std::fs::remove_file(&path);
        // The shim writes flows without fixing the TCP checksum (lb does not read it);
        // conntrack would call such packets invalid and leave them un-NATed.
        ns.sysctl("net.netfilter.nf_conntrack_checksum", "0");
        for (prog, dev) in [
            ("lb", "cd0"),
            ("lb", "cd1"),
            ("bench_redirect", "fd0"),
            ("pass", "nd0"),
            ("bench_drop", "cs0"),
            ("bench_drop", "fs0"),
            ("bench_drop", "ns0"),
        ] {
            let p = h.dp.program(prog).unwrap_or_else(|e| panic!("{e}"));
            p.attach(dev, AyaXdpMode::Driver)
                .unwrap_or_else(|e| panic!("attach {prog} to {dev} (native): {e}"));
        }
        let ends = |generator: &str, director: &str, sink: &'static str| {
            // bench_tx swaps the MACs: the frame leaves the generator addressed to the
            // director's first arm.
            let (gen_mac, dir_mac) = (ns.mac(generator), ns.mac(director));
            let frame = |flags: u8| {
                let ip = Ipv4::new(CLIENT, VIP, 6);
                eth(
                    gen_mac,
                    dir_mac,
                    ETH_P_IP,
                    &ip.build(&tcp(CLIENT, VIP, 40000, PORT, flags, &[0u8; 20])),
                )
            };
            Ends {
                gen_ifindex: ns.ifindex(generator),
                sink,
                syn: frame(TCP_SYN),
                ack: frame(TCP_ACK),
            }
        };
        Chain {
            lb: ends("cg0", "cd0", "cs0"),
            floor: ends("fg0", "fd0", "fs0"),
            nft: ends("ng0", "nd0", "ns0"),
            floor_to: ns.ifindex("fd1"),
        }
    }
}

/// Packets the sink's veth has received (its NAPI counts every frame it polls).
fn received(h: &Harness, dev: &str) -> u64 {
    let out = h.ns.ip(&["-s", "-j", "link", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link");
    v[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("rx packets of {dev} in {out}"))
}

/// What one run did: the kernel's ns per packet, lb's counters' change, the frames the sink
/// received and the packets the nftables DNAT rule counted.
struct Ran {
    ns: f64,
    delta: Vec<(&'static str, u64)>,
    sunk: u64,
    dnat: u64,
}

/// Runs `n` frames through one chain with the shim in `r`'s mode.
fn run(h: &mut Harness, ends: &Ends, packet: &[u8], r: &Repeats, n: u32) -> Ran {
    h.shim_target("bench_tx");
    h.shim_state(packet, r);
    let before = h.reasons();
    let got = received(h, ends.sink);
    let dnat = nft_dnat_count(&h.ns);
    let ns = h.shim_run_live(packet, n, ends.gen_ifindex);
    // The last batch's polls ran before the call returned; a frame still queued would show
    // as missing below.
    Ran {
        ns,
        delta: reason_delta(&before, &h.reasons()),
        sunk: received(h, ends.sink) - got,
        dnat: nft_dnat_count(&h.ns) - dnat,
    }
}

/// How a case's run must have gone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// lb's counters do not move (the floor and the nftables chain).
    NoLb,
    /// Every packet an lb hit (or a new connection), redirected to the other arm.
    LbHits,
    LbNew,
}

fn check(expect: Expect, dnat_want: u64, n: u32, ran: &Ran) -> Result<(), String> {
    let n = n as u64;
    let mut wrong = Vec::new();
    let want: &[(&str, u64)] = match expect {
        Expect::NoLb => &[],
        Expect::LbHits => &[
            ("conn_new", 0),
            ("conn_hit", n),
            ("conn_flood", 0),
            ("redirect", n),
        ],
        Expect::LbNew => &[
            ("conn_new", n),
            ("conn_hit", 0),
            ("conn_flood", 0),
            ("redirect", n),
        ],
    };
    if expect == Expect::NoLb && !ran.delta.is_empty() {
        wrong.push("lb's counters moved".to_string());
    }
    for (name, v) in want {
        if count(&ran.delta, name) != *v {
            wrong.push(format!("{name} {} (expected {v})", count(&ran.delta, name)));
        }
    }
    if ran.sunk != n {
        wrong.push(format!("the sink received {} (expected {n})", ran.sunk));
    }
    if ran.dnat != dnat_want {
        wrong.push(format!(
            "the nftables DNAT rule counted {} (expected {dnat_want})",
            ran.dnat
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; lb's counters: {:?}",
            wrong.join(", "),
            ran.delta
        ))
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
    #[rustfmt::skip]
    let mut cases: Vec<ChainCase> = [
        ("chain_floor", "veth chain, the director only redirects to its other arm (the floor)"),
        ("chain_nat_16k_flows", "veth chain, two-armed lb nat director, 16384 established flows in turn, mh"),
        ("chain_nat_new_flows", "veth chain, two-armed lb nat director, every packet the SYN of a flow never seen, mh"),
        ("chain_nftables_16k_flows", "veth chain, the kernel forwarding with nftables DNAT (jhash), 16384 established flows in turn"),
        ("chain_nftables_new_flows", "veth chain, the kernel forwarding with nftables DNAT (jhash), every packet the SYN of a flow never seen"),
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
    let est = base;
    let new_base = base + FLOWS;
    let cycle = |round: u32| Repeats {
        mode: BENCH_FLOOD,
        first: base,
        every: 1,
        est_base: est,
        est_n: FLOWS,
        est_i: (round * repeat) % FLOWS,
        ..Default::default()
    };
    // The established flows: through lb, each one's SYN then its ACK; through conntrack,
    // each one's ACK, which it picks up as established (nf_conntrack_tcp_loose).
    let flows = FLOWS as u64;
    let ran = run(
        h,
        &chain.lb,
        &chain.lb.ack,
        &Repeats::pairs(est, TCP_SYN),
        2 * FLOWS,
    );
    let mut warm = if count(&ran.delta, "conn_new") == flows && ran.sunk == 2 * flows {
        Ok(())
    } else {
        Err(format!(
            "making lb's {FLOWS} established flows: conn_new {} (expected {FLOWS}), the sink \
             received {} (expected {}); lb's counters: {:?}",
            count(&ran.delta, "conn_new"),
            ran.sunk,
            2 * FLOWS,
            ran.delta
        ))
    };
    let ran = run(h, &chain.nft, &chain.nft.ack, &cycle(0), FLOWS);
    if warm.is_ok() && (ran.dnat != flows || ran.sunk != flows) {
        warm = Err(format!(
            "making conntrack's {FLOWS} established flows: the DNAT rule counted {}, the sink \
             received {} (expected {FLOWS} each)",
            ran.dnat, ran.sunk
        ));
    }
    for round in 0..rounds {
        let mut t = [0.0; 5];
        for (k, c) in cases.iter_mut().enumerate() {
            let n = repeat;
            let new = Repeats::new_flows(new_base + round * repeat);
            let (ran, verdict) = match k {
                0 => {
                    let r = Repeats {
                        mode: BENCH_FIXED,
                        first: base,
                        redirect: chain.floor_to,
                        ..Default::default()
                    };
                    let ran = run(h, &chain.floor, &chain.floor.ack, &r, n);
                    let v = check(Expect::NoLb, 0, n, &ran);
                    (ran, v)
                }
                1 => {
                    let ran = run(h, &chain.lb, &chain.lb.ack, &cycle(round), n);
                    let v = warm
                        .clone()
                        .and_then(|()| check(Expect::LbHits, 0, n, &ran));
                    (ran, v)
                }
                2 => {
                    let ran = run(h, &chain.lb, &chain.lb.syn, &new, n);
                    let v = check(Expect::LbNew, 0, n, &ran);
                    (ran, v)
                }
                3 => {
                    // The previous round emptied conntrack (below): each round picks its
                    // established flows up again first, unmeasured.
                    if round > 0 {
                        run(h, &chain.nft, &chain.nft.ack, &cycle(0), FLOWS);
                    }
                    let ran = run(h, &chain.nft, &chain.nft.ack, &cycle(round), n);
                    let v = warm.clone().and_then(|()| check(Expect::NoLb, 0, n, &ran));
                    (ran, v)
                }
                _ => {
                    let ran = run(h, &chain.nft, &chain.nft.syn, &new, n);
                    let v = check(Expect::NoLb, n as u64, n, &ran);
                    // A full conntrack table makes room by dropping entries that saw no
                    // reply, the established case's among them: emptied for the next round.
                    h.ns.exec(&["conntrack", "-F"]);
                    (ran, v)
                }
            };
            if let Err(e) = verdict
                && c.failure.is_none()
            {
                c.failure = Some(format!("round {round}: {e}"));
            }
            c.samples.push(ran.ns);
            c.counters = ran.delta;
            t[k] = ran.ns;
        }
        for (k, c) in cases.iter_mut().enumerate() {
            c.ratios.push(t[k] / t[0]);
        }
    }
    report_header("veth chain", "x floor");
    let mut failed = Vec::new();
    let mut json = Vec::new();
    for c in &cases {
        if let Some(f) = &c.failure {
            failed.push(format!("{}: {f}", c.name));
        }
        json.push(serde_json::Value::Object(report_row(
            Row {
                name: c.name,
                what: c.what,
                samples: &c.samples,
                ratios: &c.ratios,
                failure: &c.failure,
                counters: &c.counters,
            },
            "ratio_to_floor",
        )));
    }
    let doc = serde_json::json!({
        "repeat": repeat,
        "rounds": rounds,
        "baseline": "chain_floor",
        "cases": json,
    });
    (doc, failed)
}
