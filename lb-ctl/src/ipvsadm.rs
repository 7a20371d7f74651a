//! ipvsadm's option processing (`ipvsadm.c`: `parse_options`, `process_options`,
//! `generic_opt_check`, `tunnel_opt_check`, `parse_service`, `parse_timeout`, ...): which
//! command was given, which options it takes, the values' checks and ipvsadm's defaults, with
//! ipvsadm's own error messages. Options are order-free (ipvsadm wants the command first).

use std::net::{IpAddr, Ipv4Addr};

use clap::Parser;
use lb_common::api::{Edit, RealSpec, ServiceKey, ServiceSpec};

use crate::cli::{Cli, Command, ListWhat, UsageError};

/// ipvsadm's `MAX_TIMEOUT`: 31 days.
pub const MAX_TIMEOUT: u32 = 86400 * 31;
/// ipvsadm's `IPVS_SVC_PERSISTENT_TIMEOUT`: `-p` without a value.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 300;
pub const DEFAULT_SCHEDULER: &str = "wlc";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

const CMD_NAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// ipvsadm 1.31's option names, in its `optnames` order (the columns of [`TABLE`]).
const OPT_NAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

const O_NUMERIC: usize = 0;
const O_CONNECTION: usize = 1;
const O_SERVICE: usize = 2;
const O_SCHEDULER: usize = 3;
const O_PERSISTENT: usize = 4;
const O_NETMASK: usize = 5;
const O_SERVER: usize = 6;
const O_FORWARD: usize = 7;
const O_WEIGHT: usize = 8;
const O_UTHRESHOLD: usize = 9;
const O_LTHRESHOLD: usize = 10;
const O_MCAST: usize = 11;
const O_TIMEOUT: usize = 12;
const O_DAEMON: usize = 13;
const O_STATS: usize = 14;
const O_RATE: usize = 15;
const O_THRESHOLDS: usize = 16;
const O_PERSISTENTCONN: usize = 17;
const O_NOSORT: usize = 18;
const O_SYNCID: usize = 19;
const O_EXACT: usize = 20;
const O_ONEPACKET: usize = 21;
const O_PE: usize = 22;
const O_SCHED_FLAGS: usize = 23;
const O_MCAST_GROUP: usize = 24;
const O_MCAST_PORT: usize = 25;
const O_MCAST_TTL: usize = 26;
const O_SYNC_MAXLEN: usize = 27;
const O_TUN_INFO: usize = 28;
const O_TUN_TYPE: usize = 29;
const O_TUN_PORT: usize = 30;
const O_TUN_NOCSUM: usize = 31;
const O_TUN_CSUM: usize = 32;
const O_TUN_REMCSUM: usize = 33;

/// ipvsadm 1.31's `commands_v_options`: per command (rows in [`CMD_NAMES`] order) and option
/// (columns in [`OPT_NAMES`] order): `+` compulsory, `x` illegal, `1` exclusive (at most one
/// `1` option), ` ` optional.
const TABLE: [&[u8; 34]; 14] = [
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // add-service
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // edit-service
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // list
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // add-server
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // edit-server
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // start-daemon
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // stop-daemon
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
];

/// Tunnel types (`tunnames`) and their options (`tunnel_types_v_options`: tun-port,
/// tun-nocsum, tun-csum, tun-remcsum).
const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_OPTS: [usize; 4] = [O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM];
const TUN_TABLE: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Name lookups behind ipvsadm's `host_to_addr` and `service_to_port` (tests use a table:
/// nothing may leave the machine).
pub trait Lookup {
    /// An IPv4 address for a host name.
    fn host(&self, name: &str) -> Option<Ipv4Addr>;
    /// A port for a service name ("http") of a protocol ("tcp", "udp").
    fn service(&self, name: &str, proto: &str) -> Option<u16>;
}

/// The system's resolver (`getaddrinfo`, `getservbyname`).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn host(&self, name: &str) -> Option<Ipv4Addr> {
        use std::net::ToSocketAddrs;
        (name, 0u16)
            .to_socket_addrs()
            .ok()?
            .find_map(|a| match a.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
    }

    fn service(&self, name: &str, proto: &str) -> Option<u16> {
        let name = std::ffi::CString::new(name).ok()?;
        let proto = std::ffi::CString::new(proto).ok()?;
        // SAFETY: valid C strings; the returned entry is read at once, before any other
        // netdb call on this thread.
        unsafe {
            let e = libc::getservbyname(name.as_ptr(), proto.as_ptr());
            if e.is_null() {
                None
            } else {
                Some(u16::from_be((*e).s_port as u16))
            }
        }
    }
}

/// No lookups at all: only literal addresses and numeric ports.
pub struct NoLookup;

impl Lookup for NoLookup {
    fn host(&self, _: &str) -> Option<Ipv4Addr> {
        None
    }
    fn service(&self, _: &str, _: &str) -> Option<u16> {
        None
    }
}

/// ipvsadm's `string_to_number`: a whole decimal number within `min..=max`.
fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    let n: i64 = s.parse().ok()?;
    // strtol accepts a leading '+' or whitespace; ipvsadm's callers never care.
    (min..=max).contains(&n).then_some(n)
}

/// ipvsadm's `parse_timeout`.
fn timeout(s: &str, min: u32) -> Result<u32, UsageError> {
    number(s, min as i64, MAX_TIMEOUT as i64)
        .map(|n| n as u32)
        .ok_or_else(|| usage(format!("invalid timeout value `{s}' specified")))
}

