//! Health checks in the config (`health_check` of a service or of a real server) and the
//! sorry server, with their validation. Running the checks is lbd's business.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, Errors, Raw, RealServerConfig, ServiceConfig};
use crate::names::fmt_addr_port;

/// Defaults, in the spirit of keepalived and HAProxy: check every 5 s, give up on one check
/// after 2 s, take a real server out after 3 failures in a row and back after 2 successes.
pub const DEFAULT_INTERVAL_MS: u32 = 5_000;
pub const DEFAULT_TIMEOUT_MS: u32 = 2_000;
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;
/// Bounds of the settings (checked by validation).
pub const MIN_INTERVAL_MS: u32 = 50;
pub const MAX_INTERVAL_MS: u32 = 86_400_000;
pub const MIN_TIMEOUT_MS: u32 = 10;
pub const MAX_RISE_FALL: u32 = 100;
pub const MAX_GRACE_MS: u32 = 86_400_000;
/// The longest udp check payload, bytes (one datagram without fragmentation).
pub const MAX_PAYLOAD_BYTES: usize = 1400;
/// The HTTP statuses `expect_status` may name.
pub const HTTP_STATUSES: (u16, u16) = (100, 599);

/// The kind of check (`type` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A TCP connection is accepted.
    Tcp,
    /// An HTTP/1.0 GET answers with the expected status (and body substring).
    Http,
    /// A UDP datagram is answered (with the expected substring).
    Udp,
    /// An external command exits with status 0.
    Exec,
    /// No check: a real server's way to opt out of its service's default check.
    None,
}

impl CheckKind {
    pub const ALL: &[CheckKind] = &[
        CheckKind::Tcp,
        CheckKind::Http,
        CheckKind::Udp,
        CheckKind::Exec,
        CheckKind::None,
    ];

    /// Whether the check talks to a port (its own, else the real server's).
    pub fn connects(self) -> bool {
        matches!(self, CheckKind::Tcp | CheckKind::Http | CheckKind::Udp)
    }

    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http => "http",
            CheckKind::Udp => "udp",
            CheckKind::Exec => "exec",
            CheckKind::None => "none",
        }
    }
}

/// What happens to the existing connections of a real server that its check took out.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnDown {
    /// They stay on it (IPVS's behaviour for a quiesced real server).
    #[default]
    Keep,
    /// They are removed from the connection table `grace_ms` after it went down; their next
    /// packets are scheduled anew.
    Expire,
}

/// `health_check` in the config. Settings of another kind of check than `type` are errors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    #[serde(rename = "type")]
    pub kind: CheckKind,
    /// Address to check. Default: the real server's address (see the README on `tun` and
    /// `dr`: the director checks the real server's own address, not the VIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Port to check. Default: the real server's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Time between the starts of two checks. Default [`DEFAULT_INTERVAL_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u32>,
    /// A check not done by then failed. Default [`DEFAULT_TIMEOUT_MS`] (at most the interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Successes in a row that bring a down real server back. Default [`DEFAULT_RISE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    /// Failures in a row that take an up real server out. Default [`DEFAULT_FALL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<u32>,
    /// http: the path requested. Default "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// http: the Host header. Default: the checked address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// http: the status that means healthy. Default 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// http: a substring the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// udp: the datagram sent. Default: empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// udp: a substring the reply must contain (any reply will do without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// exec: program and arguments (no shell). Exit status 0 means healthy. The environment
    /// has `LB_REAL_ADDRESS`, `LB_REAL_PORT`, `LB_CHECK_ADDRESS`, `LB_CHECK_PORT`, `LB_VIP`,
    /// `LB_VIP_PORT`, `LB_PROTOCOL` and `LB_FORWARDING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// What happens to the connections of a real server taken out. Default `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_down: Option<OnDown>,
    /// With `on_down: expire`: how long after going down its connections are removed.
    /// Default 0 (at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u32>,
}

