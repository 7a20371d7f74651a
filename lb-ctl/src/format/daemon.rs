//! `-L --daemon`: the connection-synchronisation daemons (lb runs none).

use std::{fmt::Write as _, net::IpAddr};

use super::address::inet_ntop6;

/// A connection-synchronisation daemon (lb has none; ipvsadm's `--daemon` lists them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncDaemon {
    /// "master" or "backup".
    pub state: String,
    pub mcast_interface: String,
    pub syncid: u8,
    /// What newer kernels report too (0 or None: not reported).
    pub sync_maxlen: u32,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// `list_daemon` (`-L --daemon`): one line per running sync daemon, nothing when none runs.
///
/// ```c
/// printf("%s sync daemon (mcast=%s, syncid=%d", type, u[i].mcast_ifn, u[i].syncid);
/// if (u[i].sync_maxlen) printf(", maxlen=%u", u[i].sync_maxlen);
/// if (u[i].mcast_af != AF_UNSPEC) printf(", group=%s", addr);   /* inet_ntop */
/// if (u[i].mcast_port) printf(", port=%u", u[i].mcast_port);
/// if (u[i].mcast_ttl) printf(", ttl=%u", u[i].mcast_ttl);
/// printf(")\n");
/// ```
pub fn daemons(daemons: &[SyncDaemon]) -> String {
    let mut out = String::new();
    for d in daemons {
        let _ = write!(
            out,
            "{} sync daemon (mcast={}, syncid={}",
            d.state, d.mcast_interface, d.syncid
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        match d.mcast_group {
            Some(IpAddr::V4(a)) => {
                let _ = write!(out, ", group={a}");
            }
            Some(IpAddr::V6(a)) => {
                let _ = write!(out, ", group={}", inet_ntop6(a));
            }
            None => {}
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_lines() {
        assert_eq!(daemons(&[]), "");
        assert_eq!(
            daemons(&[
                SyncDaemon {
                    state: "master".into(),
                    mcast_interface: "eth0".into(),
                    syncid: 1,
                    ..Default::default()
                },
                SyncDaemon {
                    state: "backup".into(),
                    mcast_interface: "eth1".into(),
                    syncid: 255,
                    sync_maxlen: 1472,
                    mcast_group: Some("224.0.0.81".parse().unwrap()),
                    mcast_port: 8848,
                    mcast_ttl: 1,
                },
            ]),
            "master sync daemon (mcast=eth0, syncid=1)\n\
             backup sync daemon (mcast=eth1, syncid=255, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
        );
    }
}
