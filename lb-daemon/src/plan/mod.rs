//! The desired state and how it reaches the maps (lbd's second layer, over `dataplane`).
//!
//! [`Planner`] is the one owner of the desired state: the config as the user gave it, and
//! the [`Overlays`] (health-down real servers, drains) that with the sorry servers make the
//! *effective* config. [`Planner::set_desired`] and [`Planner::reapply`] compile the effective
//! config against what the maps hold ([`applied`]: ids, table regions, the address filter)
//! into a [`Plan`] of map writes, and hand it to [`Dataplane::apply`]. Nothing here touches a
//! map itself; the table builders ([`sched`], [`maglev`]) are plain functions.

pub mod applied;
mod filter;
pub mod ids;
pub mod maglev;
pub mod overlays;
pub mod regions;
pub mod sched;

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    net::IpAddr,
    time::{Duration, Instant},
};

use lb_model::{
    Scheduler,
    config::{Config, RealKey, ServiceKey},
};
use tracing::debug;

use self::applied::Applied;
pub use self::{
    applied::{ApplyReport, CompileError, RealState, ServiceState},
    ids::REAL_ID_QUARANTINE,
    overlays::{Drain, Overlays, effective, service_down},
    regions::REGION_QUARANTINE,
};
use crate::dataplane::{Dataplane, DataplaneError, Plan, Snapshot, Step};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// The desired state, its overlays, and what the maps hold.
#[derive(Debug)]
pub struct Planner {
    /// The config as the user gave it (None until the first).
    desired: Option<Config>,
    pub overlays: Overlays,
    applied: Applied,
}

impl Planner {
    /// Fresh maps: nothing applied yet (`table_capacity` scheduler-table slots; `mtu` the
    /// director interface's, 0 when unknown).
    pub fn new(table_capacity: u32, mtu: u32) -> Self {
        Self {
            desired: None,
            overlays: Overlays::default(),
            applied: Applied::new(table_capacity, mtu),
        }
    }

    /// A running data plane's maps, taken over (see [`Applied::adopt`]).
    pub fn adopt(snap: &Snapshot, mtu: u32) -> Self {
        Self {
            desired: None,
            overlays: Overlays::default(),
            applied: Applied::adopt(snap, mtu),
        }
    }

    /// The fallback MTU of tunnels (the smallest of the interfaces'): the next apply writes
    /// it. Returns the one before.
    pub fn set_mtu(&mut self, mtu: u32) -> u32 {
        let before = self.applied.mtu();
        self.applied.set_mtu(mtu);
        before
    }

    /// The config the user gave (last applied).
    pub fn desired(&self) -> Option<&Config> {
        self.desired.as_ref()
    }

    /// The real servers of the desired config that may not take new connections now.
    pub fn unavailable(&self) -> HashSet<RealKey> {
        self.desired
            .as_ref()
            .map(|c| self.overlays.unavailable_in(c))
            .unwrap_or_default()
    }

    /// The effective config of the desired one now.
    pub fn effective(&self) -> Option<Config> {
        Some(effective(self.desired.as_ref()?, &self.unavailable()))
    }

    /// Services of the desired config with no real server able to take connections.
    pub fn services_down(&self) -> usize {
        let un = self.unavailable();
        self.desired
            .iter()
            .flat_map(|c| &c.services)
            .filter(|s| service_down(s, &un))
            .count()
    }

    /// Makes `cfg` (validated) the desired state and the maps hold its effective config; the
    /// persistence templates of unavailable real servers are removed (`lb` honours a
    /// template of any real server not removed, whatever its weight). On an error the desired
    /// state stays as it was (the maps may hold part of the change: apply the previous one
    /// again to restore it).
    pub fn set_desired(
        &mut self,
        dp: &mut Dataplane,
        cfg: &Config,
    ) -> Result<ApplyReport, ApplyError> {
        let un = self.overlays.unavailable_in(cfg);
        let eff = effective(cfg, &un);
        let (mut plan, compiled) = self.applied.compile(&eff);
        if compiled.is_ok() {
            let ids: BTreeSet<u32> = un
                .iter()
                .filter(|k| {
                    cfg.find_service(&k.service)
                        .is_some_and(|i| cfg.services[i].persistent.is_some())
                })
                .filter_map(|k| self.real_id(k))
                .collect();
            if !ids.is_empty() {
                plan.push(Step::ForgetTemplatesOfReals(ids));
            }
        }
        let report = self.execute(dp, &plan, compiled)?;
        self.desired = Some(cfg.clone());
        self.overlays.keep_configured(cfg);
        Ok(report)
    }