impl CheckConfig {
    /// Semantic checks; `path` is where the object is in the config.
    pub fn validate(&self, path: &str, errs: &mut Vec<ConfigError>) {
        let mut err = |field: &str, message: String| {
            errs.push(ConfigError {
                path: if field.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.{field}")
                },
                message,
            })
        };
        let kind = self.kind.name();
        if self.kind == CheckKind::None {
            let set = self.fields_set();
            if let Some(f) = set.first() {
                err(
                    f,
                    "a check of type \"none\" takes no other settings".to_string(),
                );
            }
            return;
        }
        let interval = self.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval) {
            err(
                "interval_ms",
                format!("{interval} is out of range ({MIN_INTERVAL_MS} to {MAX_INTERVAL_MS})"),
            );
        }
        if let Some(t) = self.timeout_ms
            && !(MIN_TIMEOUT_MS..=interval.max(MIN_TIMEOUT_MS)).contains(&t)
        {
            err(
                "timeout_ms",
                format!(
                    "{t} is out of range ({MIN_TIMEOUT_MS} to the interval, {interval}): a check must end before the next one starts"
                ),
            );
        }
        for (name, v) in [("rise", self.rise), ("fall", self.fall)] {
            if let Some(v) = v
                && !(1..=MAX_RISE_FALL).contains(&v)
            {
                err(name, format!("{v} is out of range (1 to {MAX_RISE_FALL})"));
            }
        }
        if self.port == Some(0) {
            err("port", "port 0 is not allowed (1 to 65535)".into());
        }
        let only =
            |field: &str, set: bool, for_kind: CheckKind, err: &mut dyn FnMut(&str, String)| {
                if set && self.kind != for_kind {
                    err(
                        field,
                        format!(
                            "only {} checks have {field} (this check is {kind:?})",
                            for_kind.name()
                        ),
                    );
                }
            };
        only("path", self.path.is_some(), CheckKind::Http, &mut err);
        only("host", self.host.is_some(), CheckKind::Http, &mut err);
        only(
            "expect_status",
            self.expect_status.is_some(),
            CheckKind::Http,
            &mut err,
        );
        only(
            "expect_body",
            self.expect_body.is_some(),
            CheckKind::Http,
            &mut err,
        );
        only("payload", self.payload.is_some(), CheckKind::Udp, &mut err);
        only("expect", self.expect.is_some(), CheckKind::Udp, &mut err);
        only("command", self.command.is_some(), CheckKind::Exec, &mut err);
        if let Some(p) = &self.path
            && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            err(
                "path",
                format!(
                    "{p:?} is not a request path (starts with '/', no spaces or control characters)"
                ),
            );
        }
        if let Some(h) = &self.host
            && (h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            err(
                "host",
                format!(
                    "{h:?} is not a Host header value (not empty, no spaces or control characters)"
                ),
            );
        }
        if let Some(s) = self.expect_status
            && !(HTTP_STATUSES.0..=HTTP_STATUSES.1).contains(&s)
        {
            err(
                "expect_status",
                format!(
                    "{s} is not an HTTP status ({} to {})",
                    HTTP_STATUSES.0, HTTP_STATUSES.1
                ),
            );
        }
        if let Some(p) = &self.payload
            && p.len() > MAX_PAYLOAD_BYTES
        {
            err(
                "payload",
                format!(
                    "{} bytes; at most {MAX_PAYLOAD_BYTES} (one datagram without fragmentation)",
                    p.len()
                ),
            );
        }
        if self.kind == CheckKind::Exec {
            match &self.command {
                None => err(
                    "command",
                    "required for exec checks: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"--quick\"]".into(),
                ),
                Some(c) if c.is_empty() || c[0].is_empty() => err(
                    "command",
                    "the program to run is missing (the first element)".into(),
                ),
                Some(_) => {}
            }
        }
        if let Some(g) = self.grace_ms {
            if self.on_down != Some(OnDown::Expire) {
                err(
                    "grace_ms",
                    "only with on_down \"expire\" (with \"keep\" connections are never removed)"
                        .into(),
                );
            } else if g > MAX_GRACE_MS {
                err(
                    "grace_ms",
                    format!("{g} is out of range (0 to {MAX_GRACE_MS})"),
                );
            }
        }
    }

    /// The names of the optional settings given (for `type: none`).
    fn fields_set(&self) -> Vec<&'static str> {
        [
            ("address", self.address.is_some()),
            ("port", self.port.is_some()),
            ("interval_ms", self.interval_ms.is_some()),
            ("timeout_ms", self.timeout_ms.is_some()),
            ("rise", self.rise.is_some()),
            ("fall", self.fall.is_some()),
            ("path", self.path.is_some()),
            ("host", self.host.is_some()),
            ("expect_status", self.expect_status.is_some()),
            ("expect_body", self.expect_body.is_some()),
            ("payload", self.payload.is_some()),
            ("expect", self.expect.is_some()),
            ("command", self.command.is_some()),
            ("on_down", self.on_down.is_some()),
            ("grace_ms", self.grace_ms.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect()
    }
}

