//! FTP's words that name a data connection's address, as IPVS's `ip_vs_ftp` reads them: the
//! server's `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (RFC 959) and `229 Entering
//! Extended Passive Mode (|||port|)` (RFC 2428) replies, and the client's `PORT
//! h1,h2,h3,h4,p1,p2` and `EPRT |proto|address|port|` commands. A line is taken only when a
//! segment starts with it (IPVS's rule too: the helper does not reassemble the stream).

use std::net::{IpAddr, Ipv4Addr};

/// What a control connection's segment announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announce {
    /// `227`: the server listens on `addr`:`port`; `span` is the `h1,...,p2` text's byte range
    /// in the segment (what a `nat` director rewrites to the VIP).
    Passive {
        addr: Ipv4Addr,
        port: u16,
        span: std::ops::Range<usize>,
    },
    /// `229`: the server listens on `port` of the address the control connection went to.
    ExtendedPassive { port: u16 },
    /// `PORT` or `EPRT`: the client listens on `addr`:`port`.
    Active { addr: IpAddr, port: u16 },
}

/// A server's reply segment (real server -> client).
pub fn reply(seg: &[u8]) -> Option<Announce> {
    if let Some(rest) = seg.strip_prefix(b"227 ") {
        // RFC 959 leaves the text around the numbers free; clients look for the first digit
        // run after the code (IPVS too: `ip_vs_ftp_get_addrport` with the '(' optional).
        let line = line_of(rest)?;
        let start = line.iter().position(u8::is_ascii_digit)?;
        let (nums, len) = numbers(&line[start..])?;
        let [h1, h2, h3, h4, p1, p2] = nums;
        let off = seg.len() - rest.len() + start;
        return Some(Announce::Passive {
            addr: Ipv4Addr::new(h1, h2, h3, h4),
            port: u16::from_be_bytes([p1, p2]),
            span: off..off + len,
        });
    }
    if let Some(rest) = seg.strip_prefix(b"229 ") {
        let line = line_of(rest)?;
        let open = line.iter().position(|&b| b == b'(')?;
        let inner = &line[open + 1..];
        let close = inner.iter().position(|&b| b == b')')?;
        let fields = extended(&inner[..close])?;
        if !fields[0].is_empty() || !fields[1].is_empty() {
            return None;
        }
        return Some(Announce::ExtendedPassive {
            port: port(fields[2])?,
        });
    }
    None
}

/// A client's command segment (client -> real server).
pub fn command(seg: &[u8]) -> Option<Announce> {
    let verb = seg.get(..5)?;
    let rest = &seg[5..];
    if verb.eq_ignore_ascii_case(b"PORT ") {
        let line = line_of(rest)?;
        let (nums, len) = numbers(line)?;
        if len != line.len() {
            return None;
        }
        let [h1, h2, h3, h4, p1, p2] = nums;
        return Some(Announce::Active {
            addr: IpAddr::V4(Ipv4Addr::new(h1, h2, h3, h4)),
            port: u16::from_be_bytes([p1, p2]),
        });
    }
    if verb.eq_ignore_ascii_case(b"EPRT ") {
        let fields = extended(line_of(rest)?)?;
        let addr: IpAddr = std::str::from_utf8(fields[1]).ok()?.parse().ok()?;
        let family_ok = matches!(
            (fields[0], addr),
            (b"1", IpAddr::V4(_)) | (b"2", IpAddr::V6(_))
        );
        return family_ok.then_some(Announce::Active {
            addr,
            port: port(fields[2])?,
        });
    }
    None
}

/// The line up to its CRLF (or LF); None without one (a line cut across segments).
fn line_of(s: &[u8]) -> Option<&[u8]> {
    let end = s.iter().position(|&b| b == b'\n')?;
    let line = &s[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// Six comma-separated numbers of 0..=255 at the start of `s`, and the length they take.
fn numbers(s: &[u8]) -> Option<([u8; 6], usize)> {
    let mut out = [0u8; 6];
    let mut i = 0;
    for (k, slot) in out.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
        }
        let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return None;
        }
        let v: u16 = std::str::from_utf8(&s[i..i + digits]).ok()?.parse().ok()?;
        *slot = u8::try_from(v).ok()?;
        i += digits;
    }
    Some((out, i))
}

