//! lbctl's command line, spelled like ipvsadm's.
//!
//! ipvsadm selects its command with a flag (`-A`, `-a`, `-L`, `-C`, ...), the other options
//! qualifying it. lbctl keeps that: clap collects every flag and option as given (values as
//! text), and [`Cli::resolve`] then does what ipvsadm's `process_options` does: exactly one
//! command, ipvsadm's table of which options each command takes (with ipvsadm's messages:
//! "Illegal 'weight' option with the 'add-service' command"), ipvsadm's value checks and
//! defaults (scheduler wlc, forwarding `-g`, weight 1, persistence 300 s), giving one
//! [`Command`] for `crate::cmd` to run. Options may come in any order. Verbs that ipvsadm has
//! no flag for (`status`, `apply`, `get`, `completions`, `man`) are subcommands.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use lb_common::api::{DEFAULT_SOCKET, Edit, ServiceKey};

use crate::ipvsadm;

#[derive(Debug, Parser)]
#[command(
    name = "lbctl",
    version,
    about = "Administer lb, the XDP layer-4 load balancer, with ipvsadm's commands",
    long_about = "Administer lb, the XDP layer-4 load balancer, with ipvsadm's commands.\n\n\
                  lbctl talks to the lbd daemon over its control socket. Every ipvsadm command \
                  and option works with lbctl in ipvsadm's place; the verbs below add a \
                  declarative interface (a JSON config applied whole).",
    after_help = "Examples:\n  \
                  lbctl -A -t 192.168.0.1:80 -s rr\n  \
                  lbctl -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m\n  \
                  lbctl -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m\n  \
                  lbctl -L -n\n  \
                  lbctl -L -n --stats\n  \
                  lbctl -S -n > rules; lbctl -C; lbctl -R < rules\n  \
                  lbctl apply -f lb.json\n  \
                  lbctl get config\n  \
                  lbctl status --json\n  \
                  lbctl drain -t 10.0.0.1:80 -r 192.168.1.10 --deadline 300\n  \
                  lbctl health\n  \
                  lbctl trace --vip 10.0.0.1",
    disable_version_flag = true,
    disable_help_subcommand = true,
    // "-w -1" is ipvsadm's "illegal weight specified", not an unknown option.
    allow_negative_numbers = true,
    subcommand_help_heading = "Verbs",
    subcommand_value_name = "VERB"
)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Option<Verb>,

    // Declared before the flattened groups below so that they and -v stay under "Options"
    // (a group's `next_help_heading` carries over to the fields after it).
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Print version (ipvsadm's -v)
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,

    #[command(flatten)]
    pub command: CommandFlags,

    #[command(flatten)]
    pub service: ServiceOptions,

    #[command(flatten)]
    pub real: RealOptions,

    #[command(flatten)]
    pub list: ListOptions,

    #[command(flatten)]
    pub daemon: DaemonOptions,

    /// The command line's words, program name first ([`Cli::parse_words`]): ipvsadm's
    /// messages name the word an error is about.
    #[arg(skip)]
    pub words: Vec<String>,
}

