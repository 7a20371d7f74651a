//! The director's IP forwarding, which the kernel's FIB lookup from XDP needs.

use anyhow::{Context, Result};
use lb_model::config::Config;
use tracing::info;

/// Forwarding must be on for the interface: the kernel's FIB lookup from XDP refuses to
/// answer otherwise (BPF_FIB_LKUP_RET_FWD_DISABLED). IPv4 always; IPv6 when the config has
/// IPv6 addresses.
pub fn enable(cfg: &Config) -> Result<()> {
    let iface = &cfg.interface;
    let v6 = cfg.has_ipv6();
    let mut paths = vec![(
        "IPv4",
        format!("/proc/sys/net/ipv4/conf/{iface}/forwarding"),
    )];
    if v6 {
        paths.push((
            "IPv6",
            format!("/proc/sys/net/ipv6/conf/{iface}/forwarding"),
        ));
    }
    for (family, p) in paths {
        let cur = std::fs::read_to_string(&p).with_context(|| format!("interface {iface}: {p}"))?;
        if cur.trim() != "1" {
            std::fs::write(&p, "1").with_context(|| format!("enabling forwarding: {p}"))?;
            info!(
                interface = %iface,
                "enabled {family} forwarding on the interface (needed for the XDP FIB lookup)"
            );
        }
    }
    Ok(())
}