/// ipvsadm's `parse_service`: `host[:port]` or `[v6]:port` (or a bare IPv6 address). The
/// port may be a service name of `proto`. None when it does not parse.
pub fn parse_address(buf: &str, proto: &str, lookup: &dyn Lookup) -> Option<(IpAddr, Option<u16>)> {
    if buf.is_empty() || buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (host, port) = if let Some(rest) = buf.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        let a: std::net::Ipv6Addr = addr.parse().ok()?;
        return Some((IpAddr::V6(a), Some(parse_port(port, proto, lookup)?)));
    } else if let Ok(a) = buf.parse::<std::net::Ipv6Addr>() {
        return Some((IpAddr::V6(a), None));
    } else {
        match buf.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (buf, None),
        }
    };
    let addr = match host.parse::<Ipv4Addr>() {
        Ok(a) => a,
        Err(_) => lookup.host(host)?,
    };
    let port = match port {
        Some(p) => Some(parse_port(p, proto, lookup)?),
        None => None,
    };
    Some((IpAddr::V4(addr), port))
}

fn parse_port(p: &str, proto: &str, lookup: &dyn Lookup) -> Option<u16> {
    match number(p, 0, 65535) {
        Some(n) => Some(n as u16),
        None if proto == "tcp" || proto == "udp" => lookup.service(p, proto),
        None => None,
    }
}

