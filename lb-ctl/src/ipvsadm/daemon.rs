//! The connection-synchronisation daemon's options: `--start-daemon`, `--stop-daemon`
//! (master or backup), `--syncid`, `--mcast-*`, `--sync-maxlen`, checked as ipvsadm checks
//! them, and the command they make.

use std::net::{IpAddr, Ipv4Addr};

use lb_model::{api::DaemonRole, config::SyncConfig};

use super::c_values::number;
use crate::{
    cli::{CommandFlags, DaemonOptions},
    command::{Command, UsageError},
};

/// ipvsadm's default `--syncid` (its usage: "default=255").
pub const DEFAULT_SYNCID: u8 = 255;

fn role(state: &str) -> DaemonRole {
    if state == "backup" {
        DaemonRole::Backup
    } else {
        DaemonRole::Master
    }
}

/// `--start-daemon STATE` with its options (already checked by [`check_sync_options`] and
/// [`check_states`]). An unset option is lbd's default (the interface: lbd's own).
pub(super) fn start(c: &CommandFlags, d: &DaemonOptions) -> Result<Command, UsageError> {
    let state = c.start_daemon.as_deref().unwrap_or("master");
    let num = |v: &Option<String>, max: i64| v.as_deref().and_then(|s| number(s, 0, max));
    // Checked by `check_sync_options`: a multicast address of the family its colon says.
    let mcast_group = d
        .mcast_group
        .as_deref()
        .and_then(|g| g.parse::<IpAddr>().ok());
    let options = SyncConfig {
        send: state == "master",
        receive: state == "backup",
        syncid: num(&d.syncid, 255).map_or(DEFAULT_SYNCID, |n| n as u8),
        mcast_interface: d.mcast_interface.clone(),
        mcast_group,
        mcast_port: num(&d.mcast_port, 65535).map(|n| n as u16),
        mcast_ttl: num(&d.mcast_ttl, 255).map(|n| n as u8),
        sync_maxlen: num(&d.sync_maxlen, 65535).map(|n| n as u16),
        peers: Vec::new(),
        bulk_from: Vec::new(),
        auth_key_file: None,
    };
    Ok(Command::StartDaemon {
        role: role(state),
        options,
    })
}

/// `--stop-daemon STATE`.
pub(super) fn stop(c: &CommandFlags) -> Command {
    Command::StopDaemon {
        role: role(c.stop_daemon.as_deref().unwrap_or("master")),
    }
}

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
