//! A real server in the config (ipvsadm `-a`: address and port, weight, forwarding method,
//! tunnel, thresholds), its identity, and its validation.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    CheckConfig, Config, ConfigError, Errors, Form, MAX_THRESHOLD, MAX_WEIGHT, Raw, ServiceConfig,
    ServiceKey, typed,
};
use crate::{
    forwarding::{Forwarding, TunCsum, TunType},
    names::{Named, family_name, fmt_addr_port},
};

/// One real server of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealKey {
    pub service: ServiceKey,
    pub address: IpAddr,
    /// The port it is reached on (its own, else the service's).
    pub port: u16,
}

impl std::fmt::Display for RealKey {
    /// `real server 10.0.0.11:80 of tcp 10.0.0.1:80`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "real server {} of {}",
            fmt_addr_port(self.address, self.port),
            self.service
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(rename = "RealServerConfig", bound = "F: Form")]
pub struct RealServerConfig<F: Form = super::Checked> {
    pub address: IpAddr,
    /// Default: the service's port.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// `tun`, `dr` or `nat`; ipvsadm's default is `dr` (`-g`).
    #[serde(default = "F::default_forwarding")]
    pub forwarding: F::Forwarding,
    /// Tunnel type of a `tun` real server (ipvsadm `--tun-type`): `ipip` (default: IPIP,
    /// IPv6-in-IPv6 or across families by the real server's address), `gue` (UDP to
    /// `tun_port`) or `gre`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_type: Option<F::TunType>,
    /// UDP destination port of GUE encapsulation (ipvsadm `--tun-port`); required for `gue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_port: Option<u16>,
    /// Checksum mode of GUE or GRE encapsulation: `nocsum` (default), `csum` or (GUE)
    /// `remcsum` (ipvsadm `--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_csum: Option<F::TunCsum>,
    /// Upper connection threshold (ipvsadm `-x`): above this many connections the real server
    /// gets no new ones. 0 or unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_threshold: Option<u32>,
    /// Lower connection threshold (ipvsadm `-y`): an overloaded real server takes new
    /// connections again below this. Unset: three quarters of the upper threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_threshold: Option<u32>,
    /// This real server's health check (instead of its service's; `{"type": "none"}` for
    /// none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<CheckConfig>,
}

fn default_weight() -> u32 {
    1
}

impl<F: Form> RealServerConfig<F> {
    /// This real server's numbers with other names (of any form).
    fn with_names<G: Form>(
        &self,
        forwarding: G::Forwarding,
        tun_type: Option<G::TunType>,
        tun_csum: Option<G::TunCsum>,
    ) -> RealServerConfig<G> {
        RealServerConfig {
            address: self.address,
            port: self.port,
            weight: self.weight,
            forwarding,
            tun_type,
            tun_port: self.tun_port,
            tun_csum,
            upper_threshold: self.upper_threshold,
            lower_threshold: self.lower_threshold,
            health_check: self.health_check.clone(),
        }
    }

    /// The (upper, lower) connection thresholds, 0 for unset.
    pub fn thresholds(&self) -> (u32, u32) {
        (
            self.upper_threshold.unwrap_or(0),
            self.lower_threshold.unwrap_or(0),
        )
    }

    /// The health check that applies: its own, else its service's; None when neither has
    /// one or it is of type `none`.
    pub fn check<'a>(&'a self, svc: &'a ServiceConfig<F>) -> Option<&'a CheckConfig> {
        self.health_check
            .as_ref()
            .or(svc.health_check.as_ref())
            .filter(|c| c.kind != super::CheckKind::None)
    }
}

impl RealServerConfig {
    /// The same real server with its names as text.
    pub fn raw(&self) -> RealServerConfig<Raw> {
        self.with_names(
            self.forwarding.into(),
            self.tun_type.map(Into::into),
            self.tun_csum.map(Into::into),
        )
    }

