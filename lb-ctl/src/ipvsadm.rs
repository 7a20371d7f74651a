//! ipvsadm's option processing (`ipvsadm.c`: `parse_options`, `process_options`,
//! `generic_opt_check`, `tunnel_opt_check`, `parse_service`, `parse_timeout`, ...): which
//! command was given, which options it takes, the values' checks and ipvsadm's defaults, with
//! ipvsadm's own error messages. Options are order-free (ipvsadm wants the command first).

use std::net::{IpAddr, Ipv4Addr};

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

/// C's `isspace` in the "C" locale.
fn c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `strtol(s, &end, 10)` that must use up all of `s`: leading white space, an optional sign,
/// at least one digit, nothing after; None also where strtol says `ERANGE` (beyond a
/// 64-bit `long`).
fn strtol(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(c_space);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.bytes().try_fold(0i64, |n, b| {
        let d = i64::from(b - b'0');
        let n = n.checked_mul(10)?;
        if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
    })
}

/// ipvsadm's `string_to_number`: `strtol` base 10 of the whole string, within `min..=max`
/// (so " 5" and "+5" are 5, and "5 ", "0x5" and "" are refused).
fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol(s).filter(|n| (min..=max).contains(n))
}

/// C's `atoi`: `(int) strtol(s, NULL, 10)` of the longest prefix that is a number, 0 when
/// there is none; strtol saturates at the `long` range and the cast keeps the low 32 bits.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start_matches(c_space);
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in rest.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    n as i32
}

/// glibc's `inet_aton`: one to four parts separated by dots, each a C number (decimal,
/// `0x` hex, `0` octal); the last part fills the remaining bytes ("10.1" is 10.0.0.1,
/// "167772161" is 10.0.0.1); white space and anything after it end the address.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut parts: Vec<u64> = Vec::new();
    let mut i = 0;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        // strtoul(cp, &end, 0): "0x" and a hex digit is hex, another leading 0 octal (a
        // "0x" without a hex digit reads as the octal "0", the "x" left over).
        let (radix, start) = if b[i] == b'0'
            && matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16, i + 2)
        } else if b[i] == b'0' {
            (8, i)
        } else {
            (10, i)
        };
        let mut end = start;
        let mut val: u64 = 0;
        while let Some(d) = b.get(end).and_then(|&c| (c as char).to_digit(radix)) {
            // Overflow: strtoul gives ULONG_MAX, beyond every part's limit below.
            val = val
                .saturating_mul(u64::from(radix))
                .saturating_add(u64::from(d));
            end += 1;
        }
        i = end;
        if b.get(i) == Some(&b'.') {
            if parts.len() > 2 || val > 0xff {
                return None;
            }
            parts.push(val);
            i += 1;
        } else {
            if let Some(&c) = b.get(i)
                && !(c.is_ascii() && c_space(c as char))
            {
                return None;
            }
            let max: u64 = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff][parts.len()];
            if val > max {
                return None;
            }
            let mut addr = val as u32;
            for (k, p) in parts.iter().enumerate() {
                addr |= (*p as u32) << (24 - 8 * k);
            }
            return Some(Ipv4Addr::from(addr));
        }
    }
}