/// RFC 2428's `<d>a<d>b<d>c<d>`: the delimiter is the first byte; three fields between four
/// delimiters.
fn extended(s: &[u8]) -> Option<[&[u8]; 3]> {
    let (&d, rest) = s.split_first()?;
    if !(33..=126).contains(&d) {
        return None;
    }
    let mut parts = rest.split(|&b| b == d);
    let f = [parts.next()?, parts.next()?, parts.next()?];
    // The closing delimiter, and nothing after it.
    (parts.next()? == b"" && parts.next().is_none()).then_some(f)
}

fn port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s)
        .ok()?
        .parse()
        .ok()
        .filter(|p| *p != 0)
}

/// The `h1,h2,h3,h4,p1,p2` text of `addr`:`port`.
pub fn passive_text(addr: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = addr.octets();
    let [p1, p2] = port.to_be_bytes();
    format!("{a},{b},{c},{d},{p1},{p2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies_are_read_with_their_numbers_span() {
        let seg = b"227 Entering Passive Mode (10,0,1,5,234,96).\r\n";
        let a = reply(seg).unwrap();
        let Announce::Passive { addr, port, span } = a else {
            panic!("{a:?}")
        };
        assert_eq!((addr, port), (Ipv4Addr::new(10, 0, 1, 5), 60000));
        assert_eq!(&seg[span], b"10,0,1,5,234,96");
        // Without parentheses (RFC 959 does not require them), and pyftpdlib's wording.
        assert_eq!(
            reply(b"227 Entering passive mode 1,2,3,4,0,21\r\n"),
            Some(Announce::Passive {
                addr: Ipv4Addr::new(1, 2, 3, 4),
                port: 21,
                span: 26..38
            })
        );
        for bad in [
            &b"227 Entering Passive Mode (10,0,1,5,234,96)."[..], // no line end
            b"227 Entering Passive Mode (10,0,1,256,234,96).\r\n",
            b"227 Entering Passive Mode (10,0,1,234,96).\r\n",
            b"226 Transfer complete.\r\n",
            b"227-Entering Passive Mode (10,0,1,5,234,96).\r\n",
        ] {
            assert_eq!(reply(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn extended_passive_replies_give_the_port() {
        assert_eq!(
            reply(b"229 Entering Extended Passive Mode (|||60001|)\r\n"),
            Some(Announce::ExtendedPassive { port: 60001 })
        );
        assert_eq!(
            reply(b"229 Entering extended passive mode (!!!21!).\r\n"),
            Some(Announce::ExtendedPassive { port: 21 })
        );
        for bad in [
            &b"229 Entering Extended Passive Mode (|||0|)\r\n"[..],
            b"229 Entering Extended Passive Mode (|1|10.0.0.1|60001|)\r\n",
            b"229 Entering Extended Passive Mode (|||70000|)\r\n",
            b"229 Entering Extended Passive Mode (|||6000|\r\n",
        ] {
            assert_eq!(reply(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn active_commands_give_the_clients_address_and_port() {
        assert_eq!(
            command(b"PORT 198,18,0,10,195,80\r\n"),
            Some(Announce::Active {
                addr: "198.18.0.10".parse().unwrap(),
                port: 50000
            })
        );
        assert_eq!(
            command(b"eprt |1|198.18.0.10|50001|\r\n"),
            Some(Announce::Active {
                addr: "198.18.0.10".parse().unwrap(),
                port: 50001
            })
        );
        assert_eq!(
            command(b"EPRT |2|2001:2::10|50002|\r\n"),
            Some(Announce::Active {
                addr: "2001:2::10".parse().unwrap(),
                port: 50002
            })
        );
        for bad in [
            &b"PORT 198,18,0,10,195\r\n"[..],
            b"PORT 198,18,0,10,195,80 x\r\n",
            b"EPRT |2|198.18.0.10|50001|\r\n",
            b"EPRT |1|198.18.0.10|50001\r\n",
            b"RETR file\r\n",
            b"PASV\r\n",
        ] {
            assert_eq!(command(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn passive_text_is_the_six_numbers() {
        assert_eq!(
            passive_text(Ipv4Addr::new(198, 18, 1, 100), 60000),
            "198,18,1,100,234,96"
        );
    }
}
