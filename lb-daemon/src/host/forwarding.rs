//! The director's IP forwarding, which the kernel's FIB lookup from XDP needs, and what the
//! kernel needs to forward the packets `lb` hands it (`pass_no_neigh`) and the replies of
//! `dr` / `tun` real servers that come back through the director.

use anyhow::{Context, Result};
use lb_model::config::Config;
use tracing::{info, warn};

/// For every interface `lb` is attached to:
/// - forwarding on: the kernel's FIB lookup from XDP refuses to answer otherwise
///   (BPF_FIB_LKUP_RET_FWD_DISABLED). IPv4 always; IPv6 when the config has IPv6 addresses.
/// - IPv4 `accept_local` on: a packet `lb` rewrote and handed to the kernel because the next
///   hop had no neighbour entry yet (a `nat` reply from the VIP, a tunnel from the
///   director's address) has one of the director's own addresses as its source; without
///   `accept_local` the kernel drops it as a martian instead of resolving the neighbour and
///   forwarding it.
///
/// IPv6 forwarding by the kernel itself (of the handed-over packets) also needs
/// `net.ipv6.conf.all.forwarding`; lbd does not change that host-wide setting, and says so
/// when it is off.
pub fn enable(cfg: &Config) -> Result<()> {
    let v6 = cfg.has_ipv6();
    for iface in cfg.interfaces() {
        let mut settings = vec![(
            "IPv4 forwarding",
            format!("/proc/sys/net/ipv4/conf/{iface}/forwarding"),
        )];
        if v6 {
            settings.push((
                "IPv6 forwarding",
                format!("/proc/sys/net/ipv6/conf/{iface}/forwarding"),
            ));
        }
        settings.push((
            "IPv4 accept_local",
            format!("/proc/sys/net/ipv4/conf/{iface}/accept_local"),
        ));
        for (what, p) in settings {
            let cur =
                std::fs::read_to_string(&p).with_context(|| format!("interface {iface}: {p}"))?;
            if cur.trim() != "1" {
                std::fs::write(&p, "1").with_context(|| format!("enabling {what}: {p}"))?;
                info!(
                    interface = %iface,
                    "enabled {what} on the interface (the XDP FIB lookup and the packets lb hands to the kernel need it)"
                );
            }
        }
    }
    if v6 {
        let all = "/proc/sys/net/ipv6/conf/all/forwarding";
        if std::fs::read_to_string(all).is_ok_and(|s| s.trim() != "1") {
            warn!(
                "{all} is 0: IPv6 packets lb hands to the kernel (no neighbour entry yet, counted as pass_no_neigh) and IPv6 replies of dr/tun real servers routed through the director are not forwarded; set net.ipv6.conf.all.forwarding=1 on a two-armed director"
            );
        }
    }
    Ok(())
}
