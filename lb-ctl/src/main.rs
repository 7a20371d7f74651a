use std::{io, process::ExitCode};

use std::io::Read as _;

use lb_ctl::{
    cli::{
        Cli,
        argv0::{self, Personality},
    },
    client::{Refused, Unavailable},
    cmd,
    contract::{
        self,
        error::{ErrorCode, ErrorOutput},
    },
    ipvsadm,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Installed as ipvsadm-save / ipvsadm-restore (or lbctl-save / lbctl-restore): the
    // command line those stand for.
    let personality = argv0::personality(args.first().map(String::as_str).unwrap_or(""));
    let args = match argv0::words(personality, &args) {
        Ok(a) => a,
        Err(help) => {
            eprintln!("{help}");
            return ExitCode::FAILURE;
        }
    };
    // Read before parsing: a command line clap refuses still gets its error as JSON.
    let json = args.iter().skip(1).any(|a| a == "--json");
    let fail = |code: ErrorCode, message: &str, status: u8| fail(json, code, message, status);
    let cli = match Cli::parse_words(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // An ipvsadm command line gets ipvsadm's (popt's) words and status; the verbs,
            // -h and -v clap's (usage errors exit with 2, -h and -v with 0).
            if let Some((message, status)) = ipvsadm::clap_error(&args, &e) {
                return fail(ErrorCode::Usage, &message, status);
            }
            if json && e.use_stderr() {
                let status = u8::try_from(e.exit_code()).unwrap_or(2);
                return fail(ErrorCode::Usage, e.render().to_string().trim_end(), status);
            }
            e.exit()
        }
    };
    let command = match cli.resolve() {
        Ok(c) => c,
        // ipvsadm's option errors: its message alone, status 2 (ipvsadm's `fail(2, ...)`).
        Err(e) => return fail(ErrorCode::Usage, &e.to_string(), 2),
    };
    let stdout = io::stdout();
    let stdin = io::stdin();
    // lbctl-restore: the table cleared and the rules restored, in one batch.
    let mut input: Box<dyn io::Read> = if personality == Personality::Restore {
        Box::new(io::Cursor::new(b"-C\n".to_vec()).chain(stdin.lock()))
    } else {
        Box::new(stdin.lock())
    };
    match cmd::run(command, &cli.global, &mut input, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // `lbctl -L | head`: the reader went away, nothing is wrong.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // A command failed as ipvsadm's do: the message as it is ("Service already
        // exists"), ipvsadm's status for it (255 for a refused change).
        Err(e) if e.downcast_ref::<cmd::Failure>().is_some() => {
            let f = e.downcast_ref::<cmd::Failure>().expect("checked");
            fail(f.code, &f.message, f.status)
        }
        // lbd refused a request of lbctl's own verbs: its message, status 1.
        Err(e) if e.downcast_ref::<Refused>().is_some() => {
            fail(ErrorCode::Refused, &e.to_string(), 1)
        }
        Err(e) => {
            let code = if e.chain().any(|c| c.downcast_ref::<Unavailable>().is_some()) {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Failed
            };
            if json {
                fail(code, &format!("{e:#}"), 1)
            } else {
                eprintln!("lbctl: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Reports a failure: as text on standard error, or (`--json`) as the contract's error on
/// standard output; either way with `status`.
fn fail(json: bool, code: ErrorCode, message: &str, status: u8) -> ExitCode {
    if json {
        print!(
            "{}",
            contract::to_text(&ErrorOutput::new(code, message.trim_end()))
        );
    } else {
        eprintln!("{message}");
    }
    ExitCode::from(status)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
