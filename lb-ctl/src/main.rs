use std::{io, process::ExitCode};

use clap::Parser;
use lb_ctl::{cli::Cli, client::Refused, cmd};

fn main() -> ExitCode {
    // clap's usage errors exit with status 2, -h and -v with 0.
    let cli = Cli::parse();
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
        // lbd refused the request, or a command failed as ipvsadm's do: the message as it
        // is ("Service already exists"), status 1.
        Err(e)
            if e.downcast_ref::<Refused>().is_some()
                || e.downcast_ref::<cmd::Failure>().is_some() =>
        {
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
