//! Entering a named network namespace (`ip netns` style, /run/netns/NAME) for the whole
//! process, while keeping the host's mount namespace and so its bpffs (which `ip netns exec`
//! would hide behind a fresh /sys).

use std::fs::File;

use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};

pub fn enter(name: &str) -> Result<()> {
    if name.contains('/') || name.is_empty() {
        bail!("--netns {name:?}: not a namespace name");
    }
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).with_context(|| format!("--netns {name}: opening {path}"))?;
    // Called before any thread is started.
    setns(&f, CloneFlags::CLONE_NEWNET)
        .map_err(std::io::Error::from)
        .with_context(|| format!("--netns {name}"))
}
