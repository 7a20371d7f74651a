//! C's readings of numbers and addresses, as ipvsadm's values go through them: `strtol`
//! (ipvsadm's `string_to_number`), `atoi` and glibc's `inet_aton`.

use std::net::Ipv4Addr;

/// C's `isspace` in the "C" locale.
pub(super) fn c_space(c: char) -> bool {
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
pub(super) fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol(s).filter(|n| (min..=max).contains(n))
}

/// C's `atoi`: `(int) strtol(s, NULL, 10)` of the longest prefix that is a number, 0 when
/// there is none; strtol saturates at the `long` range and the cast keeps the low 32 bits.
pub(super) fn atoi(s: &str) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
