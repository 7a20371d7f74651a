//! lbctl's command line, spelled like ipvsadm's.
//!
//! ipvsadm selects its command with a flag (`-L`, `-A`, `-a`, `-C`, ...), the other options
//! qualifying it; lbctl keeps that: [`CommandFlags`] is an argument group of which at most one
//! may be given (the next ipvsadm commands, `-A -E -D -a -e -d -C -Z -S -R --set -c`, go
//! there), the options they take live in per-purpose flattened structs ([`ListOptions`]
//! now; service selection `-t/-u`, real-server and scheduler options later) and
//! [`Cli::resolve`] resolves the whole into one [`Command`] that `crate::cmd` runs. Verbs that
//! ipvsadm has no flag for (`status`) are subcommands. As with ipvsadm, no command lists the
//! table.

use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, error::ErrorKind};
use lb_common::api::DEFAULT_SOCKET;

#[derive(Debug, Parser)]
#[command(
    name = "lbctl",
    version,
    about = "Administer lb, the XDP layer-4 load balancer, with ipvsadm's commands",
    long_about = "Administer lb, the XDP layer-4 load balancer, with ipvsadm's commands.\n\n\
                  lbctl talks to the lbd daemon over its control socket.",
    after_help = "Examples:\n  lbctl -L -n\n  lbctl -L -n --stats\n  lbctl --list --numeric --json\n  lbctl status\n  lbctl drain -t 10.0.0.1:80 -r 192.168.1.10 --deadline 300\n  lbctl health\n  lbctl trace --vip 10.0.0.1",
    disable_version_flag = true,
    disable_help_subcommand = true,
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
    pub list: ListOptions,
}

/// Verbs beyond ipvsadm's command flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Verb {
    /// Show lbd's state: interface, XDP mode, table sizes, reason counters
    Status,
    /// Drain a real server: no new connections now, its remaining ones removed at the deadline
    Drain(crate::cmd::drain::DrainArgs),
    /// End a drain: the real server takes new connections again
    Undrain(crate::cmd::drain::RealTarget),
    /// Show every real server's health check, state and drain
    Health,
    /// Show live what the data plane does with matching packets (verdict, reason, real server)
    Trace(crate::cmd::trace::TraceArgs),
}

/// ipvsadm's command flags; at most one may be given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
#[group(id = "command", multiple = false)]
#[command(next_help_heading = "Commands")]
pub struct CommandFlags {
    /// List the virtual server table (the default command)
    #[arg(short = 'L', long = "list", visible_short_alias = 'l')]
    pub list: bool,
}

/// Options of `-L`/`--list`, as ipvsadm names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "List options")]
pub struct ListOptions {
    /// Numeric output of addresses and ports
    // ipvsadm resolves host and service names without -n; lbctl prints numeric addresses and
    // ports either way for now and accepts the flag for compatibility.
    #[arg(short = 'n', long)]
    pub numeric: bool,

    /// Show the counters (connections, packets, bytes) of services and real servers
    #[arg(long)]
    pub stats: bool,

    /// Expand numbers (show exact values instead of K/M/G/T)
    #[arg(short = 'X', long)]
    pub exact: bool,

    /// Print services and real servers in lbd's order instead of sorting them
    #[arg(long, overrides_with = "sort")]
    pub nosort: bool,

    /// Sort services and real servers (the default)
    #[arg(long, overrides_with = "nosort")]
    pub sort: bool,
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

/// What to do, resolved from the command flags and verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-L`/`-l`/`--list`, or no command at all.
    List(ListOptions),
    /// `status`.
    Status,
    /// `drain`.
    Drain(crate::cmd::drain::DrainArgs),
    /// `undrain`.
    Undrain(crate::cmd::drain::RealTarget),
    /// `health`.
    Health,
    /// `trace`.
    Trace(crate::cmd::trace::TraceArgs),
}

