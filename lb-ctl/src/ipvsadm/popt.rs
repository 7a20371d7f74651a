//! What ipvsadm says, and with which exit status, for a command line that clap refused:
//! popt's messages ("-t: missing argument") and ipvsadm's own for options given twice.

use super::{
    table::{O_SERVICE, OPT_NAMES},
    words::{command_words, uses_verb},
};

/// ipvsadm's name of a long option given twice (`set_option`'s "multiple '%s' options
/// specified"), or None for a command (its "multiple commands specified") or an option of
/// lbctl's own.
fn option_name(long: &str) -> Option<Result<&'static str, ()>> {
    match long {
        "tcp-service" | "udp-service" | "sctp-service" | "fwmark-service" => {
            Some(Ok(OPT_NAMES[O_SERVICE]))
        }
        "set" | "start-daemon" | "stop-daemon" => Some(Err(())),
        "mh-table-size" => Some(Ok("mh-table-size")),
        "line-by-line" => Some(Ok("line-by-line")),
        _ => OPT_NAMES.iter().find(|n| **n == long).map(|n| Ok(*n)),
    }
}

/// What ipvsadm says, and its exit status, for a command line clap refused, when that line
/// is ipvsadm's kind (no lbctl verb):
///
/// - popt's `"%s: %s\n"` of the word and `poptStrerror`: "-q: unknown option", "-t: missing
///   argument", "--stats=1: option does not take an argument", status 255 (ipvsadm's
///   `return -1`); when that word is the first, which ipvsadm reads on its own, its
///   `tryhelp_exit`: "Try `lbctl -h' or 'lbctl --help' for more information.", status 255;
/// - ipvsadm's `fail(2, ...)`: "multiple '%s' options specified", "invalid option `%s'" for a
///   second command, "unexpected argument %s", status 2.
///
/// `args` starts with the program's name. None: clap's message applies.
pub fn clap_error(args: &[String], e: &clap::Error) -> Option<(String, u8)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if uses_verb(args) {
        return None;
    }
    let context = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let program = args.first().map(String::as_str).unwrap_or("lbctl");
    let try_help = || format!("Try `{program} -h' or '{program} --help' for more information.");
    // The word of the command line an option error is about (popt's poptBadOption).
    let word_of = |arg: &str| -> (usize, String) {
        let found = if arg.starts_with("--") {
            args.iter()
                .skip(1)
                .position(|a| a == arg || a.starts_with(&format!("{arg}=")))
        } else {
            let c = arg.trim_start_matches('-');
            args.iter()
                .skip(1)
                .position(|a| a.starts_with('-') && !a.starts_with("--") && a[1..].contains(c))
        };
        match found {
            Some(i) => (i + 1, args[i + 1].clone()),
            None => (0, arg.to_string()),
        }
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let (i, word) = word_of(&context(ContextKind::InvalidArg)?);
            Some(if i == 1 {
                (try_help(), 255)
            } else {
                (format!("{word}: unknown option"), 255)
            })
        }
        // `--stats=1`: popt's POPT_ERROR_UNWANTEDARG.
        ErrorKind::TooManyValues => {
            let (i, word) = word_of(&context(ContextKind::InvalidArg)?);
            Some(if i == 1 {
                (try_help(), 255)
            } else {
                (format!("{word}: option does not take an argument"), 255)
            })
        }
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).as_deref() == Some("") => {
            // A value is missing: only at the end, since every ipvsadm option takes the next
            // word as its value whatever it looks like.
            let i = args.len() - 1;
            Some(if i <= 1 {
                (try_help(), 255)
            } else {
                (format!("{}: missing argument", args[i]), 255)
            })
        }
        ErrorKind::ArgumentConflict => {
            let arg = context(ContextKind::InvalidArg)?;
            let long = arg.split_whitespace().next()?.strip_prefix("--")?;
            Some(match option_name(long)? {
                Ok(name) => (format!("multiple '{name}' options specified"), 2),
                // A second command: see `command`.
                Err(()) => match command_words(args).get(1) {
                    Some(w) => (format!("invalid option `{w}'"), 2),
                    None => ("multiple commands specified".into(), 2),
                },
            })
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(ContextKind::InvalidSubcommand)?;
            let ipvsadm_words = args
                .iter()
                .skip(1)
                .any(|a| a.starts_with('-') && a != "--json" && !a.starts_with("--socket"));
            ipvsadm_words.then(|| (format!("unexpected argument {word}"), 2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;

    /// What clap refuses, in ipvsadm's (popt's) words and with its status.
    #[test]
    fn popt_errors() {
        let e = |args: &[&str]| {
            let full: Vec<String> = std::iter::once("lbctl")
                .chain(args.iter().copied())
                .map(str::to_string)
                .collect();
            match Cli::parse_words(&full) {
                Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
                Err(err) => clap_error(&full, &err),
            }
        };
        let some = |m: &str, s: u8| Some((m.to_string(), s));
        let try_help = "Try `lbctl -h' or 'lbctl --help' for more information.";
        assert_eq!(e(&["-L", "--frob"]), some("--frob: unknown option", 255));
        assert_eq!(
            e(&["-L", "--frob=1"]),
            some("--frob=1: unknown option", 255)
        );
        assert_eq!(e(&["-Lq"]), some(try_help, 255));
        assert_eq!(e(&["-n", "-Lq"]), some("-Lq: unknown option", 255));
        assert_eq!(e(&["--bogus"]), some(try_help, 255));
        assert_eq!(e(&["-A", "-t"]), some("-t: missing argument", 255));
        assert_eq!(
            e(&["-L", "--stats=1"]),
            some("--stats=1: option does not take an argument", 255)
        );
        assert_eq!(e(&["-A", "-At"]), some("-At: missing argument", 255));
        assert_eq!(e(&["--start-daemon"]), some(try_help, 255));
        assert_eq!(
            e(&["-a", "-w", "1", "-w", "2"]),
            some("multiple 'weight' options specified", 2)
        );
        assert_eq!(
            e(&[
                "-A",
                "-t",
                "1.2.3.4:80",
                "--udp-service",
                "1.2.3.4:80",
                "-t",
                "x"
            ]),
            some("multiple 'service-address' options specified", 2)
        );
        assert_eq!(
            e(&["-L", "--stats", "--stats"]),
            some("multiple 'stats' options specified", 2)
        );
        assert_eq!(
            e(&["-L", "--nosort", "--nosort"]),
            some("multiple 'nosort' options specified", 2)
        );
        assert_eq!(
            e(&["--set", "1", "2", "3", "--set", "4", "5", "6"]),
            some("invalid option `--set'", 2)
        );
        assert_eq!(
            e(&["--start-daemon", "master", "--start-daemon", "backup"]),
            some("invalid option `--start-daemon'", 2)
        );
        assert_eq!(
            e(&["--set", "1", "2", "3", "4"]),
            some("unexpected argument 4", 2)
        );
        assert_eq!(e(&["-L", "foo"]), some("unexpected argument foo", 2));
        // The verbs keep clap's messages.
        assert_eq!(e(&["status", "--stats"]), None);
        assert_eq!(e(&["--json", "frobnicate"]), None);
        assert_eq!(e(&["-s", "rr", "drain", "--bogus"]), None);
    }
}
