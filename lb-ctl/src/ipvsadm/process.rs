//! ipvsadm's `process_options`: a command line through its steps, in ipvsadm's order,
//! which decides the message when a line has several faults (see [`super`]).

use super::{
    build,
    lookup::{Lookup, SystemLookup},
    options,
    table::{self, CMD_NAMES, Cmd},
    values,
};
use crate::{
    cli::Cli,
    command::{Command, UsageError},
};

/// Resolves a parsed command line the way ipvsadm processes its options.
pub fn resolve(cli: &Cli) -> Result<Command, UsageError> {
    resolve_with(cli, &SystemLookup)
}

/// [`resolve`] with the given name lookups.
pub fn resolve_with(cli: &Cli, lookup: &dyn Lookup) -> Result<Command, UsageError> {
    let cmd = options::command(cli)?;
    let opts = options::options(cli)?;
    // Values are checked as ipvsadm checks them while reading the options, before the
    // command-option table.
    let values = values::read(cli, lookup)?;
    if values.mh_table_size.is_some() && !matches!(cmd, Cmd::Add | Cmd::Edit) {
        return Err(UsageError::new(format!(
            "Illegal 'mh-table-size' option with the '{}' command",
            CMD_NAMES[cmd as usize]
        )));
    }
    if cli.command.line_by_line && cmd != Cmd::Restore {
        return Err(UsageError::new(format!(
            "Illegal 'line-by-line' option with the '{}' command",
            CMD_NAMES[cmd as usize]
        )));
    }
    table::check_options(cmd, &opts)?;
    build::command(cmd, cli, &opts, values)
}

#[cfg(test)]
mod tests {
    use lb_model::api::{Edit, RealSpec, ServiceSpec};

    use crate::command::{Command, ListWhat};
    use crate::ipvsadm::test_util::{key, real, run, spec};