    /// Its tunnel, `ipip` (the default) as none, so that spelling it out does not change the
    /// real server's identity.
    pub fn tunnel(&self) -> Option<TunType> {
        self.tun_type.filter(|t| *t != TunType::Ipip)
    }

    /// A `nat` real server's address (the source of the replies lb rewrites).
    pub fn nat_addr(&self) -> Option<IpAddr> {
        (self.forwarding == Forwarding::Nat).then_some(self.address)
    }

    /// The fields a real server read back from a running data plane cannot tell (lbd adopting
    /// it after a restart): defaults, replaced by the config's on the next apply.
    pub fn adopted(address: IpAddr) -> Self {
        Self {
            address,
            port: None,
            weight: 0,
            forwarding: Forwarding::default(),
            tun_type: None,
            tun_port: None,
            tun_csum: None,
            upper_threshold: None,
            lower_threshold: None,
            health_check: None,
        }
    }
}

impl RealServerConfig<Raw> {
    /// The same real server with typed names; `path` tells where it is in the config (made
    /// only for an error).
    pub(super) fn typed(&self, path: &dyn Fn() -> String) -> Result<RealServerConfig, ConfigError> {
        let forwarding = typed(&self.forwarding, || format!("{}.forwarding", path()))?;
        let tun_type = self
            .tun_type
            .as_ref()
            .map(|t| typed(t, || format!("{}.tun_type", path())))
            .transpose()?;
        let tun_csum = self
            .tun_csum
            .as_ref()
            .map(|c| typed(c, || format!("{}.tun_csum", path())))
            .transpose()?;
        Ok(self.with_names(forwarding, tun_type, tun_csum))
    }
}

