use std::{io, process::ExitCode};

use lb_ctl::{cli::Cli, client::Refused, cmd, ipvsadm};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::parse_words(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // An ipvsadm command line gets ipvsadm's (popt's) words and status; the verbs,
            // -h and -v clap's (usage errors exit with 2, -h and -v with 0).
            if let Some((message, status)) = ipvsadm::clap_error(&args, &e) {
                eprintln!("{message}");
                return ExitCode::from(status);
            }
            e.exit()
        }
    };
    let command = match cli.resolve() {
        Ok(c) => c,
        // ipvsadm's option errors: its message alone, status 2 (ipvsadm's `fail(2, ...)`).
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let stdin = io::stdin();
    match cmd::run(command, &cli.global, &mut stdin.lock(), &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // `lbctl -L | head`: the reader went away, nothing is wrong.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // A command failed as ipvsadm's do: the message as it is ("Service already
        // exists"), ipvsadm's status for it (255 for a refused change).
        Err(e) if e.downcast_ref::<cmd::Failure>().is_some() => {
            let status = e.downcast_ref::<cmd::Failure>().map_or(1, |f| f.status);
            eprintln!("{e}");
            ExitCode::from(status)
        }
        // lbd refused a request of lbctl's own verbs: its message, status 1.
        Err(e) if e.downcast_ref::<Refused>().is_some() => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("lbctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