    #[test]
    fn the_seed_example() {
        assert_eq!(
            run(&["-A", "-t", "192.168.0.1:80", "-s", "rr"]).unwrap(),
            Command::Edit(Edit::AddService {
                service: spec("tcp", "192.168.0.1", 80, "rr")
            })
        );
        for rs in ["172.16.0.1", "172.16.0.2"] {
            assert_eq!(
                run(&[
                    "-a",
                    "-t",
                    "192.168.0.1:80",
                    "-r",
                    &format!("{rs}:80"),
                    "-m"
                ])
                .unwrap(),
                Command::Edit(Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: real(rs, 80, "nat", 1),
                })
            );
        }
    }

    #[test]
    fn firewall_mark_services_as_ipvsadm_names_them() {
        let fwm = |mark: u32, vip: &str| lb_model::api::ServiceKey {
            fwmark: Some(mark),
            ..key("tcp", vip, 0)
        };
        // -f needs no port and no -p (ipvsadm's zero-port check is for -t/-u only).
        assert_eq!(
            run(&["-A", "-f", "1", "-s", "rr", "-p", "600"]).unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    fwmark: Some(1),
                    persistent: Some(600),
                    ..spec("tcp", "0.0.0.0", 0, "rr")
                }
            })
        );
        assert_eq!(
            run(&["-A", "-f", "16", "-6"]).unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    fwmark: Some(16),
                    family: Some(lb_model::config::Family::Ipv6),
                    ..spec("tcp", "::", 0, "wlc")
                }
            })
        );
        // A real server of a fwmark service takes the connection's port (0).
        assert_eq!(
            run(&["-a", "-f", "1", "-r", "10.1.0.1", "-g", "-w", "3"]).unwrap(),
            Command::Edit(Edit::AddReal {
                service: fwm(1, "0.0.0.0"),
                real: real("10.1.0.1", 0, "dr", 3),
            })
        );
        assert_eq!(
            run(&["-D", "--fwmark-service", "7", "-6"]).unwrap(),
            Command::Edit(Edit::DelService {
                service: fwm(7, "::"),
            })
        );
    }

    #[test]
    fn ipvsadm_defaults_and_long_forms() {
        // Scheduler wlc, forwarding -g, weight 1, persistence 300 s.
        assert_eq!(
            run(&[
                "--add-service",
                "--tcp-service",
                "10.0.0.1:80",
                "--persistent"
            ])
            .unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    persistent: Some(300),
                    ..spec("tcp", "10.0.0.1", 80, "wlc")
                }
            })
        );
        // -g and -i take the service's port, whatever -r says.
        assert_eq!(
            run(&["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:5353"]).unwrap(),
            Command::Edit(Edit::AddReal {
                service: key("udp", "10.0.0.1", 53),
                real: real("10.1.0.1", 53, "dr", 1),
            })
        );
        assert_eq!(
            run(&[
                "--edit-server",
                "--udp-service",
                "[2001:db8::1]:domain",
                "--real-server",
                "[2001:db8::10]:53",
                "--ipip",
                "--weight",
                "7",
                "--u-threshold",
                "100",
                "--l-threshold",
                "50",
            ])
            .unwrap(),
            Command::Edit(Edit::EditReal {
                service: key("udp", "2001:db8::1", 53),
                real: RealSpec {
                    upper_threshold: Some(100),
                    lower_threshold: Some(50),
                    ..real("2001:db8::10", 53, "tun", 7)
                },
            })
        );
        // A host name and a service name.
        assert_eq!(
            run(&["-D", "-t", "www.example.test:http"]).unwrap(),
            Command::Edit(Edit::DelService {
                service: key("tcp", "192.0.2.80", 80)
            })
        );
        // nat keeps the real server's own port; no port means the service's.
        assert_eq!(
            run(&["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-m", "-w", "0"]).unwrap(),
            Command::Edit(Edit::AddReal {
                service: key("tcp", "10.0.0.1", 80),
                real: real("10.1.0.1", 80, "nat", 0),
            })
        );
        assert_eq!(
            run(&["-d", "-t", "10.0.0.1:80", "-r", "10.1.0.1:8080"]).unwrap(),
            Command::Edit(Edit::DelReal {
                service: key("tcp", "10.0.0.1", 80),
                address: "10.1.0.1".parse().unwrap(),
                port: 8080,
            })
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(run(&["-C"]).unwrap(), Command::Edit(Edit::Clear));
        assert_eq!(
            run(&["--set", "900", "0", "60"]).unwrap(),
            Command::Edit(Edit::SetTimeouts {
                tcp: 900,
                tcpfin: 0,
                udp: 60
            })
        );
        assert_eq!(run(&["-Z"]).unwrap(), Command::Zero(None));
        assert_eq!(
            run(&["--zero", "-t", "10.0.0.1:80"]).unwrap(),
            Command::Zero(Some(key("tcp", "10.0.0.1", 80)))
        );
        assert!(matches!(run(&["-S", "-n"]).unwrap(), Command::Save(o) if o.numeric));
        assert_eq!(
            run(&["-R"]).unwrap(),
            Command::Restore {
                line_by_line: false
            }
        );
        assert_eq!(
            run(&["-R", "--line-by-line"]).unwrap(),
            Command::Restore { line_by_line: true }
        );
        assert_eq!(
            run(&["-L", "-t", "10.0.0.1:80", "--rate"]).unwrap(),
            Command::List(
                ListWhat::Table(Some(key("tcp", "10.0.0.1", 80))),
                crate::cli::ListOptions {
                    rate: true,
                    ..Default::default()
                }
            )
        );
        assert_eq!(
            run(&[
                "--start-daemon",
                "master",
                "--mcast-interface",
                "eth0",
                "--syncid",
                "3"
            ])
            .unwrap(),
            Command::StartDaemon {
                role: lb_model::api::DaemonRole::Master,
                options: lb_model::config::SyncConfig {
                    send: true,
                    receive: false,
                    syncid: 3,
                    mcast_interface: Some("eth0".into()),
                    mcast_group: None,
                    mcast_port: None,
                    mcast_ttl: None,
                    sync_maxlen: None,
                    peers: vec![],
                    bulk_from: vec![],
                    auth_key_file: None,
                }
            }
        );
        assert_eq!(
            run(&["--stop-daemon", "backup"]).unwrap(),
            Command::StopDaemon {
                role: lb_model::api::DaemonRole::Backup
            }
        );
    }
}
