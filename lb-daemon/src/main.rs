//! lbd: the lb daemon (command line only; the daemon is the library). `lbd --config FILE`
//! runs the director; `lbd decap --interface IF` runs the real-server side.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use lb_daemon::{control, dataplane, host::netns, run};
use lb_model::api::DEFAULT_SOCKET;
use lb_model::config::{self, Config};
use tracing::info;

#[derive(Parser)]
#[command(
    name = "lbd",
    version,
    about = "lb: an XDP layer-4 load balancer in the LVS tradition"
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
    #[arg(long, value_enum, default_value = "text", global = true)]
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
    /// Real-server side: strip the director's tunnel headers (IPIP, IPv6 in IP, and GUE to
    /// --gue-port) on INTERFACE until stopped.
    Decap {
        #[arg(long, value_name = "INTERFACE")]
        interface: String,
        /// Also strip GUE (ipvsadm --tun-type gue) sent to this UDP port.
        #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        gue_port: Option<u16>,
        #[arg(long, value_enum, default_value = "native")]
        xdp_mode: Mode,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Remove a data plane lbd left running (it keeps forwarding after lbd stops): detach its
    /// program and drop its maps and connections.
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

fn main() {
    let cli = Cli::parse();
    let filter = match &cli.log_level {
        Some(f) => match tracing_subscriber::EnvFilter::try_new(f) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("lbd: --log-level {f:?}: {e}");
                std::process::exit(2);
            }
        },
        None => {
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        // Under systemd the journal adds its own timestamps; keep ours anyway: logs also go to
        // files and pipes.
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .init(),
    }
    if let Err(e) = run(cli) {
        eprintln!("lbd: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
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
            println!("{}: {n} pins removed", pin_dir.display());
            Ok(())
        }
        Some(Cmd::Schema) => {
            print!("{}", config::schema::schema_text());
            Ok(())
        }
        Some(Cmd::CheckConfig { file }) => {
            Config::load(&file)?;
            println!("{}: ok", file.display());
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
