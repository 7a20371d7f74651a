//! Service and real-server ids. Ids index the data plane's arrays; id 0 is "unset".
//!
//! A removed real server's id is not given out again at once: its connections keep flowing
//! to it (as in IPVS), so it waits until nothing in the data plane names it any more (see
//! [`Ids::recyclable`]). A deleted service's id waits as long as one of its removed real
//! servers does: their connections count on it.
//!
//! What comes back while it waits takes its id back, as IPVS takes a destination back out of
//! its trash (`ip_vs_trash_get_dest`): the same service (protocol, VIP, port) gets its held id
//! again, and the same real server of it (address, port, forwarding) its own id, with its
//! connections, counts and counters. So `lbctl -C` then `lbctl -R` of the same rules needs no
//! new ids, even at the limits.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    net::IpAddr,
    time::{Duration, Instant},
};

use lb_common::{MAX_REALS, MAX_SERVICES, RealServer, VipKey};

/// How long a removed real server's id waits before lbd looks whether anything still names it
/// (past the fragment table's 30 s, whose entries lbd cannot cheaply read).
pub const REAL_ID_QUARANTINE: Duration = Duration::from_secs(60);

/// A removed real server whose id still waits.
#[derive(Clone, Debug)]
pub struct RemovedReal {
    pub id: u32,
    pub since: Instant,
    /// Its service's VIP (None when unknown: read back after a restart) and, for `nat`, its
    /// own address: its connections still flow, so the address filter keeps both.
    pub vip: Option<IpAddr>,
    pub nat: Option<IpAddr>,
    /// The id of the service it belonged to.
    pub service: u32,
    /// Its entry in the data plane (flagged removed): what it must equal to be taken back.
    pub entry: RealServer,
}

#[derive(Debug)]
pub struct Ids {
    /// Service ids in use are the applied services'; freed ones are reused (last freed
    /// first).
    pub(super) free_services: Vec<u32>,
    pub(super) next_service: u32,
    pub(super) next_real: u32,
    pub(super) free_reals: Vec<u32>,
    /// In the order they were removed.
    pub(super) removed: Vec<RemovedReal>,
    /// Deleted services whose ids wait (removed real servers name them), by key.
    held: BTreeMap<VipKey, u32>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "no free {0} id left (ids of real servers and services removed in the last minute wait while their connections drain)"
)]
pub struct NoIdLeft(pub &'static str);

impl Default for Ids {
    fn default() -> Self {
        Self {
            free_services: Vec::new(),
            next_service: 1,
            next_real: 1,
            free_reals: Vec::new(),
            removed: Vec::new(),
            held: BTreeMap::new(),
        }
    }
}

impl Ids {
    /// An id for the service `key`: its own while it waits (deleted a moment ago), else a free
    /// one.
    pub fn alloc_service(&mut self, key: &VipKey) -> Result<u32, NoIdLeft> {
        if let Some(id) = self.held.remove(key) {
            return Ok(id);
        }
        if let Some(id) = self.free_services.pop() {
            return Ok(id);
        }
        if self.next_service >= MAX_SERVICES {
            return Err(NoIdLeft("service"));
        }
        self.next_service += 1;
        Ok(self.next_service - 1)
    }

    pub fn alloc_real(&mut self) -> Result<u32, NoIdLeft> {
        if let Some(id) = self.free_reals.pop() {
            return Ok(id);
        }
        if self.next_real >= MAX_REALS {
            return Err(NoIdLeft("real-server"));
        }
        self.next_real += 1;
        Ok(self.next_real - 1)
    }

    /// A deleted service's id: free at once, or held while removed real servers name it.
    pub fn free_service(&mut self, key: VipKey, id: u32) {
        if self.removed.iter().any(|r| r.service == id) {
            self.held.insert(key, id);
        } else {
            self.free_services.push(id);
        }
    }

    /// A real server leaves its service: its id waits.
    pub fn remove_real(&mut self, r: RemovedReal) {
        self.removed.push(r);
    }

    /// A removed real server of service `service` that is back, the same endpoint (`entry`
    /// equal to its removed one): its id, which stops waiting.
    pub fn take_back_real(&mut self, service: u32, entry: &RealServer) -> Option<u32> {
        let i = self
            .removed
            .iter()
            .position(|r| r.service == service && r.entry == *entry)?;
        Some(self.removed.remove(i).id)
    }

    /// The ids of the removed real servers that still wait.
    pub fn removed(&self) -> &[RemovedReal] {
        &self.removed
    }

    /// Whether a removed real server has waited `min_age`: the time to look for references to
    /// it ([`Ids::recyclable`]).
    pub fn any_waited(&self, min_age: Duration) -> bool {
        let now = Instant::now();
        self.removed
            .iter()
            .any(|r| now.duration_since(r.since) >= min_age)
    }

    /// Frees the removed real servers' ids that have waited `min_age` and that `referenced`
    /// does not hold, and the deleted services' ids none of whose removed real servers waits
    /// any more (`in_use`: the services' ids now). Returns the real-server ids freed, in the
    /// order they were removed.
    pub fn recyclable(
        &mut self,
        referenced: &HashSet<u32>,
        min_age: Duration,
        in_use: &BTreeSet<u32>,
    ) -> Vec<u32> {
        let now = Instant::now();
        let held_before = self.held_services(in_use);
        let (freed, keep): (Vec<RemovedReal>, Vec<RemovedReal>) = std::mem::take(&mut self.removed)
            .into_iter()
            .partition(|r| now.duration_since(r.since) >= min_age && !referenced.contains(&r.id));
        self.removed = keep;
        let ids: Vec<u32> = freed.iter().map(|r| r.id).collect();
        self.free_reals.extend(&ids);
        let held_now = self.held_services(in_use);
        let freed_services: Vec<u32> = held_before
            .into_iter()
            .filter(|s| !held_now.contains(s))
            .collect();
        self.held.retain(|_, id| !freed_services.contains(id));
        self.free_services.extend(freed_services);
        ids
    }

    /// Deleted services' ids that removed real servers still name, in the order those were
    /// removed.
    fn held_services(&self, in_use: &BTreeSet<u32>) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for r in &self.removed {
            if !in_use.contains(&r.service) && !out.contains(&r.service) {
                out.push(r.service);
            }
        }
        out
    }

    /// Every real-server id handed out so far (removed real servers keep theirs while their
    /// connections drain).
    pub fn all_reals(&self) -> Vec<u32> {
        (1..self.next_real).collect()
    }
}
