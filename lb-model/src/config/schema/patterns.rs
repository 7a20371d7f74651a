//! The regular expressions of the config's schema: the address syntax lbd's reader takes
//! (Rust's `std::net` parsers: dotted quads without leading zeros, RFC 4291's IPv6 text
//! forms with an embedded IPv4 quad, a port of any number of digits up to 65535, an IPv6
//! scope id), the addresses `config::address::not_unicast` refuses, and the characters a
//! health check's path and Host header may not have.
//!
//! Only the subset of regular expressions every JSON Schema validator shares is used (no
//! lookaround, no flags): ECMA-262's, Python's `re` and Rust's `regex` read them alike.

/// A decimal number from 0 to `max` without leading zeros (`0` itself is one digit).
pub fn decimal_upto(max: u64) -> String {
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let n = digits.len();
    let mut alts = vec!["0".to_string()];
    // Fewer digits than max: any such number.
    if n >= 3 {
        alts.push(format!("[1-9][0-9]{{0,{}}}", n - 2));
    } else if n == 2 {
        alts.push("[1-9]".into());
    }
    // As many digits as max: equal to max up to position i, smaller at i, anything after.
    for i in 0..n {
        let low = if i == 0 { 1 } else { 0 };
        let d = digits[i];
        if d > low {
            let class = if d - 1 == low {
                low.to_string()
            } else {
                format!("[{low}-{}]", d - 1)
            };
            let rest = n - i - 1;
            let tail = match rest {
                0 => String::new(),
                1 => "[0-9]".into(),
                r => format!("[0-9]{{{r}}}"),
            };
            let head: String = digits[..i].iter().map(|d| d.to_string()).collect();
            alts.push(format!("{head}{class}{tail}"));
        }
    }
    if n > 1 || digits[0] > 0 {
        alts.push(max.to_string());
    }
    alts.dedup();
    format!("(?:{})", alts.join("|"))
}

/// One octet of a dotted quad as `Ipv4Addr`'s parser takes it: 0 to 255, no leading zero.
fn octet() -> String {
    decimal_upto(255)
}

/// A dotted quad (unanchored).
pub fn ipv4() -> String {
    let o = octet();
    format!("{o}\\.{o}\\.{o}\\.{o}")
}

const H16: &str = "[0-9A-Fa-f]{1,4}";

/// An IPv6 address in RFC 4291's text forms (RFC 3986's `IPv6address`), unanchored: eight
/// groups of one to four hex digits, one `::` for one or more zero groups, the last two
/// groups as a dotted quad. This is the syntax `Ipv6Addr`'s parser takes.
pub fn ipv6() -> String {
    let ls32 = format!("(?:{H16}:{H16}|{})", ipv4());
    // j groups "h16:" exactly.
    let groups = |j: usize| match j {
        0 => String::new(),
        1 => format!("{H16}:"),
        j => format!("(?:{H16}:){{{j}}}"),
    };
    // Up to k groups before "::".
    let before = |k: usize| match k {
        0 => String::new(),
        1 => format!("(?:{H16})?"),
        k => format!("(?:(?:{H16}:){{0,{}}}{H16})?", k - 1),
    };
    let mut alts = vec![format!("{}{ls32}", groups(6))];
    for j in 1..=8usize {
        let tail = match j {
            1..=6 => format!("{}{ls32}", groups(6 - j)),
            7 => H16.to_string(),
            _ => String::new(),
        };
        alts.push(format!("{}::{tail}", before(j - 1)));
    }
    format!("(?:{})", alts.join("|"))
}

/// The IPv4 addresses `not_unicast` refuses, each with its reason: patterns over a valid
/// dotted quad.
pub fn ipv4_refused() -> Vec<(&'static str, String)> {
    vec![
        (
            "0.0.0.0/8: the unspecified address and \"this network\"",
            "^0".into(),
        ),
        ("127.0.0.0/8: loopback", "^127\\.".into()),
        ("224.0.0.0/4: multicast", "^(?:22[4-9]|23[0-9])\\.".into()),
        (
            "255.255.255.255: the limited broadcast",
            "^255\\.255\\.255\\.255$".into(),
        ),
    ]
}