impl Cli {
    /// The command to run. A verb excludes ipvsadm's command flags and list options: the
    /// error is clap's (exit status 2). (clap's `args_conflicts_with_subcommands` would also
    /// reject the global `--json`/`--socket` before a verb, hence this check.)
    pub fn resolve(&self) -> Result<Command, clap::Error> {
        match self.verb {
            Some(verb) => {
                let name = match verb {
                    Verb::Status => "status",
                    Verb::Drain(_) => "drain",
                    Verb::Undrain(_) => "undrain",
                    Verb::Health => "health",
                    Verb::Trace(_) => "trace",
                };
                if let Some(flag) = self.command.given().chain(self.list.given()).next() {
                    return Err(Self::command().error(
                        ErrorKind::ArgumentConflict,
                        format!("the verb '{name}' cannot be used with '{flag}'"),
                    ));
                }
                Ok(match verb {
                    Verb::Status => Command::Status,
                    Verb::Drain(a) => Command::Drain(a),
                    Verb::Undrain(t) => Command::Undrain(t),
                    Verb::Health => Command::Health,
                    Verb::Trace(a) => Command::Trace(a),
                })
            }
            // `-L`, or nothing: ipvsadm without arguments lists the table too.
            None => Ok(Command::List(self.list)),
        }
    }
}

impl CommandFlags {
    /// The long names of the flags given.
    fn given(&self) -> impl Iterator<Item = &'static str> {
        [(self.list, "--list")]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
    }
}

impl ListOptions {
    /// The long names of the options given.
    fn given(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.numeric, "--numeric"),
            (self.stats, "--stats"),
            (self.exact, "--exact"),
            (self.nosort, "--nosort"),
            (self.sort, "--sort"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lbctl").chain(args.iter().copied()))
    }

    fn list(numeric: bool, stats: bool) -> Command {
        Command::List(ListOptions {
            numeric,
            stats,
            ..Default::default()
        })
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
        assert_eq!(
            parse(&["-L", "-n", "--stats"]).unwrap().resolve().unwrap(),
            list(true, true)
        );
        assert_eq!(
            parse(&["-L"]).unwrap().resolve().unwrap(),
            list(false, false)
        );
        assert_eq!(parse(&[]).unwrap().resolve().unwrap(), list(false, false));
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
            Command::List(ListOptions {
                numeric: true,
                stats: true,
                exact: true,
                nosort: true,
                sort: false,
            })
        );
        assert!(cli.global.json);
        assert_eq!(cli.global.socket, PathBuf::from("/tmp/x.sock"));
        let Command::List(o) = parse(&["-L", "-n", "--nosort", "--sort"])
            .unwrap()
            .resolve()
            .unwrap()
        else {
            panic!()
        };
        assert!(!o.nosort);
        let Command::List(o) = parse(&["-LnX"]).unwrap().resolve().unwrap() else {
            panic!()
        };
        assert!(o.exact);
    }

    #[test]
    fn status_verb() {
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["--json", "status"],
            &["status", "--socket", "/tmp/s"],
            &["--socket=/tmp/s", "status"],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.resolve().unwrap(), Command::Status, "{args:?}");
        }
        assert!(parse(&["status", "--json"]).unwrap().global.json);
    }

    #[test]
    fn bad_command_lines_are_errors() {
        for (args, kind) in [
            (&["--bogus"][..], ErrorKind::UnknownArgument),
            (&["-L", "-q"], ErrorKind::UnknownArgument),
            (&["-L", "--rate"], ErrorKind::UnknownArgument),
            (&["-L", "-l"], ErrorKind::ArgumentConflict),
            (&["-L", "status"], ErrorKind::ArgumentConflict),
            (&["--stats", "status"], ErrorKind::ArgumentConflict),
            (&["status", "--stats"], ErrorKind::UnknownArgument),
            (&["status", "-L"], ErrorKind::UnknownArgument),
            (&["--socket"], ErrorKind::InvalidValue),
            (&["frobnicate"], ErrorKind::InvalidSubcommand),
        ] {
            match parse(args).and_then(|cli| cli.resolve()) {
                Ok(cmd) => panic!("{args:?} parsed: {cmd:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), kind, "{args:?}: {e}");
                    assert_eq!(e.exit_code(), 2, "{args:?}");
                }
            }
        }
        let e = parse(&["-n", "status"]).unwrap().resolve().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("error: the verb 'status' cannot be used with '--numeric'"),
            "{e}"
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