/// An IPv4 netmask in dotted form as a prefix length (lb's persistence granularity is a
/// prefix).
fn mask_prefix(m: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(m);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The long names of the ipvsadm flags and options given (for "the verb cannot be used
/// with" messages).
pub fn given_flags(cli: &Cli) -> Vec<&'static str> {
    let c = &cli.command;
    let s = &cli.service;
    let r = &cli.real;
    let l = &cli.list;
    let d = &cli.daemon;
    [
        (c.add_service > 0, "--add-service"),
        (c.edit_service > 0, "--edit-service"),
        (c.delete_service > 0, "--delete-service"),
        (c.clear > 0, "--clear"),
        (c.restore > 0, "--restore"),
        (c.save > 0, "--save"),
        (c.add_server > 0, "--add-server"),
        (c.edit_server > 0, "--edit-server"),
        (c.delete_server > 0, "--delete-server"),
        (c.list > 0, "--list"),
        (c.zero > 0, "--zero"),
        (c.set.is_some(), "--set"),
        (c.start_daemon.is_some(), "--start-daemon"),
        (c.stop_daemon.is_some(), "--stop-daemon"),
        (s.tcp.is_some(), "--tcp-service"),
        (s.udp.is_some(), "--udp-service"),
        (s.sctp.is_some(), "--sctp-service"),
        (s.fwmark.is_some(), "--fwmark-service"),
        (s.scheduler.is_some(), "--scheduler"),
        (s.persistent.is_some(), "--persistent"),
        (s.netmask.is_some(), "--netmask"),
        (s.pe.is_some(), "--pe"),
        (s.sched_flags.is_some(), "--sched-flags"),
        (s.ops, "--ops"),
        (s.ipv6, "--ipv6"),
        (s.mh_table_size.is_some(), "--mh-table-size"),
        (r.server.is_some(), "--real-server"),
        (r.gatewaying > 0, "--gatewaying"),
        (r.ipip > 0, "--ipip"),
        (r.masquerading > 0, "--masquerading"),
        (r.tun_type.is_some(), "--tun-type"),
        (r.tun_port.is_some(), "--tun-port"),
        (r.tun_nocsum, "--tun-nocsum"),
        (r.tun_csum, "--tun-csum"),
        (r.tun_remcsum, "--tun-remcsum"),
        (r.weight.is_some(), "--weight"),
        (r.u_threshold.is_some(), "--u-threshold"),
        (r.l_threshold.is_some(), "--l-threshold"),
        (l.numeric, "--numeric"),
        (l.connection, "--connection"),
        (l.timeout, "--timeout"),
        (l.daemon, "--daemon"),
        (l.stats, "--stats"),
        (l.rate, "--rate"),
        (l.thresholds, "--thresholds"),
        (l.persistent_conn, "--persistent-conn"),
        (l.tun_info, "--tun-info"),
        (l.exact, "--exact"),
        (l.nosort, "--nosort"),
        (l.sort, "--sort"),
        (d.mcast_interface.is_some(), "--mcast-interface"),
        (d.syncid.is_some(), "--syncid"),
        (d.mcast_group.is_some(), "--mcast-group"),
        (d.mcast_port.is_some(), "--mcast-port"),
        (d.mcast_ttl.is_some(), "--mcast-ttl"),
        (d.sync_maxlen.is_some(), "--sync-maxlen"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Which command the flags give: ipvsadm's `set_command`.
fn command(cli: &Cli) -> Result<Cmd, UsageError> {
    let c = &cli.command;
    let mut cmds = Vec::new();
    for (n, cmd) in [
        (c.add_service, Cmd::Add),
        (c.edit_service, Cmd::Edit),
        (c.delete_service, Cmd::Del),
        (c.clear, Cmd::Flush),
        (c.list, Cmd::List),
        (c.add_server, Cmd::AddDest),
        (c.delete_server, Cmd::DelDest),
        (c.edit_server, Cmd::EditDest),
        (c.restore, Cmd::Restore),
        (c.save, Cmd::Save),
        (c.zero, Cmd::Zero),
    ] {
        cmds.extend(std::iter::repeat_n(cmd, n as usize));
    }
    if c.set.is_some() {
        cmds.push(Cmd::Timeout);
    }
    if c.start_daemon.is_some() {
        cmds.push(Cmd::StartDaemon);
    }
    if c.stop_daemon.is_some() {
        cmds.push(Cmd::StopDaemon);
    }
    match cmds.as_slice() {
        [] => Ok(Cmd::List), // ipvsadm without a command lists the table
        [one] => Ok(*one),
        _ => Err(usage("multiple commands specified")),
    }
}

/// ipvsadm's `set_option`: the options given, refusing one given twice.
fn options(cli: &Cli) -> Result<[bool; 34], UsageError> {
    let mut opts = [false; 34];
    let mut set = |o: usize, given: usize| -> Result<(), UsageError> {
        if given > 1 || (given == 1 && opts[o]) {
            return Err(usage(format!(
                "multiple '{}' options specified",
                OPT_NAMES[o]
            )));
        }
        if given == 1 {
            opts[o] = true;
        }
        Ok(())
    };
    let s = &cli.service;
    let r = &cli.real;
    let l = &cli.list;
    let d = &cli.daemon;
    let n = |b: bool| b as usize;
    set(O_NUMERIC, n(l.numeric))?;
    set(O_CONNECTION, n(l.connection))?;
    set(
        O_SERVICE,
        n(s.tcp.is_some()) + n(s.udp.is_some()) + n(s.sctp.is_some()) + n(s.fwmark.is_some()),
    )?;
    set(O_SCHEDULER, n(s.scheduler.is_some()))?;
    set(O_PERSISTENT, n(s.persistent.is_some()))?;
    set(O_NETMASK, n(s.netmask.is_some()))?;
    set(O_SERVER, n(r.server.is_some()))?;
    set(
        O_FORWARD,
        r.gatewaying as usize + r.ipip as usize + r.masquerading as usize,
    )?;
    set(O_WEIGHT, n(r.weight.is_some()))?;
    set(O_UTHRESHOLD, n(r.u_threshold.is_some()))?;
    set(O_LTHRESHOLD, n(r.l_threshold.is_some()))?;
    set(O_MCAST, n(d.mcast_interface.is_some()))?;
    set(O_TIMEOUT, n(l.timeout))?;
    set(O_DAEMON, n(l.daemon))?;
    set(O_STATS, n(l.stats))?;
    set(O_RATE, n(l.rate))?;
    set(O_THRESHOLDS, n(l.thresholds))?;
    set(O_PERSISTENTCONN, n(l.persistent_conn))?;
    set(O_NOSORT, n(l.nosort))?;
    set(O_SYNCID, n(d.syncid.is_some()))?;
    set(O_EXACT, n(l.exact))?;
    set(O_ONEPACKET, n(s.ops))?;
    set(O_PE, n(s.pe.is_some()))?;
    set(O_SCHED_FLAGS, n(s.sched_flags.is_some()))?;
    set(O_MCAST_GROUP, n(d.mcast_group.is_some()))?;
    set(O_MCAST_PORT, n(d.mcast_port.is_some()))?;
    set(O_MCAST_TTL, n(d.mcast_ttl.is_some()))?;
    set(O_SYNC_MAXLEN, n(d.sync_maxlen.is_some()))?;
    set(O_TUN_INFO, n(l.tun_info))?;
    set(O_TUN_TYPE, n(r.tun_type.is_some()))?;
    set(O_TUN_PORT, n(r.tun_port.is_some()))?;
    set(O_TUN_NOCSUM, n(r.tun_nocsum))?;
    set(O_TUN_CSUM, n(r.tun_csum))?;
    set(O_TUN_REMCSUM, n(r.tun_remcsum))?;
    Ok(opts)
}

/// ipvsadm's `generic_opt_check`.
fn check_options(cmd: Cmd, opts: &[bool; 34]) -> Result<(), UsageError> {
    let i = cmd as usize;
    let row = TABLE[i];
    let mut last = None;
    for (j, &given) in opts.iter().enumerate() {
        match (given, row[j]) {
            (false, b'+') => {
                return Err(usage(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                )));
            }
            (true, b'x') => {
                return Err(usage(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                )));
            }
            (true, b'1') => match last {
                None => last = Some(j),
                Some(l) => {
                    return Err(usage(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' command",
                        OPT_NAMES[j], OPT_NAMES[l], CMD_NAMES[i]
                    )));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// ipvsadm's `tunnel_opt_check`.
fn check_tunnel_options(tun_type: usize, opts: &[bool; 34]) -> Result<(), UsageError> {
    let row = TUN_TABLE[tun_type];
    let mut last = None;
    for (j, &k) in TUN_OPTS.iter().enumerate() {
        match (opts[k], row[j]) {
            (false, b'+') => {
                return Err(usage(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun_type]
                )));
            }
            (true, b'x') => {
                return Err(usage(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun_type]
                )));
            }
            (true, b'1') => match last {
                None => last = Some(k),
                Some(l) => {
                    return Err(usage(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                        OPT_NAMES[k], OPT_NAMES[l], TUN_NAMES[tun_type]
                    )));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// ipvsadm 1.31's `parse_sched_flags`, with the generic `flag-1`/`flag-2` named as the
/// scheduler's own flags (lbd knows them by name).
fn sched_flags(sched: &str, arg: &str) -> Result<Vec<String>, UsageError> {
    let mut out: Vec<String> = Vec::new();
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        let name = match flag {
            "flag-1" | "flag-2" | "flag-3" => match (sched, flag) {
                ("sh", "flag-1") => "sh-fallback",
                ("sh", "flag-2") => "sh-port",
                ("mh", "flag-1") => "mh-fallback",
                ("mh", "flag-2") => "mh-port",
                _ => flag,
            },
            "sh-fallback" | "sh-port" if sched != "sh" => {
                return Err(usage(format!("incompatible scheduler flag `{flag}'")));
            }
            "mh-fallback" | "mh-port" if sched != "mh" => {
                return Err(usage(format!("incompatible scheduler flag `{flag}'")));
            }
            "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port" => flag,
            _ => return Err(usage(format!("invalid scheduler flag `{flag}'"))),
        };
        if !out.iter().any(|f| f == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// The service selected by `-t`/`-u` (`--sctp-service` and `-f` are refused: lb has neither).
fn service(
    cli: &Cli,
    lookup: &dyn Lookup,
) -> Result<Option<(ServiceKey, bool /* port given */)>, UsageError> {
    let s = &cli.service;
    if let Some(f) = &s.fwmark {
        if number(f, 1, u32::MAX as i64).is_none() {
            return Err(usage(format!("invalid fwmark value `{f}' specified")));
        }
        return Err(usage(
            "firewall-mark services (-f) are not supported by lb; use -t or -u",
        ));
    }
    if s.ipv6 {
        return Err(usage("-6 used before -f"));
    }
    let (proto, text) = match (&s.tcp, &s.udp, &s.sctp) {
        (Some(t), _, _) => ("tcp", t),
        (_, Some(u), _) => ("udp", u),
        (_, _, Some(x)) => {
            if parse_address(x, "sctp", lookup).is_none() {
                return Err(usage("illegal virtual server address[:port] specified"));
            }
            return Err(usage(
                "SCTP services (--sctp-service) are not supported by lb; use -t or -u",
            ));
        }
        _ => return Ok(None),
    };
    let (vip, port) = parse_address(text, proto, lookup)
        .ok_or_else(|| usage("illegal virtual server address[:port] specified"))?;
    Ok(Some((
        ServiceKey {
            protocol: proto.into(),
            vip,
            port: port.unwrap_or(0),
        },
        port.is_some(),
    )))
}

fn u32_option(v: &Option<String>, max: i64, what: &str) -> Result<Option<u32>, UsageError> {
    match v {
        None => Ok(None),
        Some(t) => number(t, 0, max)
            .map(|n| Some(n as u32))
            .ok_or_else(|| usage(format!("illegal {what} specified"))),
    }
}

/// Resolves a parsed command line the way ipvsadm processes its options.
pub fn resolve(cli: &Cli) -> Result<Command, UsageError> {
    resolve_with(cli, &SystemLookup)
}

/// [`resolve`] with the given name lookups.
pub fn resolve_with(cli: &Cli, lookup: &dyn Lookup) -> Result<Command, UsageError> {
    let cmd = command(cli)?;
    let opts = options(cli)?;
    // Values are checked as ipvsadm checks them while reading the options, before the
    // command-option table.
    let weight = u32_option(&cli.real.weight, i32::MAX as i64, "weight")?;
    let u_threshold = u32_option(&cli.real.u_threshold, i32::MAX as i64, "u_threshold")?;
    let l_threshold = u32_option(&cli.real.l_threshold, i32::MAX as i64, "l_threshold")?;
    if let Some(sid) = &cli.daemon.syncid
        && number(sid, 0, 255).is_none()
    {
        return Err(usage("illegal syncid specified"));
    }
    let tun_type = match cli.real.tun_type.as_deref() {
        None => None,
        Some(t) => Some(
            TUN_NAMES
                .iter()
                .position(|n| *n == t)
                .ok_or_else(|| usage("illegal tunnel type specified"))?,
        ),
    };
    let tun_port = match &cli.real.tun_port {
        None => None,
        Some(p) => {
            Some(number(p, 1, 65535).ok_or_else(|| usage("illegal tunnel port specified"))? as u16)
        }
    };
    let persistent = match &cli.service.persistent {
        None => None,
        Some(None) => Some(DEFAULT_PERSISTENT_TIMEOUT),
        Some(Some(t)) => Some(timeout(t, 1)?),
    };
    let mh_table_size = match &cli.service.mh_table_size {
        None => None,
        Some(t) => Some(
            number(t, 1, u32::MAX as i64).ok_or_else(|| usage("illegal mh-table-size specified"))?
                as u32,
        ),
    };
    let timeouts = match &cli.command.set {
        None => None,
        Some(v) if v.len() == 3 => {
            Some([timeout(&v[0], 0)?, timeout(&v[1], 0)?, timeout(&v[2], 0)?])
        }
        Some(_) => return Err(usage("--set option requires 3 timeout values")),
    };
    if let Some(st) = &cli.command.start_daemon
        && st != "master"
        && st != "backup"
    {
        return Err(usage("illegal start-daemon parameter specified"));
    }
    if let Some(st) = &cli.command.stop_daemon
        && st != "master"
        && st != "backup"
    {
        return Err(usage("illegal stop-daemon parameter specified"));
    }
    let svc = service(cli, lookup)?;
    let is_v6 = svc.as_ref().is_some_and(|(k, _)| k.vip.is_ipv6());
    let netmask = match &cli.service.netmask {
        None => None,
        Some(m) if is_v6 => match number(m, 1, 128) {
            Some(n) => Some(n as u8),
            None => return Err(usage("illegal ipv6 netmask specified")),
        },
        Some(m) => {
            let mask = m
                .parse::<Ipv4Addr>()
                .ok()
                .or_else(|| lookup.host(m))
                .ok_or_else(|| usage("illegal virtual server persistent mask specified"))?;
            Some(mask_prefix(mask).ok_or_else(|| {
                usage(format!(
                    "persistent mask {m} is not contiguous: lb takes a prefix mask such as 255.255.255.0"
                ))
            })?)
        }
    };
    let real = match &cli.real.server {
        None => None,
        Some(r) => {
            let proto = svc
                .as_ref()
                .map(|(k, _)| k.protocol.as_str())
                .unwrap_or("tcp");
            Some(
                parse_address(r, proto, lookup)
                    .ok_or_else(|| usage("illegal real server address[:port] specified"))?,
            )
        }
    };
    if mh_table_size.is_some() && !matches!(cmd, Cmd::Add | Cmd::Edit) {
        return Err(usage(format!(
            "Illegal 'mh-table-size' option with the '{}' command",
            CMD_NAMES[cmd as usize]
        )));
    }
    check_options(cmd, &opts)?;

    let key = || -> ServiceKey { svc.as_ref().expect("checked: compulsory").0.clone() };
    Ok(match cmd {
        Cmd::List => {
            let l = &cli.list;
            if ((l.connection || l.timeout || l.daemon) && (l.stats || l.rate || l.thresholds))
                || ((l.timeout || l.daemon) && l.persistent_conn)
            {
                return Err(usage("options conflicts in the list command"));
            }
            let what = if l.connection {
                ListWhat::Connections
            } else if l.timeout {
                ListWhat::Timeouts
            } else if l.daemon {
                ListWhat::Daemons
            } else {
                ListWhat::Table(svc.map(|(k, _)| k))
            };
            Command::List(what, cli.list)
        }
        Cmd::Save => Command::Save(cli.list),
        Cmd::Restore => Command::Restore,
        Cmd::Flush => Command::Edit(Edit::Clear),
        Cmd::Zero => Command::Zero(svc.map(|(k, _)| k)),
        Cmd::Timeout => {
            let [tcp, tcpfin, udp] = timeouts.expect("--set given");
            Command::Edit(Edit::SetTimeouts { tcp, tcpfin, udp })
        }
        Cmd::StartDaemon => Command::StartDaemon,
        Cmd::StopDaemon => Command::StopDaemon,
        Cmd::Del => Command::Edit(Edit::DelService { service: key() }),
        Cmd::Add | Cmd::Edit => {
            let key = key();
            if key.port == 0 && persistent.is_none() {
                return Err(usage("Zero port specified for non-persistent service"));
            }
            if cli.service.ops && key.protocol != "udp" {
                return Err(usage(
                    "One-Packet Scheduling is only for UDP virtual services",
                ));
            }
            if let Some(pe) = &cli.service.pe {
                return Err(usage(format!(
                    "persistence engine `{pe}' is not supported by lb (--pe)"
                )));
            }
            let scheduler = cli
                .service
                .scheduler
                .clone()
                .unwrap_or_else(|| DEFAULT_SCHEDULER.into());
            let flags = match &cli.service.sched_flags {
                None => Vec::new(),
                Some(f) => sched_flags(&scheduler, f)?,
            };
            let service = ServiceSpec {
                key,
                scheduler,
                persistent,
                persistent_netmask: netmask,
                sched_flags: flags,
                one_packet: cli.service.ops,
                mh_table_size,
            };
            Command::Edit(if cmd == Cmd::Add {
                Edit::AddService { service }
            } else {
                Edit::EditService { service }
            })
        }
        Cmd::AddDest | Cmd::EditDest | Cmd::DelDest => {
            let service = key();
            let (address, port) = real.expect("checked: compulsory");
            let mut port = port.unwrap_or(service.port);
            if cmd == Cmd::DelDest {
                return Ok(Command::Edit(Edit::DelReal {
                    service,
                    address,
                    port,
                }));
            }
            let r = &cli.real;
            let forwarding = if r.masquerading > 0 {
                "nat"
            } else if r.ipip > 0 {
                "tun"
            } else {
                "dr"
            };
            // ipvsadm: "The destination port must be equal to the service port if the
            // IP_VS_CONN_F_TUNNEL or IP_VS_CONN_F_DROUTE is set."
            if forwarding != "nat" {
                port = service.port;
            }
            if address.is_ipv6() != service.vip.is_ipv6() && forwarding != "tun" {
                return Err(usage(
                    "Different address family is allowed only for tunneling servers",
                ));
            }
            let tunnel_opts = [
                O_TUN_TYPE,
                O_TUN_PORT,
                O_TUN_NOCSUM,
                O_TUN_CSUM,
                O_TUN_REMCSUM,
            ];
            if tunnel_opts.iter().any(|&o| opts[o]) && forwarding != "tun" {
                return Err(usage("Tunnel options conflict with forward method"));
            }
            let tt = tun_type.unwrap_or(0);
            if forwarding == "tun" {
                check_tunnel_options(tt, &opts)?;
            }
            let tun_csum = if r.tun_csum {
                Some("csum")
            } else if r.tun_remcsum {
                Some("remcsum")
            } else if r.tun_nocsum {
                Some("nocsum")
            } else {
                None
            };
            let real = RealSpec {
                address,
                port,
                weight: weight.unwrap_or(1),
                forwarding: forwarding.into(),
                tun_type: tun_type.map(|t| TUN_NAMES[t].to_string()),
                tun_port,
                tun_csum: tun_csum.map(str::to_string),
                upper_threshold: u_threshold,
                lower_threshold: l_threshold,
            };
            Command::Edit(if cmd == Cmd::AddDest {
                Edit::AddReal { service, real }
            } else {
                Edit::EditReal { service, real }
            })
        }
    })
}

/// `lbctl -R`: ipvsadm's restore format (`-S` output), one command per line; blank lines,
/// `#` comments and a leading `ipvsadm`/`lbctl` word are skipped. Every line must be a
/// changing command (`-A -E -D -C -a -e -d --set`). Returns the edits with their line
/// numbers; an error names its line.
pub fn parse_restore(text: &str, lookup: &dyn Lookup) -> Result<Vec<(usize, Edit)>, UsageError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = match line.find('#') {
            Some(c) => &line[..c],
            None => line,
        };
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| *w != "ipvsadm" && *w != "lbctl")
            .collect();
        if words.is_empty() {
            continue;
        }
        let cli = Cli::try_parse_from(std::iter::once("lbctl").chain(words.iter().copied()))
            .map_err(|e| {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("").trim();
                usage(format!(
                    "line {n}: {}",
                    first.strip_prefix("error: ").unwrap_or(first)
                ))
            })?;
        if cli.verb.is_some() {
            return Err(usage(format!(
                "line {n}: only ipvsadm's changing commands can be restored"
            )));
        }
        match resolve_with(&cli, lookup) {
            Ok(Command::Edit(e)) => out.push((n, e)),
            Ok(_) => {
                return Err(usage(format!(
                    "line {n}: only -A, -E, -D, -C, -a, -e, -d and --set can be restored"
                )));
            }
            Err(e) => return Err(usage(format!("line {n}: {}", e.0))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks up names from a fixed table: tests never ask the network.
    struct Table;
    impl Lookup for Table {
        fn host(&self, name: &str) -> Option<Ipv4Addr> {
            (name == "www.example.test").then(|| Ipv4Addr::new(192, 0, 2, 80))
        }
        fn service(&self, name: &str, _: &str) -> Option<u16> {
            match name {
                "http" => Some(80),
                "domain" => Some(53),
                _ => None,
            }
        }
    }

    fn run(args: &[&str]) -> Result<Command, String> {
        let cli = Cli::try_parse_from(std::iter::once("lbctl").chain(args.iter().copied()))
            .map_err(|e| format!("clap: {e}"))?;
        resolve_with(&cli, &Table).map_err(|e| e.0)
    }

    fn key(p: &str, vip: &str, port: u16) -> ServiceKey {
        ServiceKey {
            protocol: p.into(),
            vip: vip.parse().unwrap(),
            port,
        }
    }

    fn spec(p: &str, vip: &str, port: u16, sched: &str) -> ServiceSpec {
        ServiceSpec {
            key: key(p, vip, port),
            scheduler: sched.into(),
            persistent: None,
            persistent_netmask: None,
            sched_flags: vec![],
            one_packet: false,
            mh_table_size: None,
        }
    }

    fn real(addr: &str, port: u16, fwd: &str, weight: u32) -> RealSpec {
        RealSpec {
            address: addr.parse().unwrap(),
            port,
            weight,
            forwarding: fwd.into(),
            tun_type: None,
            tun_port: None,
            tun_csum: None,
            upper_threshold: None,
            lower_threshold: None,
        }
    }

    #[test]
    fn the_seed_example() {
        assert_eq!(
            run(&["-A", "-t", "192.168.0.1:80", "-s", "rr"]).unwrap(),
            Command::Edit(Edit::AddService {
                service: spec("tcp", "192.168.0.1", 80, "rr")
            })
        );
        for rs in ["172.16.0.1", "172.16.0.2"] {
            assert_eq!(
                run(&[
                    "-a",
                    "-t",
                    "192.168.0.1:80",
                    "-r",
                    &format!("{rs}:80"),
                    "-m"
                ])
                .unwrap(),
                Command::Edit(Edit::AddReal {
                    service: key("tcp", "192.168.0.1", 80),
                    real: real(rs, 80, "nat", 1),
                })
            );
        }
    }

    #[test]
    fn ipvsadm_defaults_and_long_forms() {
        // Scheduler wlc, forwarding -g, weight 1, persistence 300 s.
        assert_eq!(
            run(&[
                "--add-service",
                "--tcp-service",
                "10.0.0.1:80",
                "--persistent"
            ])
            .unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    persistent: Some(300),
                    ..spec("tcp", "10.0.0.1", 80, "wlc")
                }
            })
        );
        // -g and -i take the service's port, whatever -r says.
        assert_eq!(
            run(&["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:5353"]).unwrap(),
            Command::Edit(Edit::AddReal {
                service: key("udp", "10.0.0.1", 53),
                real: real("10.1.0.1", 53, "dr", 1),
            })
        );
        assert_eq!(
            run(&[
                "--edit-server",
                "--udp-service",
                "[2001:db8::1]:domain",
                "--real-server",
                "[2001:db8::10]:53",
                "--ipip",
                "--weight",
                "7",
                "--u-threshold",
                "100",
                "--l-threshold",
                "50",
            ])
            .unwrap(),
            Command::Edit(Edit::EditReal {
                service: key("udp", "2001:db8::1", 53),
                real: RealSpec {
                    upper_threshold: Some(100),
                    lower_threshold: Some(50),
                    ..real("2001:db8::10", 53, "tun", 7)
                },
            })
        );
        // A host name and a service name.
        assert_eq!(
            run(&["-D", "-t", "www.example.test:http"]).unwrap(),
            Command::Edit(Edit::DelService {
                service: key("tcp", "192.0.2.80", 80)
            })
        );
        // nat keeps the real server's own port; no port means the service's.
        assert_eq!(
            run(&["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-m", "-w", "0"]).unwrap(),
            Command::Edit(Edit::AddReal {
                service: key("tcp", "10.0.0.1", 80),
                real: real("10.1.0.1", 80, "nat", 0),
            })
        );
        assert_eq!(
            run(&["-d", "-t", "10.0.0.1:80", "-r", "10.1.0.1:8080"]).unwrap(),
            Command::Edit(Edit::DelReal {
                service: key("tcp", "10.0.0.1", 80),
                address: "10.1.0.1".parse().unwrap(),
                port: 8080,
            })
        );
    }

    #[test]
    fn service_options() {
        assert_eq!(
            run(&[
                "-E",
                "-t",
                "10.0.0.1:443",
                "-s",
                "sh",
                "-b",
                "sh-port,flag-1",
                "-p",
                "600",
                "-M",
                "255.255.255.0"
            ])
            .unwrap(),
            Command::Edit(Edit::EditService {
                service: ServiceSpec {
                    persistent: Some(600),
                    persistent_netmask: Some(24),
                    sched_flags: vec!["sh-port".into(), "sh-fallback".into()],
                    ..spec("tcp", "10.0.0.1", 443, "sh")
                }
            })
        );
        assert_eq!(
            run(&[
                "-A",
                "-u",
                "[2001:db8::1]:53",
                "-o",
                "-p",
                "-M",
                "64",
                "--mh-table-size",
                "251",
                "-s",
                "mh"
            ])
            .unwrap(),
            Command::Edit(Edit::AddService {
                service: ServiceSpec {
                    persistent: Some(300),
                    persistent_netmask: Some(64),
                    one_packet: true,
                    mh_table_size: Some(251),
                    ..spec("udp", "2001:db8::1", 53, "mh")
                }
            })
        );
        // Port 0 is allowed for a persistent service (lbd then says what it thinks).
        assert!(run(&["-A", "-t", "10.0.0.1", "-p"]).is_ok());
    }

    #[test]
    fn tunnel_options() {
        let Command::Edit(Edit::AddReal { real: r, .. }) = run(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.1.0.1",
            "-i",
            "--tun-type",
            "gue",
            "--tun-port",
            "6080",
            "--tun-csum",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.tun_type.as_deref(), r.tun_port, r.tun_csum.as_deref()),
            (Some("gue"), Some(6080), Some("csum"))
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(run(&["-C"]).unwrap(), Command::Edit(Edit::Clear));
        assert_eq!(
            run(&["--set", "900", "0", "60"]).unwrap(),
            Command::Edit(Edit::SetTimeouts {
                tcp: 900,
                tcpfin: 0,
                udp: 60
            })
        );
        assert_eq!(run(&["-Z"]).unwrap(), Command::Zero(None));
        assert_eq!(
            run(&["--zero", "-t", "10.0.0.1:80"]).unwrap(),
            Command::Zero(Some(key("tcp", "10.0.0.1", 80)))
        );
        assert!(matches!(run(&["-S", "-n"]).unwrap(), Command::Save(o) if o.numeric));
        assert_eq!(run(&["-R"]).unwrap(), Command::Restore);
        assert_eq!(
            run(&["-L", "-t", "10.0.0.1:80", "--rate"]).unwrap(),
            Command::List(
                ListWhat::Table(Some(key("tcp", "10.0.0.1", 80))),
                crate::cli::ListOptions {
                    rate: true,
                    ..Default::default()
                }
            )
        );
        assert_eq!(
            run(&[
                "--start-daemon",
                "master",
                "--mcast-interface",
                "eth0",
                "--syncid",
                "3"
            ])
            .unwrap(),
            Command::StartDaemon
        );
        assert_eq!(
            run(&["--stop-daemon", "backup"]).unwrap(),
            Command::StopDaemon
        );
    }

    #[test]
    fn ipvsadm_error_messages() {
        for (args, want) in [
            (&["-A", "-L"][..], "multiple commands specified"),
            (&["-L", "-l"], "multiple commands specified"),
            (
                &["-A"],
                "You need to supply the 'service-address' option for the 'add-service' command",
            ),
            (
                &["-a", "-t", "10.0.0.1:80"],
                "You need to supply the 'real-server' option for the 'add-server' command",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-w", "3"],
                "Illegal 'weight' option with the 'add-service' command",
            ),
            (
                &["-C", "-n"],
                "Illegal 'numeric' option with the 'flush' command",
            ),
            (
                &["-D", "-t", "10.0.0.1:80", "-s", "rr"],
                "Illegal 'scheduler' option with the 'delete-service' command",
            ),
            (
                &["-L", "-c", "-t", "10.0.0.1:80"],
                "The option 'service-address' conflicts with the 'connection' option in the 'list' command",
            ),
            (
                &["-L", "--timeout", "--daemon"],
                "The option 'daemon' conflicts with the 'timeout' option in the 'list' command",
            ),
            (
                &["-L", "-c", "--stats"],
                "options conflicts in the list command",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-u", "10.0.0.1:80"],
                "multiple 'service-address' options specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-g", "-m"],
                "multiple 'forwarding-method' options specified",
            ),
            (
                &["-A", "-t", "10.0.0.300:80"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "10.0.0.1:99999"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "8080"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "[2001:db8::1]"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "nosuchhost:80"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0:80"],
                "illegal real server address[:port] specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "-1"],
                "illegal weight specified",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-w",
                    "2147483648",
                ],
                "illegal weight specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "ten"],
                "illegal weight specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-x", "x"],
                "illegal u_threshold specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-y", "-5"],
                "illegal l_threshold specified",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-p", "0"],
                "invalid timeout value `0' specified",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-p", "2678401"],
                "invalid timeout value `2678401' specified",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-p", "-M", "255.0.255.0"],
                "persistent mask 255.0.255.0 is not contiguous: lb takes a prefix mask such as 255.255.255.0",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-p", "-M", "bogus"],
                "illegal virtual server persistent mask specified",
            ),
            (
                &["-A", "-t", "[::1]:80", "-p", "-M", "129"],
                "illegal ipv6 netmask specified",
            ),
            (
                &["-A", "-t", "10.0.0.1"],
                "Zero port specified for non-persistent service",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-o"],
                "One-Packet Scheduling is only for UDP virtual services",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-s", "rr", "-b", "sh-port"],
                "incompatible scheduler flag `sh-port'",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "-b", "fast"],
                "invalid scheduler flag `fast'",
            ),
            (
                &["-A", "-t", "10.0.0.1:80", "--pe", "sip"],
                "persistence engine `sip' is not supported by lb (--pe)",
            ),
            (
                &["-A", "-f", "1"],
                "firewall-mark services (-f) are not supported by lb; use -t or -u",
            ),
            (&["-A", "-f", "0"], "invalid fwmark value `0' specified"),
            (&["-A", "-6", "-t", "10.0.0.1:80"], "-6 used before -f"),
            (
                &["-A", "--sctp-service", "10.0.0.1:80"],
                "SCTP services (--sctp-service) are not supported by lb; use -t or -u",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "[2001:db8::1]:80"],
                "Different address family is allowed only for tunneling servers",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "--tun-type",
                    "ipip",
                ],
                "Tunnel options conflict with forward method",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-i",
                    "--tun-type",
                    "vxlan",
                ],
                "illegal tunnel type specified",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-i",
                    "--tun-port",
                    "0",
                ],
                "illegal tunnel port specified",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-i",
                    "--tun-port",
                    "6080",
                ],
                "Illegal 'tun-port' option with the 'ipip' tunnel type",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-i",
                    "--tun-type",
                    "gue",
                ],
                "You need to supply the 'tun-port' option for the 'gue' tunnel type",
            ),
            (
                &[
                    "-a",
                    "-t",
                    "10.0.0.1:80",
                    "-r",
                    "10.1.0.1",
                    "-i",
                    "--tun-type",
                    "gue",
                    "--tun-port",
                    "6080",
                    "--tun-csum",
                    "--tun-nocsum",
                ],
                "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type",
            ),
            (
                &["--set", "1", "2"],
                "--set option requires 3 timeout values",
            ),
            (
                &["--set", "1", "2", "x"],
                "invalid timeout value `x' specified",
            ),
            (
                &["--start-daemon", "primary"],
                "illegal start-daemon parameter specified",
            ),
            (
                &["--start-daemon", "master", "--syncid", "256"],
                "illegal syncid specified",
            ),
            (
                &["-Z", "-r", "10.0.0.1"],
                "Illegal 'real-server' option with the 'zero' command",
            ),
            (
                &["-S", "--stats"],
                "Illegal 'stats' option with the 'save' command",
            ),
            (
                &["-L", "--mh-table-size", "7"],
                "Illegal 'mh-table-size' option with the 'list' command",
            ),
        ] {
            assert_eq!(run(args).unwrap_err(), want, "{args:?}");
        }
    }

    #[test]
    fn restore_format() {
        let text = "\
# saved by lbctl -S -n
-A -t 192.168.0.1:80 -s rr
-a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1

ipvsadm -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 2   # trailing comment
--set 900 120 300
";
        let edits = parse_restore(text, &Table).unwrap();
        assert_eq!(
            edits.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![2, 3, 5, 6]
        );
        assert_eq!(
            edits[2].1,
            Edit::AddReal {
                service: key("tcp", "192.168.0.1", 80),
                real: real("172.16.0.2", 80, "nat", 2)
            }
        );
        assert_eq!(
            parse_restore(
                "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 1.2.3.4 -w x\n",
                &Table
            )
            .unwrap_err()
            .0,
            "line 2: illegal weight specified"
        );
        assert_eq!(
            parse_restore("-L -n\n", &Table).unwrap_err().0,
            "line 1: only -A, -E, -D, -C, -a, -e, -d and --set can be restored"
        );
        assert_eq!(
            parse_restore("-A -t 10.0.0.1:80 --frob\n", &Table)
                .unwrap_err()
                .0,
            "line 1: unexpected argument '--frob' found"
        );
    }

    #[test]
    fn netmask_prefixes() {
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(mask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
    }
}