/// ipvsadm's `parse_timeout`.
fn timeout(s: &str, min: u32) -> Result<u32, UsageError> {
    number(s, min as i64, MAX_TIMEOUT as i64)
        .map(|n| n as u32)
        .ok_or_else(|| usage(format!("invalid timeout value `{s}' specified")))
}

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port` or a bare IPv6 address; the host
/// an IPv6 address (`inet_pton`), else an IPv4 one as `inet_aton` reads it ("10.1:80" is
/// 10.0.0.1), else a host name; the port a number or a service name of `proto`. None when it
/// does not parse (ipvsadm's `SERVICE_NONE`).
///
/// As in ipvsadm, a string of digits alone is no address, the port after `[...]` counts
/// only when the brackets hold an IPv6 address (`[10.0.0.1]:80` is 10.0.0.1 without a port:
/// ipvsadm looks for the port's colon again inside the brackets), and `[v6]` must be
/// followed by `:`.
pub fn parse_address(buf: &str, proto: &str, lookup: &dyn Lookup) -> Option<(IpAddr, Option<u16>)> {
    // str_is_digit(buf), true for "" too
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = buf;
    let mut bracket_port = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        bracket_port = Some(after.strip_prefix(':')?);
        host = inner;
    }
    let (addr, port) = match host.parse::<std::net::Ipv6Addr>() {
        Ok(a) => (IpAddr::V6(a), bracket_port),
        Err(_) => {
            let (h, p) = match host.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host, None),
            };
            let a = inet_aton(h).or_else(|| lookup.host(h))?;
            (IpAddr::V4(a), p)
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p, proto, lookup)?),
        None => None,
    };
    Some((addr, port))
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
        (s.ipv6 > 0, "--ipv6"),
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
        (l.sort > 0, "--sort"),
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
        // ipvsadm reads its command from the first word alone (`set_command`); a command
        // among the options after it is no option it knows there: "invalid option `%s'",
        // naming the word (popt's poptBadOption). Its "multiple commands specified" is
        // left for when the words are not known.
        _ => Err(match command_words(&cli.words).get(1) {
            Some(w) => usage(format!("invalid option `{w}'")),
            None => usage("multiple commands specified"),
        }),
    }
}

/// The words of a command line that give ipvsadm commands, in order, once per command (a
/// word such as `-AL` twice), looking past option values.
fn command_words(words: &[String]) -> Vec<String> {
    const LONG: [&str; 14] = [
        "add-service",
        "edit-service",
        "delete-service",
        "clear",
        "list",
        "add-server",
        "edit-server",
        "delete-server",
        "zero",
        "restore",
        "save",
        "set",
        "start-daemon",
        "stop-daemon",
    ];
    let mut out = Vec::new();
    let mut rest = words.iter().skip(1);
    while let Some(w) = rest.next() {
        if let Some(long) = w.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            if LONG.contains(&name) {
                out.push(w.clone());
            }
            if !long.contains('=') && VALUE_LONGS.contains(&long) {
                rest.next();
            }
        } else if let Some(cluster) = w.strip_prefix('-') {
            for (i, c) in cluster.char_indices() {
                if "AEDCRSaedLlZ".contains(c) {
                    out.push(w.clone());
                }
                if VALUE_SHORTS.contains(c) {
                    if i + c.len_utf8() == cluster.len() {
                        rest.next();
                    }
                    break;
                }
                if c == 'p' {
                    break;
                }
            }
        }
    }
    out
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
    let given = opts.iter().enumerate().map(|(j, &g)| (j, g, TABLE[i][j]));
    check_against(given, &format!("'{}' command", CMD_NAMES[i]))
}

/// ipvsadm's `tunnel_opt_check`.
fn check_tunnel_options(tun_type: usize, opts: &[bool; 34]) -> Result<(), UsageError> {
    let row = TUN_TABLE[tun_type];
    let given = TUN_OPTS
        .iter()
        .enumerate()
        .map(|(j, &k)| (k, opts[k], row[j]));
    check_against(given, &format!("'{}' tunnel type", TUN_NAMES[tun_type]))
}

