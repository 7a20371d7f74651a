//! From a parsed command line to the [`Command`] to run: one of lbctl's verbs, which take no
//! ipvsadm flag, or else ipvsadm's command and options as ipvsadm processes them
//! ([`crate::ipvsadm`]).

use lb_model::api::DirectorAction;

use crate::{
    cli::{Cli, DirectorVerb, GetWhat, Verb},
    command::{Command, UsageError},
    ipvsadm,
};

impl Cli {
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
                Verb::Man { .. } => "man",
                Verb::GenerateDocs { .. } => "generate-docs",
                Verb::Top(_) => "top",
                Verb::Drain(_) => "drain",
                Verb::Undrain(_) => "undrain",
                Verb::Health => "health",
                Verb::Trace(_) => "trace",
                Verb::Proc(_) => "proc",
                Verb::Sysctl(_) => "sysctl",
                Verb::Director { .. } => "director",
                Verb::BirdConfig(_) => "bird-config",
                Verb::Mark { .. } => "mark",
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
                Verb::Man { verb } => Command::Man(verb.clone()),
                Verb::GenerateDocs { dir } => Command::GenerateDocs(dir.clone()),
                Verb::Top(a) => Command::Top(*a),
                Verb::Drain(a) => Command::Drain(*a),
                Verb::Undrain(t) => Command::Undrain(*t),
                Verb::Health => Command::Health,
                Verb::Trace(a) => Command::Trace(*a),
                Verb::Proc(a) => Command::Proc(a.clone()),
                Verb::Sysctl(a) => Command::Sysctl(a.clone()),
                Verb::Director { action } => Command::Director(match action {
                    DirectorVerb::Drain => DirectorAction::Drain,
                    DirectorVerb::Undrain => DirectorAction::Undrain,
                    DirectorVerb::Status => DirectorAction::Status,
                }),
                Verb::BirdConfig(a) => Command::BirdConfig(a.clone()),
                Verb::Mark { verb } => Command::Mark(verb.clone()),
            });
        }
        ipvsadm::resolve_with(self, lookup)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use lb_model::api::DEFAULT_SOCKET;

    use super::*;
    use crate::{
        cli::{ListOptions, Shell},
        command::ListWhat,
    };

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(args)
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
}