    /// Takes `cfg` as the desired config without writing the maps (unit tests).
    #[cfg(test)]
    pub(crate) fn assume_desired(&mut self, cfg: &Config) {
        self.desired = Some(cfg.clone());
        self.overlays.keep_configured(cfg);
    }

    /// Applies the desired config again (after a health change or a drain).
    pub fn reapply(&mut self, dp: &mut Dataplane) -> Result<ApplyReport, ApplyError> {
        let Some(cfg) = self.desired.clone() else {
            return Ok(ApplyReport::default());
        };
        self.set_desired(dp, &cfg)
    }

    /// Makes the maps hold `cfg` as it is (no overlays; the desired state is not changed):
    /// for tests and benchmarks that drive the data plane directly.
    pub fn apply(&mut self, dp: &mut Dataplane, cfg: &Config) -> Result<ApplyReport, ApplyError> {
        let (plan, compiled) = self.applied.compile(cfg);
        self.execute(dp, &plan, compiled)
    }

    /// Writes a compiled plan (also the part compiled before an error, which the bookkeeping
    /// already counts), and reports.
    fn execute(
        &mut self,
        dp: &mut Dataplane,
        plan: &Plan,
        compiled: Result<ApplyReport, CompileError>,
    ) -> Result<ApplyReport, ApplyError> {
        let written = dp.apply(plan);
        let mut report = compiled?;
        let written = written?;
        report.connections_expired += written.connections_expired;
        if written.templates_forgotten > 0 {
            debug!(
                removed = written.templates_forgotten,
                "persistence templates of unavailable real servers removed"
            );
        }
        Ok(report)
    }

    /// Drains a configured real server: no new connections at once, the remaining ones
    /// removed after `deadline`. Draining again sets a new deadline. Apply with
    /// [`Planner::reapply`].
    pub fn drain(&mut self, key: RealKey, deadline: Duration) -> Result<(), String> {
        self.check_configured(&key)?;
        self.overlays.start_drain(key, Instant::now() + deadline);
        Ok(())
    }

    /// Ends a drain; false when the real server was not draining.
    pub fn undrain(&mut self, key: RealKey) -> Result<bool, String> {
        self.check_configured(&key)?;
        Ok(self.overlays.end_drain(&key))
    }

    fn check_configured(&self, key: &RealKey) -> Result<(), String> {
        let services = self
            .desired
            .as_ref()
            .map(|c| &c.services[..])
            .unwrap_or(&[]);
        let svc = services
            .iter()
            .find(|s| s.key() == key.service)
            .ok_or_else(|| format!("no service {}", key.service))?;
        if svc.find_real(key.address, key.port).is_some() {
            Ok(())
        } else {
            Err(format!(
                "service {} has no real server {}",
                key.service,
                lb_model::names::fmt_addr_port(key.address, key.port)
            ))
        }
    }

    /// The drained real servers whose deadline passed at `now` (each returned once).
    pub fn due_drains(&mut self, now: Instant) -> Vec<RealKey> {
        self.overlays.due_drains(now)
    }

    /// Removes every connection of a configured real server (drain deadline, `on_down:
    /// expire`); how many there were.
    pub fn expire_connections(
        &self,
        dp: &mut Dataplane,
        key: &RealKey,
    ) -> Result<usize, DataplaneError> {
        match self.real_id(key) {
            Some(id) => dp.expire_reals(&BTreeSet::from([id])),
            None => Ok(0),
        }
    }

    /// Frees the removed real servers' ids that have waited `min_age` and that `referenced`
    /// (what the data plane still names) does not hold. Returns how many were freed.
    pub fn recycle_real_ids(
        &mut self,
        dp: &mut Dataplane,
        referenced: &HashSet<u32>,
        min_age: Duration,
    ) -> Result<usize, ApplyError> {
        let (plan, freed) = self.applied.recycle(referenced, min_age);
        dp.apply(&plan)?;
        Ok(freed)
    }

    /// Whether a removed real server's id has waited `min_age`: the time to look for
    /// references to it ([`Planner::recycle_real_ids`]).
    pub fn real_ids_to_recycle(&self, min_age: Duration) -> bool {
        self.applied.ids.any_waited(min_age)
    }

    /// The applied services, in the order of the config (with their effective settings).
    pub fn services(&self) -> Vec<&ServiceState> {
        self.applied.ordered()
    }

