//! A typed builder of lbd's config for the tests: services, real servers and health checks as
//! the daemon's own config types, serialised with serde where a test needs lbd's JSON file.
//!
//! This is the one file of the tests that names the daemon's config types (and the model
//! types that go with them: the protocol, a service's map key); when they move, only the
//! imports here change. Every builder starts from the daemon's own defaults (its serde
//! defaults, read from the smallest valid JSON object), so a field a test leaves alone has
//! the value lbd would give it.

use std::{net::IpAddr, path::PathBuf};

use lb_common::VipKey;
use lb_model::config::{CheckConfig, Raw};
pub use lb_model::{Protocol, config::Config};

/// The config as the builders make it: names as text, as a config file writes them
/// (validated into a [`Config`] by [`ConfigBuilder::build`]).
type RawConfig = lb_model::config::Config<Raw>;
type ServiceConfig = lb_model::config::ServiceConfig<Raw>;
type RealServerConfig = lb_model::config::RealServerConfig<Raw>;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::consts::{DIRECTOR, DIRECTOR6};

/// The daemon's value of type `T` for a JSON object with only the required fields.
fn defaults<T: DeserializeOwned>(required: serde_json::Value) -> T {
    serde_json::from_value(required.clone())
        .unwrap_or_else(|e| panic!("the daemon refuses {required}: {e}"))
}

/// The key of service `proto` `vip`:`port` in `lb`'s service map.
pub fn service_key(proto: Protocol, vip: impl Into<IpAddr>, port: u16) -> VipKey {
    lb_model::addr::vip_key(proto, vip.into(), port)
}

/// Parses and validates config text as lbd does (for tests of its error messages).
pub fn parse(text: &str, source_name: &str) -> Result<Config, String> {
    Config::parse(text, source_name).map_err(|e| e.to_string())
}

/// A director's config: interface `eth0`, the director's addresses [`DIRECTOR`] and
/// [`DIRECTOR6`], a connection table of 4096 entries, no services.
pub fn config() -> ConfigBuilder {
    let mut c: RawConfig = defaults(json!({ "interface": "eth0" }));
    c.director.ipv4 = Some(DIRECTOR);
    c.director.ipv6 = Some(DIRECTOR6);
    c.conn_table_size = Some(4096);
    ConfigBuilder(c)
}

/// A config under construction.
#[derive(Clone, Debug)]
pub struct ConfigBuilder(RawConfig);

impl ConfigBuilder {
    pub fn service(mut self, s: ServiceBuilder) -> Self {
        self.0.services.push(s.0);
        self
    }

    pub fn services(mut self, s: impl IntoIterator<Item = ServiceBuilder>) -> Self {
        self.0.services.extend(s.into_iter().map(|s| s.0));
        self
    }

    /// Changes service `i` (in the order added).
    pub fn edit_service(
        mut self,
        i: usize,
        f: impl FnOnce(ServiceBuilder) -> ServiceBuilder,
    ) -> Self {
        let s = std::mem::replace(&mut self.0.services[i], ServiceBuilder::blank().0);
        self.0.services[i] = f(ServiceBuilder(s)).0;
        self
    }

    /// Keeps the first `n` services.
    pub fn first_services(mut self, n: usize) -> Self {
        self.0.services.truncate(n);
        self
    }

    /// `lb` on these interfaces (`"interfaces": [...]`) instead of `"interface": "eth0"`.
    pub fn interfaces(mut self, names: &[&str]) -> Self {
        self.0.interface = None;
        self.0.interfaces = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// The director's own addresses (the outer source of tunnels).
    pub fn director(mut self, v4: std::net::Ipv4Addr, v6: std::net::Ipv6Addr) -> Self {
        self.0.director.ipv4 = Some(v4);
        self.0.director.ipv6 = Some(v6);
        self
    }

    /// No director addresses: tunnels take their outer source from the route.
    pub fn no_director(mut self) -> Self {
        self.0.director.ipv4 = None;
        self.0.director.ipv6 = None;
        self
    }

    pub fn no_services(self) -> Self {
        self.first_services(0)
    }

    pub fn conn_table_size(mut self, n: u32) -> Self {
        self.0.conn_table_size = Some(n);
        self
    }

    pub fn pin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.0.pin_dir = Some(dir.into());
        self
    }

