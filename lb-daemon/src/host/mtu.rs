//! An interface's MTU, asked of the current network namespace by rtnetlink (/sys would show
//! the namespace it was mounted in, which with `--netns` is the host's). The data plane sizes
//! each tunnelled packet by the MTU the FIB reports for its route (route and link MTUs); this
//! one is the fallback when the FIB reports none.

use anyhow::{Context, Result, bail};
use lb_model::config::{Config, ConfigError};

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

/// The smallest MTU of the interfaces `cfg` names (any may be a tunnel's egress): the
/// tunnels' fallback. An interface that does not exist (or whose MTU cannot be read) is an
/// error naming its config field (`interface`, `interfaces[i]`).
pub fn smallest(cfg: &Config) -> Result<u32, ConfigError> {
    let mut mtu = u32::MAX;
    for (i, iface) in cfg.interfaces().iter().enumerate() {
        let field = if cfg.interface.is_some() {
            "interface".to_string()
        } else {
            format!("interfaces[{i}]")
        };
        let m = interface_mtu(iface)
            .map_err(|e| ConfigError::new(field, format!("{iface:?}: {e:#}")))?;
        mtu = mtu.min(m);
    }
    Ok(mtu)
}
