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
