//! The options of lbctl's own verbs that take more than a word: `drain`, `undrain`, `trace`,
//! `top`, `proc`, `sysctl`, `director`, `bird-config`, `mark` (what they do is in `crate::cmd`).

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};

use crate::words::PROC_FILES;

/// The real server of a service, as ipvsadm names them: `-t|-u VIP:PORT -r RIP[:PORT]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("drain-service").required(true).multiple(false)))]
pub struct RealTarget {
    /// The TCP service
    #[arg(
        short = 't',
        long = "tcp-service",
        value_name = "VIP:PORT",
        group = "drain-service"
    )]
    pub tcp: Option<SocketAddr>,
    /// The UDP service
    #[arg(
        short = 'u',
        long = "udp-service",
        value_name = "VIP:PORT",
        group = "drain-service"
    )]
    pub udp: Option<SocketAddr>,
    /// The real server (its port defaults to the service's)
    #[arg(
        short = 'r',
        long = "real-server",
        value_name = "RIP[:PORT]",
        required = true
    )]
    pub real: RealAddr,
}

/// `lbctl drain` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
pub struct DrainArgs {
    #[command(flatten)]
    pub target: RealTarget,
    /// Seconds after which the connections it still has are removed (0: at once)
    #[arg(long, value_name = "SECS")]
    pub deadline: u64,
}

/// A real server's address with an optional port: `10.0.0.1`, `10.0.0.1:80`, `2001:db8::1`,
/// `[2001:db8::1]:80`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealAddr {
    pub address: IpAddr,
    pub port: Option<u16>,
}

impl FromStr for RealAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(sa) = s.parse::<SocketAddr>() {
            if sa.port() == 0 {
                return Err("port 0 is not allowed (1 to 65535)".into());
            }
            return Ok(Self {
                address: sa.ip(),
                port: Some(sa.port()),
            });
        }
        s.parse::<IpAddr>()
            .map(|address| Self {
                address,
                port: None,
            })
            .map_err(|_| {
                format!("{s:?} is not an address or address:port ([address]:port for IPv6)")
            })
    }
}

/// `lbctl trace` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
pub struct TraceArgs {
    /// Only packets to this VIP (and nat replies from it)
    #[arg(long, value_name = "ADDRESS")]
    pub vip: Option<IpAddr>,
    /// Only packets from (or to) this client address
    #[arg(long, value_name = "ADDRESS")]
    pub client: Option<IpAddr>,
    /// Only packets forwarded to this real server
    #[arg(long, value_name = "ADDRESS")]
    pub real: Option<IpAddr>,
    /// Stop after this many events (default: until interrupted)
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// At most this many events per second and CPU (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_per_sec: u32,
}

/// `lbctl top` options (as top's own: `-b`, `-n`, `-d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
pub struct TopArgs {
    /// Batch mode: print frame after frame, without terminal control (also when standard
    /// output is not a terminal)
    #[arg(short = 'b', long)]
    pub batch: bool,
    /// Stop after this many frames (default: until q or Ctrl-C)
    #[arg(
        short = 'n',
        long = "iterations",
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub iterations: Option<u64>,
    /// Seconds between frames, 0.1 to 3600 (lbd's rates are 2-second samples)
    #[arg(short = 'd', long = "delay", value_name = "SECS", default_value = "2", value_parser = delay)]
    pub delay: Duration,
}

/// `lbctl proc` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct ProcArgs {
    /// The file of /proc/net
    #[arg(value_name = "FILE", value_parser = clap::builder::PossibleValuesParser::new(PROC_FILES))]
    pub file: String,
    /// The kernel's CONFIG_HZ, for ip_vs's persistence timeouts, which the kernel prints in
    /// jiffies (default: CONFIG_HZ from /boot/config-RELEASE, else 250)
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub hz: Option<u32>,
}

/// `lbctl sysctl` options, as sysctl(8)'s.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct SysctlArgs {
    /// Set NAME=VALUE (lbd applies its config with that field changed)
    #[arg(short = 'w', long = "write", value_name = "NAME=VALUE")]
    pub write: Vec<String>,
    /// Print what each sysctl does in lb instead of its value
    #[arg(short = 'd', long = "describe", conflicts_with = "write")]
    pub describe: bool,
    /// Only these (net.ipv4.vs.NAME, net/ipv4/vs/NAME or NAME)
    #[arg(value_name = "NAME", conflicts_with = "write")]
    pub names: Vec<String>,
}

/// `lbctl director` actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DirectorVerb {
    /// Withdraw every VIP from BIRD: the routers send this director no new traffic
    /// (connections it carries keep being forwarded)
    Drain,
    /// Announce again the VIPs this director can serve
    Undrain,
    /// Show what is announced, what should be, and BIRD's last error
    Status,
}

