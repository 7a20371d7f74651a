//! Firewall marks (the config's `marks`): lb's own classifier, which gives a packet of a new
//! flow the mark a firewall-mark service (ipvsadm `-f`) takes, where IPVS would read the mark
//! netfilter set (`iptables -t mangle ... -j MARK --set-mark N`). Each mark lists matches
//! (destination prefix, protocol, destination ports, source prefix); over the whole list, the
//! first match in the config's order wins, as the first matching iptables rule does. A mark
//! that no service takes leaves its packets to the VIP services; a service whose mark has no
//! match gets no packets (both are allowed, as IPVS allows them: the mark and the service are
//! set up one after the other).

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Errors};
use crate::protocol::Protocol;

/// The address family of a firewall-mark service (a VIP service's is its VIP's).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(a: IpAddr) -> Self {
        if a.is_ipv6() { Self::Ipv6 } else { Self::Ipv4 }
    }
    /// The unspecified address of the family (a firewall-mark service's `vip`).
    pub fn unspecified(self) -> IpAddr {
        match self {
            Self::Ipv4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            Self::Ipv6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
    /// `lb_common::FAMILY_V4` / `FAMILY_V6`.
    pub fn number(self) -> u8 {
        match self {
            Self::Ipv4 => lb_common::FAMILY_V4,
            Self::Ipv6 => lb_common::FAMILY_V6,
        }
    }
    /// The longest prefix of the family.
    pub fn bits(self) -> u8 {
        match self {
            Self::Ipv4 => 32,
            Self::Ipv6 => 128,
        }
    }
}

/// One mark and the packets that get it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkConfig {
    /// The mark (1 to 4294967295): the `fwmark` of the service its packets go to.
    pub mark: u32,
    /// The packets of new flows that get the mark: any one of these matches.
    #[serde(rename = "match")]
    pub matches: Vec<MarkMatch>,
}

/// One match of a mark (one iptables MARK rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkMatch {
    /// Destination prefix (`10.0.0.1/32`, `2001:db8::/64`; an address alone is one address).
    pub destination: String,
    /// `tcp`, `udp` or `sctp`; absent: any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Destination ports: a port, a range (`8000-8100`, or iptables's `8000:8100`), or a
    /// comma-separated list of those (`80,443`); absent: every port. Needs `protocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// Source prefix; absent: any source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A prefix: a network address (host bits zero) and a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// `10.0.0.0/24`, `2001:db8::1` (one address); host bits must be zero.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| {
            format!("{s:?} is not an address or prefix (10.0.0.0/24, 2001:db8::/64)")
        })?;
        let max = Family::of(addr).bits();
        let len = match l {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!("{s:?}: prefix length {l:?} is not 0 to {max}"));
                }
            },
        };
        let p = Self { addr, len };
        if p.masked() != addr {
            return Err(format!(
                "{s:?} has bits set past its prefix length: write {}",
                Self {
                    addr: p.masked(),
                    len
                }
            ));
        }
        Ok(p)
    }

    /// The address with only the prefix's bits kept.
    pub fn masked(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let m = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.len as u32)
                };
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.len as u32)
                };
                IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }

    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }

    /// Whether `other` lies within this prefix.
    pub fn contains(&self, other: &Prefix) -> bool {
        self.family() == other.family()
            && other.len >= self.len
            && Prefix {
                addr: other.addr,
                len: self.len,
            }
            .masked()
                == self.addr
    }

    /// How many addresses it holds, saturated.
    pub fn size(&self) -> u128 {
        let host = (self.family().bits() - self.len) as u32;
        if host >= 127 {
            u128::MAX
        } else {
            1u128 << host
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Destination ports: `80`, `8000-8100`, `8000:8100`, `80,443,8000-8100`, as inclusive ranges.
pub fn parse_ports(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let port = |p: &str| -> Result<u16, String> {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} in {s:?} is not a port (0 to 65535)"))
        };
        let r = match part.split_once(['-', ':']) {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(part)?;
                (p, p)
            }
        };
        if r.0 > r.1 {
            return Err(format!(
                "{part:?} in {s:?}: the range ends before it starts"
            ));
        }
        v.push(r);
    }
    Ok(v)
}

