use std::{io, process::ExitCode};

use clap::Parser;
use lb_ctl::{cli::Cli, cmd};

fn main() -> ExitCode {
    // Usage errors exit with status 2 (clap's), -h and -v with 0.
    let cli = Cli::parse();
    let command = cli.resolve().unwrap_or_else(|e| e.exit());
    let stdout = io::stdout();
    match cmd::run(command, &cli.global, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // `lbctl -L | head`: the reader went away, nothing is wrong.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
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