/// Verbs beyond ipvsadm's command flags.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Verb {
    /// Show lbd's state: interface, XDP mode, table sizes, reason counters
    Status,
    /// Make a JSON config the whole desired state (prints what changed)
    Apply {
        /// The config file ("-" reads standard input)
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// Only validate and show what would change
        #[arg(long)]
        dry_run: bool,
    },
    /// Print lbd's desired state
    Get {
        #[arg(value_enum)]
        what: GetWhat,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print lbctl's man page (roff)
    Man,
    /// Drain a real server: no new connections now, its remaining ones removed at the deadline
    Drain(crate::cmd::drain::DrainArgs),
    /// End a drain: the real server takes new connections again
    Undrain(crate::cmd::drain::RealTarget),
    /// Show every real server's health check, state and drain
    Health,
    /// Show live what the data plane does with matching packets (verdict, reason, real server)
    Trace(crate::cmd::trace::TraceArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GetWhat {
    /// The desired state as a JSON config (`lbctl apply -f` takes it back unchanged)
    Config,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// ipvsadm's command flags. Counted, so that giving two (even `-L -l`) is ipvsadm's
/// "multiple commands specified" rather than a clap error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Commands")]
pub struct CommandFlags {
    /// Add a virtual service with options
    #[arg(short = 'A', long = "add-service", action = ArgAction::Count)]
    pub add_service: u8,
    /// Edit a virtual service with options
    #[arg(short = 'E', long = "edit-service", action = ArgAction::Count)]
    pub edit_service: u8,
    /// Delete a virtual service
    #[arg(short = 'D', long = "delete-service", action = ArgAction::Count)]
    pub delete_service: u8,
    /// Clear the whole table
    #[arg(short = 'C', long = "clear", action = ArgAction::Count)]
    pub clear: u8,
    /// Restore rules from stdin (one batch: all or nothing)
    #[arg(short = 'R', long = "restore", action = ArgAction::Count)]
    pub restore: u8,
    /// Save rules to stdout
    #[arg(short = 'S', long = "save", action = ArgAction::Count)]
    pub save: u8,
    /// Add a real server with options
    #[arg(short = 'a', long = "add-server", action = ArgAction::Count)]
    pub add_server: u8,
    /// Edit a real server with options
    #[arg(short = 'e', long = "edit-server", action = ArgAction::Count)]
    pub edit_server: u8,
    /// Delete a real server
    #[arg(short = 'd', long = "delete-server", action = ArgAction::Count)]
    pub delete_server: u8,
    /// List the table (the default command)
    #[arg(short = 'L', long = "list", visible_short_alias = 'l', action = ArgAction::Count)]
    pub list: u8,
    /// Zero counters in a service or all services
    #[arg(short = 'Z', long = "zero", action = ArgAction::Count)]
    pub zero: u8,
    /// Set connection timeout values (seconds; 0 keeps a value)
    // Given twice: clap's conflict, which lbctl words as ipvsadm does a second command.
    #[arg(long = "set", num_args = 0..=3, value_names = ["TCP", "TCPFIN", "UDP"], action = ArgAction::Set)]
    pub set: Option<Vec<String>>,
    /// Start connection sync daemon (not supported by lb)
    #[arg(
        long = "start-daemon",
        value_name = "STATE",
        allow_hyphen_values = true
    )]
    pub start_daemon: Option<String>,
    /// Stop connection sync daemon
    #[arg(long = "stop-daemon", value_name = "STATE", allow_hyphen_values = true)]
    pub stop_daemon: Option<String>,
}

/// Service selection and service options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Service options")]
pub struct ServiceOptions {
    /// TCP service: host[:port]
    #[arg(
        short = 't',
        long = "tcp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub tcp: Option<String>,
    /// UDP service: host[:port]
    #[arg(
        short = 'u',
        long = "udp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub udp: Option<String>,
    /// SCTP service (not supported by lb)
    #[arg(
        long = "sctp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub sctp: Option<String>,
    /// Firewall-mark service (not supported by lb)
    #[arg(
        short = 'f',
        long = "fwmark-service",
        value_name = "FWMARK",
        allow_hyphen_values = true
    )]
    pub fwmark: Option<String>,
    /// Scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf (default wlc)
    #[arg(
        short = 's',
        long = "scheduler",
        value_name = "SCHEDULER",
        allow_hyphen_values = true
    )]
    pub scheduler: Option<String>,
    /// Persistent service, timeout in seconds (default 300)
    #[arg(short = 'p', long = "persistent", value_name = "TIMEOUT", num_args = 0..=1)]
    pub persistent: Option<Option<String>>,
    /// Persistence granularity: a netmask (IPv4) or prefix length (IPv6)
    #[arg(
        short = 'M',
        long = "netmask",
        value_name = "NETMASK",
        allow_hyphen_values = true
    )]
    pub netmask: Option<String>,
    /// Persistence engine (not supported by lb)
    #[arg(long = "pe", value_name = "ENGINE", allow_hyphen_values = true)]
    pub pe: Option<String>,
    /// Scheduler flags, comma-separated (sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)
    #[arg(
        short = 'b',
        long = "sched-flags",
        value_name = "FLAGS",
        allow_hyphen_values = true
    )]
    pub sched_flags: Option<String>,
    /// One-packet scheduling (UDP)
    #[arg(short = 'o', long = "ops")]
    pub ops: bool,
    /// The firewall-mark service is IPv6
    #[arg(short = '6', long = "ipv6", action = ArgAction::Count)]
    pub ipv6: u8,
    /// Maglev table size, a prime (lbctl extension; mh only)
    #[arg(
        long = "mh-table-size",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub mh_table_size: Option<String>,
}

