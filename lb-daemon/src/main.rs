//! lbd: the lb daemon. `lbd --config FILE` runs the director; `lbd decap --interface IF` runs
//! the real-server side.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use lb_common::api::DEFAULT_SOCKET;
use lb_daemon::{config, control, daemon, dataplane, netns};
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
    /// Validate a config file and exit (0 when usable).
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Native,
    Generic,
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("lbd: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(ns) = &cli.netns {
        netns::enter(ns)?;
    }
    match cli.cmd {
        Some(Cmd::Schema) => {
            print!("{}", lb_daemon::schema::schema_text());
            Ok(())
        }
        Some(Cmd::CheckConfig { file }) => {
            config::Config::load(&file)?;
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
            daemon::run(&config, &cli.socket, state)
        }
    }
}