    /// IPVS's `expire_nodest_conn`.
    pub fn expire_nodest_conn(mut self) -> Self {
        self.0.expire_nodest_conn = true;
        self
    }

    /// IPVS's `sloppy_tcp`.
    pub fn sloppy_tcp(mut self) -> Self {
        self.0.sloppy_tcp = true;
        self
    }

    /// IPVS's `sloppy_sctp`.
    pub fn sloppy_sctp(mut self) -> Self {
        self.0.sloppy_sctp = true;
        self
    }

    /// IPVS's `conn_reuse_mode`.
    pub fn conn_reuse_mode(mut self, mode: u32) -> Self {
        self.0.conn_reuse_mode = Some(mode);
        self
    }

    /// VIP announcement through the BIRD at `bird_socket`, lbd writing `include_file`.
    pub fn announce(
        mut self,
        bird_socket: impl Into<PathBuf>,
        include_file: impl Into<PathBuf>,
    ) -> Self {
        self.0.announce = Some(lb_model::config::Announce {
            bird_socket: bird_socket.into(),
            include_file: include_file.into(),
        });
        self
    }

    /// Connection sync between directors: the `sync` section as JSON (`{}`: IPVS's
    /// defaults, sending and receiving by multicast on the config's interface).
    pub fn sync(mut self, section: serde_json::Value) -> Self {
        self.0.sync = Some(defaults(section));
        self
    }

    /// The director's IPv4 address (the outer source of its IPv4 tunnels).
    pub fn director_ipv4(mut self, addr: std::net::Ipv4Addr) -> Self {
        self.0.director.ipv4 = Some(addr);
        self
    }

    /// Flood mode's rate (new connections per second per CPU; 0: off).
    /// Firewall mark `mark` (the config's `marks`): its matches as the config's JSON writes
    /// them, e.g. `json!([{"destination": "198.18.1.100/32", "protocol": "tcp", "ports": "80,443"}])`.
    pub fn mark(mut self, mark: u32, matches: serde_json::Value) -> Self {
        let m = defaults(json!({ "mark": mark, "match": matches }));
        self.0.marks.push(m);
        self
    }
    pub fn flood_rate(mut self, rate: u32) -> Self {
        self.0.flood_rate = Some(rate);
        self
    }

    /// The config, validated as lbd validates it (a test's own mistake panics here, naming
    /// the field).
    pub fn build(&self) -> Config {
        self.0.check().unwrap_or_else(|errors| {
            panic!(
                "the test's config is invalid: {errors:?}\n{}",
                serde_json::to_string_pretty(&self.0).unwrap_or_default()
            )
        })
    }

    /// The config, validated, as lbd's JSON config file.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.build()).expect("a config serialises")
    }
}

/// A TCP service on `vip`:`port`.
pub fn tcp_service(vip: impl Into<IpAddr>, port: u16) -> ServiceBuilder {
    ServiceBuilder::new(Protocol::Tcp, vip.into(), port)
}

/// A UDP service on `vip`:`port`.
pub fn udp_service(vip: impl Into<IpAddr>, port: u16) -> ServiceBuilder {
    ServiceBuilder::new(Protocol::Udp, vip.into(), port)
}

/// An SCTP service on `vip`:`port`.
pub fn sctp_service(vip: impl Into<IpAddr>, port: u16) -> ServiceBuilder {
    ServiceBuilder::new(Protocol::Sctp, vip.into(), port)
}

/// The IPv4 firewall-mark service of `mark` (ipvsadm `-A -f mark`).
pub fn fwmark_service(mark: u32) -> ServiceBuilder {
    let mut s = ServiceBuilder::blank();
    s.0.fwmark = Some(mark);
    s
}

/// The IPv6 firewall-mark service of `mark` (ipvsadm `-A -f mark -6`).
pub fn fwmark6_service(mark: u32) -> ServiceBuilder {
    let mut s = fwmark_service(mark);
    s.0.family = Some(lb_model::config::Family::Ipv6);
    s.0.vip = std::net::Ipv6Addr::UNSPECIFIED.into();
    s
}

