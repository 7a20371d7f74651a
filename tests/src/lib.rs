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

/// Skips the calling test (returns early) with a reason when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!("skipped: needs root (BPF and network namespaces)");
            return;
        }
    };
}
