//! A loaded data plane inside a private network namespace, driven with `BPF_PROG_TEST_RUN`.
//!
//! `lb` takes next hops from the kernel's FIB, so the harness gives it a small world: a
//! namespace with one veth (`eth0`, the director's 198.18.0.2/24, forwarding on) and permanent
//! neighbour entries for the real servers' addresses with known MACs. Packets are run with
//! `ingress_ifindex` = eth0, as if they had arrived there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aya::programs::{TestRun, TestRunOptions};
use lb_common::{REASON_MAX, Stats};
use lb_daemon::{
    config::Config,
    dataplane::{Dataplane, LoadOptions},
    state::State,
};

use crate::{
    netns::{Entered, Netns},
    packet::hex,
};

pub const DIRECTOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The director's IPv6 address (RFC 5180's benchmarking prefix, 2001:2::/48).
pub const DIRECTOR6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
pub const CLIENT_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0, 0x01];

/// The MAC the harness gives neighbour `addr` in its neighbour table.
pub fn real_mac(addr: impl Into<IpAddr>) -> [u8; 6] {
    match addr.into() {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0xaa, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0xbb, o[12], o[13], o[14], o[15]]
        }
    }
}

pub struct Harness {
    pub dp: Dataplane,
    pub state: State,
    pub ifindex: u32,
    pub if_mac: [u8; 6],
    // Field order is drop order: leave the namespace before deleting it.
    _entered: Entered,
    pub ns: Netns,
}

/// What one run of a program did.
pub struct Outcome {
    pub action: u32,
    pub data: Vec<u8>,
}

impl Harness {
    /// Loads the object, applies `config` (JSON text) through the daemon's own code, and
    /// adds neighbour entries for `neighbours`.
    pub fn new<A: Into<IpAddr> + Copy>(config: &str, neighbours: &[A]) -> Self {
        Self::with_bench_tables(config, neighbours, None)
    }

    /// [`Harness::new`], with the benchmark's experiment tables of `bench_table_size` entries.
    pub fn with_bench_tables<A: Into<IpAddr> + Copy>(
        config: &str,
        neighbours: &[A],
        bench_table_size: Option<u32>,
    ) -> Self {
        let ns = Netns::new("pkt");
        ns.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
        ]);
        ns.ip(&["addr", "add", &format!("{DIRECTOR}/24"), "dev", "eth0"]);
        ns.ip(&[
            "addr",
            "add",
            &format!("{DIRECTOR6}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        ns.ip(&["link", "set", "eth0", "up"]);
        ns.ip(&["link", "set", "peer0", "up"]);
        ns.sysctl("net.ipv4.conf.eth0.forwarding", "1");
        ns.sysctl("net.ipv6.conf.eth0.forwarding", "1");
        for a in neighbours {
            let a: IpAddr = (*a).into();
            let m = real_mac(a);
            let mac = m.map(|b| format!("{b:02x}")).join(":");
            ns.ip(&[
                "neigh",
                "replace",
                &a.to_string(),
                "lladdr",
                &mac,
                "dev",
                "eth0",
                "nud",
                "permanent",
            ]);
        }
        let ifindex = ns.ifindex("eth0");
        let if_mac = ns.mac("eth0");
        let entered = ns.enter();
        let cfg = Config::parse(config, "test config").unwrap_or_else(|e| panic!("{e}"));
        let mut dp = Dataplane::load(&LoadOptions {
            pin_dir: None,
            conn_table_size: Some(cfg.conn_table_size()),
            conn_table_size_v6: Some(cfg.conn_table_size_v6()),
            bench_table_size,
        })
        .unwrap_or_else(|e| panic!("load: {e}"));
        let mut state = State::new(dp.table_capacity(), 1500);
        state
            .apply(&mut dp, &cfg)
            .unwrap_or_else(|e| panic!("apply: {e}"));
        Harness {
            dp,
            state,
            ifindex,
            if_mac,
            _entered: entered,
            ns,
        }
    }

    /// The real server the daemon's table gives `flow` of service `key` (the reference
    /// computation: the same flow hash into the table lbd wrote), for the table-driven
    /// schedulers that hash the whole 5-tuple (`mh`).
    pub fn table_real(&self, key: &lb_common::VipKey, flow: &lb_common::FlowKey) -> IpAddr {
        let svc = self.dp.service(key).expect("service in map");
        // sh and mh hash the client address (and its port with their -port flag), dh the
        // destination, as lb does.
        let slot = lb_common::hash::sched_hash(
            flow,
            svc.sched,
            svc.sched_flags & lb_common::SCHED_F_PORT != 0,
        ) % svc.table_len;
        let id = self.dp.read_table(svc.table_off + slot, 1).unwrap()[0];
        self.state
            .real_ids(key)
            .into_iter()
            .find(|(_, _, rid)| *rid == id)
            .expect("the table names a real server of the service")
            .0
    }

    /// Runs `prog` once on `pkt` as if it arrived on eth0.
    pub fn run(&mut self, prog: &'static str, pkt: &[u8]) -> Outcome {
        let ifindex = self.ifindex;
        let p = self.dp.program(prog).unwrap_or_else(|e| panic!("{e}"));
        let mut out = vec![0u8; pkt.len() + 256];
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex (u32 each): data 0 and data_end the packet's length (the kernel checks
        // both), no metadata.
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(pkt.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
        let r = p
            .test_run(TestRunOptions {
                data_in: Some(pkt),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx),
                repeat: 1,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("test_run {prog}: {e}"));
        out.truncate(r.data_size_out as usize);
        Outcome {
            action: r.return_value,
            data: out,
        }
    }

    pub fn reasons(&self) -> Vec<u64> {
        let r = self.dp.reasons().expect("reasons");
        assert_eq!(r.len(), REASON_MAX as usize);
        r
    }

    pub fn service_stats(&self, id: u32) -> Stats {
        self.dp.service_stats(id).expect("stats")
    }

    pub fn real_stats(&self, id: u32) -> Stats {
        self.dp.real_stats(id).expect("stats")
    }
}

/// The difference between two reason-counter snapshots, as (name, delta) for non-zero ones.
pub fn reason_delta(before: &[u64], after: &[u64]) -> Vec<(&'static str, u64)> {
    before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(_, (b, a))| a != b)
        .map(|(i, (b, a))| (lb_common::REASON_NAMES[i], a - b))
        .collect()
}

/// Asserts two frames are equal, dumping both in hex when they are not.
pub fn assert_frame(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}: output differs\n--- got ({} bytes)\n{}\n--- want ({} bytes)\n{}",
        got.len(),
        hex(got),
        want.len(),
        hex(want)
    );
}

/// One fixture, as Katran's tester reads them: what it shows, the input, the expected verdict,
/// the expected output bytes (`None`: the input unchanged) and the expected reason-counter
/// changes, all asserted together; a failure dumps both frames.
pub fn check(
    h: &mut Harness,
    what: &str,
    input: &[u8],
    action: u32,
    want: Option<&[u8]>,
    reasons: &[(&str, u64)],
) -> Vec<u8> {
    let before = h.reasons();
    let out = h.run("lb", input);
    assert_eq!(out.action, action, "{what}: verdict");
    assert_frame(what, &out.data, want.unwrap_or(input));
    assert_eq!(
        reason_delta(&before, &h.reasons()),
        reasons,
        "{what}: counters"
    );
    out.data
}
