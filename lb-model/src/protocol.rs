//! The transport protocols of virtual services (ipvsadm `-t`, `-u`, `--sctp-service`).

use lb_common::{PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use serde::{Deserialize, Serialize};

use crate::names::Named;

// A virtual service's protocol. Its serde form is serde's own, so that a config naming
// another protocol gets serde's "unknown variant" message with the JSON path. (No doc
// comment: it would become the schema's description.)
#[derive(
    Clone,
    Copy,
    Debug,
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
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Named for Protocol {
    const KIND: &'static str = "protocol";
    const ALL: &'static [Self] = &[Self::Tcp, Self::Udp, Self::Sctp];
    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Protocol {
    type Err = crate::names::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| crate::names::UnknownName::of::<Self>(s))
    }
}

impl Protocol {
    /// The IP protocol number (`PROTO_*`).
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => PROTO_TCP,
            Self::Udp => PROTO_UDP,
            Self::Sctp => PROTO_SCTP,
        }
    }

    /// The protocol of an IP protocol number, if a service can have it.
    pub fn from_number(n: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.number() == n)
    }

    /// ipvsadm's option for a service of this protocol (`-t`, `-u`, `--sctp-service`).
    pub fn ipvsadm_flag(self) -> &'static str {
        match self {
            Self::Tcp => "-t",
            Self::Udp => "-u",
            Self::Sctp => "--sctp-service",
        }
    }
}
