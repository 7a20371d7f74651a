//! `lbctl mark import`: reads iptables MARK rules, as `iptables-save` writes them or as
//! `iptables` command lines, into matches of lb's classifier (the config's `marks`):
//!
//! ```text
//! *mangle
//! -A PREROUTING -d 10.0.0.1/32 -p tcp -m multiport --dports 80,443 -j MARK --set-xmark 0x1/0xffffffff
//! COMMIT
//! iptables -t mangle -A PREROUTING -d 10.0.0.2 -p tcp --dport 8000:8100 -j MARK --set-mark 2
//! ```
//!
//! Lines that are not MARK rules of the mangle table (other tables, other targets, chain
//! declarations, comments) are skipped; a MARK rule lb cannot honour (another chain, a
//! negation, a match module or option the classifier has not, a mark with a mask) is refused
//! with its line number and the reason, and then nothing is imported. The rules keep their
//! order: the classifier's first match wins, as iptables's first matching rule does.

use std::net::IpAddr;

use lb_model::config::MarkMatch;

/// One imported rule: its line (from 1), its mark, its match(es) (one per `-d` address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub line: usize,
    pub mark: u32,
    pub matches: Vec<MarkMatch>,
}

/// A line refused: its number (from 1) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Refused {
    pub line: usize,
    pub reason: String,
}

/// Every MARK rule of `text`, in order, or the first line refused.
pub fn parse(text: &str) -> Result<Vec<Imported>, Refused> {
    let mut out = Vec::new();
    // iptables-save: the table of the `*table` section we are in.
    let mut table = String::from("filter");
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(':') || l == "COMMIT" {
            continue;
        }
        if let Some(t) = l.strip_prefix('*') {
            table = t.trim().to_string();
            continue;
        }
        let words = split(l).map_err(|reason| Refused { line, reason })?;
        if let Some(r) = rule(&words, &table).map_err(|reason| Refused { line, reason })? {
            out.push(Imported {
                line,
                mark: r.0,
                matches: r.1,
            });
        }
    }
    Ok(out)
}