/// Real-server options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Real-server options")]
pub struct RealOptions {
    /// Real server: host[:port]
    #[arg(
        short = 'r',
        long = "real-server",
        value_name = "SERVER-ADDRESS",
        allow_hyphen_values = true
    )]
    pub server: Option<String>,
    /// Gatewaying (direct routing) (default)
    #[arg(short = 'g', long = "gatewaying", action = ArgAction::Count)]
    pub gatewaying: u8,
    /// IPIP encapsulation (tunneling)
    #[arg(short = 'i', long = "ipip", action = ArgAction::Count)]
    pub ipip: u8,
    /// Masquerading (NAT)
    #[arg(short = 'm', long = "masquerading", action = ArgAction::Count)]
    pub masquerading: u8,
    /// Tunnel type: ipip (default), gue, gre
    #[arg(long = "tun-type", value_name = "TYPE", allow_hyphen_values = true)]
    pub tun_type: Option<String>,
    /// Tunnel destination port (gue)
    #[arg(long = "tun-port", value_name = "PORT", allow_hyphen_values = true)]
    pub tun_port: Option<String>,
    /// Tunnel encapsulation without checksum
    #[arg(long = "tun-nocsum")]
    pub tun_nocsum: bool,
    /// Tunnel encapsulation with checksum
    #[arg(long = "tun-csum")]
    pub tun_csum: bool,
    /// Tunnel encapsulation with remote checksum
    #[arg(long = "tun-remcsum")]
    pub tun_remcsum: bool,
    /// Capacity of the real server (0 to 65535, default 1)
    #[arg(
        short = 'w',
        long = "weight",
        value_name = "WEIGHT",
        allow_hyphen_values = true
    )]
    pub weight: Option<String>,
    /// Upper threshold of connections
    #[arg(
        short = 'x',
        long = "u-threshold",
        value_name = "UTHRESHOLD",
        allow_hyphen_values = true
    )]
    pub u_threshold: Option<String>,
    /// Lower threshold of connections
    #[arg(
        short = 'y',
        long = "l-threshold",
        value_name = "LTHRESHOLD",
        allow_hyphen_values = true
    )]
    pub l_threshold: Option<String>,
}

/// Options of `-L`/`--list` (and `-S`), as ipvsadm names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "List options")]
pub struct ListOptions {
    /// Numeric output of addresses and ports
    #[arg(short = 'n', long)]
    pub numeric: bool,

    /// Output of current connections (and persistence templates)
    #[arg(short = 'c', long = "connection")]
    pub connection: bool,

    /// Output of timeout (tcp tcpfin udp)
    #[arg(long)]
    pub timeout: bool,

    /// Output of daemon information
    #[arg(long)]
    pub daemon: bool,

    /// Output of statistics information
    #[arg(long)]
    pub stats: bool,

    /// Output of rate information
    #[arg(long)]
    pub rate: bool,

    /// Output of thresholds information
    #[arg(long)]
    pub thresholds: bool,

    /// Output of persistent connection info
    #[arg(long = "persistent-conn")]
    pub persistent_conn: bool,

    /// Output of tunnel information
    #[arg(long = "tun-info")]
    pub tun_info: bool,

    /// Expand numbers (display exact values)
    #[arg(short = 'X', long)]
    pub exact: bool,

    /// Disable sorting output of service/server entries
    #[arg(long)]
    pub nosort: bool,

    /// Does nothing, for backwards compatibility (sorting is the default; it does not undo
    /// --nosort, as in ipvsadm)
    #[arg(long, action = ArgAction::Count)]
    pub sort: u8,
}

/// Options of `--start-daemon` (accepted for compatibility; lb has no sync daemon).
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Daemon options")]
pub struct DaemonOptions {
    /// Multicast interface for connection sync
    #[arg(
        long = "mcast-interface",
        value_name = "INTERFACE",
        allow_hyphen_values = true
    )]
    pub mcast_interface: Option<String>,
    /// Syncid for connection sync (default 255)
    #[arg(long = "syncid", value_name = "SID", allow_hyphen_values = true)]
    pub syncid: Option<String>,
    /// Multicast group for connection sync
    #[arg(
        long = "mcast-group",
        value_name = "ADDRESS",
        allow_hyphen_values = true
    )]
    pub mcast_group: Option<String>,
    /// Multicast port for connection sync
    #[arg(long = "mcast-port", value_name = "PORT", allow_hyphen_values = true)]
    pub mcast_port: Option<String>,
    /// Multicast TTL for connection sync
    #[arg(long = "mcast-ttl", value_name = "TTL", allow_hyphen_values = true)]
    pub mcast_ttl: Option<String>,
    /// Maximum sync message length
    #[arg(
        long = "sync-maxlen",
        value_name = "LENGTH",
        allow_hyphen_values = true
    )]
    pub sync_maxlen: Option<String>,
}

