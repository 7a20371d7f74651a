//! Shared fixtures of lb's tests, demo and benchmark: network-namespace guards, the live
//! topology, a packet builder, and a loaded data plane in a namespace for `BPF_PROG_TEST_RUN`.

pub mod netns;
pub mod packet;
pub mod servers;
pub mod solo;
pub mod testrun;
pub mod topo;

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
