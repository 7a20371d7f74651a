//! The control protocol between `lbctl` (or any client) and `lbd`: one JSON request per line
//! on the Unix socket, answered by one JSON response line. Versioned by [`API_VERSION`]; a
//! daemon answers a request of another version with an error naming both versions.
//!
//! Reading ops (`list`, `status`, `get_config`, `timeouts`, `connections`) change nothing.
//! Changing ops (`edit`, `apply`, `zero`) are applied under one lock, so concurrent clients
//! see each other's changes whole; `edit` and `apply` are all or nothing: lbd edits a copy of
//! its desired config, validates the copy with the same checks as a config file, and only
//! then writes the maps (each service flipped in one map update) and persists the new state.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::config::{Raw, RealServerConfig, ServiceConfig};

/// Version 2 added the changing ops (`edit`, `apply`, `zero`, `drain`, `undrain`),
/// `get_config`, `timeouts` and `connections`, and rates, thresholds, tunnel details and health
/// in listings.
pub const API_VERSION: u32 = 2;

/// Default path of lbd's control socket (lbd `--socket`, lbctl `--socket`).
pub const DEFAULT_SOCKET: &str = "/run/lb/lbd.sock";

/// The largest request line lbd reads, in bytes without its newline: 64 MiB, room for an
/// `apply` of a config at the documented limits. lbd answers a longer one with an error and
/// closes the connection; lbctl refuses to send one.
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    #[serde(flatten)]
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Every virtual service with its real servers, counters and rates.
    List,
    /// Daemon-wide state: interface, attach mode, reason counters, connection-table size.
    Status,
    /// Drains a real server: no new connections from now on, and the ones it still has are
    /// removed `deadline_secs` from now. Answered with [`Response::RealServer`].
    Drain {
        /// "tcp" or "udp".
        protocol: String,
        vip: IpAddr,
        port: u16,
        address: IpAddr,
        real_port: u16,
        deadline_secs: u64,
    },
    /// Streams the data plane's decisions for matching packets (`lbctl trace`): answered with
    /// [`Response::TraceStarted`], then one [`Response::Trace`] line per event until the client
    /// closes the connection. Unset filters match everything.
    Trace {
        /// Packets to this VIP (and `nat` replies from it).
        #[serde(default)]
        vip: Option<IpAddr>,
        /// Packets from (or to) this client address.
        #[serde(default)]
        client: Option<IpAddr>,
        /// Packets forwarded to this real-server address.
        #[serde(default)]
        real: Option<IpAddr>,
        /// At most this many events per second and CPU (default 1000; 0: no limit).
        #[serde(default)]
        max_per_sec: Option<u32>,
    },
    /// Ends a drain: the real server takes new connections again. Answered with
    /// [`Response::RealServer`].
    Undrain {
        protocol: String,
        vip: IpAddr,
        port: u16,
        address: IpAddr,
        real_port: u16,
    },
    /// ipvsadm's changing commands, applied together or not at all (a single command is a
    /// batch of one; `lbctl -R` sends the whole restore file as one batch).
    Edit { edits: Vec<Edit> },
    /// Replace the whole desired state by a JSON config (the text of a config file: lbd
    /// parses it, so syntax errors carry the file's line and column). With `dry_run`, only
    /// validate and report what would change.
    Apply {
        config: String,
        /// Names the config in error messages (the file name).
        source: String,
        #[serde(default)]
        dry_run: bool,
    },
    /// The desired state as a JSON config (what `apply` would take back unchanged).
    GetConfig,
    /// Zero the counters (and rate estimators) of one service and its real servers, or of
    /// every service (ipvsadm `-Z`).
    Zero {
        #[serde(default)]
        service: Option<ServiceKey>,
    },
    /// The idle timeouts (ipvsadm `-L --timeout`).
    Timeouts,
    /// The connection table and the persistence templates (ipvsadm `-L -c`).
    Connections,
    /// Every service's counters summed, CPU by CPU, and their rates summed (IPVS's total
    /// counters, `/proc/net/ip_vs_stats` and `ip_vs_stats_percpu`). Answered with
    /// [`Response::CpuStats`].
    CpuStats,
    /// The director as a whole (`lbctl director drain|undrain|status`): `drain` withdraws
    /// every VIP's announcement (BIRD stops advertising this director to the routers), `undrain`
    /// announces again the VIPs it can serve; `status` changes nothing. Answered with
    /// [`Response::Director`] once BIRD has been told (or telling it failed).
    Director { action: DirectorAction },
    /// ipvsadm `--start-daemon master|backup`: starts a connection-sync daemon with
    /// `options` (the config's `sync` fields; `send` and `receive` are ignored: the role
    /// says). Not persisted: the config's `sync` section is what starts with lbd. Answered
    /// with [`Response::Daemons`].
    StartDaemon {
        role: DaemonRole,
        options: crate::config::SyncConfig,
    },
    /// ipvsadm `--stop-daemon master|backup`. Answered with [`Response::Daemons`].
    StopDaemon { role: DaemonRole },
    /// ipvsadm `-L --daemon`: the running sync daemons.
    Daemons,
}

