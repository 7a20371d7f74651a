//! The names lb gives what it has a few of: schedulers, scheduler flags, forwarding methods,
//! tunnel types, states. The command line offers them to completions and man pages
//! (`crate::cli`), and the JSON contract's schemas list them (`crate::contract`). They are
//! lbd's names (its config takes the same), and lbd decides what is valid: a test checks that
//! the schedulers here are the ones lbd knows.

/// IPVS's schedulers by ipvsadm name, with what each is.
pub const SCHEDULERS: &[(&str, &str)] = &[
    ("rr", "Round Robin"),
    ("wrr", "Weighted Round Robin"),
    ("lc", "Least-Connection"),
    ("wlc", "Weighted Least-Connection (the default)"),
    ("lblc", "Locality-Based Least-Connection"),
    ("lblcr", "Locality-Based Least-Connection with Replication"),
    ("dh", "Destination Hashing"),
    ("sh", "Source Hashing"),
    ("sed", "Shortest Expected Delay"),
    ("nq", "Never Queue"),
    ("mh", "Maglev Hashing"),
    ("fo", "Weighted Failover"),
    ("ovf", "Weighted Overflow"),
    ("twos", "Weighted Random Twos Choice"),
];

/// IPVS's files in `/proc/net` that `lbctl proc` prints.
pub const PROC_FILES: &[&str] = &["ip_vs", "ip_vs_conn", "ip_vs_stats", "ip_vs_stats_percpu"];

/// Scheduler flags (ipvsadm `-b`, comma-separated).
pub const SCHED_FLAGS: &[(&str, &str)] = &[
    (
        "sh-fallback",
        "sh: another real server when the chosen one is unavailable",
    ),
    ("sh-port", "sh: hash the source port too"),
    (
        "mh-fallback",
        "mh: another real server when the chosen one is unavailable",
    ),
    ("mh-port", "mh: hash the source port too"),
    ("flag-1", "the first scheduler flag, by number"),
    ("flag-2", "the second scheduler flag, by number"),
    ("flag-3", "the third scheduler flag, by number"),
];

/// Tunnel types (ipvsadm `--tun-type`).
pub const TUN_TYPES: &[(&str, &str)] = &[
    ("ipip", "IPIP, or IPv6 in IPv6 (the default)"),
    ("gue", "Generic UDP Encapsulation to --tun-port"),
    ("gre", "Generic Routing Encapsulation"),
];

/// Forwarding methods by lbd's names (ipvsadm `-i`, `-g`, `-m`).
pub const FORWARDING: &[(&str, &str)] = &[
    ("tun", "tunnelling (-i)"),
    ("dr", "direct routing (-g)"),
    ("nat", "masquerading (-m)"),
];

/// GUE's and GRE's checksum modes (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
pub const TUN_CSUM: &[&str] = &["nocsum", "csum", "remcsum"];

/// The protocols of virtual services.
pub const PROTOCOLS: &[&str] = &["tcp", "udp"];

/// The names only, for lists of values.
pub fn names(words: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    words.iter().map(|(n, _)| *n).collect()
}