/// `lbctl bird-config` options: the director's BGP session(s) and lbd's include file.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct BirdConfigArgs {
    /// A router to announce the VIPs to (its address: IPv4 sessions carry the IPv4 VIPs, IPv6
    /// sessions the IPv6 ones); repeat for several
    #[arg(long = "router", value_name = "ADDRESS", required = true)]
    pub routers: Vec<IpAddr>,
    /// The routers' AS number
    #[arg(long, value_name = "ASN", default_value_t = 65000, value_parser = clap::value_parser!(u32).range(1..))]
    pub router_as: u32,
    /// This director's AS number (the router's for iBGP)
    #[arg(long, value_name = "ASN", default_value_t = 65001, value_parser = clap::value_parser!(u32).range(1..))]
    pub local_as: u32,
    /// The include file lbd writes (the config's announce.include_file)
    #[arg(long, value_name = "PATH", default_value = "/etc/bird/lb-vips.conf")]
    pub include_file: std::path::PathBuf,
    /// BGP hold time in seconds: how soon a router drops the routes of a director whose BIRD
    /// stopped answering
    #[arg(long, value_name = "SECS", default_value_t = 3, value_parser = clap::value_parser!(u16).range(3..))]
    pub hold_time: u16,
}

/// `lbctl mark`: lb's classifier, which gives new flows the firewall marks that
/// firewall-mark services (`-A -f MARK`) take, where IPVS reads netfilter's mark.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum MarkVerb {
    /// Add a match to a mark (the mark is made, last in the list, if it has none): new flows
    /// it matches get the mark (the first match in the list wins, as iptables's first rule)
    Add(MarkAddArgs),
    /// Remove a mark's match (its number in `lbctl mark list`, from 1), or the whole mark
    Del {
        /// The mark
        #[arg(value_name = "MARK", value_parser = clap::value_parser!(u32).range(1..))]
        mark: u32,
        /// The match's number (from 1); without it, the whole mark
        #[arg(value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        index: Option<u64>,
    },
    /// List the marks and their matches, in the order the classifier tries them
    List,
    /// Import iptables MARK rules (`iptables-save` output or `iptables -t mangle -A PREROUTING
    /// ... -j MARK --set-mark N` lines): all of them or, if a line cannot be honoured, none
    Import {
        /// The rules ("-" reads standard input)
        #[arg(value_name = "FILE", default_value = "-")]
        file: std::path::PathBuf,
    },
}

/// `lbctl mark add` options, spelled as iptables's.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct MarkAddArgs {
    /// The mark (1 to 4294967295)
    #[arg(value_name = "MARK", value_parser = clap::value_parser!(u32).range(1..))]
    pub mark: u32,
    /// Destination prefix (10.0.0.1/32, 2001:db8::/64; an address alone is one address)
    #[arg(short = 'd', long = "destination", value_name = "PREFIX")]
    pub destination: String,
    /// tcp, udp or sctp (default: any of them)
    #[arg(short = 'p', long = "protocol", value_name = "PROTO")]
    pub protocol: Option<String>,
    /// Destination ports: 80, 8000-8100 (or 8000:8100), or a list (80,443); needs -p
    #[arg(long = "dport", alias = "dports", value_name = "PORTS")]
    pub ports: Option<String>,
    /// Source prefix (default: any source)
    #[arg(short = 's', long = "source", value_name = "PREFIX")]
    pub source: Option<String>,
}

/// `-d SECS`: a number of seconds, fractions allowed, 0.1 to 3600.
fn delay(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&secs) {
        return Err(format!("{s} is out of range (0.1 to 3600 seconds)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_delays() {
        assert_eq!(delay("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(delay("2"), Ok(Duration::from_secs(2)));
        assert_eq!(
            delay("0.01"),
            Err("0.01 is out of range (0.1 to 3600 seconds)".into())
        );
        assert_eq!(delay("x"), Err("\"x\" is not a number of seconds".into()));
    }

    #[test]
    fn real_addresses_with_and_without_ports() {
        let r: RealAddr = "10.0.0.1".parse().unwrap();
        assert_eq!((r.address.to_string(), r.port), ("10.0.0.1".into(), None));
        let r: RealAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(r.port, Some(8080));
        let r: RealAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(r.port, None);
        let r: RealAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(
            (r.address.to_string(), r.port),
            ("2001:db8::1".into(), Some(80))
        );
        assert!("10.0.0.1:0".parse::<RealAddr>().is_err());
        assert_eq!(
            "web1".parse::<RealAddr>().unwrap_err(),
            "\"web1\" is not an address or address:port ([address]:port for IPv6)"
        );
    }
}
