//! Reading a command line's raw words as popt would, past option values: which words give
//! commands, and whether a line names one of lbctl's verbs. ipvsadm's messages name words
//! ("invalid option `-L'"), which clap's parse no longer has.

use crate::cli::{HIDDEN_VERBS, VERBS};

/// The words of a command line that give ipvsadm commands, in order, once per command (a
/// word such as `-AL` twice), looking past option values.
pub(super) fn command_words(words: &[String]) -> Vec<String> {
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

/// Long options that take a value (the next word when not given with `=`).
pub(super) const VALUE_LONGS: [&str; 24] = [
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
pub(super) const VALUE_SHORTS: &str = "tufsMbrwxy";

/// Whether a command line names one of lbctl's verbs (then clap's messages apply), looking
/// past option values.
pub(super) fn uses_verb(args: &[String]) -> bool {
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
            // lbctl's verbs (subcommands) take clap's own messages.
            return VERBS.contains(&w.as_str()) || HIDDEN_VERBS.contains(&w.as_str());
        }
    }
    false
}