/// The key of firewall-mark service `mark` (`ipv6`: of that family) in `lb`'s service map.
pub fn fwmark_key(mark: u32, ipv6: bool) -> VipKey {
    lb_common::fwmark_key(
        mark,
        if ipv6 {
            lb_common::FAMILY_V6
        } else {
            lb_common::FAMILY_V4
        },
    )
}

/// A service under construction: the daemon's defaults (scheduler `wlc`, no real servers).
#[derive(Clone, Debug)]
pub struct ServiceBuilder(ServiceConfig);

impl ServiceBuilder {
    pub fn new(proto: Protocol, vip: IpAddr, port: u16) -> Self {
        let mut s = Self::blank();
        s.0.protocol = proto;
        s.0.vip = vip;
        s.0.port = port;
        s
    }

    fn blank() -> Self {
        ServiceBuilder(defaults(
            json!({ "protocol": "tcp", "vip": "0.0.0.0", "port": 0 }),
        ))
    }

    /// The scheduler, by its ipvsadm name.
    pub fn scheduler(mut self, name: &str) -> Self {
        self.0.scheduler = name.into();
        self
    }

    /// Maglev (`mh`) with a table of `size` slots.
    pub fn mh(self, size: u32) -> Self {
        let mut s = self.scheduler("mh");
        s.0.mh_table_size = Some(size);
        s
    }

    /// Scheduler flags (ipvsadm `-b`), by name.
    pub fn flags(mut self, flags: &[&str]) -> Self {
        self.0.sched_flags = flags.iter().map(|f| f.to_string()).collect();
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.0.port = port;
        self
    }

    /// Persistence (ipvsadm `-p`), seconds.
    pub fn persistent(mut self, secs: u32) -> Self {
        self.0.persistent = Some(secs);
        self
    }

    /// The client network of persistence (ipvsadm `-M`), as a prefix length.
    pub fn persistent_netmask(mut self, prefix: u8) -> Self {
        self.0.persistent_netmask = Some(prefix);
        self
    }

    /// The FTP helper on (or off, against port 21's default).
    pub fn ftp(mut self, on: bool) -> Self {
        self.0.ftp = Some(on);
        self
    }

    /// One-packet scheduling (ipvsadm `-o`).
    pub fn one_packet(mut self) -> Self {
        self.0.one_packet = true;
        self
    }

    pub fn real(mut self, r: RealBuilder) -> Self {
        self.0.real_servers.push(r.0);
        self
    }

    pub fn reals(mut self, r: impl IntoIterator<Item = RealBuilder>) -> Self {
        self.0.real_servers.extend(r.into_iter().map(|r| r.0));
        self
    }

    /// Changes every real server of the service.
    pub fn edit_reals(mut self, f: impl Fn(RealBuilder) -> RealBuilder) -> Self {
        self.0.real_servers = std::mem::take(&mut self.0.real_servers)
            .into_iter()
            .map(|r| f(RealBuilder(r)).0)
            .collect();
        self
    }

    /// The health check of the service's real servers.
    pub fn health_check(mut self, c: CheckBuilder) -> Self {
        self.0.health_check = Some(c.0);
        self
    }

    pub fn sorry_server(mut self, r: RealBuilder) -> Self {
        self.0.sorry_server = Some(r.0);
        self
    }

    pub fn no_sorry_server(mut self) -> Self {
        self.0.sorry_server = None;
        self
    }
}

/// A real server at `addr`: the daemon's defaults (weight 1, `dr`, the service's port).
pub fn real(addr: impl Into<IpAddr>) -> RealBuilder {
    let mut r: RealServerConfig = defaults(json!({ "address": "0.0.0.0" }));
    r.address = addr.into();
    RealBuilder(r)
}

/// A real server under construction.
#[derive(Clone, Debug)]
pub struct RealBuilder(RealServerConfig);

impl RealBuilder {
    pub fn weight(mut self, w: u32) -> Self {
        self.0.weight = w;
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.0.port = Some(port);
        self
    }

    /// The forwarding method, by its config name (`tun`, `dr`, `nat`).
    pub fn forwarding(mut self, method: &str) -> Self {
        self.0.forwarding = method.into();
        self
    }

    /// Tunnelling (ipvsadm `-i`), IPIP or IPv6 in IPv6 by the address.
    pub fn tun(self) -> Self {
        self.forwarding("tun")
    }

