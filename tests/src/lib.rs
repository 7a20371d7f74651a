//! Shared fixtures of lb's tests, demo and benchmark: the constants of the test world, a
//! packet builder and the frames `lb` must emit, flow keys, floods of first packets, a typed
//! config builder, the schedulers' reference models, a loaded data plane in a namespace for
//! `BPF_PROG_TEST_RUN` with Katran-style fixture tables, network-namespace guards, the live
//! topology and lbd on its own, servers, and readers of lbd's listings and metrics.

pub mod config;
pub mod consts;
pub mod expect;
pub mod fixture;
pub mod flood;
pub mod flow;
pub mod ftp;
pub mod ha;
pub mod listing;
pub mod models;
pub mod mount;
pub mod netns;
pub mod packet;
pub mod servers;
pub mod shim;
pub mod solo;
pub mod tempdir;
pub mod testrun;
pub mod topo;
pub mod two_armed;

use std::{
    sync::{RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

/// True when running as root (every test here needs it); tests skip with a message otherwise.
pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The calling test needs root (BPF, XDP, network namespaces): without it the test fails,
/// so that a run without privileges never reports tests as passed that did not run. Set
/// `LB_TESTS_SKIP_UNPRIVILEGED=1` to skip them instead (they return early, saying so).
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            if std::env::var_os("LB_TESTS_SKIP_UNPRIVILEGED").is_some() {
                eprintln!("skipped: needs root (BPF and network namespaces)");
                return;
            }
            panic!(
                "needs root (BPF and network namespaces); set LB_TESTS_SKIP_UNPRIVILEGED=1 to skip"
            );
        }
    };
}

/// Skips the calling test for what the machine lacks (a kernel feature), saying so on stderr
/// and in a report `cargo xtask test` lists at its end (`skip-report-NAME.txt` in the
/// tests' `CARGO_TARGET_TMPDIR`): cargo counts a returned test as passed, and a skip must not
/// pass unseen.
#[macro_export]
macro_rules! skip {
    ($name:expr, $why:expr) => {{
        let why: &str = $why;
        eprintln!("skipped: {why}");
        let _ = std::fs::write(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("skip-report-{}.txt", $name)),
            why,
        );
        return;
    }};
}

/// Keeps the calling thread on `cpu`: per-CPU state (rr / wrr's cursor, per-CPU counters
/// read one CPU at a time) makes `lb`'s choices depend on the CPU a packet runs on. Every
/// test runs on a thread of its own, so this binds that test only.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, for the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// [`pin_to_cpu`] 0.
pub fn pin_to_cpu0() {
    pin_to_cpu(0)
}

/// The machine, as the live tests of one binary share it.
static MACHINE: RwLock<()> = RwLock::new(());

/// A live test's hold on the machine, kept as long as its topology. Live tests run side by
/// side ([`Share::side_by_side`], what a topology and a solo lbd take), except one that keeps
/// the CPUs busy on purpose ([`Share::alone`]): beside it, a test that measures how soon lbd
/// reacts would measure the load instead (a failed test's poisoned hold counts as released).
/// One hold per test: a second one on the same thread could wait behind a test that waits to
/// run alone.
pub enum Share {
    SideBySide(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

impl Share {
    /// Waits while a test runs alone, then runs beside the others.
    pub fn side_by_side() -> Self {
        Share::SideBySide(MACHINE.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits until no other live test runs, and keeps the others waiting.
    pub fn alone() -> Self {
        Share::Alone(MACHINE.write().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `limit`. Returns how
/// long it took.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}
