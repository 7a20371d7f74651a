//! A virtual service in the config (ipvsadm `-A`: protocol, VIP and port, scheduler,
//! persistence, flags), its identity, and its validation.

use std::{collections::HashMap, net::IpAddr};

use serde::{Deserialize, Serialize};

use super::{
    CheckConfig, Config, ConfigError, Errors, Family, Form, Name, Raw, RealServerConfig, real,
    typed,
};
use crate::{
    names::{Named, UnknownName, fmt_addr_port},
    protocol::Protocol,
    scheduler::{SchedFlag, Scheduler, is_prime},
};

/// The FTP control port IPVS's helper takes by default (`ip_vs_ftp`'s `ports=21`).
pub const FTP_PORT: u16 = 21;
/// Range of `persistent`, seconds (a month).
pub const MAX_PERSISTENT_S: u32 = 2_678_400;
/// Range of `mh_table_size` (a prime).
pub const MIN_MH_TABLE_SIZE: u32 = 7;
pub const MAX_MH_TABLE_SIZE: u32 = 1_048_573;

/// A virtual service's identity, as ipvsadm's `-t`/`-u`/`-f` name it. A firewall-mark
/// service (`fwmark`) has, as in IPVS, the nominal protocol TCP, port 0 and the unspecified
/// address of its family as its VIP: its mark and family name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    pub protocol: Protocol,
    pub vip: IpAddr,
    pub port: u16,
    pub fwmark: Option<u32>,
}

impl ServiceKey {
    /// A VIP service's key.
    pub fn vip(protocol: Protocol, vip: IpAddr, port: u16) -> Self {
        Self {
            protocol,
            vip,
            port,
            fwmark: None,
        }
    }

    /// A firewall-mark service's key.
    pub fn fwmark(mark: u32, family: Family) -> Self {
        Self {
            protocol: Protocol::Tcp,
            vip: family.unspecified(),
            port: 0,
            fwmark: Some(mark),
        }
    }

    /// `-t 192.168.0.1:80` / `-u [2001:db8::1]:53` / `-f 1` / `-f 1 -6`: how ipvsadm names
    /// a service.
    pub fn ipvsadm(&self) -> String {
        match self.fwmark {
            Some(m) if self.vip.is_ipv6() => format!("-f {m} -6"),
            Some(m) => format!("-f {m}"),
            None => format!(
                "{} {}",
                self.protocol.ipvsadm_flag(),
                fmt_addr_port(self.vip, self.port)
            ),
        }
    }

    /// The services map's key.
    pub fn vip_key(&self) -> lb_common::VipKey {
        match self.fwmark {
            Some(m) => lb_common::fwmark_key(m, Family::of(self.vip).number()),
            None => crate::addr::vip_key(self.protocol, self.vip, self.port),
        }
    }
}

impl std::fmt::Display for ServiceKey {
    /// `tcp 10.0.0.1:80`, `fwmark 1`, `fwmark 1 ipv6`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fwmark {
            Some(m) if self.vip.is_ipv6() => write!(f, "fwmark {m} ipv6"),
            Some(m) => write!(f, "fwmark {m}"),
            None => write!(
                f,
                "{} {}",
                self.protocol.name(),
                fmt_addr_port(self.vip, self.port)
            ),
        }
    }
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}

fn default_vip() -> IpAddr {
    Family::Ipv4.unspecified()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(rename = "ServiceConfig", bound = "F: Form")]
