//! ipvsadm's flags and options as clap reads them, grouped as `lbctl -h` shows them. Their
//! values stay text: [`crate::ipvsadm`] reads them as ipvsadm does (`strtol`, `inet_aton`,
//! ...), with ipvsadm's messages.

use clap::{ArgAction, Args};

use super::values::Offered;
use crate::words::{SCHED_FLAGS, SCHEDULERS, TUN_TYPES};

/// ipvsadm's command flags. Counted, so that giving two (even `-L -l`) is ipvsadm's
/// "multiple commands specified" rather than a clap error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Commands")]
pub struct CommandFlags {
    /// Add a virtual service with options
    #[arg(short = 'A', long = "add-service", action = ArgAction::Count)]
    pub add_service: u8,
    /// Edit a virtual service with options
    #[arg(short = 'E', long = "edit-service", action = ArgAction::Count)]
    pub edit_service: u8,
    /// Delete a virtual service
    #[arg(short = 'D', long = "delete-service", action = ArgAction::Count)]
    pub delete_service: u8,
    /// Clear the whole table
    #[arg(short = 'C', long = "clear", action = ArgAction::Count)]
    pub clear: u8,
    /// Restore rules from stdin (one batch: all or nothing)
    #[arg(short = 'R', long = "restore", action = ArgAction::Count)]
    pub restore: u8,
    /// With -R: apply each line on its own as ipvsadm does (lines before a refused one stay
    /// applied, the next ones are still tried; lbctl extension)
    #[arg(long = "line-by-line")]
    pub line_by_line: bool,
    /// Save rules to stdout
    #[arg(short = 'S', long = "save", action = ArgAction::Count)]
    pub save: u8,
    /// Add a real server with options
    #[arg(short = 'a', long = "add-server", action = ArgAction::Count)]
    pub add_server: u8,
    /// Edit a real server with options
    #[arg(short = 'e', long = "edit-server", action = ArgAction::Count)]
    pub edit_server: u8,
    /// Delete a real server
    #[arg(short = 'd', long = "delete-server", action = ArgAction::Count)]
    pub delete_server: u8,
    /// List the table (the default command)
    #[arg(short = 'L', long = "list", visible_short_alias = 'l', action = ArgAction::Count)]
    pub list: u8,
    /// Zero counters in a service or all services
    #[arg(short = 'Z', long = "zero", action = ArgAction::Count)]
    pub zero: u8,
    /// Set connection timeout values (seconds; 0 keeps a value)
    // Given twice: clap's conflict, which lbctl words as ipvsadm does a second command.
    #[arg(long = "set", num_args = 0..=3, value_names = ["TCP", "TCPFIN", "UDP"], action = ArgAction::Set)]
    pub set: Option<Vec<String>>,
    /// Start connection sync daemon (master: send this director's connections; backup: apply the others')
    #[arg(
        long = "start-daemon",
        value_name = "STATE",
        allow_hyphen_values = true
    )]
    pub start_daemon: Option<String>,
    /// Stop connection sync daemon
    #[arg(long = "stop-daemon", value_name = "STATE", allow_hyphen_values = true)]
    pub stop_daemon: Option<String>,
}

/// Service selection and service options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Service options")]
pub struct ServiceOptions {
    /// TCP service: host[:port]
    #[arg(
        short = 't',
        long = "tcp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub tcp: Option<String>,
    /// UDP service: host[:port]
    #[arg(
        short = 'u',
        long = "udp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub udp: Option<String>,
    /// SCTP service: host[:port]
    #[arg(
        long = "sctp-service",
        value_name = "SERVICE-ADDRESS",
        allow_hyphen_values = true
    )]
    pub sctp: Option<String>,
    /// Firewall-mark service (not supported by lb)
    #[arg(
        short = 'f',
        long = "fwmark-service",
        value_name = "FWMARK",
        allow_hyphen_values = true
    )]
    pub fwmark: Option<String>,
    /// Scheduler (default wlc)
    #[arg(
        short = 's',
        long = "scheduler",
        value_name = "SCHEDULER",
        allow_hyphen_values = true,
        value_parser = Offered(SCHEDULERS)
    )]
    pub scheduler: Option<String>,
    /// Persistent service, timeout in seconds (default 300)
    #[arg(short = 'p', long = "persistent", value_name = "TIMEOUT", num_args = 0..=1)]
    pub persistent: Option<Option<String>>,
    /// Persistence granularity: a netmask (IPv4) or prefix length (IPv6)
    #[arg(
        short = 'M',
        long = "netmask",
        value_name = "NETMASK",
        allow_hyphen_values = true
    )]
    pub netmask: Option<String>,
    /// Persistence engine (not supported by lb)
    #[arg(long = "pe", value_name = "ENGINE", allow_hyphen_values = true)]
    pub pe: Option<String>,
    /// Scheduler flags, comma-separated
    #[arg(
        short = 'b',
        long = "sched-flags",
        value_name = "FLAGS",
        allow_hyphen_values = true,
        value_parser = Offered(SCHED_FLAGS)
    )]
    pub sched_flags: Option<String>,
    /// One-packet scheduling (UDP)
    #[arg(short = 'o', long = "ops")]
    pub ops: bool,
    /// The firewall-mark service is IPv6
    #[arg(short = '6', long = "ipv6", action = ArgAction::Count)]
    pub ipv6: u8,
    /// Maglev table size, a prime (lbctl extension; mh only)
    #[arg(
        long = "mh-table-size",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub mh_table_size: Option<String>,
}

