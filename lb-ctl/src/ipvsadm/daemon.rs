//! The connection-synchronisation daemon's options: `--start-daemon`, `--stop-daemon`
//! (master or backup), `--syncid`, `--mcast-*`, `--sync-maxlen`. lb has no sync daemon, but
//! their values are checked as ipvsadm checks them.

use std::net::Ipv4Addr;

use super::c_values::number;
use crate::{
    cli::{CommandFlags, DaemonOptions},
    command::UsageError,
};

/// `--syncid`, `--mcast-group`, `--mcast-port`, `--mcast-ttl`, `--sync-maxlen`.
pub(super) fn check_sync_options(d: &DaemonOptions) -> Result<(), UsageError> {
    if let Some(sid) = &d.syncid
        && number(sid, 0, 255).is_none()
    {
        return Err(UsageError::new("illegal syncid specified"));
    }
    if let Some(g) = &d.mcast_group {
        // inet_pton of the family the colon says, and a multicast address of it.
        if g.contains(':') {
            if !g
                .parse::<std::net::Ipv6Addr>()
                .is_ok_and(|a| a.is_multicast())
            {
                return Err(UsageError::new(format!("invalid IPv6 mcast-group `{g}'")));
            }
        } else if !g.parse::<Ipv4Addr>().is_ok_and(|a| a.is_multicast()) {
            return Err(UsageError::new(format!("invalid IPv4 mcast-group `{g}'")));
        }
    }
    for (v, max, what) in [
        (&d.mcast_port, 65535, "mcast-port"),
        (&d.mcast_ttl, 255, "mcast-ttl"),
        (&d.sync_maxlen, 65535 - 20 - 8, "sync-maxlen"),
    ] {
        if let Some(v) = v
            && number(v, 1, max).is_none()
        {
            return Err(UsageError::new(format!("illegal {what} specified")));
        }
    }
    Ok(())
}

/// The state of `--start-daemon` and `--stop-daemon`.
pub(super) fn check_states(c: &CommandFlags) -> Result<(), UsageError> {
    if let Some(st) = &c.start_daemon
        && st != "master"
        && st != "backup"
    {
        return Err(UsageError::new("illegal start-daemon parameter specified"));
    }
    if let Some(st) = &c.stop_daemon
        && st != "master"
        && st != "backup"
    {
        // sic: ipvsadm's words for --stop-daemon
        return Err(UsageError::new("illegal start_daemon specified"));
    }
    Ok(())
}