/// One rule of the compiled classifier: a match with one port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    pub mark: u32,
    pub destination: Prefix,
    /// `PROTO_*`, 0: any.
    pub proto: u8,
    pub ports: (u16, u16),
    pub source: Option<Prefix>,
}

impl MarkMatch {
    /// The match's rules (one per port range), or what is wrong, with the path of the field
    /// (`mp`: the match's).
    pub fn rules(&self, mark: u32, mp: &str) -> Result<Vec<Rule>, ConfigError> {
        let destination = Prefix::parse(&self.destination)
            .map_err(|m| ConfigError::new(format!("{mp}.destination"), m))?;
        let source = self
            .source
            .as_deref()
            .map(Prefix::parse)
            .transpose()
            .map_err(|m| ConfigError::new(format!("{mp}.source"), m))?;
        if let Some(s) = source
            && s.family() != destination.family()
        {
            return Err(ConfigError::new(
                format!("{mp}.source"),
                format!(
                    "{s} is {} but the destination {destination} is {}",
                    s.family().name(),
                    destination.family().name()
                ),
            ));
        }
        let ports = match &self.ports {
            None => vec![(0, u16::MAX)],
            Some(p) => {
                if self.protocol.is_none() {
                    return Err(ConfigError::new(
                        format!("{mp}.ports"),
                        "ports need a protocol (tcp, udp or sctp), as iptables's --dport needs -p",
                    ));
                }
                parse_ports(p).map_err(|m| ConfigError::new(format!("{mp}.ports"), m))?
            }
        };
        Ok(ports
            .into_iter()
            .map(|ports| Rule {
                mark,
                destination,
                proto: self.protocol.map_or(0, Protocol::number),
                ports,
                source,
            })
            .collect())
    }
}

/// Every rule of `marks`, in the order the data plane tries them (the config's).
pub fn rules(marks: &[MarkConfig]) -> Vec<Rule> {
    marks
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            m.matches.iter().enumerate().flat_map(move |(j, x)| {
                x.rules(m.mark, &format!("marks[{i}].match[{j}]"))
                    .unwrap_or_default()
            })
        })
        .collect()
}

/// The classifier as the data plane holds it: for each destination prefix of a rule, the
/// rules (in order) whose destination contains it; the longest prefix a packet's destination
/// is in then holds every rule that can match it.
pub fn compile(rules: &[Rule]) -> BTreeMap<Prefix, Vec<Rule>> {
    let mut out: BTreeMap<Prefix, Vec<Rule>> = BTreeMap::new();
    for r in rules {
        out.entry(r.destination).or_default();
    }
    for (p, v) in out.iter_mut() {
        v.extend(rules.iter().filter(|r| r.destination.contains(p)).copied());
    }
    out
}

/// The classifier's map entries: (trie prefix length, destination) -> rules, as
/// `lb_common::mark` lays them out. Call on validated marks only (a prefix's rules beyond
/// `MARK_RULES_MAX` are left out).
pub fn map_entries(
    marks: &[MarkConfig],
) -> BTreeMap<(u32, lb_common::MarkAddr), lb_common::MarkRules> {
    let words = |a: IpAddr| crate::addr::addr_words(a).0;
    compile(&rules(marks))
        .into_iter()
        .map(|(p, rules)| {
            let mut v = lb_common::MarkRules::default();
            for (slot, r) in v.rules.iter_mut().zip(&rules) {
                *slot = lb_common::MarkRule {
                    mark: r.mark,
                    proto: r.proto,
                    src_len: r.source.map_or(0, |s| s.len),
                    _pad: 0,
                    port_lo: r.ports.0,
                    port_hi: r.ports.1,
                    src: r.source.map_or([0; 4], |s| words(s.addr)),
                };
            }
            v.count = rules.len().min(lb_common::MARK_RULES_MAX) as u32;
            let key = (
                lb_common::mark_prefix_len(p.len),
                lb_common::MarkAddr {
                    family: p.family().number() as u32,
                    addr: words(p.addr),
                },
            );
            (key, v)
        })
        .collect()
}