pub struct ServiceConfig<F: Form = super::Checked> {
    /// A firewall-mark service (ipvsadm `-f`): the mark lb's classifier (`marks`) gives the
    /// packets it takes, instead of `protocol`, `vip` and `port` (which it has not; IPVS's
    /// nominal `tcp` and port 0 may be written). Its real servers take each connection's
    /// destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// A firewall-mark service's address family, `ipv4` (default) or `ipv6` (ipvsadm `-6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// `tcp`, `udp` or `sctp` (required but for a firewall-mark service).
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// The VIP (required but for a firewall-mark service).
    #[serde(
        default = "default_vip",
        skip_serializing_if = "IpAddr::is_unspecified"
    )]
    pub vip: IpAddr,
    /// The service's port (required but for a firewall-mark service); 0 for every port of
    /// the VIP and protocol that no service of its own takes (ipvsadm `-t VIP:0 -p`): such a
    /// service must be persistent, and its real servers take each connection's destination
    /// port.
    #[serde(default)]
    pub port: u16,
    /// ipvsadm scheduler name; ipvsadm's default is `wlc`.
    #[serde(default = "F::default_scheduler")]
    pub scheduler: F::Scheduler,
    /// Lookup-table size for `mh` (a prime). Default 65537.
    #[serde(default)]
    pub mh_table_size: Option<u32>,
    /// Persistence timeout in seconds (ipvsadm `-p`; 300 there when given without a value):
    /// new connections from a client network go to the same real server while its last
    /// connection is younger than this.
    #[serde(default)]
    pub persistent: Option<u32>,
    /// The client network of persistence, as a prefix length (ipvsadm `-M`). Default: one
    /// address (32 / 128).
    #[serde(default)]
    pub persistent_netmask: Option<u8>,
    /// Scheduler flags (ipvsadm `-b`): `sh-fallback`, `sh-port` for `sh`; `mh-fallback`,
    /// `mh-port` for `mh`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sched_flags: Vec<F::SchedFlag>,
    /// One-packet scheduling (ipvsadm `-o`, UDP only): every datagram is scheduled on its own
    /// and no connection entry is made.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub one_packet: bool,
    /// FTP through the VIP (IPVS's `ip_vs_ftp`), for this service's `nat` real servers: their
    /// `227` passive replies are rewritten to the VIP, and the data connections announced on
    /// the control connection (`PASV`, `EPSV`, `PORT`, `EPRT`) go to the control connection's
    /// real server. Default: on for TCP port 21 (the port IPVS's helper takes), off
    /// elsewhere; TCP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp: Option<bool>,
    #[serde(default)]
    pub real_servers: Vec<RealServerConfig<F>>,
    /// The health check of every real server that has none of its own (see
    /// `crate::health::CheckConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<CheckConfig>,
    /// keepalived's `sorry_server`: a server that takes the service's new connections only
    /// while none of its real servers can (all down, draining or of weight 0). Without one,
    /// such a service drops new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<RealServerConfig<F>>,
}

impl<F: Form> ServiceConfig<F> {
    pub fn key(&self) -> ServiceKey {
        match self.fwmark {
            Some(m) => ServiceKey::fwmark(m, self.family()),
            None => ServiceKey::vip(self.protocol, self.vip, self.port),
        }
    }

    /// The service's address family (a firewall-mark service's `family`, else its VIP's).
    pub fn family(&self) -> Family {
        match self.fwmark {
            Some(_) => self.family.unwrap_or_default(),
            None => Family::of(self.vip),
        }
    }

    /// Whether this is a firewall-mark service.
    pub fn is_fwmark(&self) -> bool {
        self.fwmark.is_some()
    }

    /// The port a real server of this service is reached on (its own, else the service's).
    pub fn real_port(&self, r: &RealServerConfig<F>) -> u16 {
        r.port.unwrap_or(self.port)
    }

    /// The identity of one of this service's real servers.
    pub fn real_key(&self, r: &RealServerConfig<F>) -> super::RealKey {
        super::RealKey {
            service: self.key(),
            address: r.address,
            port: self.real_port(r),
        }
    }

    /// The index of the real server at `address`:`port`.
    pub fn find_real(&self, address: IpAddr, port: u16) -> Option<usize> {
        self.real_servers
            .iter()
            .position(|r| r.address == address && self.real_port(r) == port)
    }

    /// Whether the service has the FTP helper: `ftp`, else IPVS's default (TCP port 21).
    pub fn ftp(&self) -> bool {
        self.ftp.unwrap_or(
            self.fwmark.is_none() && self.protocol == Protocol::Tcp && self.port == FTP_PORT,
        )
    }

    /// Whether real server `r` of this service goes through the FTP helper (`nat` only: in
    /// `dr` and `tun` the director sees no reply, and FTP works through a persistent port-0
    /// service).
    pub fn ftp_real(&self, r: &RealServerConfig<F>) -> bool {
        self.ftp() && r.forwarding.typed() == Ok(crate::Forwarding::Nat)
    }

