//! Many packets in one `BPF_PROG_TEST_RUN`: the object's `bench_shim` restores the packet's
//! first 64 bytes before each repeat, writes the repeat's flow into it (a 32-bit tuple number
//! in an IPv4 packet's source port and the low 16 bits of its source address, the header
//! checksum updated: see `lb_common::BENCH_*`) and tail-calls the program under test. The
//! benchmark measures with it; packet tests use it to send floods of distinct flows without
//! a system call per packet.

use std::os::fd::AsFd;

use aya::{
    maps::{PerCpuArray, PerCpuValues, ProgramArray},
    programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp},
};
use lb_common::{BENCH_FIXED, BenchState, map_name};

/// Frames per batch of a live-frames run: the veth's NAPI budget, so each batch is one poll
/// of the receiving veth (its ring holds 256).
const LIVE_BATCH: u32 = 64;

use crate::testrun::Harness;

/// What the shim writes into each repeat.
#[derive(Clone, Copy, Debug, Default)]
pub struct Repeats {
    /// `lb_common::BENCH_*`.
    pub mode: u32,
    /// The first (or, `BENCH_FIXED`, the only) tuple number.
    pub first: u32,
    /// TCP flags of a new flow's first packet (`BENCH_PAIRS`, `BENCH_FLOOD`).
    pub first_flags: u8,
    /// `BENCH_FLOOD`: one repeat in `every` is one of `est_n` established flows, tuple numbers
    /// from `est_base`, starting with the `est_i`-th.
    pub every: u32,
    pub est_base: u32,
    pub est_n: u32,
    pub est_i: u32,
    /// `bench_table`'s table (`lb_common::BENCH_TABLE_*`).
    pub table: u32,
    /// `bench_redirect`'s interface (an ifindex).
    pub redirect: u32,
}

impl Repeats {
    /// Every repeat a new flow, tuple numbers from `first` on.
    pub fn new_flows(first: u32) -> Self {
        Repeats {
            mode: lb_common::BENCH_NEW,
            first,
            ..Default::default()
        }
    }

    /// Pairs of packets of new flows, tuple numbers from `first` on: each flow's first
    /// packet with `first_flags`, then the packet's own flags.
    pub fn pairs(first: u32, first_flags: u8) -> Self {
        Repeats {
            mode: lb_common::BENCH_PAIRS,
            first,
            first_flags,
            ..Default::default()
        }
    }
}

impl Harness {
    /// Puts `program` behind the shim.
    pub fn shim_target(&mut self, program: &'static str) {
        let fd = {
            let p = self
                .dp
                .program(program)
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            p.fd()
                .expect("a loaded program")
                .try_clone()
                .expect("a program fd")
        };
        let ebpf = self.dp.ebpf_mut();
        let mut slots =
            ProgramArray::try_from(ebpf.map_mut(map_name::BENCH_PROGS).expect("the shim's map"))
                .expect("a program array");
        slots.set(0, &fd, 0).expect("the shim's slot");
        let _ = fd.as_fd();
    }

    /// The shim's state for `packet` (on every CPU).
    pub fn shim_state(&mut self, packet: &[u8], r: &Repeats) {
        assert!(
            packet.len() >= 64,
            "the shim restores a packet's first 64 bytes: give it a payload"
        );
        let n = aya::util::nr_cpus().expect("the number of CPUs");
        let ebpf = self.dp.ebpf_mut();
        let mut st: PerCpuArray<_, BenchState> = PerCpuArray::try_from(
            ebpf.map_mut(map_name::BENCH_STATE)
                .expect("the shim's state"),
        )
        .expect("a per-CPU array");
        let mut head = [0u64; 8];
        for (i, w) in head.iter_mut().enumerate() {
            *w = u64::from_ne_bytes(packet[i * 8..i * 8 + 8].try_into().expect("64 bytes"));
        }
        // A new-flow mode moves the counter on before each packet.
        let counter = if r.mode == BENCH_FIXED {
            r.first
        } else {
            r.first.wrapping_sub(1)
        };
        let v = BenchState {
            counter,
            mode: r.mode,
            restore: 1,
            every: r.every,
            seq: 0,
            first_flags: r.first_flags as u32,
            est_base: r.est_base,
            est_n: r.est_n,
            est_i: r.est_i,
            table: r.table,
            redirect: r.redirect,
            _pad: 0,
            head,
        };
        st.set(0, PerCpuValues::try_from(vec![v; n]).expect("values"), 0)
            .expect("the shim's state");
    }

    /// Runs the shim over `packet` `repeat` times (as if it arrived on eth0); returns the
    /// kernel's time per packet in ns.
    pub fn shim_run(&mut self, packet: &[u8], repeat: u32) -> f64 {
        let ifindex = self.ifindex;
        self.run_shim(packet, repeat, ifindex, TestRunAttrs::new())
    }

    /// The shim over `packet` `repeat` times as live frames (`BPF_F_TEST_XDP_LIVE_FRAMES`):
    /// what the program behind the shim returns is carried out for real, XDP_TX as a
    /// transmit on `ifindex` (the kernel turns it into a redirect to the ingress interface).
    /// Returns the kernel's time per packet in ns, which includes the softirq work the
    /// frames cause on this CPU (the receiving veths' NAPI runs when each batch ends).
    pub fn shim_run_live(&mut self, packet: &[u8], repeat: u32, ifindex: u32) -> f64 {
        self.run_shim(
            packet,
            repeat,
            ifindex,
            TestRunAttrs::new().xdp_live_frames(LIVE_BATCH),
        )
    }

    fn run_shim(&mut self, packet: &[u8], repeat: u32, ifindex: u32, attrs: TestRunAttrs) -> f64 {
        assert!(packet.len() >= 64, "the shim restores 64 bytes");
        let ctx = xdp_md(packet.len(), ifindex);
        let shim: &mut Xdp = self.dp.program("bench_shim").expect("the shim");
        let r = shim
            .test_run(TestRunOptions {
                data_in: Some(packet),
                ctx_in: Some(&ctx),
                repeat,
                attrs,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("bench_shim: {e}"));
        r.duration.as_nanos() as f64
    }

    /// `program` over `n` repeats of `packet` as `r` says.
    pub fn run_repeats(&mut self, program: &'static str, packet: &[u8], r: &Repeats, n: u32) {
        self.shim_target(program);
        self.shim_state(packet, r);
        self.shim_run(packet, n);
    }
}

/// The `struct xdp_md` a test run takes: data 0 and data_end the packet's length (the kernel
/// checks both), no metadata, the ingress interface; rx_queue_index and egress_ifindex 0
/// (six u32 in all).
pub fn xdp_md(len: usize, ifindex: u32) -> [u8; 24] {
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    ctx
}

/// The source address and port the shim gives tuple number `t` of an IPv4 packet from
/// `base` (whose high 16 bits it keeps).
pub fn tuple(base: std::net::Ipv4Addr, t: u32) -> (std::net::Ipv4Addr, u16) {
    let b = u32::from(base) & 0xffff_0000;
    (std::net::Ipv4Addr::from(b | (t >> 16)), t as u16)
}
