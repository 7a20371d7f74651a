//! A loaded data plane inside a private network namespace, driven with `BPF_PROG_TEST_RUN`:
//! the one harness of the packet tests.
//!
//! `lb` takes next hops from the kernel's FIB, so the harness gives it a small world: a
//! namespace with one veth (`eth0`, the director's [`DIRECTOR`]/24 and [`DIRECTOR6`]/64,
//! forwarding on) and permanent neighbour entries for the addresses the test names, with the
//! MACs of [`real_mac`]. Packets are run with `ingress_ifindex` = eth0, as if they had
//! arrived there.

use std::net::IpAddr;

use aya::programs::{TestRun, TestRunOptions};
use lb_common::{FlowKey, REASON_MAX, Stats, VipKey};
use lb_daemon::{
    dataplane::{Dataplane, LoadOptions},
    plan::{ApplyReport, Planner as State},
};

use crate::{
    config::ConfigBuilder,
    consts::{CLIENT_MAC, DIRECTOR, DIRECTOR6, real_mac},
    netns::{Entered, Netns},
    packet::{TCP_SYN, eth_ip, tcp_ip},
};

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
    /// Loads the object, applies `config` through the daemon's own code, and adds neighbour
    /// entries for `neighbours`.
    pub fn new<A: Into<IpAddr> + Copy>(config: &ConfigBuilder, neighbours: &[A]) -> Self {
        Self::with_bench_tables(config, neighbours, None)
    }

    /// [`Harness::new`], with the benchmark's experiment tables of `bench_table_size` entries.
    pub fn with_bench_tables<A: Into<IpAddr> + Copy>(
        config: &ConfigBuilder,
        neighbours: &[A],
        bench_table_size: Option<u32>,
    ) -> Self {
        let cfg = config.build();
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
            ns.neighbour("eth0", (*a).into(), real_mac(*a));
        }
        let ifindex = ns.ifindex("eth0");
        let if_mac = ns.mac("eth0");
        let entered = ns.enter();
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

    /// Applies another config through the daemon's code, as lbd does on a change.
    pub fn apply(&mut self, config: &ConfigBuilder) -> ApplyReport {
        self.state
            .apply(&mut self.dp, &config.build())
            .unwrap_or_else(|e| panic!("apply: {e}"))
    }

    /// A frame from a client ([`CLIENT_MAC`]) to eth0 around `ip`.
    pub fn from_client(&self, ip: &[u8]) -> Vec<u8> {
        eth_ip(self.if_mac, CLIENT_MAC, ip)
    }

    /// A frame from `addr`'s neighbour MAC ([`real_mac`]) to eth0 around `ip`: a real server's
    /// (or an on-link client's) packet.
    pub fn from_neighbour(&self, addr: impl Into<IpAddr>, ip: &[u8]) -> Vec<u8> {
        eth_ip(self.if_mac, real_mac(addr), ip)
    }

    /// A client's TCP SYN (default header fields, no payload) from `src:sport` to `dst:dport`.
    pub fn syn(
        &self,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        sport: u16,
        dport: u16,
    ) -> Vec<u8> {
        self.from_client(&tcp_ip(src, dst, sport, dport, TCP_SYN, b""))
    }

    /// The id lbd gave real server `addr` of service `key`, if it is one.
    pub fn real_id(&self, key: &VipKey, addr: impl Into<IpAddr>) -> Option<u32> {
        let addr = addr.into();
        self.state
            .real_ids(key)
            .into_iter()
            .find(|(a, _, _)| *a == addr)
            .map(|(_, _, id)| id)
    }

    /// The address of the real server of service `key` with id `id`.
    pub fn real_addr_of(&self, key: &VipKey, id: u32) -> IpAddr {
        self.state
            .real_ids(key)
            .into_iter()
            .find(|(_, _, rid)| *rid == id)
            .unwrap_or_else(|| panic!("no real server {id} in the service"))
            .0
    }

    /// The id of service `key` in the data plane.
    pub fn service_id(&self, key: &VipKey) -> u32 {
        self.dp.service(key).expect("service in map").id
    }

    /// The table of service `key` as `lb` reads it (real-server ids).
    pub fn table(&self, key: &VipKey) -> Vec<u32> {
        let svc = self.dp.service(key).expect("service in map");
        self.dp.read_table(svc.table_off, svc.table_len).unwrap()
    }

    /// The real server the daemon's table gives `flow` of service `key` (the reference
    /// computation: the shared hash into the table lbd wrote), for the hashing schedulers.
    pub fn table_real(&self, key: &VipKey, flow: &FlowKey) -> IpAddr {
        let svc = self.dp.service(key).expect("service in map");
        // sh and mh hash the client address (and its port with their -port flag), dh the
        // destination, as lb does.
        let slot = lb_common::hash::sched_hash(
            flow,
            svc.sched,
            svc.sched_flags & lb_common::SCHED_F_PORT != 0,
        ) % svc.table_len;
        let id = self.dp.read_table(svc.table_off + slot, 1).unwrap()[0];
        self.real_addr_of(key, id)
    }

    /// Runs `prog` once on `pkt` as if it arrived on eth0.
    pub fn run(&mut self, prog: &'static str, pkt: &[u8]) -> Outcome {
        let ifindex = self.ifindex;
        let p = self.dp.program(prog).unwrap_or_else(|e| panic!("{e}"));
        let mut out = vec![0u8; pkt.len() + 256];
        let ctx = crate::shim::xdp_md(pkt.len(), ifindex);
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

    /// The reason counters, summed over CPUs.
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