/// Real-server options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Real-server options")]
pub struct RealOptions {
    /// Real server: host[:port]
    #[arg(
        short = 'r',
        long = "real-server",
        value_name = "SERVER-ADDRESS",
        allow_hyphen_values = true
    )]
    pub server: Option<String>,
    /// Gatewaying (direct routing) (default)
    #[arg(short = 'g', long = "gatewaying", action = ArgAction::Count)]
    pub gatewaying: u8,
    /// IPIP encapsulation (tunneling)
    #[arg(short = 'i', long = "ipip", action = ArgAction::Count)]
    pub ipip: u8,
    /// Masquerading (NAT)
    #[arg(short = 'm', long = "masquerading", action = ArgAction::Count)]
    pub masquerading: u8,
    /// Tunnel type (default ipip)
    #[arg(
        long = "tun-type",
        value_name = "TYPE",
        allow_hyphen_values = true,
        value_parser = Offered(TUN_TYPES)
    )]
    pub tun_type: Option<String>,
    /// Tunnel destination port (gue)
    #[arg(long = "tun-port", value_name = "PORT", allow_hyphen_values = true)]
    pub tun_port: Option<String>,
    /// Tunnel encapsulation without checksum
    #[arg(long = "tun-nocsum")]
    pub tun_nocsum: bool,
    /// Tunnel encapsulation with checksum
    #[arg(long = "tun-csum")]
    pub tun_csum: bool,
    /// Tunnel encapsulation with remote checksum
    #[arg(long = "tun-remcsum")]
    pub tun_remcsum: bool,
    /// Capacity of the real server (0 to 2147483647, default 1)
    #[arg(
        short = 'w',
        long = "weight",
        value_name = "WEIGHT",
        allow_hyphen_values = true
    )]
    pub weight: Option<String>,
    /// Upper threshold of connections
    #[arg(
        short = 'x',
        long = "u-threshold",
        value_name = "UTHRESHOLD",
        allow_hyphen_values = true
    )]
    pub u_threshold: Option<String>,
    /// Lower threshold of connections
    #[arg(
        short = 'y',
        long = "l-threshold",
        value_name = "LTHRESHOLD",
        allow_hyphen_values = true
    )]
    pub l_threshold: Option<String>,
}

/// Options of `-L`/`--list` (and `-S`), as ipvsadm names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "List options")]
pub struct ListOptions {
    /// Numeric output of addresses and ports
    #[arg(short = 'n', long)]
    pub numeric: bool,

    /// Output of current connections (and persistence templates)
    #[arg(short = 'c', long = "connection")]
    pub connection: bool,

    /// Output of timeout (tcp tcpfin udp)
    #[arg(long)]
    pub timeout: bool,

    /// Output of daemon information
    #[arg(long)]
    pub daemon: bool,

    /// Output of statistics information
    #[arg(long)]
    pub stats: bool,

    /// Output of rate information
    #[arg(long)]
    pub rate: bool,

    /// Output of thresholds information
    #[arg(long)]
    pub thresholds: bool,

    /// Output of persistent connection info
    #[arg(long = "persistent-conn")]
    pub persistent_conn: bool,

    /// Output of tunnel information
    #[arg(long = "tun-info")]
    pub tun_info: bool,

    /// Expand numbers (display exact values)
    #[arg(short = 'X', long)]
    pub exact: bool,

    /// Disable sorting output of service/server entries
    #[arg(long)]
    pub nosort: bool,

    /// Does nothing, for backwards compatibility (sorting is the default; it does not undo
    /// --nosort, as in ipvsadm)
    #[arg(long, action = ArgAction::Count)]
    pub sort: u8,
}

/// Options of `--start-daemon`: lbd's connection-sync daemon, as ipvsadm's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Daemon options")]
pub struct DaemonOptions {
    /// Multicast interface for connection sync
    #[arg(
        long = "mcast-interface",
        value_name = "INTERFACE",
        allow_hyphen_values = true
    )]
    pub mcast_interface: Option<String>,
    /// Syncid for connection sync (default 255)
    #[arg(long = "syncid", value_name = "SID", allow_hyphen_values = true)]
    pub syncid: Option<String>,
    /// Multicast group for connection sync (IPv4 or IPv6)
    #[arg(
        long = "mcast-group",
        value_name = "ADDRESS",
        allow_hyphen_values = true
    )]
    pub mcast_group: Option<String>,
    /// Multicast port for connection sync
    #[arg(long = "mcast-port", value_name = "PORT", allow_hyphen_values = true)]
    pub mcast_port: Option<String>,
    /// Multicast TTL for connection sync
    #[arg(long = "mcast-ttl", value_name = "TTL", allow_hyphen_values = true)]
    pub mcast_ttl: Option<String>,
    /// Maximum sync message length
    #[arg(
        long = "sync-maxlen",
        value_name = "LENGTH",
        allow_hyphen_values = true
    )]
    pub sync_maxlen: Option<String>,
}