    /// The persistence prefix: `persistent_netmask`, else one address.
    pub fn persistence_prefix(&self) -> u8 {
        self.persistent_netmask
            .unwrap_or_else(|| self.family().bits())
    }

    /// The Maglev table size: `mh_table_size`, else IPVS's default.
    pub fn mh_table_size(&self) -> u32 {
        self.mh_table_size
            .unwrap_or(lb_common::MAGLEV_DEFAULT_TABLE_SIZE)
    }

    /// This service's settings with other real servers (of any form).
    pub(super) fn with_reals<G: Form>(
        &self,
        scheduler: G::Scheduler,
        sched_flags: Vec<G::SchedFlag>,
        real_servers: Vec<RealServerConfig<G>>,
        sorry_server: Option<RealServerConfig<G>>,
    ) -> ServiceConfig<G> {
        ServiceConfig {
            fwmark: self.fwmark,
            family: self.family,
            protocol: self.protocol,
            // A firewall-mark service's VIP is its family's unspecified address.
            vip: if self.is_fwmark() {
                self.family().unspecified()
            } else {
                self.vip
            },
            port: self.port,
            scheduler,
            mh_table_size: self.mh_table_size,
            persistent: self.persistent,
            persistent_netmask: self.persistent_netmask,
            sched_flags,
            one_packet: self.one_packet,
            ftp: self.ftp,
            real_servers,
            health_check: self.health_check.clone(),
            sorry_server,
        }
    }
}

impl ServiceConfig {
    /// A service read back from a running data plane (lbd adopting it after a restart): what
    /// the maps cannot tell is ipvsadm's default, replaced by the config's on the next apply.
    pub fn adopted(protocol: Protocol, vip: IpAddr, port: u16) -> Self {
        Self {
            fwmark: None,
            family: None,
            protocol,
            vip,
            port,
            scheduler: Scheduler::default(),
            mh_table_size: None,
            persistent: None,
            persistent_netmask: None,
            sched_flags: Vec::new(),
            one_packet: false,
            ftp: None,
            real_servers: Vec::new(),
            health_check: None,
            sorry_server: None,
        }
    }

    /// The same service with its names as text.
    pub fn raw(&self) -> ServiceConfig<Raw> {
        self.with_reals(
            self.scheduler.into(),
            self.sched_flags.iter().map(|f| (*f).into()).collect(),
            self.real_servers
                .iter()
                .map(RealServerConfig::raw)
                .collect(),
            self.sorry_server.as_ref().map(RealServerConfig::raw),
        )
    }

    /// The `SCHED_F_*` bits of the service's flags.
    pub fn sched_flag_bits(&self) -> u8 {
        SchedFlag::bits(&self.sched_flags)
    }
}

impl ServiceConfig<Raw> {
    /// The same service with typed names; `path` tells where it is in the config (made only
    /// for an error).
    pub(super) fn typed(&self, path: &dyn Fn() -> String) -> Result<ServiceConfig, ConfigError> {
        let scheduler = typed(&self.scheduler, || format!("{}.scheduler", path()))?;
        let sched_flags = self
            .sched_flags
            .iter()
            .enumerate()
            .map(|(k, f)| typed(f, || format!("{}.sched_flags[{k}]", path())))
            .collect::<Result<_, _>>()?;
        let real_servers = self
            .real_servers
            .iter()
            .enumerate()
            .map(|(j, r)| r.typed(&|| format!("{}.real_servers[{j}]", path())))
            .collect::<Result<_, _>>()?;
        let sorry_server = self
            .sorry_server
            .as_ref()
            .map(|r| r.typed(&|| format!("{}.sorry_server", path())))
            .transpose()?;
        Ok(self.with_reals(scheduler, sched_flags, real_servers, sorry_server))
    }
}