/// Options every command and verb accepts.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct GlobalOptions {
    /// Print lbd's answer as JSON instead of a table
    #[arg(long, global = true)]
    pub json: bool,

    /// Path of lbd's control socket
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// What `-L` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListWhat {
    /// The virtual server table, or one service of it (`-t`/`-u`).
    Table(Option<ServiceKey>),
    /// `-c`: connections and persistence templates.
    Connections,
    /// `--timeout`.
    Timeouts,
    /// `--daemon`.
    Daemons,
}

/// What to do, resolved from the command flags and verbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-L`/`-l`/`--list`, or no command at all.
    List(ListWhat, ListOptions),
    /// `-A -E -D -C -a -e -d --set`: one change.
    Edit(Edit),
    /// `-Z`: one service or all.
    Zero(Option<ServiceKey>),
    /// `-S`.
    Save(ListOptions),
    /// `-R`: rules from stdin.
    Restore,
    /// `--start-daemon`.
    StartDaemon,
    /// `--stop-daemon`.
    StopDaemon,
    /// `status`.
    Status,
    /// `apply -f FILE`.
    Apply { file: PathBuf, dry_run: bool },
    /// `get config`.
    GetConfig,
    /// `completions SHELL`.
    Completions(Shell),
    /// `man`.
    Man,
    /// `drain`.
    Drain(crate::cmd::drain::DrainArgs),
    /// `undrain`.
    Undrain(crate::cmd::drain::RealTarget),
    /// `health`.
    Health,
    /// `trace`.
    Trace(crate::cmd::trace::TraceArgs),
}

