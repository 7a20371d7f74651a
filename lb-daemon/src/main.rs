//! lbd: the lb daemon (command line only; the daemon is the library). `lbd --config FILE`
//! runs the director; `lbd decap --interface IF` runs the real-server side.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use lb_daemon::{control, dataplane, ftp, host::netns, run};
use lb_model::{
    api::DEFAULT_SOCKET,
    config::{self, Config},
};
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "lbd",
    version,
    about = "The lb director: an XDP layer-4 load balancer in the LVS tradition",
    long_about = "The lb director: an XDP layer-4 load balancer in the LVS tradition.\n\n\
                  lbd loads lb's XDP programs, attaches them to the config's interface, pins \
                  them and their maps, applies the config and serves lbctl on its control \
                  socket. Stopped, it leaves the data plane forwarding; started again, it takes \
                  it over without losing a connection.",
    after_help = "Examples:\n  \
                  lbd --config /etc/lb/lb.json --log-format json\n  \
                  lbd check-config /etc/lb/lb.json\n  \
                  lbd decap --interface eth0 --gue-port 6080\n  \
                  lbd flush --pin-dir /sys/fs/bpf/lb"
)]
struct Cli {
    /// The JSON config (see README.md).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// The control socket lbctl talks to (mode 0600).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Where lbd records the state applied at run time (lbctl, apply, SIGHUP); when the file
    /// exists at start, its services, timeouts and director addresses replace the config
    /// file's.
    #[arg(long, value_name = "PATH", default_value = control::DEFAULT_STATE_FILE)]
    state_file: PathBuf,
    /// Neither read nor write a state file: every start begins from the config file.
    #[arg(long, conflicts_with = "state_file")]
    no_state: bool,
    /// Run in this network namespace (/run/netns/NAME) but keep the host's bpffs.
    #[arg(long, value_name = "NAME", global = true)]
    netns: Option<String>,
    /// Validate a config file and exit (0 when usable); the same as `lbd check-config FILE`.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    check_config: Option<PathBuf>,
    /// Log format on stderr: one line per event, as text or as a JSON object.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter such as
    /// "info,lb_daemon::health=debug"). Default: RUST_LOG, else info.
    #[arg(long, value_name = "FILTER", global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Real-server side: strip the director's tunnel headers (IPIP, IPv6 in IP, GRE, and GUE
    /// to --gue-port) on INTERFACE until stopped.
    Decap {
        /// The interface the director's tunnelled packets arrive on.
        #[arg(long, value_name = "INTERFACE")]
        interface: String,
        /// Also strip GUE (ipvsadm --tun-type gue) sent to this UDP port.
        #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        gue_port: Option<u16>,
        /// XDP attach mode: native (driver) or generic (skb, slower).
        #[arg(long, value_enum, value_name = "MODE", default_value = "native")]
        xdp_mode: Mode,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Remove a data plane lbd left running (it keeps forwarding after lbd stops): detach its
    /// program and drop its maps and connections (and the FTP helper's interface, lbftp0).
    Flush {
        /// The pin directory (the config's `pin_dir`; default /sys/fs/bpf/lb).
        #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf/lb")]
        pin_dir: PathBuf,
    },
    /// Validate a config file and exit (0 when usable).
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write lbd's man pages, completions and config schema into DIR (what docs/ ships).
    #[command(hide = true)]
    GenerateDocs {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Native,
    Generic,
}

/// lbd(8)'s own sections beside clap's.
const MAN_SECTIONS: &[lb_docs::Section] = &[
    lb_docs::Section {
        heading: "SIGNALS",
        text: "SIGHUP re-reads the config file and applies it as the new state (a bad file \
               is logged and the running state kept). SIGTERM and SIGINT stop lbd and leave \
               the data plane forwarding; lbd flush removes it.",
    },
    lb_docs::Section {
        heading: "LOGS",
        text: "One line per event on standard error: text, or with --log-format json one \
               JSON object per line (timestamp, level, target, message and the event's \
               fields); with json, fatal errors and command-line errors are such objects too.",
    },
    lb_docs::Section {
        heading: "FILES",
        text: "/etc/lb/lb.json, the config (its JSON Schema: lbd schema). /run/lb/lbd.sock, \
               the control socket. /var/lib/lb/state.json, the state applied at run time. \
               /sys/fs/bpf/lb, the pinned maps and link.",
    },
];

/// Whether the command line asks for JSON logs, read before it is parsed: a command line
/// clap refuses is then reported as JSON too.
fn json_logs_asked(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .zip(args.iter().skip(1))
        .any(|(a, b)| a == "--log-format" && b == "json")
        || args.iter().any(|a| a == "--log-format=json")
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = json_logs_asked(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // --help and --version print as usual; errors as one JSON line when asked.
        Err(e) if json && e.use_stderr() => {
            init_logs(LogFormat::Json, "info".into());
            error!(
                exit_status = e.exit_code(),
                "{}",
                e.render().to_string().trim_end()
            );
            std::process::exit(e.exit_code());
        }
        Err(e) => e.exit(),
    };
    let filter = match &cli.log_level {
        Some(f) => match tracing_subscriber::EnvFilter::try_new(f) {
            Ok(f) => f,
            Err(e) if cli.log_format == LogFormat::Json => {
                init_logs(LogFormat::Json, "info".into());
                error!(exit_status = 2, "lbd: --log-level {f:?}: {e}");
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("lbd: --log-level {f:?}: {e}");
                std::process::exit(2);
            }
        },
        None => {
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
        }
    };
    let format = cli.log_format;
    init_logs(format, filter);
    if let Err(e) = run(cli) {
        match format {
            LogFormat::Text => eprintln!("lbd: {e:#}"),
            LogFormat::Json => error!(exit_status = 1, "lbd: {e:#}"),
        }
        std::process::exit(1);
    }
}

fn init_logs(format: LogFormat, filter: tracing_subscriber::EnvFilter) {
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        // Under systemd the journal adds its own timestamps; keep ours anyway: logs also go to
        // files and pipes.
        LogFormat::Text => logs.init(),
        LogFormat::Json => {
            logs.json()
                .flatten_event(true)
                .with_current_span(false)
                .with_ansi(false)
                .init();
            // A panic is an event too (the default hook would print text).
            std::panic::set_hook(Box::new(|p| {
                let location = p.location().map(|l| l.to_string()).unwrap_or_default();
                error!(panic = true, %location, "lbd panicked: {}", panic_message(p));
            }));
        }
    }
}

fn panic_message(p: &std::panic::PanicHookInfo<'_>) -> String {
    p.payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

fn run(cli: Cli) -> Result<()> {
    let json = cli.log_format == LogFormat::Json;
    if let Some(ns) = &cli.netns {
        netns::enter(ns)?;
    }
    let cmd = match (cli.cmd, cli.check_config) {
        (None, Some(file)) => Some(Cmd::CheckConfig { file }),
        (Some(_), Some(_)) => {
            anyhow::bail!("--check-config cannot be combined with a subcommand")
        }
        (cmd, None) => cmd,
    };
    match cmd {
        Some(Cmd::Flush { pin_dir }) => {
            let n = dataplane::flush(&pin_dir)
                .with_context(|| format!("removing the pins in {}", pin_dir.display()))?;
            ftp::link::remove().context("removing the FTP helper's interface")?;
            // With JSON logs, what lbd writes is JSON lines: the result is an event.
            if json {
                info!(pin_dir = %pin_dir.display(), pins_removed = n, "pins removed");
            } else {
                println!("{}: {n} pins removed", pin_dir.display());
            }
            Ok(())
        }
        Some(Cmd::Schema) => {
            print!("{}", config::schema::schema_text());
            Ok(())
        }
        Some(Cmd::CheckConfig { file }) => {
            Config::load(&file)?;
            if json {
                info!(file = %file.display(), "config ok");
            } else {
                println!("{}: ok", file.display());
            }
            Ok(())
        }
        Some(Cmd::GenerateDocs { dir }) => {
            let mut files = lb_docs::files(Cli::command(), MAN_SECTIONS, &["lbctl"]);
            files.push(("lb.schema.json".into(), config::schema::schema_text()));
            lb_docs::write_all(&dir, &files)
                .with_context(|| format!("writing into {}", dir.display()))?;
            for (name, _) in files {
                println!("{name}");
            }
            Ok(())
        }
        Some(Cmd::Decap {
            interface,
            gue_port,
            xdp_mode,
        }) => {
            let mode = match xdp_mode {
                Mode::Native => config::XdpMode::Native,
                Mode::Generic => config::XdpMode::Generic,
            };
            let mut ebpf = dataplane::attach_standalone("decap", &interface, mode)?;
            if let Some(p) = gue_port {
                dataplane::set_decap_gue_port(&mut ebpf, p)?;
            }
            info!(%interface, %mode, gue_port = gue_port.unwrap_or(0), "decap attached");
            let mut signals = signal_hook::iterator::Signals::new([
                signal_hook::consts::SIGTERM,
                signal_hook::consts::SIGINT,
            ])?;
            signals.forever().next();
            info!("decap detached");
            Ok(())
        }
        None => {
            let Some(config) = cli.config else {
                anyhow::bail!("--config FILE is required (or a subcommand; see --help)");
            };
            let state = (!cli.no_state).then_some(cli.state_file.as_path());
            run::run(&config, &cli.socket, state)
        }
    }
}
