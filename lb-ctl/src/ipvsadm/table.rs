//! ipvsadm 1.31's tables of which options each command takes (`commands_v_options`) and
//! which options each tunnel type takes (`tunnel_types_v_options`), with the check of a row
//! against the options given (`generic_opt_check`, `tunnel_opt_check`) in ipvsadm's words.

use crate::command::UsageError;
use lb_model::{Named, TunType};

/// ipvsadm's commands (`CMD_*`), in its order: the rows of [`TABLE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

/// ipvsadm's names of its commands (`cmdnames`), as its messages say them.
pub(super) const CMD_NAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// ipvsadm 1.31's option names, in its `optnames` order (the columns of [`TABLE`]).
pub(super) const OPT_NAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

pub(super) const O_NUMERIC: usize = 0;
pub(super) const O_CONNECTION: usize = 1;
pub(super) const O_SERVICE: usize = 2;
pub(super) const O_SCHEDULER: usize = 3;
pub(super) const O_PERSISTENT: usize = 4;
pub(super) const O_NETMASK: usize = 5;
pub(super) const O_SERVER: usize = 6;
pub(super) const O_FORWARD: usize = 7;
pub(super) const O_WEIGHT: usize = 8;
pub(super) const O_UTHRESHOLD: usize = 9;
pub(super) const O_LTHRESHOLD: usize = 10;
pub(super) const O_MCAST: usize = 11;
pub(super) const O_TIMEOUT: usize = 12;
pub(super) const O_DAEMON: usize = 13;
pub(super) const O_STATS: usize = 14;
pub(super) const O_RATE: usize = 15;
pub(super) const O_THRESHOLDS: usize = 16;
pub(super) const O_PERSISTENTCONN: usize = 17;
pub(super) const O_NOSORT: usize = 18;
pub(super) const O_SYNCID: usize = 19;
pub(super) const O_EXACT: usize = 20;
pub(super) const O_ONEPACKET: usize = 21;
pub(super) const O_PE: usize = 22;
pub(super) const O_SCHED_FLAGS: usize = 23;
pub(super) const O_MCAST_GROUP: usize = 24;
pub(super) const O_MCAST_PORT: usize = 25;
pub(super) const O_MCAST_TTL: usize = 26;
pub(super) const O_SYNC_MAXLEN: usize = 27;
pub(super) const O_TUN_INFO: usize = 28;
pub(super) const O_TUN_TYPE: usize = 29;
pub(super) const O_TUN_PORT: usize = 30;
pub(super) const O_TUN_NOCSUM: usize = 31;
pub(super) const O_TUN_CSUM: usize = 32;
pub(super) const O_TUN_REMCSUM: usize = 33;

/// ipvsadm 1.31's `commands_v_options`: per command (rows in [`CMD_NAMES`] order) and option
/// (columns in [`OPT_NAMES`] order): `+` compulsory, `x` illegal, `1` exclusive (at most one
/// `1` option), ` ` optional.
pub(super) const TABLE: [&[u8; 34]; 14] = [
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // add-service
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // edit-service
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // list
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // add-server
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // edit-server
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // start-daemon
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // stop-daemon
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
];

/// The options of each tunnel type (`tunnel_types_v_options`: tun-port, tun-nocsum,
/// tun-csum, tun-remcsum), in the order of ipvsadm's `tunnames` (`TunType::ALL`).
pub(super) const TUN_OPTS: [usize; 4] = [O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM];
pub(super) const TUN_TABLE: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

/// ipvsadm's `generic_opt_check`.
pub(super) fn check_options(cmd: Cmd, opts: &[bool; 34]) -> Result<(), UsageError> {
    let i = cmd as usize;
    let given = opts.iter().enumerate().map(|(j, &g)| (j, g, TABLE[i][j]));
    check_against(given, &format!("'{}' command", CMD_NAMES[i]))
}

/// ipvsadm's `tunnel_opt_check`.
pub(super) fn check_tunnel_options(tun_type: TunType, opts: &[bool; 34]) -> Result<(), UsageError> {
    let i = TunType::ALL
        .iter()
        .position(|t| *t == tun_type)
        .unwrap_or_default();
    let row = TUN_TABLE[i];
    let given = TUN_OPTS
        .iter()
        .enumerate()
        .map(|(j, &k)| (k, opts[k], row[j]));
    check_against(given, &format!("'{}' tunnel type", tun_type.name()))
}

/// One row of an ipvsadm option table against the options given: (option index, given,
/// rule) with rule `+` required, `x` illegal, `1` at most one of the `1`s, else optional.
/// `subject` names the row in the messages ("'add-service' command", "'gue' tunnel type").
fn check_against(
    given: impl Iterator<Item = (usize, bool, u8)>,
    subject: &str,
) -> Result<(), UsageError> {
    let mut last = None;
    for (k, given, rule) in given {
        match (given, rule) {
            (false, b'+') => {
                return Err(UsageError::new(format!(
                    "You need to supply the '{}' option for the {subject}",
                    OPT_NAMES[k]
                )));
            }
            (true, b'x') => {
                return Err(UsageError::new(format!(
                    "Illegal '{}' option with the {subject}",
                    OPT_NAMES[k]
                )));
            }
            (true, b'1') => match last {
                None => last = Some(k),
                Some(l) => {
                    return Err(UsageError::new(format!(
                        "The option '{}' conflicts with the '{}' option in the {subject}",
                        OPT_NAMES[k], OPT_NAMES[l]
                    )));
                }
            },
            _ => {}
        }
    }
    Ok(())
}