/// The IPv6 addresses `not_unicast` refuses, each with its reason: patterns over a valid
/// IPv6 address, in every text form it may take.
pub fn ipv6_refused() -> Vec<(&'static str, String)> {
    let v4 = ipv4();
    vec![
        // Nothing but zero groups (and a zero quad).
        (
            "::, the unspecified address",
            "^[0:]*(?:0\\.0\\.0\\.0)?$".into(),
        ),
        ("::1, loopback", "^[0:]*:(?:0{0,3}1|0\\.0\\.0\\.1)$".into()),
        // The first group, when written out, is the only one that can be ffXX.
        ("ff00::/8: multicast", "^[Ff]{2}[0-9A-Fa-f]{2}:".into()),
        // Five zero groups, then ffff: written out, or compressed with ffff third from last.
        (
            "::ffff:0:0/96: IPv4-mapped",
            format!("^(?:(?:0{{1,4}}:){{5}}[Ff]{{4}}:|[0:]*:[Ff]{{4}}:(?:{H16}:{H16}|{v4})$)"),
        ),
    ]
}

/// An IPv4 multicast address (224.0.0.0/4) as `Ipv4Addr`'s parser takes it (unanchored).
pub fn ipv4_multicast() -> String {
    let o = octet();
    format!("(?:22[4-9]|23[0-9])\\.{o}\\.{o}\\.{o}")
}

/// A socket address as `SocketAddr`'s parser takes it (`metrics_listen`): `A.B.C.D:PORT` or
/// `[IPV6%SCOPE]:PORT`, the port and scope id of any number of digits (leading zeros too)
/// up to 65535 and 4294967295.
pub fn socket_addr() -> String {
    format!(
        "^(?:{}|\\[{}(?:%0*{})?\\]):0*{}$",
        ipv4(),
        ipv6(),
        decimal_upto(u32::MAX as u64),
        decimal_upto(u16::MAX as u64)
    )
}

/// Characters Rust's `char::is_whitespace` or `char::is_control` is true of (the check's
/// path and Host header refuse them), as a class body.
pub const SPACE_OR_CONTROL: &str =
    "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_ranges_are_written_digit_by_digit() {
        assert_eq!(
            decimal_upto(255),
            "(?:0|[1-9][0-9]{0,1}|1[0-9]{2}|2[0-4][0-9]|25[0-4]|255)"
        );
        assert_eq!(
            decimal_upto(65535),
            "(?:0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-4]|65535)"
        );
        assert_eq!(decimal_upto(9), "(?:0|[1-8]|9)");
        assert_eq!(decimal_upto(10), "(?:0|[1-9]|10)");
        assert_eq!(decimal_upto(0), "(?:0)");
    }

    #[test]
    fn control_and_space_class_is_what_rust_says() {
        // The class as ranges of code points ("\\uAAAA-\\uBBBB" or one "\\uAAAA").
        let mut set = Vec::new();
        let mut parts = SPACE_OR_CONTROL.split("\\u").filter(|s| !s.is_empty());
        while let Some(p) = parts.next() {
            let a = u32::from_str_radix(p.trim_end_matches('-'), 16).unwrap();
            if p.ends_with('-') {
                let b = u32::from_str_radix(parts.next().unwrap(), 16).unwrap();
                set.push((a, b));
            } else {
                set.push((a, a));
            }
        }
        for c in 0..=0x10FFFFu32 {
            let Some(ch) = char::from_u32(c) else {
                continue;
            };
            let listed = set.iter().any(|(a, b)| (*a..=*b).contains(&c));
            assert_eq!(listed, ch.is_whitespace() || ch.is_control(), "U+{c:04X}");
        }
    }
}
