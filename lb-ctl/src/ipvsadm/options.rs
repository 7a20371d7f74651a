//! ipvsadm's `set_command` and `set_option`: which command the flags give (exactly one) and
//! which options are given (each at most once), with ipvsadm's messages.

use super::{
    table::{self, Cmd, OPT_NAMES},
    words::command_words,
};
use crate::{cli::Cli, command::UsageError};

/// The long names of the ipvsadm flags and options given (for "the verb cannot be used
/// with" messages).
pub fn given_flags(cli: &Cli) -> Vec<&'static str> {
    let c = &cli.command;
    let s = &cli.service;
    let r = &cli.real;
    let l = &cli.list;
    let d = &cli.daemon;
    [
        (c.add_service > 0, "--add-service"),
        (c.edit_service > 0, "--edit-service"),
        (c.delete_service > 0, "--delete-service"),
        (c.clear > 0, "--clear"),
        (c.restore > 0, "--restore"),
        (c.save > 0, "--save"),
        (c.add_server > 0, "--add-server"),
        (c.edit_server > 0, "--edit-server"),
        (c.delete_server > 0, "--delete-server"),
        (c.list > 0, "--list"),
        (c.zero > 0, "--zero"),
        (c.set.is_some(), "--set"),
        (c.line_by_line, "--line-by-line"),
        (c.start_daemon.is_some(), "--start-daemon"),
        (c.stop_daemon.is_some(), "--stop-daemon"),
        (s.tcp.is_some(), "--tcp-service"),
        (s.udp.is_some(), "--udp-service"),
        (s.sctp.is_some(), "--sctp-service"),
        (s.fwmark.is_some(), "--fwmark-service"),
        (s.scheduler.is_some(), "--scheduler"),
        (s.persistent.is_some(), "--persistent"),
        (s.netmask.is_some(), "--netmask"),
        (s.pe.is_some(), "--pe"),
        (s.sched_flags.is_some(), "--sched-flags"),
        (s.ops, "--ops"),
        (s.ipv6 > 0, "--ipv6"),
        (s.mh_table_size.is_some(), "--mh-table-size"),
        (r.server.is_some(), "--real-server"),
        (r.gatewaying > 0, "--gatewaying"),
        (r.ipip > 0, "--ipip"),
        (r.masquerading > 0, "--masquerading"),
        (r.tun_type.is_some(), "--tun-type"),
        (r.tun_port.is_some(), "--tun-port"),
        (r.tun_nocsum, "--tun-nocsum"),
        (r.tun_csum, "--tun-csum"),
        (r.tun_remcsum, "--tun-remcsum"),
        (r.weight.is_some(), "--weight"),
        (r.u_threshold.is_some(), "--u-threshold"),
        (r.l_threshold.is_some(), "--l-threshold"),
        (l.numeric, "--numeric"),
        (l.connection, "--connection"),
        (l.timeout, "--timeout"),
        (l.daemon, "--daemon"),
        (l.stats, "--stats"),
        (l.rate, "--rate"),
        (l.thresholds, "--thresholds"),
        (l.persistent_conn, "--persistent-conn"),
        (l.tun_info, "--tun-info"),
        (l.exact, "--exact"),
        (l.nosort, "--nosort"),
        (l.sort > 0, "--sort"),
        (d.mcast_interface.is_some(), "--mcast-interface"),
        (d.syncid.is_some(), "--syncid"),
        (d.mcast_group.is_some(), "--mcast-group"),
        (d.mcast_port.is_some(), "--mcast-port"),
        (d.mcast_ttl.is_some(), "--mcast-ttl"),
        (d.sync_maxlen.is_some(), "--sync-maxlen"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Which command the flags give: ipvsadm's `set_command`.
pub(super) fn command(cli: &Cli) -> Result<Cmd, UsageError> {
    let c = &cli.command;
    let mut cmds = Vec::new();
    for (n, cmd) in [
        (c.add_service, Cmd::Add),
        (c.edit_service, Cmd::Edit),
        (c.delete_service, Cmd::Del),
        (c.clear, Cmd::Flush),
        (c.list, Cmd::List),
        (c.add_server, Cmd::AddDest),
        (c.delete_server, Cmd::DelDest),
        (c.edit_server, Cmd::EditDest),
        (c.restore, Cmd::Restore),
        (c.save, Cmd::Save),
        (c.zero, Cmd::Zero),
    ] {
        cmds.extend(std::iter::repeat_n(cmd, n as usize));
    }
    if c.set.is_some() {
        cmds.push(Cmd::Timeout);
    }
    if c.start_daemon.is_some() {
        cmds.push(Cmd::StartDaemon);
    }
    if c.stop_daemon.is_some() {
        cmds.push(Cmd::StopDaemon);
    }
    match cmds.as_slice() {
        [] => Ok(Cmd::List), // ipvsadm without a command lists the table
        [one] => Ok(*one),
        // ipvsadm reads its command from the first word alone (`set_command`); a command
        // among the options after it is no option it knows there: "invalid option `%s'",
        // naming the word (popt's poptBadOption). Its "multiple commands specified" is
        // left for when the words are not known.
        _ => Err(match command_words(&cli.words).get(1) {
            Some(w) => UsageError::new(format!("invalid option `{w}'")),
            None => UsageError::new("multiple commands specified"),
        }),
    }
}

/// ipvsadm's `set_option`: the options given, refusing one given twice.
pub(super) fn options(cli: &Cli) -> Result<[bool; 34], UsageError> {
    let mut opts = [false; 34];
    let mut set = |o: usize, given: usize| -> Result<(), UsageError> {
        if given > 1 || (given == 1 && opts[o]) {
            return Err(UsageError::new(format!(
                "multiple '{}' options specified",
                OPT_NAMES[o]
            )));
        }
        if given == 1 {
            opts[o] = true;
        }
        Ok(())
    };
    let s = &cli.service;
    let r = &cli.real;
    let l = &cli.list;
    let d = &cli.daemon;
    let n = |b: bool| b as usize;
    set(table::O_NUMERIC, n(l.numeric))?;
    set(table::O_CONNECTION, n(l.connection))?;
    set(
        table::O_SERVICE,
        n(s.tcp.is_some()) + n(s.udp.is_some()) + n(s.sctp.is_some()) + n(s.fwmark.is_some()),
    )?;
    set(table::O_SCHEDULER, n(s.scheduler.is_some()))?;
    set(table::O_PERSISTENT, n(s.persistent.is_some()))?;
    set(table::O_NETMASK, n(s.netmask.is_some()))?;
    set(table::O_SERVER, n(r.server.is_some()))?;
    set(
        table::O_FORWARD,
        r.gatewaying as usize + r.ipip as usize + r.masquerading as usize,
    )?;
    set(table::O_WEIGHT, n(r.weight.is_some()))?;
    set(table::O_UTHRESHOLD, n(r.u_threshold.is_some()))?;
    set(table::O_LTHRESHOLD, n(r.l_threshold.is_some()))?;
    set(table::O_MCAST, n(d.mcast_interface.is_some()))?;
    set(table::O_TIMEOUT, n(l.timeout))?;
    set(table::O_DAEMON, n(l.daemon))?;
    set(table::O_STATS, n(l.stats))?;
    set(table::O_RATE, n(l.rate))?;
    set(table::O_THRESHOLDS, n(l.thresholds))?;
    set(table::O_PERSISTENTCONN, n(l.persistent_conn))?;
    set(table::O_NOSORT, n(l.nosort))?;
    set(table::O_SYNCID, n(d.syncid.is_some()))?;
    set(table::O_EXACT, n(l.exact))?;
    set(table::O_ONEPACKET, n(s.ops))?;
    set(table::O_PE, n(s.pe.is_some()))?;
    set(table::O_SCHED_FLAGS, n(s.sched_flags.is_some()))?;
    set(table::O_MCAST_GROUP, n(d.mcast_group.is_some()))?;
    set(table::O_MCAST_PORT, n(d.mcast_port.is_some()))?;
    set(table::O_MCAST_TTL, n(d.mcast_ttl.is_some()))?;
    set(table::O_SYNC_MAXLEN, n(d.sync_maxlen.is_some()))?;
    set(table::O_TUN_INFO, n(l.tun_info))?;
    set(table::O_TUN_TYPE, n(r.tun_type.is_some()))?;
    set(table::O_TUN_PORT, n(r.tun_port.is_some()))?;
    set(table::O_TUN_NOCSUM, n(r.tun_nocsum))?;
    set(table::O_TUN_CSUM, n(r.tun_csum))?;
    set(table::O_TUN_REMCSUM, n(r.tun_remcsum))?;
    Ok(opts)
}