/// The checks of `marks`.
pub(super) fn validate(marks: &[MarkConfig], err: &mut Errors) {
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut ok = true;
    for (i, m) in marks.iter().enumerate() {
        let p = format!("marks[{i}]");
        if m.mark == 0 {
            err.add(format!("{p}.mark"), "mark 0 is no mark (1 to 4294967295)");
        }
        if let Some(first) = seen.insert(m.mark, i) {
            err.add(
                format!("{p}.mark"),
                format!(
                    "duplicate mark {}: already defined at marks[{first}] (give it one list of matches)",
                    m.mark
                ),
            );
        }
        if m.matches.is_empty() {
            err.add(
                format!("{p}.match"),
                "a mark needs at least one match (destination, protocol, ports, source)",
            );
        }
        for (j, x) in m.matches.iter().enumerate() {
            if let Err(e) = x.rules(m.mark, &format!("{p}.match[{j}]")) {
                err.0.push(e);
                ok = false;
            }
        }
    }
    if !ok {
        return;
    }
    let compiled = compile(&rules(marks));
    if compiled.len() > lb_common::MAX_MARK_PREFIXES as usize {
        err.add(
            "marks",
            format!(
                "{} destination prefixes; the classifier holds at most {}",
                compiled.len(),
                lb_common::MAX_MARK_PREFIXES
            ),
        );
    }
    for (p, v) in &compiled {
        if v.len() > lb_common::MARK_RULES_MAX {
            err.add(
                "marks",
                format!(
                    "{} rules can match a destination in {p} (one per port range, with those of the prefixes containing it); the classifier takes at most {}",
                    v.len(),
                    lb_common::MARK_RULES_MAX
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_ports_parse_or_say_why_not() {
        assert_eq!(
            Prefix::parse("10.0.0.0/24").unwrap().to_string(),
            "10.0.0.0/24"
        );
        assert_eq!(Prefix::parse("10.0.0.1").unwrap().len, 32);
        assert_eq!(Prefix::parse("2001:db8::/64").unwrap().len, 64);
        assert!(
            Prefix::parse("10.0.0.1/24")
                .unwrap_err()
                .contains("write 10.0.0.0/24")
        );
        assert!(Prefix::parse("10.0.0.0/33").is_err());
        assert!(Prefix::parse("nope").is_err());
        assert_eq!(
            parse_ports("80,443,8000-8100,9000:9001").unwrap(),
            vec![(80, 80), (443, 443), (8000, 8100), (9000, 9001)]
        );
        assert!(parse_ports("90-80").is_err());
        assert!(parse_ports("http").is_err());
    }

    #[test]
    fn a_longest_prefix_holds_the_rules_of_the_prefixes_containing_it_in_order() {
        let m = |mark, d: &str| MarkConfig {
            mark,
            matches: vec![MarkMatch {
                destination: d.into(),
                protocol: None,
                ports: None,
                source: None,
            }],
        };
        let marks = [
            m(1, "10.0.0.0/8"),
            m(2, "10.1.0.0/16"),
            m(3, "192.0.2.0/24"),
        ];
        let c = compile(&rules(&marks));
        let marks_of = |p: &str| -> Vec<u32> {
            c[&Prefix::parse(p).unwrap()]
                .iter()
                .map(|r| r.mark)
                .collect()
        };
        assert_eq!(marks_of("10.0.0.0/8"), vec![1]);
        // The /8's rule comes first: it is first in the config.
        assert_eq!(marks_of("10.1.0.0/16"), vec![1, 2]);
        assert_eq!(marks_of("192.0.2.0/24"), vec![3]);
    }
}
