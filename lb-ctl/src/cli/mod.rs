//! lbctl's command line as clap reads it: the words, spelled like ipvsadm's, into typed
//! fields, with no meaning yet (values of ipvsadm's options stay text, for ipvsadm's own
//! readings in [`crate::ipvsadm`]).
//!
//! ipvsadm selects its command with a flag (`-A`, `-a`, `-L`, `-C`, ...), the other options
//! qualifying it. lbctl keeps that: clap collects every flag and option as given
//! ([`options`]), and [`Cli::resolve`] (`crate::resolve`) then does what ipvsadm's
//! `process_options` does, giving one [`crate::command::Command`] for `crate::cmd` to run.
//! Options may come in any order. Verbs that ipvsadm has no flag for (`status`, `apply`,
//! `get`, `completions`, `man`, `drain`, `undrain`, `health`, `trace`, `top`, `proc`,
//! `sysctl`, `director`, `bird-config`) are
//! subcommands ([`verbs`]). Some options' values are offered to completions ([`values`]).

pub mod argv0;
pub mod options;
pub mod values;
pub mod verbs;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use lb_model::api::DEFAULT_SOCKET;

pub use self::{
    options::{CommandFlags, DaemonOptions, ListOptions, RealOptions, ServiceOptions},
    verbs::{
        BirdConfigArgs, DirectorVerb, DrainArgs, MarkAddArgs, MarkVerb, ProcArgs, RealAddr,
        RealTarget, SysctlArgs, TopArgs, TraceArgs,
    },
};

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
                  lbctl trace --vip 10.0.0.1\n  \
                  lbctl top\n  \
                  lbctl director drain\n  \
                  lbctl bird-config --router 192.0.2.1",
    // ipvsadm(8)'s synopsis, one form per command, with lbctl's verbs.
    override_usage = "lbctl -A|-E -t|-u SERVICE-ADDRESS [-s SCHEDULER] [-p [TIMEOUT]] [-M NETMASK] [-b FLAGS] [-o] [--mh-table-size SIZE]\n       \
                      lbctl -D -t|-u SERVICE-ADDRESS\n       \
                      lbctl -C\n       \
                      lbctl -R\n       \
                      lbctl -S [-n]\n       \
                      lbctl -a|-e -t|-u SERVICE-ADDRESS -r SERVER-ADDRESS [-g|-i|-m] [-w WEIGHT] [-x UTHRESHOLD] [-y LTHRESHOLD] [--tun-type TYPE] [--tun-port PORT] [--tun-nocsum|--tun-csum|--tun-remcsum]\n       \
                      lbctl -d -t|-u SERVICE-ADDRESS -r SERVER-ADDRESS\n       \
                      lbctl -L|-l [-t|-u SERVICE-ADDRESS] [-n] [-c] [--timeout] [--daemon] [--stats|--rate|--thresholds|--persistent-conn|--tun-info] [-X] [--nosort]\n       \
                      lbctl -Z [-t|-u SERVICE-ADDRESS]\n       \
                      lbctl --set TCP TCPFIN UDP\n       \
                      lbctl --start-daemon STATE [--mcast-interface INTERFACE] [--syncid SID] | --stop-daemon STATE\n       \
                      lbctl VERB [VERB OPTIONS]\n       \
                      lbctl -h|--help|-v|--version\n       \
                      (every form also takes --json and --socket PATH)",
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
    /// Print lbctl's man page (roff), or a verb's
    Man {
        /// The verb whose page to print (its own, named lbctl-VERB)
        #[arg(value_name = "VERB", value_parser = clap::builder::PossibleValuesParser::new(VERBS))]
        verb: Option<String>,
    },
    /// Drain a real server: no new connections now, its remaining ones removed at the deadline
    Drain(DrainArgs),
    /// End a drain: the real server takes new connections again
    Undrain(RealTarget),
    /// Show every real server's health check, state and drain
    Health,
    /// Show live what the data plane does with matching packets (verdict, reason, real server)
    Trace(TraceArgs),
    /// Show services and real servers live, refreshed like top (connections, rates, health, drains)
    Top(TopArgs),
    /// Print what the kernel's /proc/net/FILE of IPVS would hold (ip_vs, ip_vs_conn, ip_vs_stats, ip_vs_stats_percpu)
    Proc(ProcArgs),
    /// List the IPVS sysctls lb honours with their values, or set one (-w NAME=VALUE)
    Sysctl(SysctlArgs),
    /// Drain the director (withdraw its VIPs from BIRD), undrain it, or show its announcement
    Director {
        #[arg(value_enum, value_name = "ACTION")]
        action: DirectorVerb,
    },
    /// Print the BIRD 2 config a director needs to announce lbd's VIPs (and the router's side)
    BirdConfig(BirdConfigArgs),
    /// Firewall marks: lb's classifier of new flows for firewall-mark services (-f MARK)
    Mark {
        #[command(subcommand)]
        verb: MarkVerb,
    },
    /// Write the man pages, completions and JSON Schemas into DIR (what docs/ ships)
    #[command(hide = true)]
    GenerateDocs {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// lbctl's verbs as help shows them, each with a man page of its own.
pub const VERBS: &[&str] = &[
    "status",
    "apply",
    "get",
    "completions",
    "man",
    "drain",
    "undrain",
    "health",
    "trace",
    "top",
    "proc",
    "sysctl",
    "director",
    "bird-config",
    "mark",
];

/// Verbs help does not show (what `cargo xtask docs` runs).
pub const HIDDEN_VERBS: &[&str] = &["generate-docs"];

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

impl Cli {
    /// Parses a command line (program name first), keeping its words.
    pub fn parse_words(words: &[String]) -> Result<Cli, clap::Error> {
        let mut cli = Cli::try_parse_from(words)?;
        cli.words = words.to_vec();
        Ok(cli)
    }
}

#[cfg(test)]
impl Cli {
    /// `lbctl` and `args`, parsed (for tests).
    pub(crate) fn parse_args(args: &[&str]) -> Result<Cli, clap::Error> {
        let words: Vec<String> = std::iter::once("lbctl")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        Cli::parse_words(&words)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, error::ErrorKind};

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(args)
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_verb_lists_are_the_subcommands() {
        let names = |hidden: bool| -> Vec<String> {
            Cli::command()
                .get_subcommands()
                .filter(|c| c.is_hide_set() == hidden)
                .map(|c| c.get_name().to_string())
                .collect()
        };
        assert_eq!(names(false), VERBS);
        assert_eq!(names(true), HIDDEN_VERBS);
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
