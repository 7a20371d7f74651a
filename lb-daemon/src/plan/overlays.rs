//! What makes the effective config of the desired one: real servers taken out by their
//! health check or drained (they stay, at weight 0: the quiesce path, so their connections
//! carry on while new ones go elsewhere), and each service's sorry server while none of its
//! real servers can take connections.

use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use lb_model::config::{Config, RealKey, ServiceConfig};

/// A drained real server: no new connections, and its remaining ones removed at `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct Drain {
    pub deadline: Instant,
    /// The deadline passed and its connections were removed.
    pub expired: bool,
}

/// The health-down set and the drains.
#[derive(Debug, Default)]
pub struct Overlays {
    /// Real servers their health check has taken out.
    down: HashSet<RealKey>,
    drains: HashMap<RealKey, Drain>,
}

impl Overlays {
    /// Whether a real server's health check has it down.
    pub fn is_down(&self, key: &RealKey) -> bool {
        self.down.contains(key)
    }

    /// Its health check took a real server out (`down`) or brought it back.
    pub fn set_down(&mut self, key: RealKey, down: bool) {
        if down {
            self.down.insert(key);
        } else {
            self.down.remove(&key);
        }
    }

    pub fn drain(&self, key: &RealKey) -> Option<&Drain> {
        self.drains.get(key)
    }

    pub(super) fn start_drain(&mut self, key: RealKey, deadline: Instant) {
        self.drains.insert(
            key,
            Drain {
                deadline,
                expired: false,
            },
        );
    }

    pub(super) fn end_drain(&mut self, key: &RealKey) -> bool {
        self.drains.remove(key).is_some()
    }

    /// Forgets the drains of real servers `cfg` no longer has.
    pub(super) fn keep_configured(&mut self, cfg: &Config) {
        let configured: HashSet<RealKey> = cfg
            .services
            .iter()
            .flat_map(|s| s.real_servers.iter().map(|r| s.real_key(r)))
            .collect();
        self.drains.retain(|k, _| configured.contains(k));
    }

    /// The drained real servers whose deadline passed at `now`, each returned once.
    pub(super) fn due_drains(&mut self, now: Instant) -> Vec<RealKey> {
        let mut out = Vec::new();
        for (k, d) in &mut self.drains {
            if !d.expired && now >= d.deadline {
                d.expired = true;
                out.push(*k);
            }
        }
        out
    }

    /// The real servers of `cfg` that may not take new connections now: down by their check
    /// (if `cfg` still checks them) or draining.
    pub fn unavailable_in(&self, cfg: &Config) -> HashSet<RealKey> {
        let mut out = HashSet::new();
        for svc in &cfg.services {
            for r in &svc.real_servers {
                let k = svc.real_key(r);
                let down = r.check(svc).is_some() && self.down.contains(&k);
                if down || self.drains.contains_key(&k) {
                    out.insert(k);
                }
            }
        }
        out
    }
}

/// The effective config: `desired` with every real server in `unavailable` at weight 0, and
/// each service's sorry server added while none of its real servers can take connections.
pub fn effective(desired: &Config, unavailable: &HashSet<RealKey>) -> Config {
    let mut eff = desired.clone();
    for svc in &mut eff.services {
        let keys: Vec<RealKey> = svc.real_servers.iter().map(|r| svc.real_key(r)).collect();
        for (r, k) in svc.real_servers.iter_mut().zip(keys) {
            if unavailable.contains(&k) {
                r.weight = 0;
            }
        }
        if !svc.real_servers.iter().any(|r| r.weight > 0)
            && let Some(sorry) = &svc.sorry_server
        {
            svc.real_servers.push(sorry.clone());
        }
    }
    eff
}

/// True when no real server of `svc` can take new connections: each is unavailable or of
/// weight 0 (or there is none).
pub fn service_down(svc: &ServiceConfig, unavailable: &HashSet<RealKey>) -> bool {
    !svc.real_servers
        .iter()
        .any(|r| r.weight > 0 && !unavailable.contains(&svc.real_key(r)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cfg(text: &str) -> Config {
        Config::parse(text, "t.json").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Two services, checked and not, with a sorry server (also the health tests').
    pub(crate) const TWO_SERVICES: &str = r#"{
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

    pub(crate) fn key(c: &Config, s: usize, r: usize) -> RealKey {
        c.services[s].real_key(&c.services[s].real_servers[r])
    }

    pub(crate) fn weights(c: &Config, s: usize) -> Vec<(String, u32)> {
        c.services[s]
            .real_servers
            .iter()
            .map(|r| (r.address.to_string(), r.weight))
            .collect()
    }

    #[test]
    fn effective_config_zeroes_unavailable_and_adds_the_sorry_server_only_when_all_are_out() {
        let c = cfg(TWO_SERVICES);
        assert_eq!(
            effective(&c, &HashSet::new()),
            c,
            "nothing unavailable: unchanged"
        );
        let un: HashSet<RealKey> = [key(&c, 0, 1)].into();
        let e = effective(&c, &un);
        assert_eq!(
            weights(&e, 0),
            [
                ("10.0.0.11".into(), 1),
                ("10.0.0.12".into(), 0),
                ("10.0.0.13".into(), 1)
            ]
        );
        assert_eq!(e.services[1], c.services[1], "other services untouched");
        assert!(!service_down(&c.services[0], &un));
        let un: HashSet<RealKey> = [key(&c, 0, 0), key(&c, 0, 1), key(&c, 0, 2)].into();
        let e = effective(&c, &un);
        assert!(service_down(&c.services[0], &un));
        assert_eq!(
            weights(&e, 0),
            [
                ("10.0.0.11".into(), 0),
                ("10.0.0.12".into(), 0),
                ("10.0.0.13".into(), 0),
                ("10.0.0.99".into(), 1)
            ],
            "the sorry server is added"
        );
        // The same real server address in the other service is another real server.
        let un: HashSet<RealKey> = [key(&c, 1, 0)].into();
        let e = effective(&c, &un);
        assert_eq!(weights(&e, 1), [("10.0.0.11".into(), 0)]);
        assert_eq!(weights(&e, 0), weights(&c, 0));
        assert!(
            service_down(&c.services[1], &un),
            "no sorry server: down, drop"
        );
        assert_eq!(e.services[1].real_servers.len(), 1);
        // Weight 0 by configuration counts as out too.
        let mut q = c.clone();
        for r in &mut q.services[0].real_servers {
            r.weight = 0;
        }
        assert!(service_down(&q.services[0], &HashSet::new()));
        assert_eq!(
            effective(&q, &HashSet::new()).services[0]
                .real_servers
                .len(),
            4
        );
    }
}