/// The health-check and sorry-server checks of a config: every error names its JSON path.
pub(super) fn validate(cfg: &Config<Raw>, err: &mut Errors) {
    let errs = &mut err.0;
    let mut shell: Option<Config<Raw>> = None;
    for (i, s) in cfg.services.iter().enumerate() {
        let sp = format!("services[{i}]");
        let mut check = |hc: &CheckConfig, path: String| {
            hc.validate(&path, errs);
            if s.port == 0 && hc.port.is_none() && hc.kind.connects() {
                errs.push(ConfigError::new(
                    format!("{path}.port"),
                    "required: the service has port 0 (every port), so its real servers have no port a check could default to",
                ));
            }
        };
        if let Some(hc) = &s.health_check {
            check(hc, format!("{sp}.health_check"));
        }
        for (j, r) in s.real_servers.iter().enumerate() {
            if let Some(hc) = &r.health_check {
                check(hc, format!("{sp}.real_servers[{j}].health_check"));
            }
        }
        let Some(sorry) = &s.sorry_server else {
            continue;
        };
        let path = format!("{sp}.sorry_server");
        if sorry.health_check.is_some() {
            errs.push(ConfigError::new(
                format!("{path}.health_check"),
                "a sorry server is not checked (it is used only while no real server can take connections)",
            ));
        }
        if sorry.weight == 0 {
            errs.push(ConfigError::new(
                format!("{path}.weight"),
                "0 would give the sorry server no connections (1 to 2147483647)",
            ));
        }
        let port = s.real_port(sorry);
        if let Some(j) = s.find_real(sorry.address, port) {
            errs.push(ConfigError::new(
                path.clone(),
                format!(
                    "{} is also {sp}.real_servers[{j}]; a sorry server must be another server",
                    fmt_addr_port(sorry.address, port)
                ),
            ));
        }
        // The sorry server joins the service as a real server: the same rules apply. Validate
        // it as the only real server of a copy of the service and keep what concerns it.
        let shadow = Config {
            services: vec![ServiceConfig {
                real_servers: vec![RealServerConfig {
                    health_check: None,
                    ..sorry.clone()
                }],
                sorry_server: None,
                health_check: None,
                ..s.clone()
            }],
            ..shell
                .get_or_insert_with(|| cfg.with_services(Vec::new()))
                .clone()
        };
        for e in shadow.validate() {
            if let Some(rest) = e.path.strip_prefix("services[0].real_servers[0]") {
                errs.push(ConfigError::new(
                    format!("{path}{rest}"),
                    e.message.replace("services[0].real_servers[0]", &path),
                ));
            } else if e.path.starts_with("director.") {
                errs.push(ConfigError::new(
                    e.path,
                    e.message.replace("services[0].real_servers[0]", &path),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_SERVICES: &str = r#"{
        "interface": "eth0",
        "director": { "ipv4": "10.0.0.2" },
        "services": [
            { "protocol": "tcp", "vip": "10.0.0.100", "port": 80, "scheduler": "mh",
              "health_check": { "type": "tcp", "interval_ms": 200, "rise": 2, "fall": 2 },
              "sorry_server": { "address": "10.0.0.99", "forwarding": "tun" },
              "real_servers": [
                { "address": "10.0.0.11", "forwarding": "tun" },
                { "address": "10.0.0.12", "weight": 3, "forwarding": "tun" },
                { "address": "10.0.0.13", "forwarding": "tun", "health_check": { "type": "none" } }
              ] },
            { "protocol": "udp", "vip": "10.0.0.100", "port": 53, "scheduler": "rr",
              "real_servers": [
                { "address": "10.0.0.11", "forwarding": "tun",
                  "health_check": { "type": "udp", "payload": "q" } }
              ] }
        ]
    }"#;

    fn config_errors(text: &str) -> Vec<String> {
        match Config::parse(text, "t.json") {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn bad_health_config_is_rejected_with_json_paths() {
        let bad = TWO_SERVICES.replace(r#""type": "udp""#, r#""type": "icmp""#);
        let e = config_errors(&bad);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "services[1].real_servers[0].health_check.type: unknown variant `icmp`, expected one of `tcp`, `http`, `udp`, `exec`, `none`"
            ),
            "{e:?}"
        );
        let bad = TWO_SERVICES.replace(r#""fall": 2 }"#, r#""fall": 2, "expect_status": 204 }"#);
        assert_eq!(
            config_errors(&bad),
            [
                "services[0].health_check.expect_status: only http checks have expect_status (this check is \"tcp\")"
            ]
        );
        let bad = TWO_SERVICES.replace(r#""payload": "q""#, r#""payload": "q", "intervall_ms": 5"#);
        assert!(config_errors(&bad)[0].starts_with(
            "services[1].real_servers[0].health_check.intervall_ms: unknown field `intervall_ms`"
        ));
        // The sorry server follows real servers' rules, and is not another real server.
        let bad = TWO_SERVICES.replace(
            r#"{ "address": "10.0.0.99", "forwarding": "tun" }"#,
            r#"{ "address": "10.0.0.11", "forwarding": "tun", "weight": 0, "health_check": { "type": "tcp" } }"#,
        );
        assert_eq!(
            config_errors(&bad),
            [
                "services[0].sorry_server.health_check: a sorry server is not checked (it is used only while no real server can take connections)",
                "services[0].sorry_server.weight: 0 would give the sorry server no connections (1 to 2147483647)",
                "services[0].sorry_server: 10.0.0.11:80 is also services[0].real_servers[0]; a sorry server must be another server",
            ]
        );
        let bad = TWO_SERVICES.replace(
            r#"{ "address": "10.0.0.99", "forwarding": "tun" }"#,
            r#"{ "address": "2001:db8::99", "port": 8080, "forwarding": "dr" }"#,
        );
        assert_eq!(
            config_errors(&bad),
            [
                "services[0].sorry_server.address: 2001:db8::99 is IPv6 but the VIP is IPv4: dr keeps the packet's addresses' family; only tun crosses families",
                "services[0].sorry_server.port: 8080 differs from the service's port 80: only nat can change the port (dr forwards the packet unchanged)",
            ]
        );
        let bad = TWO_SERVICES.replace(
            r#"{ "address": "10.0.0.99", "forwarding": "tun" }"#,
            r#"{ "address": "2001:db8::99", "forwarding": "tun" }"#,
        );
        assert_eq!(
            config_errors(&bad),
            [
                "director.ipv6: required: services[0].sorry_server is tunnelled over IPv6 and needs the director's IPv6 address as outer source"
            ]
        );
    }

    fn errors(c: &str) -> Vec<String> {
        let c: CheckConfig = serde_json::from_str(c).unwrap();
        let mut errs = Vec::new();
        c.validate("services[0].health_check", &mut errs);
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn validation_names_the_field() {
        assert!(errors(r#"{"type":"tcp"}"#).is_empty());
        assert!(errors(r#"{"type":"http","path":"/h","expect_status":204,"expect_body":"ok","interval_ms":200,"timeout_ms":100,"rise":2,"fall":2}"#).is_empty());
        assert_eq!(
            errors(r#"{"type":"tcp","interval_ms":10,"rise":0,"path":"/x","port":0}"#),
            vec![
                "services[0].health_check.interval_ms: 10 is out of range (50 to 86400000)",
                "services[0].health_check.rise: 0 is out of range (1 to 100)",
                "services[0].health_check.port: port 0 is not allowed (1 to 65535)",
                "services[0].health_check.path: only http checks have path (this check is \"tcp\")",
            ]
        );
        assert_eq!(
            errors(r#"{"type":"http","interval_ms":1000,"timeout_ms":2000,"path":"health"}"#),
            vec![
                "services[0].health_check.timeout_ms: 2000 is out of range (10 to the interval, 1000): a check must end before the next one starts",
                "services[0].health_check.path: \"health\" is not a request path (starts with '/', no spaces or control characters)",
            ]
        );
        assert_eq!(
            errors(r#"{"type":"exec"}"#),
            vec![
                "services[0].health_check.command: required for exec checks: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"--quick\"]"
            ]
        );
        assert_eq!(
            errors(r#"{"type":"none","fall":2}"#),
            vec!["services[0].health_check.fall: a check of type \"none\" takes no other settings"]
        );
        assert_eq!(
            errors(r#"{"type":"udp","grace_ms":100}"#),
            vec![
                "services[0].health_check.grace_ms: only with on_down \"expire\" (with \"keep\" connections are never removed)"
            ]
        );
        assert!(
            errors(
                r#"{"type":"udp","payload":"x","expect":"y","on_down":"expire","grace_ms":100}"#
            )
            .is_empty()
        );
    }
}
