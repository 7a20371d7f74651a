//! The [`Command`] to run, from a command line whose command, options and values are
//! checked: ipvsadm's `process_options` after `generic_opt_check`, with the checks it makes
//! last (the list command's conflicts here; a service's and a real server's in their files).

use lb_model::api::{Edit, ServiceKey};

use super::{real, service, table::Cmd, values::Values};
use crate::{
    cli::Cli,
    command::{Command, ListWhat, UsageError},
};

pub(super) fn command(
    cmd: Cmd,
    cli: &Cli,
    opts: &[bool; 34],
    v: Values,
) -> Result<Command, UsageError> {
    let key = || -> ServiceKey { v.svc.as_ref().expect("checked: compulsory").0.clone() };
    Ok(match cmd {
        Cmd::List => {
            let l = &cli.list;
            if ((l.connection || l.timeout || l.daemon) && (l.stats || l.rate || l.thresholds))
                || ((l.timeout || l.daemon) && l.persistent_conn)
            {
                return Err(UsageError::new("options conflicts in the list command"));
            }
            let what = if l.connection {
                ListWhat::Connections
            } else if l.timeout {
                ListWhat::Timeouts
            } else if l.daemon {
                ListWhat::Daemons
            } else {
                ListWhat::Table(v.svc.map(|(k, _)| k))
            };
            Command::List(what, cli.list)
        }
        Cmd::Save => Command::Save(cli.list),
        Cmd::Restore => Command::Restore {
            line_by_line: cli.command.line_by_line,
        },
        Cmd::Flush => Command::Edit(Edit::Clear),
        Cmd::Zero => Command::Zero(v.svc.map(|(k, _)| k)),
        Cmd::Timeout => {
            let [tcp, tcpfin, udp] = v.timeouts.expect("--set given");
            Command::Edit(Edit::SetTimeouts { tcp, tcpfin, udp })
        }
        Cmd::StartDaemon => super::daemon::start(&cli.command, &cli.daemon)?,
        Cmd::StopDaemon => super::daemon::stop(&cli.command),
        Cmd::Del => Command::Edit(Edit::DelService { service: key() }),
        Cmd::Add | Cmd::Edit => {
            let service = service::spec(cli, key(), v.persistent, v.netmask, v.mh_table_size)?;
            Command::Edit(if cmd == Cmd::Add {
                Edit::AddService { service }
            } else {
                Edit::EditService { service }
            })
        }
        Cmd::AddDest | Cmd::EditDest | Cmd::DelDest => {
            Command::Edit(real::edit(cmd, opts, &cli.real, key(), &v.real)?)
        }
    })
}