/// A connection-sync daemon's role (ipvsadm's `master` sends, `backup` receives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonRole {
    Master,
    Backup,
}

impl DaemonRole {
    pub fn name(self) -> &'static str {
        match self {
            DaemonRole::Master => "master",
            DaemonRole::Backup => "backup",
        }
    }
}

/// A running sync daemon (`-L --daemon`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonView {
    pub role: DaemonRole,
    pub mcast_interface: String,
    pub syncid: u8,
    pub sync_maxlen: u16,
    /// The multicast group (None with unicast peers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<std::net::SocketAddr>,
    /// Master: messages sent; backup: good messages received.
    pub messages: u64,
    /// Master: records sent; backup: records applied (inserted or refreshed).
    pub records: u64,
    /// Master: sends that failed; backup: datagrams refused and records not applied.
    pub refused: u64,
}

/// What `Op::Director` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectorAction {
    Drain,
    Undrain,
    Status,
}

/// The director's announcement state (the answer to [`Op::Director`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorView {
    /// Whether the config has an `announce` section (else lbd announces nothing).
    pub announcing: bool,
    /// `lb` is attached to the interface.
    pub attached: bool,
    /// Drained (`lbctl director drain`): no VIP is announced until undrained.
    pub drained: bool,
    /// The VIPs that should be announced now (lb attached, not drained, and a service on the
    /// VIP with a real server that can take connections), sorted.
    pub wanted: Vec<IpAddr>,
    /// The VIPs of the include file BIRD last accepted (`configure` answered without error),
    /// sorted.
    pub announced: Vec<IpAddr>,
    /// Why the last attempt to tell BIRD failed, if it did (lbd retries every second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// BIRD's control socket and lbd's include file, as configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bird_socket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_file: Option<String>,
}

/// A virtual service's identity, as ipvsadm's `-t`/`-u`/`-f` name it (a firewall-mark
/// service: `fwmark`, protocol "tcp", port 0 and the unspecified address of its family).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceKey {
    /// "tcp" or "udp".
    pub protocol: String,
    pub vip: IpAddr,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
}

/// A virtual service as a client sends it for ipvsadm `-A`/`-E`: the config's own service
/// type, names as written (lbd checks them, with the config file's checks and ipvsadm's
/// words). ipvsadm's clients fill every setting (`-E` replaces them all, as in ipvsadm).
pub type ServiceSpec = ServiceConfig<Raw>;

/// A real server as a client sends it for ipvsadm `-a`/`-e`: the config's own real-server
/// type, names as written. ipvsadm's clients fill every setting and give the port (`-e`
/// replaces them all, as in ipvsadm).
pub type RealSpec = RealServerConfig<Raw>;

/// One of ipvsadm's changing commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Edit {
    /// `-A`: "Service already exists" if it does. The service is added as given (ipvsadm
    /// gives no real servers).
    AddService { service: ServiceSpec },
    /// `-E`: "No such service" if it does not exist. The service's settings are replaced;
    /// its real servers stay (the edit gives none), and so do its health check and sorry
    /// server unless the edit gives them.
    EditService { service: ServiceSpec },
    /// `-D`: "No such service" if it does not exist.
    DelService { service: ServiceKey },
    /// `-C`: remove every service.
    Clear,
    /// `-a`: "Service not defined", "Destination already exists".
    AddReal { service: ServiceKey, real: RealSpec },
    /// `-e`: "Service not defined", "No such destination".
    EditReal { service: ServiceKey, real: RealSpec },
    /// `-d`: "Service not defined", "No such destination".
    DelReal {
        service: ServiceKey,
        address: IpAddr,
        port: u16,
    },
    /// `--set tcp tcpfin udp`: seconds; 0 leaves that timeout as it is (as in IPVS).
    SetTimeouts { tcp: u32, tcpfin: u32, udp: u32 },
    /// `lbctl mark add` / `import`: appends matches to a mark (the mark is made, last in the
    /// list, if it has none yet).
    AddMatches {
        mark: u32,
        matches: Vec<crate::config::MarkMatch>,
    },
    /// `lbctl mark del`: removes a mark's match `index` (0-based; the mark goes with its last
    /// one), or the whole mark. "No such mark" / "No such match" when it does not exist.
    DelMark {
        mark: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
}