/// The checks of every service and its real servers, in the order of the config.
pub(super) fn validate_all(cfg: &Config<Raw>, err: &mut Errors) {
    if cfg.services.len() >= lb_common::MAX_SERVICES as usize {
        err.add(
            "services",
            format!(
                "{} services; at most {} are supported",
                cfg.services.len(),
                lb_common::MAX_SERVICES - 1
            ),
        );
    }
    // Each real server (and sorry server, which joins its service while the service is down)
    // has an id of its own in the data plane's arrays.
    let reals: usize = cfg
        .services
        .iter()
        .map(|s| s.real_servers.len() + usize::from(s.sorry_server.is_some()))
        .sum();
    if reals >= lb_common::MAX_REALS as usize {
        err.add(
            "services",
            format!(
                "{reals} real servers and sorry servers in all; at most {} are supported",
                lb_common::MAX_REALS - 1
            ),
        );
    }
    let mut seen: HashMap<ServiceKey, usize> = HashMap::new();
    let mut table_slots: u64 = 0;
    for (i, s) in cfg.services.iter().enumerate() {
        let sp = format!("services[{i}]");
        if let Some(first) = seen.insert(s.key(), i) {
            err.add(
                sp.clone(),
                format!(
                    "duplicate service {}: already defined at services[{first}]",
                    s.key()
                ),
            );
        }
        table_slots += validate(s, &sp, err);
    }
    if table_slots > lb_common::DEFAULT_SCHED_TABLE_SLOTS as u64 {
        err.add(
            "services",
            format!(
                "the services' scheduler tables need {table_slots} slots (two generations each) but the table holds {}; use smaller mh_table_size values",
                lb_common::DEFAULT_SCHED_TABLE_SLOTS
            ),
        );
    }
}