/// One real server's checks (`rp`: its path) in service `s`.
pub(super) fn validate(
    cfg: &Config<Raw>,
    s: &ServiceConfig<Raw>,
    r: &RealServerConfig<Raw>,
    rp: &str,
    err: &mut Errors,
) {
    let port = s.real_port(r);
    if let Some(why) = super::address::not_unicast(r.address) {
        err.add(format!("{rp}.address"), why);
    } else if r.address == s.vip {
        err.add(
            format!("{rp}.address"),
            format!(
                "{} is the service's VIP: the director would send the service's packets to itself",
                r.address
            ),
        );
    }
    let fwd_name = r.forwarding.as_str();
    let fwd: Option<Forwarding> = fwd_name.parse().ok();
    if fwd.is_some_and(|f| !f.crosses_families()) && r.address.is_ipv6() != s.vip.is_ipv6() {
        err.add(
            format!("{rp}.address"),
            format!(
                "{} is {} but the VIP is {}: {fwd_name} keeps the packet's addresses' family; only tun crosses families",
                r.address,
                family_name(r.address),
                family_name(s.vip)
            ),
        );
    }
    if r.port == Some(0) {
        err.add(format!("{rp}.port"), "port 0 is not allowed (1 to 65535)");
    } else if s.port == 0
        && let Some(p) = r.port
    {
        // A nat reply's source port is restored from the real server's entry, which for a
        // port-0 service is none: the real server must answer from the client's port.
        err.add(
            format!("{rp}.port"),
            format!(
                "{p}: a real server of a port-0 service has no port of its own (it is reached on each connection's destination port); leave port out"
            ),
        );
    }
    if r.weight > MAX_WEIGHT {
        err.add(
            format!("{rp}.weight"),
            format!("{} is out of range (0 to {MAX_WEIGHT})", r.weight),
        );
    }
    if let Err(e) = fwd_name.parse::<Forwarding>() {
        err.add(format!("{rp}.forwarding"), e.to_string());
    }
    let tun_name = r.tun_type.as_deref();
    let tun: Option<TunType> = tun_name.and_then(|t| t.parse().ok());
    match (tun_name, fwd) {
        (None, _) => {}
        (Some(t), Some(Forwarding::Tun)) => {
            if let Err(e) = t.parse::<TunType>() {
                err.add(format!("{rp}.tun_type"), e.to_string());
            }
        }
        (Some(_), _) => err.add(
            format!("{rp}.tun_type"),
            format!("only a tun real server has a tunnel type (forwarding is {fwd_name:?})"),
        ),
    }
    match (tun, r.tun_port) {
        (Some(TunType::Gue), None) => err.add(
            format!("{rp}.tun_port"),
            "required for tun_type \"gue\" (the UDP port the real server decapsulates on)",
        ),
        (Some(TunType::Gue), Some(0)) => err.add(
            format!("{rp}.tun_port"),
            "port 0 is not allowed (1 to 65535)",
        ),
        (Some(TunType::Gue), Some(_)) | (_, None) => {}
        (_, Some(_)) => err.add(
            format!("{rp}.tun_port"),
            "only a gue tunnel has a port (set tun_type to \"gue\")",
        ),
    }
    if let Some(c) = r.tun_csum.as_deref() {
        let mode: Option<TunCsum> = c.parse().ok();
        match tun.filter(|t| !t.csum_modes().is_empty()) {
            Some(t) => match mode.filter(|m| t.csum_modes().contains(m)) {
                Some(m) if m.is_implemented() => {}
                // lb sends GUE with a zero UDP checksum (RFC 6935/6936 allow it for tunnels)
                // and GRE without its optional checksum (RFC 2784).
                Some(_) => err.add(
                    format!("{rp}.tun_csum"),
                    format!("checksum mode {c:?} is not implemented yet; implemented: nocsum"),
                ),
                None if t == TunType::Gue => err.add(
                    format!("{rp}.tun_csum"),
                    crate::names::UnknownName::of::<TunCsum>(c).to_string(),
                ),
                None => {
                    let valid: Vec<&str> = t.csum_modes().iter().map(|m| m.name()).collect();
                    err.add(
                        format!("{rp}.tun_csum"),
                        format!(
                            "unknown checksum mode {c:?} for {}; valid: {}",
                            t.name(),
                            valid.join(", ")
                        ),
                    )
                }
            },
            None => err.add(
                format!("{rp}.tun_csum"),
                "only a gue or gre tunnel has a checksum mode (set tun_type)",
            ),
        }
    }
    for (name, v) in [
        ("upper_threshold", r.upper_threshold),
        ("lower_threshold", r.lower_threshold),
    ] {
        if let Some(v) = v
            && v > MAX_THRESHOLD
        {
            err.add(
                format!("{rp}.{name}"),
                format!("{v} is out of range (0 to {MAX_THRESHOLD} connections)"),
            );
        }
    }
    if let (Some(u), Some(l)) = (r.upper_threshold, r.lower_threshold)
        && u > 0
        && l > u
    {
        err.add(
            format!("{rp}.lower_threshold"),
            format!("{l} is above the upper threshold {u}"),
        );
    }
    if port != s.port && s.port != 0 && s.ftp() && fwd == Some(Forwarding::Nat) {
        // The helper's real servers keep every connection's ports (their data connections'
        // ports are the ones they announce).
        err.add(
            format!("{rp}.port"),
            format!(
                "{port} differs from the service's port {}: a nat real server of an FTP service is reached on the service's port (set ftp to false to give it another)",
                s.port
            ),
        );
    }
    if port != s.port && s.port != 0 && fwd.is_some_and(|f| !f.may_change_port()) {
        err.add(
            format!("{rp}.port"),
            format!(
                "{port} differs from the service's port {}: only nat can change the port ({fwd_name} forwards the packet unchanged)",
                s.port
            ),
        );
    }
    if fwd == Some(Forwarding::Tun) {
        let (family, missing) = if r.address.is_ipv4() {
            ("ipv4", cfg.director.ipv4.is_none())
        } else {
            ("ipv6", cfg.director.ipv6.is_none())
        };
        if missing {
            err.add(
                format!("director.{family}"),
                format!(
                    "required: {rp} is tunnelled over {} and needs the director's {} address as outer source",
                    family_name(r.address),
                    family_name(r.address)
                ),
            );
        }
    }
}