    /// Direct routing (ipvsadm `-g`).
    pub fn dr(self) -> Self {
        self.forwarding("dr")
    }

    /// Masquerading (ipvsadm `-m`).
    pub fn nat(self) -> Self {
        self.forwarding("nat")
    }

    /// Tunnelling in GUE to UDP port `port` (ipvsadm `--tun-type gue --tun-port`).
    pub fn gue(self, port: u16) -> Self {
        let mut r = self.tun();
        r.0.tun_type = Some("gue".into());
        r.0.tun_port = Some(port);
        r
    }

    /// Tunnelling in GRE (ipvsadm `--tun-type gre`).
    pub fn gre(self) -> Self {
        let mut r = self.tun();
        r.0.tun_type = Some("gre".into());
        r
    }

    /// Upper connection threshold (ipvsadm `-x`).
    pub fn upper_threshold(mut self, n: u32) -> Self {
        self.0.upper_threshold = Some(n);
        self
    }

    /// Lower connection threshold (ipvsadm `-y`).
    pub fn lower_threshold(mut self, n: u32) -> Self {
        self.0.lower_threshold = Some(n);
        self
    }
}

/// A health check of kind `kind` (`tcp`, `http`, `udp`, `exec`, `none`): the daemon's
/// defaults for the rest.
pub fn check(kind: &str) -> CheckBuilder {
    CheckBuilder(defaults(json!({ "type": kind })))
}

/// A health check under construction.
#[derive(Clone, Debug)]
pub struct CheckBuilder(CheckConfig);

impl CheckBuilder {
    pub fn port(mut self, port: u16) -> Self {
        self.0.port = Some(port);
        self
    }

    pub fn interval_ms(mut self, ms: u32) -> Self {
        self.0.interval_ms = Some(ms);
        self
    }

    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.0.timeout_ms = Some(ms);
        self
    }

    pub fn rise(mut self, n: u32) -> Self {
        self.0.rise = Some(n);
        self
    }

    pub fn fall(mut self, n: u32) -> Self {
        self.0.fall = Some(n);
        self
    }

    /// http: the path requested.
    pub fn path(mut self, path: &str) -> Self {
        self.0.path = Some(path.into());
        self
    }

    /// http: a substring the body must contain.
    pub fn expect_body(mut self, s: &str) -> Self {
        self.0.expect_body = Some(s.into());
        self
    }

    /// What happens to a down real server's connections (`keep`, `expire`), and after how
    /// long.
    pub fn on_down(mut self, what: &str, grace_ms: u32) -> Self {
        self.0.on_down = Some(defaults(json!(what)));
        self.0.grace_ms = Some(grace_ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{REALS, VIP, VIP6};

    #[test]
    fn a_built_config_is_what_lbd_reads_back_from_its_json() {
        let b = config()
            .conn_table_size(65536)
            .expire_nodest_conn()
            .service(
                tcp_service(VIP, 80)
                    .mh(251)
                    .flags(&["mh-port"])
                    .persistent(300)
                    .reals(REALS.map(|a| real(a).weight(2).tun()))
                    .health_check(check("http").path("/").rise(2).fall(3)),
            )
            .service(
                udp_service(VIP6, 53)
                    .scheduler("rr")
                    .one_packet()
                    .real(real(REALS[0]).gue(6080).upper_threshold(10))
                    .sorry_server(real(REALS[1]).tun()),
            );
        let parsed = Config::parse(&b.json(), "built").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, b.build());
        assert_eq!(parsed.services.len(), 2);
        assert_eq!(parsed.services[0].real_servers[2].weight, 2);
    }

    #[test]
    fn builders_start_from_lbds_defaults() {
        let text = format!(
            r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
                 "conn_table_size": 4096,
                 "services": [ {{ "protocol": "tcp", "vip": "{VIP}", "port": 80,
                                  "real_servers": [ {{ "address": "{}" }} ] }} ] }}"#,
            REALS[0]
        );
        let lbd = Config::parse(&text, "minimal").unwrap();
        let built = config()
            .service(tcp_service(VIP, 80).real(real(REALS[0])))
            .build();
        assert_eq!(built, lbd);
    }
}
