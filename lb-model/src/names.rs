//! The names a user writes for lb's kinds of things (schedulers, forwarding methods,
//! protocols, tunnels): each kind is an enum whose variants know their ipvsadm name, their
//! kernel code (lb-common's constants) and the facts the code asks about them. A name is
//! parsed once, where it comes in ([`std::str::FromStr`], serde); an unknown name is an
//! [`UnknownName`] error that says which names there are.

/// A kind of thing known by a fixed set of names.
pub trait Named: Copy + Eq + 'static {
    /// What the kind is called in messages ("scheduler", "forwarding method").
    const KIND: &'static str;
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];
    /// The name a user writes (ipvsadm's where ipvsadm has one).
    fn name(self) -> &'static str;

    /// The value of an exact name.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Every name, in [`Named::ALL`]'s order.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.name()).collect()
    }
}

/// A name that names nothing of its kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}; valid: {valid}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    /// The valid names, comma-separated.
    pub valid: String,
}

impl UnknownName {
    pub fn of<T: Named>(name: &str) -> Self {
        Self {
            kind: T::KIND,
            name: name.to_string(),
            valid: T::names().join(", "),
        }
    }
}

/// `Display`, `FromStr`, serde and JSON Schema for a [`Named`] type: it is written as its
/// name.
macro_rules! named_impls {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::names::Named::name(*self))
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t as $crate::names::Named>::from_name(s)
                    .ok_or_else(|| $crate::names::UnknownName::of::<$t>(s))
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                $crate::names::Named::name(v).to_string()
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::names::Named::name(*self))
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "enum": <$t as $crate::names::Named>::names(),
                })
            }
        }
    };
}
pub(crate) use named_impls;

/// `1.2.3.4:80` or `[::1]:80`, as ipvsadm prints addresses.
pub fn fmt_addr_port(a: std::net::IpAddr, port: u16) -> String {
    match a {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// "IPv4" or "IPv6".
pub fn family_name(a: std::net::IpAddr) -> &'static str {
    if a.is_ipv6() { "IPv6" } else { "IPv4" }
}
