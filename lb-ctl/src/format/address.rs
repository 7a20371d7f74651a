//! Addresses and ports as ipvsadm prints them: `addrport_to_anyname` (names or numbers, in
//! its 60-byte buffer) and glibc's `inet_ntop` for IPv6.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv6Addr},
};

use super::lookup::{Numeric, Resolve};

/// `addrport_to_anyname` with `FMT_NUMERIC`:
/// `snprintf(buf, 60, "%s%s%s:%u", af == AF_INET ? "" : "[", inet_ntop(af, addr, ...),
/// af == AF_INET ? "" : "]", port)`.
pub fn addrport(addr: IpAddr, port: u16) -> String {
    addrport_any(addr, port, "", &Numeric)
}

/// `addrport_to_anyname`: the host name (else the address) and the service name (else the
/// port) of `protocol`, cut to the 59 bytes of ipvsadm's buffer (`buf = malloc(60);
/// snprintf(buf, 60, "%s%s%s:%s", ...)`: only a long name reaches that).
pub fn addrport_any(addr: IpAddr, port: u16, protocol: &str, names: &dyn Resolve) -> String {
    let host = names.host(addr).unwrap_or_else(|| match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => inet_ntop6(a),
    });
    let port = names
        .service(port, &protocol.to_ascii_lowercase())
        .unwrap_or_else(|| port.to_string());
    let mut s = match addr {
        IpAddr::V4(_) => format!("{host}:{port}"),
        IpAddr::V6(_) => format!("[{host}]:{port}"),
    };
    truncate(&mut s, 59);
    s
}

/// glibc's `inet_ntop(AF_INET6, ...)`: the longest run (first on ties) of two or more zero
/// groups becomes `::`, groups in hex without leading zeros, and the last 32 bits as a dotted
/// quad when the zero run is exactly the first 6 groups (IPv4-compatible, `::a.b.c.d`) or the
/// first 5 groups followed by `ffff` (IPv4-mapped, `::ffff:a.b.c.d`). Rust's `Display`
/// differs on IPv4-compatible addresses (it prints `::102:304` for glibc's `::1.2.3.4`).
pub fn inet_ntop6(addr: Ipv6Addr) -> String {
    let words = addr.segments();

    // Longest run of zero words; a later run wins only if strictly longer.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                Some((base, len)) => (base, len + 1),
                None => (i, 1),
            });
        } else {
            cur = None;
        }
        if let Some((base, len)) = cur
            && len > best_len
        {
            best_base = Some(base);
            best_len = len;
        }
    }
    if best_len < 2 {
        best_base = None;
    }

    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(base) = best_base
            && i >= base
            && i < base + best_len
        {
            if i == base {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))
        {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if let Some(base) = best_base
        && base + best_len == 8
    {
        out.push(':');
    }
    out
}

/// C's `buf[n] = '\0'` on a string that is ASCII in practice (names may not be).
pub(super) fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut cut = n;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn ipv6_like_glibc_inet_ntop() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1::1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("fe80::", "fe80::"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ];
        for (input, want) in cases {
            let a: Ipv6Addr = input.parse().unwrap();
            assert_eq!(inet_ntop6(a), want, "{input}");
        }
        assert_eq!(
            addrport(IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)), 65535),
            "255.255.255.255:65535"
        );
        assert_eq!(
            addrport("::ffff:10.0.0.1".parse().unwrap(), 80),
            "[::ffff:10.0.0.1]:80"
        );
    }

    /// `addrport_to_anyname` writes into 60 bytes: a longer name is cut to 59, also in `-S`
    /// and `-c`, where nothing else cuts it.
    #[test]
    fn names_are_cut_to_ipvsadm_buffer() {
        struct Long;
        impl Resolve for Long {
            fn host(&self, _: IpAddr) -> Option<String> {
                Some(format!("{}.example.test", "a".repeat(50)))
            }
            fn service(&self, _: u16, _: &str) -> Option<String> {
                Some("http".into())
            }
        }
        let name = addrport_any("10.0.0.1".parse().unwrap(), 80, "tcp", &Long);
        // The port does not make it.
        assert_eq!(name, format!("{}.example.", "a".repeat(50)));
        assert_eq!(name.len(), 59);
        assert_eq!(
            addrport_any("2001:db8::1".parse().unwrap(), 80, "tcp", &Long),
            format!("[{}.example", "a".repeat(50))
        );
    }
}