// One response per request, serialised at once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Services {
        /// Capacity of the connection table (ipvsadm's banner prints it as `size=`).
        conn_table_size: u32,
        services: Vec<ServiceView>,
    },
    Status(StatusView),
    /// One real server of one service, as listed (the answer to drain and undrain).
    RealServer {
        protocol: String,
        vip: IpAddr,
        port: u16,
        real: RealServerView,
    },
    /// A change was made (or, with `dry_run`, would be): one line per change, in the order
    /// of the config; empty when the desired state was already so.
    Applied {
        changes: Vec<String>,
        #[serde(default)]
        dry_run: bool,
    },
    /// The desired state as config text (pretty JSON).
    Config {
        config: String,
    },
    Timeouts {
        tcp: u32,
        tcpfin: u32,
        udp: u32,
    },
    Connections {
        connections: Vec<ConnView>,
    },
    /// The answer to [`Op::CpuStats`].
    CpuStats {
        /// The counters of every service summed, one entry per possible CPU, in CPU order.
        per_cpu: Vec<StatsView>,
        /// The estimator's rates of every service summed.
        rate: RateView,
    },
    /// The director's announcement state (the answer to [`Op::Director`]).
    Director(DirectorView),
    /// The running sync daemons (the answer to `start_daemon`, `stop_daemon`, `daemons`).
    Daemons {
        daemons: Vec<DaemonView>,
    },
    /// A trace is running (see [`Op::Trace`]); events follow.
    TraceStarted,
    /// One decision of the data plane.
    Trace(TraceView),
    Error {
        message: String,
        /// For `edit`: the index of the edit that failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edit: Option<usize>,
    },
}

/// One packet's fate, as `lbctl trace` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    /// Wall-clock time, RFC 3339 with microseconds (UTC).
    pub time: String,
    /// "tx", "redirect", "pass", "drop" or "aborted".
    pub verdict: String,
    /// The reason counted for it (`lb_common::REASON_NAMES`).
    pub reason: String,
    /// "tcp", "udp", "icmp", "icmpv6"; absent when the packet was not parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Source address and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Destination address and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The real server it went to ("address:port").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real: Option<String>,
}

/// ipvsadm's `--stats` columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsView {
    pub conns: u64,
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl From<lb_common::Stats> for StatsView {
    fn from(s: lb_common::Stats) -> Self {
        Self {
            conns: s.conns,
            in_pkts: s.in_pkts,
            out_pkts: s.out_pkts,
            in_bytes: s.in_bytes,
            out_bytes: s.out_bytes,
        }
    }
}

/// ipvsadm's `--rate` columns: connections, packets and bytes per second, as lbd's
/// estimator (IPVS's: 2-second samples, smoothed) sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateView {
    pub cps: u64,
    pub in_pps: u64,
    pub out_pps: u64,
    pub in_bps: u64,
    pub out_bps: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// "tcp", "udp" (or "sctp").
    pub protocol: String,
    pub vip: IpAddr,
    pub port: u16,
    /// A firewall-mark service (ipvsadm `-f`): its mark; `vip` is then its family's
    /// unspecified address, `protocol` "tcp" and `port` 0 (as IPVS holds them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// ipvsadm scheduler name ("mh", "wlc", ...).
    pub scheduler: String,
    /// Scheduler flags as ipvsadm prints them (e.g. "mh-port").
    #[serde(default)]
    pub sched_flags: Vec<String>,
    /// Persistence timeout in seconds, when the service is persistent.
    #[serde(default)]
    pub persistent: Option<u32>,
    /// Persistence granularity as a prefix length, when not a single address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_netmask: Option<u8>,
    /// Persistence engine (ipvsadm `--pe`): lbd has none, lbctl can print them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe_name: Option<String>,
    /// One-packet scheduling (ipvsadm `-o`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_packet: bool,
    /// Maglev table size, when not the default (lbctl `--mh-table-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mh_table_size: Option<u32>,
    pub stats: StatsView,
    #[serde(default)]
    pub rate: RateView,
    pub real_servers: Vec<RealServerView>,
    /// Whether the service can take new connections (lbd with health checks and drains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ServiceHealthView>,
}

