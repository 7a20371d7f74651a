//! Entering a named network namespace (`ip netns` style, /run/netns/NAME) for the whole
//! process, while keeping the host's mount namespace and so its bpffs (which `ip netns exec`
//! would hide behind a fresh /sys).

use std::{fs::File, os::fd::AsRawFd};

use anyhow::{Context, Result, bail};

pub fn enter(name: &str) -> Result<()> {
    if name.contains('/') || name.is_empty() {
        bail!("--netns {name:?}: not a namespace name");
    }
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).with_context(|| format!("--netns {name}: opening {path}"))?;
    // SAFETY: setns on a namespace fd; called before any thread is started.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("--netns {name}"));
    }
    Ok(())
}