    /// The data-plane id of a configured real server.
    pub fn real_id(&self, key: &RealKey) -> Option<u32> {
        self.applied
            .services
            .get(&key.service.vip_key())?
            .reals
            .iter()
            .find(|r| r.cfg.address == key.address && r.port == key.port)
            .map(|r| r.id)
    }

    /// The applied service a key names: its id.
    pub fn service_id(&self, key: &ServiceKey) -> Option<u32> {
        self.applied.services.get(&key.vip_key()).map(|s| s.id)
    }

    /// The id of the applied persistent service of `key` (None: no such service, or not
    /// persistent).
    pub fn persistent_service_id(&self, key: &lb_common::VipKey) -> Option<u32> {
        self.applied
            .services
            .get(key)
            .filter(|s| s.cfg.persistent.is_some())
            .map(|s| s.id)
    }

    /// Real-server ids of a service by address and port (tests and benchmarks).
    pub fn real_ids(&self, key: &lb_common::VipKey) -> Vec<(IpAddr, u16, u32)> {
        self.applied
            .services
            .get(key)
            .map(|s| {
                s.reals
                    .iter()
                    .map(|r| (r.cfg.address, r.port, r.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Real servers of a service by address and port, with their ids and forwarding methods
    /// (what a sync record names).
    pub fn real_methods(
        &self,
        key: &lb_common::VipKey,
    ) -> Vec<(IpAddr, u16, u32, lb_model::Forwarding)> {
        self.applied
            .services
            .get(key)
            .map(|s| {
                s.reals
                    .iter()
                    .map(|r| (r.cfg.address, r.port, r.id, r.cfg.forwarding))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every real server's address and port by id (the current ones).
    pub fn real_names(&self) -> HashMap<u32, (IpAddr, u16)> {
        self.applied
            .services
            .values()
            .flat_map(|s| s.reals.iter().map(|r| (r.id, (r.cfg.address, r.port))))
            .collect()
    }

    /// Every service's id with its protocol, VIP and port (connection listings).
    pub fn service_keys(&self) -> HashMap<u32, ServiceKey> {
        self.applied
            .services
            .values()
            .map(|s| (s.id, s.cfg.key()))
            .collect()
    }

    /// Every real-server id handed out so far (removed real servers keep theirs while their
    /// connections drain).
    pub fn all_real_ids(&self) -> Vec<u32> {
        self.applied.ids.all_reals()
    }

    pub fn real_count(&self) -> usize {
        self.applied.services.values().map(|s| s.reals.len()).sum()
    }

    pub fn service_count(&self) -> usize {
        self.applied.services.len()
    }

    /// The firewall marks of the firewall-mark services, by service id (what a sync record
    /// of their connections carries).
    pub fn service_marks(&self) -> HashMap<u32, u32> {
        self.applied
            .services
            .values()
            .filter_map(|s| s.cfg.key().fwmark.map(|m| (s.id, m)))
            .collect()
    }

    /// Persistence timeouts in seconds by service id, for the persistent services.
    pub fn persist_timeouts(&self) -> HashMap<u32, u32> {
        self.applied
            .services
            .values()
            .filter_map(|s| s.cfg.persistent.map(|t| (s.id, t)))
            .collect()
    }

    /// The real servers with an upper connection threshold (those that can be overloaded).
    pub fn limited_reals(&self) -> Vec<u32> {
        self.applied
            .services
            .values()
            .flat_map(|s| &s.reals)
            .filter(|r| r.cfg.upper_threshold.unwrap_or(0) != 0)
            .map(|r| r.id)
            .collect()
    }

    /// The `lblc` / `lblcr` services' mapping expirations in seconds, by service id.
    pub fn locality_expirations(&self) -> HashMap<u32, u32> {
        let (lblc, lblcr) = self
            .applied
            .config
            .as_ref()
            .map(|c| (c.lblc_expiration(), c.lblcr_expiration()))
            .unwrap_or((
                lb_common::LOCALITY_DEFAULT_EXPIRATION_S,
                lb_common::LOCALITY_DEFAULT_EXPIRATION_S,
            ));
        self.applied
            .services
            .values()
            .filter_map(|s| match s.cfg.scheduler {
                Scheduler::Lblc => Some((s.id, lblc)),
                Scheduler::Lblcr => Some((s.id, lblcr)),
                _ => None,
            })
            .collect()
    }
}