impl Default for ServiceView {
    fn default() -> Self {
        Self {
            protocol: "tcp".into(),
            vip: IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwmark: None,
            scheduler: "wlc".into(),
            sched_flags: Vec::new(),
            persistent: None,
            persistent_netmask: None,
            pe_name: None,
            one_packet: false,
            mh_table_size: None,
            stats: StatsView::default(),
            rate: RateView::default(),
            real_servers: Vec::new(),
            health: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealServerView {
    pub address: IpAddr,
    pub port: u16,
    /// "tun", "dr" or "nat".
    pub forwarding: String,
    pub weight: u32,
    pub active_conns: u64,
    pub inactive_conns: u64,
    /// Persistence templates naming this real server (ipvsadm's PersistConn).
    #[serde(default)]
    pub persist_conns: u64,
    /// Connection thresholds (ipvsadm `-x`, `-y`); 0 when unset.
    #[serde(default)]
    pub upper_threshold: u32,
    #[serde(default)]
    pub lower_threshold: u32,
    /// Tunnel type of a `tun` real server ("ipip", "gue"), port and checksum mode of GUE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_csum: Option<String>,
    pub stats: StatsView,
    /// Health check, drain and sorry-server state (lbd with health checks and drains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<RealHealthView>,
    #[serde(default)]
    pub rate: RateView,
}

impl Default for RealServerView {
    fn default() -> Self {
        Self {
            address: IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
            forwarding: "dr".into(),
            weight: 1,
            active_conns: 0,
            inactive_conns: 0,
            persist_conns: 0,
            upper_threshold: 0,
            lower_threshold: 0,
            tun_type: None,
            tun_port: None,
            tun_csum: None,
            stats: StatsView::default(),
            rate: RateView::default(),
            health: None,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One entry of the connection table or one persistence template, as ipvsadm `-L -c` shows
/// them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnView {
    /// "tcp" or "udp".
    pub protocol: String,
    /// IPVS's state name: a TCP state ("SYN_RECV", "ESTABLISHED", "FIN_WAIT", "TIME_WAIT",
    /// "CLOSE", "CLOSE_WAIT", "LAST_ACK", "SYN_SENT", "LISTEN", "SYNACK", "NONE"), "UDP";
    /// "NONE" for a persistence template.
    pub state: String,
    /// Seconds until the entry expires unless more packets come.
    pub expires: u64,
    pub client: IpAddr,
    pub client_port: u16,
    pub vip: IpAddr,
    pub vport: u16,
    pub real: IpAddr,
    pub real_port: u16,
    /// A persistence template (client network -> real server) rather than a connection.
    #[serde(default)]
    pub template: bool,
}

/// A service's availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHealthView {
    /// False when no real server can take new connections (each is down, draining or of
    /// weight 0).
    pub up: bool,
    /// The sorry server is in the service (taking its new connections) because it is down.
    #[serde(default)]
    pub sorry_server_active: bool,
    /// What a down service does with new connections: "drop" or "sorry_server".
    pub fallback: String,
}

/// A real server's availability. `RealServerView::weight` is the configured weight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealHealthView {
    /// "up", "down" (taken out by its health check) or "unchecked".
    pub state: String,
    /// The weight the scheduler uses: 0 while down or draining.
    pub effective_weight: u32,
    /// This is the service's sorry server, in use while the service is down.
    #[serde(default)]
    pub sorry_server: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<DrainView>,
}

/// A real server's health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    /// "tcp", "http", "udp" or "exec".
    pub kind: String,
    /// The address and port checked.
    pub target: String,
    /// Successes in a row (0 after a failure).
    pub successes: u32,
    /// Failures in a row (0 after a success).
    pub failures: u32,
    pub checks_ok: u64,
    pub checks_failed: u64,
    /// How long the last check took, microseconds.
    #[serde(default)]
    pub last_duration_us: Option<u64>,
    /// Why the last check failed (none after a success).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds since the state last changed (or the check started).
    pub since_secs: u64,
}

/// A draining real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainView {
    /// Seconds until its remaining connections are removed (0 once the deadline passed).
    pub remaining_secs: u64,
    /// The deadline passed and its connections were removed; it stays out of scheduling
    /// until undrained.
    pub expired: bool,
    /// Its connections still in the table (active and inactive).
    pub connections: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub version: String,
    /// The first interface `lb` is attached to (for readers of one interface).
    pub interface: String,
    /// Every interface `lb` is attached to, in the config's order.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Those interfaces as the kernel reports them now, in the same order.
    #[serde(default)]
    pub links: Vec<LinkView>,
    /// "native" or "generic".
    pub xdp_mode: String,
    pub services: usize,
    pub real_servers: usize,
    /// Entries in the connection table now.
    pub connections: u64,
    /// Capacity of the connection table.
    pub connection_capacity: u32,
    /// Every reason counter by name (`lb_common::REASON_NAMES`), summed over CPUs.
    pub reasons: Vec<(String, u64)>,
    /// Services with no real server able to take new connections.
    #[serde(default)]
    pub services_down: usize,
}

/// An interface `lb` is attached to, as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub name: String,
    /// 0 when the kernel does not know the interface (any more).
    pub index: u32,
    /// Administratively up with its carrier.
    pub up: bool,
    pub mtu: u32,
    /// The XDP program attached now: its mode (`native`, `generic`, `offload`, `multi`, or
    /// `none`) and id (0 for none).
    pub xdp_mode: String,
    pub program_id: u32,
    /// What `lb` did with the packets that arrived on the interface (zero from an lbd that
    /// does not count them).
    #[serde(default)]
    pub counters: InterfaceCounters,
}