/// One row of an ipvsadm option table against the options given: (option index, given,
/// rule) with rule `+` required, `x` illegal, `1` at most one of the `1`s, else optional.
/// `subject` names the row in the messages ("'add-service' command", "'gue' tunnel type").
fn check_against(
    given: impl Iterator<Item = (usize, bool, u8)>,
    subject: &str,
) -> Result<(), UsageError> {
    let mut last = None;
    for (k, given, rule) in given {
        match (given, rule) {
            (false, b'+') => {
                return Err(usage(format!(
                    "You need to supply the '{}' option for the {subject}",
                    OPT_NAMES[k]
                )));
            }
            (true, b'x') => {
                return Err(usage(format!(
                    "Illegal '{}' option with the {subject}",
                    OPT_NAMES[k]
                )));
            }
            (true, b'1') => match last {
                None => last = Some(k),
                Some(l) => {
                    return Err(usage(format!(
                        "The option '{}' conflicts with the '{}' option in the {subject}",
                        OPT_NAMES[k], OPT_NAMES[l]
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
    if s.ipv6 > 0 {
        // ipvsadm's format ends in "\n" and fail() adds another.
        return Err(usage("-6 used before -f\n"));
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
    // ipvsadm 1.31 reads 0..65535 (string_to_number(optarg, 0, 65535)); lbctl takes IPVS's
    // whole weight range, 0..2147483647 (what the kernel and lb's config accept), so that
    // every ipvsadm command line still works and `-S` / `-R` round-trips any state.
    let weight = u32_option(&cli.real.weight, i32::MAX as i64, "weight")?;
    let u_threshold = u32_option(&cli.real.u_threshold, i32::MAX as i64, "u_threshold")?;
    let l_threshold = u32_option(&cli.real.l_threshold, i32::MAX as i64, "l_threshold")?;
    let d = &cli.daemon;
    if let Some(sid) = &d.syncid
        && number(sid, 0, 255).is_none()
    {
        return Err(usage("illegal syncid specified"));
    }
    if let Some(g) = &d.mcast_group {
        // inet_pton of the family the colon says, and a multicast address of it.
        if g.contains(':') {
            if !g
                .parse::<std::net::Ipv6Addr>()
                .is_ok_and(|a| a.is_multicast())
            {
                return Err(usage(format!("invalid IPv6 mcast-group `{g}'")));
            }
        } else if !g.parse::<Ipv4Addr>().is_ok_and(|a| a.is_multicast()) {
            return Err(usage(format!("invalid IPv4 mcast-group `{g}'")));
        }
    }
    for (v, max, what) in [
        (&d.mcast_port, 65535, "mcast-port"),
        (&d.mcast_ttl, 255, "mcast-ttl"),
        (&d.sync_maxlen, 65535 - 20 - 8, "sync-maxlen"),
    ] {
        if let Some(v) = v
            && number(v, 1, max).is_none()
        {
            return Err(usage(format!("illegal {what} specified")));
        }
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
        // sic: ipvsadm's words for --stop-daemon
        return Err(usage("illegal start_daemon specified"));
    }
    let svc = service(cli, lookup)?;
    let is_v6 = svc.as_ref().is_some_and(|(k, _)| k.vip.is_ipv6());
    let netmask = match &cli.service.netmask {
        None => None,
        // ce->svc.netmask = atoi(optarg), an unsigned 32-bit field, then 1..=128.
        Some(m) if is_v6 => match atoi(m) as u32 {
            n @ 1..=128 => Some(n as u8),
            _ => return Err(usage("illegal ipv6 netmask specified")),
        },
        // parse_netmask: inet_aton, else a host name.
        Some(m) => {
            let mask = inet_aton(m)
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
            // "if (strlen(ce.svc.sched_name) == 0) strcpy(ce.svc.sched_name, DEF_SCHED)":
            // `-s ""` is the default too.
            let scheduler = cli
                .service
                .scheduler
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SCHEDULER.into());
            let flags = match &cli.service.sched_flags {
                None => Vec::new(),
                Some(f) => sched_flags(&scheduler, f)?,
            };
            let service = ServiceSpec {
                key,
                scheduler,
                persistent,
                // IPVS keeps a netmask without -p, where it means nothing and no listing
                // shows it (a later -E without -M resets it): lb keeps none.
                persistent_netmask: netmask.filter(|_| persistent.is_some()),
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

/// A `-R` line lbctl refuses: the message names the line; `status` is what ipvsadm exits
/// with for that line's error (2 for its `fail(2, ...)`, 255 for popt's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreError {
    pub message: String,
    pub status: u8,
}

/// `lbctl -R`: ipvsadm's restore format (`-S` output), one command per line, its words
/// separated by spaces, tabs or carriage returns (ipvsadm's `config_stream_read`); blank
/// lines and the word `ipvsadm` (or `lbctl`) are skipped. lbctl also skips `#` comments
/// (ipvsadm's own reader does not: `ipvsadm-restore` filters them out first). Every line
/// must be a changing command (`-A -E -D -C -a -e -d --set`). Returns the edits with their
/// line numbers; an error names its line.
pub fn parse_restore(text: &str, lookup: &dyn Lookup) -> Result<Vec<(usize, Edit)>, RestoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let fail = |message: String, status: u8| RestoreError {
            message: format!("line {n}: {}", message.trim_end()),
            status,
        };
        let line = match line.find('#') {
            Some(c) => &line[..c],
            None => line,
        };
        let words: Vec<String> = std::iter::once("lbctl")
            .chain(
                line.split([' ', '\t', '\r'])
                    .filter(|w| !w.is_empty() && *w != "ipvsadm" && *w != "lbctl"),
            )
            .map(str::to_string)
            .collect();
        if words.len() == 1 {
            continue;
        }
        let cli = Cli::parse_words(&words).map_err(|e| match clap_error(&words, &e) {
            Some((message, status)) => fail(message, status),
            None => {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("").trim();
                fail(first.strip_prefix("error: ").unwrap_or(first).into(), 2)
            }
        })?;
        if cli.verb.is_some() {
            return Err(fail(
                "only ipvsadm's changing commands can be restored".into(),
                2,
            ));
        }
        match resolve_with(&cli, lookup) {
            Ok(Command::Edit(e)) => out.push((n, e)),
            Ok(_) => {
                return Err(fail(
                    "only -A, -E, -D, -C, -a, -e, -d and --set can be restored".into(),
                    2,
                ));
            }
            Err(e) => return Err(fail(e.0, 2)),
        }
    }
    Ok(out)
}

/// lbctl's verbs (subcommands), which take clap's own messages.
const VERBS: [&str; 9] = [
    "status",
    "apply",
    "get",
    "completions",
    "man",
    "drain",
    "undrain",
    "health",
    "trace",
];

/// Long options that take a value (the next word when not given with `=`).
const VALUE_LONGS: [&str; 24] = [
    "tcp-service",
    "udp-service",
    "sctp-service",
    "fwmark-service",
    "scheduler",
    "netmask",
    "pe",
    "sched-flags",
    "mh-table-size",
    "real-server",
    "tun-type",
    "tun-port",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "syncid",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "start-daemon",
    "stop-daemon",
    "socket",
];

/// Short options that take a value (the rest of the word, or the next word).
const VALUE_SHORTS: &str = "tufsMbrwxy";

/// Whether a command line names one of lbctl's verbs (then clap's messages apply), looking
/// past option values.
fn uses_verb(args: &[String]) -> bool {
    let mut words = args.iter().skip(1).peekable();
    while let Some(w) = words.next() {
        if let Some(long) = w.strip_prefix("--") {
            if long.is_empty() {
                return false;
            }
            if !long.contains('=') && VALUE_LONGS.contains(&long) {
                words.next();
            } else if long == "persistent" || long == "set" {
                let max = if long == "set" { 3 } else { 1 };
                for _ in 0..max {
                    if words.next_if(|v| !v.starts_with('-')).is_none() {
                        break;
                    }
                }
            }
        } else if let Some(cluster) = w.strip_prefix('-').filter(|c| !c.is_empty()) {
            for (i, c) in cluster.char_indices() {
                if VALUE_SHORTS.contains(c) {
                    if i + c.len_utf8() == cluster.len() {
                        words.next();
                    }
                    break;
                }
                if c == 'p' {
                    if i + 1 == cluster.len() {
                        words.next_if(|v| !v.starts_with('-'));
                    }
                    break;
                }
            }
        } else {
            return VERBS.contains(&w.as_str());
        }
    }
    false
}

/// ipvsadm's name of a long option given twice (`set_option`'s "multiple '%s' options
/// specified"), or None for a command (its "multiple commands specified") or an option of
/// lbctl's own.
fn option_name(long: &str) -> Option<Result<&'static str, ()>> {
    match long {
        "tcp-service" | "udp-service" | "sctp-service" | "fwmark-service" => {
            Some(Ok(OPT_NAMES[O_SERVICE]))
        }
        "set" | "start-daemon" | "stop-daemon" => Some(Err(())),
        "mh-table-size" => Some(Ok("mh-table-size")),
        _ => OPT_NAMES.iter().find(|n| **n == long).map(|n| Ok(*n)),
    }
}

/// What ipvsadm says, and its exit status, for a command line clap refused, when that line
/// is ipvsadm's kind (no lbctl verb):
///
/// - popt's `"%s: %s\n"` of the word and `poptStrerror`: "-q: unknown option", "-t: missing
///   argument", "--stats=1: option does not take an argument", status 255 (ipvsadm's
///   `return -1`); when that word is the first, which ipvsadm reads on its own, its
///   `tryhelp_exit`: "Try `lbctl -h' or 'lbctl --help' for more information.", status 255;
/// - ipvsadm's `fail(2, ...)`: "multiple '%s' options specified", "invalid option `%s'" for a
///   second command, "unexpected argument %s", status 2.
///
/// `args` starts with the program's name. None: clap's message applies.
pub fn clap_error(args: &[String], e: &clap::Error) -> Option<(String, u8)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if uses_verb(args) {
        return None;
    }
    let context = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let program = args.first().map(String::as_str).unwrap_or("lbctl");
    let try_help = || format!("Try `{program} -h' or '{program} --help' for more information.");
    // The word of the command line an option error is about (popt's poptBadOption).
    let word_of = |arg: &str| -> (usize, String) {
        let found = if arg.starts_with("--") {
            args.iter()
                .skip(1)
                .position(|a| a == arg || a.starts_with(&format!("{arg}=")))
        } else {
            let c = arg.trim_start_matches('-');
            args.iter()
                .skip(1)
                .position(|a| a.starts_with('-') && !a.starts_with("--") && a[1..].contains(c))
        };
        match found {
            Some(i) => (i + 1, args[i + 1].clone()),
            None => (0, arg.to_string()),
        }
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let (i, word) = word_of(&context(ContextKind::InvalidArg)?);
            Some(if i == 1 {
                (try_help(), 255)
            } else {
                (format!("{word}: unknown option"), 255)
            })
        }
        // `--stats=1`: popt's POPT_ERROR_UNWANTEDARG.
        ErrorKind::TooManyValues => {
            let (i, word) = word_of(&context(ContextKind::InvalidArg)?);
            Some(if i == 1 {
                (try_help(), 255)
            } else {
                (format!("{word}: option does not take an argument"), 255)
            })
        }
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).as_deref() == Some("") => {
            // A value is missing: only at the end, since every ipvsadm option takes the next
            // word as its value whatever it looks like.
            let i = args.len() - 1;
            Some(if i <= 1 {
                (try_help(), 255)
            } else {
                (format!("{}: missing argument", args[i]), 255)
            })
        }
        ErrorKind::ArgumentConflict => {
            let arg = context(ContextKind::InvalidArg)?;
            let long = arg.split_whitespace().next()?.strip_prefix("--")?;
            Some(match option_name(long)? {
                Ok(name) => (format!("multiple '{name}' options specified"), 2),
                // A second command: see `command`.
                Err(()) => match command_words(args).get(1) {
                    Some(w) => (format!("invalid option `{w}'"), 2),
                    None => ("multiple commands specified".into(), 2),
                },
            })
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(ContextKind::InvalidSubcommand)?;
            let ipvsadm_words = args
                .iter()
                .skip(1)
                .any(|a| a.starts_with('-') && a != "--json" && !a.starts_with("--socket"));
            ipvsadm_words.then(|| (format!("unexpected argument {word}"), 2))
        }
        _ => None,
    }
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
        let words: Vec<String> = std::iter::once("lbctl")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        let cli = Cli::parse_words(&words).map_err(|e| format!("clap: {e}"))?;
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
            // ipvsadm takes its command from the first word; another is an invalid option.
            (&["-A", "-L"][..], "invalid option `-L'"),
            (&["-L", "-l"], "invalid option `-l'"),
            (&["-n", "-LA"], "invalid option `-LA'"),
            (&["-Z", "-t", "-C", "--clear"], "invalid option `--clear'"),
            (&["--set", "1", "2", "3", "-R"], "invalid option `-R'"),
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
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.256:80"],
                "illegal real server address[:port] specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80:90"],
                "illegal real server address[:port] specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:"],
                "illegal real server address[:port] specified",
            ),
            (
                &["-A", "-t", "[2001:db8::1]80"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "[2001:db8::1:80"],
                "illegal virtual server address[:port] specified",
            ),
            (
                &["-A", "-t", "-L"],
                "illegal virtual server address[:port] specified",
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
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "-1"],
                "illegal weight specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "5 "],
                "illegal weight specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "0x10"],
                "illegal weight specified",
            ),
            (
                &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", ""],
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
            (&["-A", "-6", "-t", "10.0.0.1:80"], "-6 used before -f\n"),
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
            // sic: ipvsadm says start_daemon for --stop-daemon.
            (
                &["--stop-daemon", "primary"],
                "illegal start_daemon specified",
            ),
            (
                &["--start-daemon", "master", "--mcast-group", "10.0.0.1"],
                "invalid IPv4 mcast-group `10.0.0.1'",
            ),
            (
                &["--start-daemon", "master", "--mcast-group", "2001:db8::1"],
                "invalid IPv6 mcast-group `2001:db8::1'",
            ),
            (
                &["--start-daemon", "master", "--mcast-port", "0"],
                "illegal mcast-port specified",
            ),
            (
                &["--start-daemon", "master", "--mcast-ttl", "256"],
                "illegal mcast-ttl specified",
            ),
            (
                &["--start-daemon", "master", "--sync-maxlen", "65508"],
                "illegal sync-maxlen specified",
            ),
            (
                &["-A", "-t", "[::1]:80", "-p", "-M", "0"],
                "illegal ipv6 netmask specified",
            ),
            (
                &["-A", "-t", "[::1]:80", "-p", "-M", "-64"],
                "illegal ipv6 netmask specified",
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
        let err = |text: &str| {
            let e = parse_restore(text, &Table).unwrap_err();
            (e.message, e.status)
        };
        assert_eq!(
            err("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 1.2.3.4 -w x\n"),
            ("line 2: illegal weight specified".into(), 2)
        );
        assert_eq!(
            err("-L -n\n"),
            (
                "line 1: only -A, -E, -D, -C, -a, -e, -d and --set can be restored".into(),
                2
            )
        );
        // popt's words and status.
        assert_eq!(
            err("-A -t 10.0.0.1:80 --frob\n"),
            ("line 1: --frob: unknown option".into(), 255)
        );
        assert_eq!(err("-A -t\n"), ("line 1: -t: missing argument".into(), 255));
        assert_eq!(
            err("-A -t 10.0.0.1:80 -s rr -s wlc\n"),
            ("line 1: multiple 'scheduler' options specified".into(), 2)
        );
        assert_eq!(err("-6\n"), ("line 1: -6 used before -f".into(), 2));
        // Words are split at spaces, tabs and carriage returns only (config_stream_read).
        let edits = parse_restore("\t-A\t-t 10.0.0.1:80\r\n \r\n", &Table).unwrap();
        assert_eq!(edits.len(), 1);
    }

    #[test]
    fn numbers_as_strtol_reads_them() {
        assert_eq!(number("5", 0, 10), Some(5));
        assert_eq!(number(" \t5", 0, 10), Some(5));
        assert_eq!(number("+5", 0, 10), Some(5));
        assert_eq!(number("-0", 0, 10), Some(0));
        for bad in [
            "",
            " ",
            "5 ",
            "0x5",
            "5a",
            "+",
            "-",
            "99999999999999999999",
            "1e3",
        ] {
            assert_eq!(number(bad, i64::MIN, i64::MAX), None, "{bad:?}");
        }
        assert_eq!(number("11", 0, 10), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi(" +7"), 7);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi("4294967360"), 64); // (int) of a long: the low 32 bits
    }

    #[test]
    fn ipv4_addresses_as_inet_aton_reads_them() {
        for (text, want) in [
            ("10.0.0.1", Some("10.0.0.1")),
            ("10.1", Some("10.0.0.1")),
            ("10.1.2", Some("10.1.0.2")),
            ("10.65535", Some("10.0.255.255")),
            ("167772161", Some("10.0.0.1")),
            ("0x0a.0.0.1", Some("10.0.0.1")),
            ("012.0.0.1", Some("10.0.0.1")),
            ("0xA000001", Some("10.0.0.1")),
            ("10.0.0.1 trailing", Some("10.0.0.1")),
            ("0", Some("0.0.0.0")),
            ("10.0.0.256", None),
            ("10.256.0.1", None),
            ("10.0.0.1.2", None),
            ("10.0.0.", None),
            (".10.0.0", None),
            ("08.0.0.1", None),
            ("0x", None),
            ("10.0.0.1x", None),
            ("4294967296", None),
            ("", None),
            ("-1", None),
            ("www.example.test", None),
        ] {
            assert_eq!(
                inet_aton(text),
                want.map(|w| w.parse::<Ipv4Addr>().unwrap()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn service_addresses_as_parse_service_reads_them() {
        let p = |s: &str| parse_address(s, "tcp", &Table);
        let v4 = |a: &str| IpAddr::V4(a.parse().unwrap());
        assert_eq!(p("10.1:80"), Some((v4("10.0.0.1"), Some(80))));
        assert_eq!(p("123:80"), Some((v4("0.0.0.123"), Some(80))));
        assert_eq!(p("123"), None); // digits alone
        assert_eq!(
            p("www.example.test:http"),
            Some((v4("192.0.2.80"), Some(80)))
        );
        assert_eq!(p("10.0.0.1: 80"), Some((v4("10.0.0.1"), Some(80))));
        // A bracketed IPv4 address loses its port: ipvsadm looks for the colon inside.
        assert_eq!(p("[10.0.0.1]:80"), Some((v4("10.0.0.1"), None)));
        assert_eq!(p("[10.0.0.1]"), None);
        assert_eq!(
            p("[2001:db8::1]:https"),
            None,
            "no such service name in the table"
        );
        assert_eq!(
            p("2001:db8::1"),
            Some((IpAddr::V6("2001:db8::1".parse().unwrap()), None))
        );
        assert_eq!(
            p("[2001:db8::1]:0"),
            Some((IpAddr::V6("2001:db8::1".parse().unwrap()), Some(0)))
        );
    }

    #[test]
    fn ipvsadm_quirks_of_option_values() {
        // -s "" is the default scheduler.
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-s", ""]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.scheduler, "wlc");
        // -M without -p: IPVS keeps a mask that means nothing; lb keeps none.
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-M", "255.255.255.0"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, None);
        // -M through inet_aton ("255.255.0xff00" is 255.255.255.0) and atoi ("64abc").
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-p", "-M", "255.255.0xff00"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, Some(24));
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "[2001:db8::1]:80", "-p", "-M", "64abc"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, Some(64));
        // Weights up to IPVS's 2147483647 (ipvsadm's own parser stops at 65535), with
        // strtol's leading blanks and sign.
        let Command::Edit(Edit::AddReal { real, .. }) = run(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.1.0.1",
            "-w",
            " +2147483647",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(real.weight, 2147483647);
        // -6 may be given twice, --sort any number of times, and --sort does not undo
        // --nosort ("does nothing, for backwards compatibility").
        let Command::List(_, o) = run(&["-L", "--nosort", "--sort", "--sort"]).unwrap() else {
            panic!()
        };
        assert!(o.nosort);
    }

    /// What clap refuses, in ipvsadm's (popt's) words and with its status.
    #[test]
    fn popt_errors() {
        let e = |args: &[&str]| {
            let full: Vec<String> = std::iter::once("lbctl")
                .chain(args.iter().copied())
                .map(str::to_string)
                .collect();
            match Cli::parse_words(&full) {
                Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
                Err(err) => clap_error(&full, &err),
            }
        };
        let some = |m: &str, s: u8| Some((m.to_string(), s));
        let try_help = "Try `lbctl -h' or 'lbctl --help' for more information.";
        assert_eq!(e(&["-L", "--frob"]), some("--frob: unknown option", 255));
        assert_eq!(
            e(&["-L", "--frob=1"]),
            some("--frob=1: unknown option", 255)
        );
        assert_eq!(e(&["-Lq"]), some(try_help, 255));
        assert_eq!(e(&["-n", "-Lq"]), some("-Lq: unknown option", 255));
        assert_eq!(e(&["--bogus"]), some(try_help, 255));
        assert_eq!(e(&["-A", "-t"]), some("-t: missing argument", 255));
        assert_eq!(
            e(&["-L", "--stats=1"]),
            some("--stats=1: option does not take an argument", 255)
        );
        assert_eq!(e(&["-A", "-At"]), some("-At: missing argument", 255));
        assert_eq!(e(&["--start-daemon"]), some(try_help, 255));
        assert_eq!(
            e(&["-a", "-w", "1", "-w", "2"]),
            some("multiple 'weight' options specified", 2)
        );
        assert_eq!(
            e(&[
                "-A",
                "-t",
                "1.2.3.4:80",
                "--udp-service",
                "1.2.3.4:80",
                "-t",
                "x"
            ]),
            some("multiple 'service-address' options specified", 2)
        );
        assert_eq!(
            e(&["-L", "--stats", "--stats"]),
            some("multiple 'stats' options specified", 2)
        );
        assert_eq!(
            e(&["-L", "--nosort", "--nosort"]),
            some("multiple 'nosort' options specified", 2)
        );
        assert_eq!(
            e(&["--set", "1", "2", "3", "--set", "4", "5", "6"]),
            some("invalid option `--set'", 2)
        );
        assert_eq!(
            e(&["--start-daemon", "master", "--start-daemon", "backup"]),
            some("invalid option `--start-daemon'", 2)
        );
        assert_eq!(
            e(&["--set", "1", "2", "3", "4"]),
            some("unexpected argument 4", 2)
        );
        assert_eq!(e(&["-L", "foo"]), some("unexpected argument foo", 2));
        // The verbs keep clap's messages.
        assert_eq!(e(&["status", "--stats"]), None);
        assert_eq!(e(&["--json", "frobnicate"]), None);
        assert_eq!(e(&["-s", "rr", "drain", "--bogus"]), None);
    }

    #[test]
    fn netmask_prefixes() {
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(mask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
    }
}