/// A command line ipvsadm would refuse, with ipvsadm's message; lbctl exits with status 2
/// as ipvsadm's `fail(2, ...)` does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl Cli {
    /// Parses a command line (program name first), keeping its words.
    pub fn parse_words(words: &[String]) -> Result<Cli, clap::Error> {
        let mut cli = Cli::try_parse_from(words)?;
        cli.words = words.to_vec();
        Ok(cli)
    }

    /// The command to run (host and service names looked up by the system's resolver).
    pub fn resolve(&self) -> Result<Command, UsageError> {
        self.resolve_with_lookup(&ipvsadm::SystemLookup)
    }

    /// [`Cli::resolve`] with the given name lookups.
    pub fn resolve_with_lookup(&self, lookup: &dyn ipvsadm::Lookup) -> Result<Command, UsageError> {
        if let Some(verb) = &self.verb {
            let name = match verb {
                Verb::Status => "status",
                Verb::Apply { .. } => "apply",
                Verb::Get { .. } => "get",
                Verb::Completions { .. } => "completions",
                Verb::Man => "man",
                Verb::Drain(_) => "drain",
                Verb::Undrain(_) => "undrain",
                Verb::Health => "health",
                Verb::Trace(_) => "trace",
            };
            if let Some(flag) = ipvsadm::given_flags(self).first() {
                return Err(UsageError(format!(
                    "the verb '{name}' cannot be used with '{flag}'"
                )));
            }
            return Ok(match verb {
                Verb::Status => Command::Status,
                Verb::Apply { file, dry_run } => Command::Apply {
                    file: file.clone(),
                    dry_run: *dry_run,
                },
                Verb::Get { what } => match what {
                    GetWhat::Config => Command::GetConfig,
                },
                Verb::Completions { shell } => Command::Completions(*shell),
                Verb::Man => Command::Man,
                Verb::Drain(a) => Command::Drain(*a),
                Verb::Undrain(t) => Command::Undrain(*t),
                Verb::Health => Command::Health,
                Verb::Trace(a) => Command::Trace(*a),
            });
        }
        ipvsadm::resolve_with(self, lookup)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, error::ErrorKind};

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let words: Vec<String> = std::iter::once("lbctl")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        Cli::parse_words(&words)
    }

    fn resolve(args: &[&str]) -> Result<Command, String> {
        parse(args)
            .map_err(|e| format!("clap: {e}"))?
            .resolve()
            .map_err(|e| e.0)
    }

    fn list(numeric: bool, stats: bool) -> Command {
        Command::List(
            ListWhat::Table(None),
            ListOptions {
                numeric,
                stats,
                ..Default::default()
            },
        )
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ipvsadm_list_spellings() {
        for args in [
            &["-L", "-n"][..],
            &["-l", "-n"],
            &["--list", "--numeric"],
            &["-Ln"],
            &["-ln"],
            &["-n", "-L"],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.resolve().unwrap(), list(true, false), "{args:?}");
            assert!(!cli.global.json);
            assert_eq!(cli.global.socket, PathBuf::from(DEFAULT_SOCKET));
        }
        assert_eq!(resolve(&["-L", "-n", "--stats"]).unwrap(), list(true, true));
        assert_eq!(resolve(&["-L"]).unwrap(), list(false, false));
        assert_eq!(resolve(&[]).unwrap(), list(false, false));
    }

    #[test]
    fn list_options() {
        let cli = parse(&[
            "-L",
            "-n",
            "--stats",
            "--exact",
            "--nosort",
            "--json",
            "--socket",
            "/tmp/x.sock",
        ])
        .unwrap();
        assert_eq!(
            cli.resolve().unwrap(),
            Command::List(
                ListWhat::Table(None),
                ListOptions {
                    numeric: true,
                    stats: true,
                    exact: true,
                    nosort: true,
                    ..Default::default()
                }
            )
        );
        assert!(cli.global.json);
        assert_eq!(cli.global.socket, PathBuf::from("/tmp/x.sock"));
        // ipvsadm's --sort "does nothing, for backwards compatibility": not even undo
        // --nosort.
        let Command::List(_, o) = resolve(&["-L", "-n", "--nosort", "--sort"]).unwrap() else {
            panic!()
        };
        assert!(o.nosort);
        let Command::List(_, o) = resolve(&["-LnX"]).unwrap() else {
            panic!()
        };
        assert!(o.exact);
        for (args, what) in [
            (&["-L", "-c", "-n"][..], ListWhat::Connections),
            (&["-L", "--timeout"], ListWhat::Timeouts),
            (&["-L", "--daemon"], ListWhat::Daemons),
        ] {
            let Command::List(w, _) = resolve(args).unwrap() else {
                panic!()
            };
            assert_eq!(w, what, "{args:?}");
        }
    }

    #[test]
    fn verbs() {
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["--json", "status"],
            &["status", "--socket", "/tmp/s"],
            &["--socket=/tmp/s", "status"],
        ] {
            assert_eq!(resolve(args).unwrap(), Command::Status, "{args:?}");
        }
        assert!(parse(&["status", "--json"]).unwrap().global.json);
        assert_eq!(
            resolve(&["apply", "-f", "lb.json", "--dry-run"]).unwrap(),
            Command::Apply {
                file: "lb.json".into(),
                dry_run: true
            }
        );
        assert_eq!(resolve(&["get", "config"]).unwrap(), Command::GetConfig);
        assert_eq!(
            resolve(&["completions", "zsh"]).unwrap(),
            Command::Completions(Shell::Zsh)
        );
    }

    #[test]
    fn clap_level_errors_exit_2() {
        for (args, kind) in [
            (&["--bogus"][..], ErrorKind::UnknownArgument),
            (&["-L", "-q"], ErrorKind::UnknownArgument),
            (&["status", "--stats"], ErrorKind::UnknownArgument),
            (&["status", "-L"], ErrorKind::UnknownArgument),
            (&["--socket"], ErrorKind::InvalidValue),
            (&["frobnicate"], ErrorKind::InvalidSubcommand),
            (&["-w", "1", "-w", "2"], ErrorKind::ArgumentConflict),
        ] {
            match parse(args) {
                Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), kind, "{args:?}: {e}");
                    assert_eq!(e.exit_code(), 2, "{args:?}");
                }
            }
        }
    }

    #[test]
    fn verbs_exclude_ipvsadm_flags() {
        assert_eq!(
            resolve(&["-n", "status"]).unwrap_err(),
            "the verb 'status' cannot be used with '--numeric'"
        );
        assert_eq!(
            resolve(&["-L", "status"]).unwrap_err(),
            "the verb 'status' cannot be used with '--list'"
        );
        assert_eq!(
            resolve(&["--stats", "get", "config"]).unwrap_err(),
            "the verb 'get' cannot be used with '--stats'"
        );
    }

    #[test]
    fn help_and_version() {
        for args in [&["-h"][..], &["--help"]] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayHelp);
            assert_eq!(e.exit_code(), 0);
        }
        for args in [&["-v"][..], &["--version"]] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayVersion);
            assert_eq!(e.exit_code(), 0);
        }
    }
}