/// What `lb` did with the packets that arrived on one interface: the data plane's per-CPU
/// counters under the interface's index, summed, since the running program was loaded (lbd's
/// start).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[schemars(deny_unknown_fields)]
pub struct InterfaceCounters {
    /// Packets that arrived on the interface.
    pub packets: u64,
    /// Their frames' bytes as they arrived, Ethernet headers included.
    pub bytes: u64,
    /// Verdicts, one per packet: sent back out of the interface (XDP_TX).
    pub tx: u64,
    /// Redirected out of another interface.
    pub redirect: u64,
    /// Passed to the kernel.
    pub pass: u64,
    /// Dropped.
    pub drop: u64,
    /// XDP_ABORTED (none is expected).
    pub aborted: u64,
}

impl StatusView {
    /// The interfaces `lb` is attached to (an lbd of one interface names only `interface`).
    pub fn attached(&self) -> Vec<String> {
        if self.interfaces.is_empty() {
            vec![self.interface.clone()]
        } else {
            self.interfaces.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_requests_are_tagged_json() {
        let req = Request {
            v: API_VERSION,
            op: Op::Edit {
                edits: vec![Edit::DelService {
                    service: ServiceKey {
                        protocol: "tcp".into(),
                        vip: "192.168.0.1".parse().unwrap(),
                        port: 80,
                        fwmark: None,
                    },
                }],
            },
        };
        let text = serde_json::to_string(&req).unwrap();
        assert_eq!(
            text,
            r#"{"v":2,"op":"edit","edits":[{"cmd":"del_service","service":{"protocol":"tcp","vip":"192.168.0.1","port":80}}]}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), req);
    }

    #[test]
    fn service_and_real_server_edits_read_what_version_2_clients_send() {
        // As lbctl sent them before the API used the config's own types.
        let old = r#"{"v":2,"op":"edit","edits":[
            {"cmd":"add_service","service":{"protocol":"tcp","vip":"192.168.0.1","port":80,
             "scheduler":"wlc","persistent":null,"persistent_netmask":null,"sched_flags":[],
             "one_packet":false,"mh_table_size":null}},
            {"cmd":"add_real","service":{"protocol":"tcp","vip":"192.168.0.1","port":80},
             "real":{"address":"172.16.0.1","port":80,"weight":1,"forwarding":"nat",
             "tun_type":null,"tun_port":null,"tun_csum":null,"upper_threshold":null,
             "lower_threshold":null}}]}"#;
        let Request {
            op: Op::Edit { edits },
            ..
        } = serde_json::from_str::<Request>(old).unwrap()
        else {
            panic!("an edit");
        };
        let [Edit::AddService { service }, Edit::AddReal { real, .. }] = &edits[..] else {
            panic!("{edits:?}");
        };
        assert_eq!((service.scheduler.as_str(), service.port), ("wlc", 80));
        assert!(service.real_servers.is_empty());
        assert_eq!((real.port, real.forwarding.as_str()), (Some(80), "nat"));
        // What is sent now: the same fields (a version 2 lbd ignores real_servers).
        let text = serde_json::to_string(&edits[1]).unwrap();
        assert_eq!(
            text,
            r#"{"cmd":"add_real","service":{"protocol":"tcp","vip":"192.168.0.1","port":80},"real":{"address":"172.16.0.1","port":80,"weight":1,"forwarding":"nat"}}"#
        );
    }
}
