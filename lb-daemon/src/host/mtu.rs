//! An interface's MTU, asked of the current network namespace by rtnetlink (/sys would show
//! the namespace it was mounted in, which with `--netns` is the host's). The data plane sizes
//! each tunnelled packet by the MTU the FIB reports for its route (route and link MTUs); this
//! one is the fallback when the FIB reports none.

use anyhow::{Context, Result, bail};

use super::netlink;

/// The MTU of interface `iface`.
pub fn interface_mtu(iface: &str) -> Result<u32> {
    match netlink::link_by_name(iface)
        .with_context(|| format!("interface {iface}: reading its MTU"))?
    {
        Some(l) => Ok(l.mtu),
        None => bail!("interface {iface}: no such interface in this network namespace"),
    }
}