/// Words of a line, shell-like: whitespace-separated, single or double quotes kept together.
fn split(l: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in l.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

/// What one rule's words say: `None` if it is not a MARK rule of the mangle table.
fn rule(words: &[String], section: &str) -> Result<Option<(u32, Vec<MarkMatch>)>, String> {
    let mut w = words.iter().map(String::as_str).peekable();
    let mut ipv6 = false;
    if let Some(&first) = w.peek()
        && !first.starts_with('-')
    {
        match first.rsplit('/').next().unwrap_or(first) {
            "iptables" | "iptables-legacy" | "iptables-nft" => {}
            "ip6tables" | "ip6tables-legacy" | "ip6tables-nft" => ipv6 = true,
            other => {
                return Err(format!(
                    "{other:?} is not an iptables rule (iptables-save's `-A CHAIN ...` or `iptables -t mangle -A CHAIN ...`)"
                ));
            }
        }
        w.next();
    }
    let mut table = section.to_string();
    let mut chain = None;
    let mut dst: Vec<String> = Vec::new();
    let mut src: Option<String> = None;
    let mut proto: Option<String> = None;
    let mut ports: Option<String> = None;
    let mut target: Option<String> = None;
    let mut mark: Option<String> = None;
    let mut unsupported: Option<String> = None;
    let value = |w: &mut std::iter::Peekable<_>, opt: &str| -> Result<String, String> {
        let v: Option<&str> = w.next();
        v.map(str::to_string)
            .ok_or_else(|| format!("{opt} needs a value"))
    };
    while let Some(opt) = w.next() {
        match opt {
            "-t" | "--table" => table = value(&mut w, opt)?,
            "-A" | "--append" => chain = Some(value(&mut w, opt)?),
            "-I" | "--insert" | "-R" | "--replace" | "-D" | "--delete" => {
                return Err(format!(
                    "{opt}: only appended rules (-A) can be imported, in the order they apply"
                ));
            }
            "-d" | "--destination" | "--dst" => {
                dst.extend(value(&mut w, opt)?.split(',').map(str::to_string));
            }
            "-s" | "--source" | "--src" => {
                let v = value(&mut w, opt)?;
                if v.contains(',') {
                    return Err(format!(
                        "-s {v}: one source prefix per rule (write one rule per source)"
                    ));
                }
                src = Some(v);
            }
            "-p" | "--protocol" => proto = Some(value(&mut w, opt)?),
            "-m" | "--match" => {
                let m = value(&mut w, opt)?;
                if !matches!(m.as_str(), "tcp" | "udp" | "sctp" | "multiport" | "comment") {
                    unsupported.get_or_insert(format!(
                        "-m {m}: lb's classifier matches destination, protocol, destination ports and source only"
                    ));
                }
            }
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                ports = Some(value(&mut w, opt)?);
            }
            "--comment" => {
                value(&mut w, opt)?;
            }
            "-j" | "--jump" => target = Some(value(&mut w, opt)?),
            "--set-mark" | "--set-xmark" => mark = Some(value(&mut w, opt)?),
            "!" => {
                unsupported
                    .get_or_insert("a negation (!) cannot be expressed in lb's classifier".into());
            }
            other => {
                // Consume an option's value, if it has one, so the next option is read
                // right; the rule is refused below if it is a MARK rule.
                if w.peek().is_some_and(|v| !v.starts_with('-')) {
                    w.next();
                }
                unsupported.get_or_insert(format!(
                    "{other}: lb's classifier matches destination (-d), protocol (-p), destination ports (--dport, --dports) and source (-s) only"
                ));
            }
        }
    }
    if table != "mangle" || target.as_deref() != Some("MARK") {
        return Ok(None);
    }
    let chain = chain.ok_or("a MARK rule without -A CHAIN")?;
    if chain != "PREROUTING" {
        return Err(format!(
            "chain {chain}: lb marks the packets that arrive (PREROUTING) only"
        ));
    }
    if let Some(u) = unsupported {
        return Err(u);
    }
    let mark = mark.ok_or("-j MARK without --set-mark or --set-xmark")?;
    let mark = parse_mark(&mark)?;
    let protocol = match proto.as_deref() {
        None | Some("all") => None,
        Some("tcp" | "6") => Some(lb_model::Protocol::Tcp),
        Some("udp" | "17") => Some(lb_model::Protocol::Udp),
        Some("sctp" | "132") => Some(lb_model::Protocol::Sctp),
        Some(p) => {
            return Err(format!("-p {p}: lb's services are tcp, udp or sctp"));
        }
    };
    if ports.is_some() && protocol.is_none() {
        return Err("--dport needs -p tcp, udp or sctp".into());
    }
    if dst.is_empty() {
        dst.push(if ipv6 { "::/0" } else { "0.0.0.0/0" }.into());
    }
    let source = src.map(|s| prefix(&s, "-s")).transpose()?;
    let matches = dst
        .iter()
        .map(|d| {
            Ok(MarkMatch {
                destination: prefix(d, "-d")?,
                protocol,
                ports: ports.clone(),
                source: source.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Some((mark, matches)))
}

/// `--set-mark N`, `--set-mark N/0xffffffff`, `--set-xmark N/0xffffffff` (decimal or 0x).
fn parse_mark(s: &str) -> Result<u32, String> {
    let num = |v: &str| -> Result<u32, String> {
        let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(h) => u32::from_str_radix(h, 16),
            None => v.parse(),
        };
        r.map_err(|_| format!("mark {v:?} is not a number"))
    };
    let (v, mask) = match s.split_once('/') {
        Some((v, m)) => (v, num(m)?),
        None => (s, u32::MAX),
    };
    if mask != u32::MAX {
        return Err(format!(
            "mark {s}: lb sets whole marks only (mask 0xffffffff)"
        ));
    }
    match num(v)? {
        0 => Err("mark 0 is no mark: a firewall-mark service's mark is 1 to 4294967295".into()),
        m => Ok(m),
    }
}

/// An iptables address (`10.0.0.1`, `10.0.0.0/24`, host bits allowed as iptables allows
/// them) as the classifier's prefix text.
fn prefix(s: &str, opt: &str) -> Result<String, String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("{opt} {s}: not an address or prefix (lb does not resolve names)"))?;
    let max = if addr.is_ipv6() { 128 } else { 32 };
    let len = match l {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("{opt} {s}: prefix length {l:?} is not 0 to {max}")),
        },
    };
    let p = lb_model::config::Prefix { addr, len };
    Ok(lb_model::config::Prefix {
        addr: p.masked(),
        len,
    }
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(d: &str, p: Option<&str>, ports: Option<&str>, s: Option<&str>) -> MarkMatch {
        MarkMatch {
            destination: d.into(),
            protocol: p.map(|p| p.parse().unwrap()),
            ports: ports.map(Into::into),
            source: s.map(Into::into),
        }
    }

    #[test]
    fn iptables_save_and_command_lines_import_in_order() {
        let text = "\
# Generated by iptables-save v1.8.9
*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 10.0.0.1/32 -p tcp -m multiport --dports 80,443 -m comment --comment \"web two\" -j MARK --set-xmark 0x1/0xffffffff
-A PREROUTING -d 10.0.0.0/24 -j CONNMARK --save-mark
COMMIT
iptables -t mangle -A PREROUTING -d 10.0.0.2,10.0.1.7/24 -s 192.0.2.0/24 -p udp -m udp --dport 8000:8100 -j MARK --set-mark 2
ip6tables -t mangle -A PREROUTING -p tcp --dport 443 -j MARK --set-mark 0x3
";
        let got = parse(text).unwrap();
        assert_eq!(
            got,
            vec![
                Imported {
                    line: 8,
                    mark: 1,
                    matches: vec![m("10.0.0.1/32", Some("tcp"), Some("80,443"), None)],
                },
                Imported {
                    line: 11,
                    mark: 2,
                    matches: vec![
                        m(
                            "10.0.0.2/32",
                            Some("udp"),
                            Some("8000:8100"),
                            Some("192.0.2.0/24")
                        ),
                        m(
                            "10.0.1.0/24",
                            Some("udp"),
                            Some("8000:8100"),
                            Some("192.0.2.0/24")
                        ),
                    ],
                },
                Imported {
                    line: 12,
                    mark: 3,
                    matches: vec![m("::/0", Some("tcp"), Some("443"), None)],
                },
            ]
        );
    }

    #[test]
    fn rules_lb_cannot_honour_are_refused_with_their_line_and_why() {
        for (line, why) in [
            (
                "-A PREROUTING -d 10.0.0.1 -p tcp ! --dport 80 -j MARK --set-mark 1",
                "negation",
            ),
            (
                "-A PREROUTING -i eth0 -d 10.0.0.1 -j MARK --set-mark 1",
                "-i: lb's classifier matches",
            ),
            (
                "-A PREROUTING -m state --state NEW -j MARK --set-mark 1",
                "-m state",
            ),
            ("-A OUTPUT -d 10.0.0.1 -j MARK --set-mark 1", "chain OUTPUT"),
            (
                "-A PREROUTING -d 10.0.0.1 -j MARK --set-xmark 0x1/0xff",
                "whole marks only",
            ),
            (
                "-A PREROUTING -d 10.0.0.1 -j MARK --set-mark 0",
                "mark 0 is no mark",
            ),
            (
                "-A PREROUTING -d www.example -j MARK --set-mark 1",
                "does not resolve names",
            ),
            (
                "-I PREROUTING -d 10.0.0.1 -j MARK --set-mark 1",
                "only appended rules",
            ),
            (
                "-A PREROUTING -d 10.0.0.1 -p icmp -j MARK --set-mark 1",
                "tcp, udp or sctp",
            ),
            (
                "-A PREROUTING -d 10.0.0.1 -j MARK --and-mark 1",
                "--and-mark",
            ),
        ] {
            let text = format!("*mangle\n{line}\nCOMMIT\n");
            let e = parse(&text).expect_err(line);
            assert_eq!(e.line, 2, "{line}");
            assert!(e.reason.contains(why), "{line}: {e}");
        }
        // Not a MARK rule: skipped even with what the classifier cannot match.
        assert_eq!(
            parse("*mangle\n-A PREROUTING -i eth0 -j ACCEPT\n").unwrap(),
            vec![]
        );
    }
}