/// One service's checks (`sp`: its path); returns the scheduler-table slots it needs.
fn validate(s: &ServiceConfig<Raw>, sp: &str, err: &mut Errors) -> u64 {
    if let Some(m) = s.fwmark {
        if m == 0 {
            err.add(
                format!("{sp}.fwmark"),
                "invalid fwmark value `0' specified (1 to 4294967295)",
            );
        }
        if !s.vip.is_unspecified() || Family::of(s.vip) != s.family() {
            err.add(
                format!("{sp}.vip"),
                "a firewall-mark service has no VIP: the destinations of its mark's matches are its addresses (leave vip out)",
            );
        }
        if s.port != 0 {
            err.add(
                format!("{sp}.port"),
                "a firewall-mark service has no port: its mark's matches name the ports (leave port out)",
            );
        }
        if s.protocol != Protocol::Tcp {
            err.add(
                format!("{sp}.protocol"),
                "a firewall-mark service has no protocol of its own: its mark's matches name the protocols (leave protocol out)",
            );
        }
        if s.ftp == Some(true) {
            err.add(
                format!("{sp}.ftp"),
                "a firewall-mark service has no control port for the FTP helper (FTP through dr or tun needs only a persistent firewall-mark service)",
            );
        }
    } else if s.family.is_some() {
        err.add(
            format!("{sp}.family"),
            "only a firewall-mark service has a family (a VIP service's is its VIP's)",
        );
    } else if let Some(why) = super::address::not_unicast(s.vip) {
        err.add(format!("{sp}.vip"), why);
    }
    if s.fwmark.is_none() && s.port == 0 && s.persistent.is_none() {
        // ipvsadm's own check, and IPVS's (a port-0 service schedules only with persistence).
        err.add(
            format!("{sp}.port"),
            "Zero port specified for non-persistent service: a port-0 service (every port of its VIP) must be persistent (set persistent)",
        );
    }
    let name = s.scheduler.as_str();
    let sched: Option<Scheduler> = match name.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            err.add(format!("{sp}.scheduler"), UnknownName::to_string(&e));
            None
        }
    };
    let mh = sched == Some(Scheduler::Mh);
    let size = s.mh_table_size();
    let weighted = s.real_servers.iter().filter(|r| r.weight > 0).count();
    if mh && weighted > size as usize {
        err.add(
            format!("{sp}.mh_table_size"),
            format!(
                "{size} slots cannot hold {weighted} real servers of weight > 0 (choose a larger prime)"
            ),
        );
    }
    if s.mh_table_size.is_some() && !mh {
        err.add(
            format!("{sp}.mh_table_size"),
            format!("only the mh scheduler has a table size (scheduler is {name:?})"),
        );
    }
    if mh && (!is_prime(size) || !(MIN_MH_TABLE_SIZE..=MAX_MH_TABLE_SIZE).contains(&size)) {
        err.add(
            format!("{sp}.mh_table_size"),
            format!("{size} is not a prime between {MIN_MH_TABLE_SIZE} and {MAX_MH_TABLE_SIZE}"),
        );
    }
    if let Some(t) = s.persistent
        && !(1..=MAX_PERSISTENT_S).contains(&t)
    {
        err.add(
            format!("{sp}.persistent"),
            format!("{t} is out of range (1 to {MAX_PERSISTENT_S} seconds)"),
        );
    }
    let max_prefix = s.family().bits();
    if let Some(m) = s.persistent_netmask {
        if m > max_prefix {
            err.add(
                format!("{sp}.persistent_netmask"),
                format!("{m} is not a prefix length of the VIP's family (0 to {max_prefix})"),
            );
        }
        if s.persistent.is_none() {
            err.add(
                format!("{sp}.persistent_netmask"),
                "only a persistent service has a netmask (set persistent)",
            );
        }
    }
    let valid = sched.map(Scheduler::flags).unwrap_or(&[]);
    for (k, f) in s.sched_flags.iter().enumerate() {
        if let Some(first) = s.sched_flags[..k].iter().position(|g| g == f) {
            err.add(
                format!("{sp}.sched_flags[{k}]"),
                format!("duplicate flag {f:?}: already given at {sp}.sched_flags[{first}]"),
            );
        } else if !f.parse::<SchedFlag>().is_ok_and(|f| valid.contains(&f)) {
            err.add(
                format!("{sp}.sched_flags[{k}]"),
                if valid.is_empty() {
                    format!(
                        "scheduler {name:?} takes no flags (got {f:?}); sh takes sh-fallback, sh-port; mh takes mh-fallback, mh-port"
                    )
                } else {
                    let names: Vec<&str> = valid.iter().map(|f| f.name()).collect();
                    format!(
                        "unknown flag {f:?} for scheduler {name:?}; valid: {}",
                        names.join(", ")
                    )
                },
            );
        }
    }
    if s.one_packet && s.protocol != Protocol::Udp {
        err.add(
            format!("{sp}.one_packet"),
            "one-packet scheduling is for UDP services only",
        );
    }
    if s.ftp == Some(true) && s.protocol != Protocol::Tcp {
        err.add(
            format!("{sp}.ftp"),
            "FTP runs over TCP: only a tcp service has the FTP helper",
        );
    } else if s.ftp == Some(true) && s.port == 0 && s.fwmark.is_none() {
        err.add(
            format!("{sp}.ftp"),
            "a port-0 service has no control port for the FTP helper (FTP through dr or tun needs only the persistent port-0 service)",
        );
    }
    let weights: Vec<u32> = s.real_servers.iter().map(|r| r.weight).collect();
    let slots = 2 * crate::scheduler::table_len_bound(sched, size, &weights);
    let mut reals_seen: HashMap<(IpAddr, u16), usize> = HashMap::new();
    for (j, r) in s.real_servers.iter().enumerate() {
        let rp = format!("{sp}.real_servers[{j}]");
        let port = s.real_port(r);
        if let Some(first) = reals_seen.insert((r.address, port), j) {
            err.add(
                rp.clone(),
                format!(
                    "duplicate real server {}: already defined at {sp}.real_servers[{first}]",
                    fmt_addr_port(r.address, port)
                ),
            );
        }
        real::validate(s, r, &rp, err);
    }
    if sched.is_some_and(Scheduler::is_count_driven)
        && s.real_servers.len() > lb_common::MAX_COUNTED_REALS as usize
    {
        err.add(
            format!("{sp}.real_servers"),
            format!(
                "{} real servers; scheduler {name:?} looks at every one for each new connection and takes at most {}",
                s.real_servers.len(),
                lb_common::MAX_COUNTED_REALS
            ),
        );
    }
    if s.real_servers.len() >= lb_common::MAX_REALS as usize {
        err.add(
            format!("{sp}.real_servers"),
            format!("at most {} real servers", lb_common::MAX_REALS - 1),
        );
    }
    slots
}
