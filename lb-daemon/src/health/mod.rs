//! Health checks: which real servers their checks take out (a service over `plan`).
//!
//! Each checked real server has a checker thread that runs its check every interval and
//! reports the result to [`Health::step`], which feeds a rise/fall [`Tracker`]. When a real
//! server changes state, health marks it in the desired state's overlays
//! (`plan::Overlays::set_down`) and has the plan applied again: the effective config gives
//! it weight 0 (the quiesce path: tables are rebuilt without it, Maglev moving as few flows
//! as possible, while its connections stay), and the service's sorry server joins while no
//! real server can take connections. Health never writes a map. Listings show the
//! configured weight with the health state beside it ([`Health::annotate`]).
//!
//! Connections of a real server that went down stay (`on_down: keep`, the default) or are
//! removed `grace_ms` later (`expire`); a drained real server's are removed at its deadline.
//! Either way its persistence templates go at once, so clients are not sent back to it.

pub mod check;
pub mod tracker;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::Sender,
    },
    thread::Thread,
    time::{Duration, Instant},
};

use lb_model::api::{CheckView, DrainView, RealHealthView, ServiceHealthView, ServiceView};
use lb_model::{
    Named,
    config::{Config, OnDown, RealKey},
    names::fmt_addr_port,
};
use tracing::{debug, error, info, warn};

pub use self::{check::CheckSpec, tracker::Tracker};
use crate::{
    dataplane::Dataplane,
    plan::{Overlays, Planner, service_down},
};

/// The longest drain deadline accepted (a year).
pub const MAX_DRAIN_SECS: u64 = 31_536_000;
/// How often [`Health::step`] runs when no check result arrives.
pub const TICK: Duration = Duration::from_millis(100);

/// One check's outcome, from a checker thread.
#[derive(Debug)]
pub struct CheckResult {
    pub key: RealKey,
    /// The checker's generation: results of a checker since replaced are ignored.
    pub generation: u64,
    pub result: Result<(), String>,
    pub duration: Duration,
}

struct Target {
    spec: CheckSpec,
    tracker: Tracker,
    generation: u64,
    stop: Arc<AtomicBool>,
    thread: Option<Thread>,
    ok_total: u64,
    failed_total: u64,
    last_duration: Option<Duration>,
    last_error: Option<String>,
    changed_at: Instant,
    down_since: Option<Instant>,
    /// Its connections were removed (on_down expire) since it went down.
    expired: bool,
}

impl Target {
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = &self.thread {
            t.unpark();
        }
    }
}

/// A desired config comes: the maps hold its effective config (see `Planner::set_desired`),
/// then the health checks follow it (checkers started, restarted or stopped).
pub fn apply(
    health: &mut Health,
    plan: &mut Planner,
    dp: &mut Dataplane,
    cfg: &Config,
) -> Result<crate::plan::ApplyReport, crate::plan::ApplyError> {
    let report = plan.set_desired(dp, cfg)?;
    health.set_config(cfg, &mut plan.overlays);
    Ok(report)
}

/// Why a real server's connections are removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireReason {
    DrainDeadline,
    Down,
}

/// The checked real servers: their checkers and rise/fall trackers.
pub struct Health {
    targets: HashMap<RealKey, Target>,
    /// Where checker threads send results; None: no threads are started (tests feed
    /// [`Health::record`] themselves).
    results: Option<Sender<CheckResult>>,
    next_generation: u64,
}

impl Health {
    /// Checks run in threads that report to `results` (read by [`Health::step`]'s caller).
    pub fn new(results: Sender<CheckResult>) -> Self {
        let mut h = Self::without_checkers();
        h.results = Some(results);
        h
    }

    /// No checker threads: state changes come only from [`Health::record`].
    pub fn without_checkers() -> Self {
        Self {
            targets: HashMap::new(),
            results: None,
            next_generation: 1,
        }
    }

    /// Takes `cfg` as the desired config: starts checkers for newly checked real servers,
    /// restarts those whose check changed (keeping their state), stops the rest (they are no
    /// longer down in `overlays`).
    pub fn set_config(&mut self, cfg: &Config, overlays: &mut Overlays) {
        let mut wanted: HashMap<RealKey, CheckSpec> = HashMap::new();
        for svc in &cfg.services {
            for r in &svc.real_servers {
                if let Some(spec) = CheckSpec::of(svc, r) {
                    wanted.insert(svc.real_key(r), spec);
                }
            }
        }
        // A real server whose check changed keeps its state under the new check.
        let mut old_states: HashMap<RealKey, bool> = HashMap::new();
        let mut stopped = Vec::new();
        self.targets.retain(|k, t| {
            let keep = wanted.get(k) == Some(&t.spec);
            if !keep {
                t.stop();
                if wanted.contains_key(k) {
                    old_states.insert(*k, t.tracker.is_up());
                } else {
                    stopped.push(*k);
                }
            }
            keep
        });
        for k in stopped {
            overlays.set_down(k, false);
        }
        for (k, spec) in wanted {
            if self.targets.contains_key(&k) {
                continue;
            }
            let up = old_states.get(&k).copied().unwrap_or(true);
            self.start(k, spec, up);
        }
    }

    fn start(&mut self, key: RealKey, spec: CheckSpec, up: bool) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = self
            .results
            .as_ref()
            .and_then(|tx| spawn_checker(key, generation, spec.clone(), stop.clone(), tx.clone()));
        debug!(%key, kind = spec.kind.name(), target = %spec.target, "health check started");
        self.targets.insert(
            key,
            Target {
                tracker: Tracker::starting(up, spec.rise, spec.fall),
                spec,
                generation,
                stop,
                thread,
                ok_total: 0,
                failed_total: 0,
                last_duration: None,
                last_error: None,
                changed_at: Instant::now(),
                down_since: (!up).then(Instant::now),
                expired: false,
            },
        );
    }

    /// Records a check result; true when its real server changed state (marked in
    /// `overlays`, so the effective config changed).
    pub fn record(&mut self, r: CheckResult, overlays: &mut Overlays) -> bool {
        let Some(t) = self.targets.get_mut(&r.key) else {
            return false;
        };
        if t.generation != r.generation {
            return false;
        }
        t.last_duration = Some(r.duration);
        match &r.result {
            Ok(()) => {
                t.ok_total += 1;
                t.last_error = None;
            }
            Err(e) => {
                t.failed_total += 1;
                t.last_error = Some(e.clone());
            }
        }
        let Some(up) = t.tracker.record(r.result.is_ok()) else {
            return false;
        };
        let now = Instant::now();
        t.changed_at = now;
        t.expired = false;
        t.down_since = (!up).then_some(now);
        overlays.set_down(r.key, !up);
        if up {
            info!(key = %r.key, successes = t.tracker.successes(), "health check: real server is up again, back in scheduling");
        } else {
            warn!(
                key = %r.key,
                failures = t.tracker.failures(),
                error = t.last_error.as_deref().unwrap_or(""),
                "health check: real server is down, out of scheduling"
            );
        }
        true
    }

    /// The real servers down for their grace period with `on_down: expire`, whose
    /// connections are due for removal at `now`, each returned once.
    pub fn due_down(&mut self, now: Instant) -> Vec<RealKey> {
        let mut out = Vec::new();
        for (k, t) in &mut self.targets {
            if let Some(since) = t.down_since
                && !t.expired
                && t.spec.on_down == OnDown::Expire
                && now >= since + t.spec.grace
            {
                t.expired = true;
                out.push(*k);
            }
        }
        out
    }

    /// One round of the health thread: records the results that came, applies the
    /// effective config when a real server changed state, and removes connections whose
    /// time came (drain deadlines, `on_down: expire`).
    pub fn step(
        &mut self,
        plan: &mut Planner,
        dp: &mut Dataplane,
        results: impl IntoIterator<Item = CheckResult>,
    ) {
        let mut changed = false;
        for r in results {
            changed |= self.record(r, &mut plan.overlays);
        }
        if changed {
            match plan.reapply(dp) {
                Ok(report) => debug!(?report, "effective config applied after a health change"),
                Err(e) => error!("applying the effective config after a health change: {e}"),
            }
        }
        self.expire_due(plan, dp, Instant::now());
    }

    /// Removes the connections of the real servers whose time has come (drain deadlines,
    /// `on_down: expire`).
    pub fn expire_due(&mut self, plan: &mut Planner, dp: &mut Dataplane, now: Instant) {
        let due: Vec<(RealKey, ExpireReason)> = plan
            .due_drains(now)
            .into_iter()
            .map(|k| (k, ExpireReason::DrainDeadline))
            .chain(
                self.due_down(now)
                    .into_iter()
                    .map(|k| (k, ExpireReason::Down)),
            )
            .collect();
        for (key, why) in due {
            if plan.real_id(&key).is_none() {
                continue;
            }
            match plan.expire_connections(dp, &key) {
                Ok(n) => info!(
                    %key,
                    connections = n,
                    reason = match why {
                        ExpireReason::DrainDeadline => "drain deadline",
                        ExpireReason::Down => "down (on_down expire)",
                    },
                    "connections removed"
                ),
                Err(e) => warn!(%key, "removing its connections: {e}"),
            }
        }
    }

    /// Adds health, drain and sorry-server state to listings made from the effective config,
    /// and puts the configured weights back (the effective one goes to
    /// `health.effective_weight`).
    pub fn annotate(&self, views: &mut [ServiceView], plan: &Planner) {
        let un = plan.unavailable();
        let now = Instant::now();
        let services = plan.desired().map(|c| &c.services[..]).unwrap_or(&[]);
        for v in views {
            let Some(svc) = services
                .iter()
                .find(|s| s.protocol.name() == v.protocol && s.vip == v.vip && s.port == v.port)
            else {
                continue;
            };
            let down = service_down(svc, &un);
            v.health = Some(ServiceHealthView {
                up: !down,
                sorry_server_active: down && svc.sorry_server.is_some(),
                fallback: if svc.sorry_server.is_some() {
                    "sorry_server".into()
                } else {
                    "drop".into()
                },
            });
            for rv in &mut v.real_servers {
                let effective_weight = rv.weight;
                let Some(r) = svc
                    .find_real(rv.address, rv.port)
                    .map(|j| &svc.real_servers[j])
                else {
                    // Not a real server of the service: its sorry server, in use.
                    rv.health = Some(RealHealthView {
                        state: "unchecked".into(),
                        effective_weight,
                        sorry_server: true,
                        check: None,
                        draining: None,
                    });
                    continue;
                };
                let k = svc.real_key(r);
                rv.weight = r.weight;
                let target = self
                    .targets
                    .get(&k)
                    .filter(|_| CheckSpec::of(svc, r).is_some());
                let state = match target {
                    None => "unchecked",
                    Some(t) if t.tracker.is_up() => "up",
                    Some(_) => "down",
                };
                rv.health = Some(RealHealthView {
                    state: state.into(),
                    effective_weight,
                    sorry_server: false,
                    check: target.map(|t| CheckView {
                        kind: t.spec.kind.name().into(),
                        target: fmt_addr_port(t.spec.target.ip(), t.spec.target.port()),
                        successes: t.tracker.successes(),
                        failures: t.tracker.failures(),
                        checks_ok: t.ok_total,
                        checks_failed: t.failed_total,
                        last_duration_us: t.last_duration.map(|d| d.as_micros() as u64),
                        last_error: t.last_error.clone(),
                        since_secs: now.duration_since(t.changed_at).as_secs(),
                    }),
                    draining: plan.overlays.drain(&k).map(|d| DrainView {
                        remaining_secs: d
                            .deadline
                            .saturating_duration_since(now)
                            .as_secs_f64()
                            .ceil() as u64,
                        expired: d.expired,
                        connections: rv.active_conns + rv.inactive_conns,
                    }),
                });
            }
        }
    }
}

impl Drop for Health {
    fn drop(&mut self) {
        for t in self.targets.values() {
            t.stop();
        }
    }
}

/// Runs one real server's check every interval until `stop`. None if no thread could be
/// started (logged; the real server then stays as it is).
fn spawn_checker(
    key: RealKey,
    generation: u64,
    spec: CheckSpec,
    stop: Arc<AtomicBool>,
    tx: Sender<CheckResult>,
) -> Option<Thread> {
    let r = std::thread::Builder::new()
        .name("lbd-check".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let t0 = Instant::now();
                let result = spec.run();
                let duration = t0.elapsed();
                if let Err(e) = &result {
                    debug!(%key, error = %e, "health check failed");
                }
                if stop.load(Ordering::SeqCst)
                    || tx
                        .send(CheckResult {
                            key,
                            generation,
                            result,
                            duration,
                        })
                        .is_err()
                {
                    break;
                }
                let next = t0 + spec.interval;
                loop {
                    let now = Instant::now();
                    if stop.load(Ordering::SeqCst) || now >= next {
                        break;
                    }
                    std::thread::park_timeout(next - now);
                }
            }
        });
    match r {
        Ok(h) => Some(h.thread().clone()),
        Err(e) => {
            error!(%key, "cannot start a health-check thread: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use lb_model::config::RealServerConfig;

    use super::*;
    use crate::plan::overlays::tests::{TWO_SERVICES, cfg, key, weights};

    fn result(k: RealKey, generation: u64, ok: bool) -> CheckResult {
        CheckResult {
            key: k,
            generation,
            result: if ok { Ok(()) } else { Err("refused".into()) },
            duration: Duration::from_millis(1),
        }
    }

    /// A planner whose desired config is `c` (no maps behind it).
    fn planner(c: &Config) -> Planner {
        let mut p = Planner::new(1024, 0);
        p.assume_desired(c);
        p
    }

    impl Health {
        fn record_in(&mut self, p: &mut Planner, r: CheckResult) -> bool {
            self.record(r, &mut p.overlays)
        }
    }

    #[test]
    fn checks_results_and_drains_drive_the_effective_config() {
        let c = cfg(TWO_SERVICES);
        let mut h = Health::without_checkers();
        let mut p = planner(&c);
        h.set_config(&c, &mut p.overlays);
        // Checked: reals 0 and 1 of service 0 (the service's check), real 0 of service 1.
        assert_eq!(h.targets.len(), 3);
        assert!(
            !h.targets.contains_key(&key(&c, 0, 2)),
            "type none opts out"
        );
        assert_eq!(p.effective().unwrap(), c, "everything starts up");
        let k = key(&c, 0, 1);
        let g = h.targets[&k].generation;
        assert!(
            !h.record_in(&mut p, result(k, g, false)),
            "one failure of fall 2"
        );
        assert!(
            !h.record_in(&mut p, result(k, g + 100, false)),
            "a stale checker's result"
        );
        assert!(
            h.record_in(&mut p, result(k, g, false)),
            "second failure: down"
        );
        assert_eq!(weights(&p.effective().unwrap(), 0)[1].1, 0);
        assert_eq!(p.services_down(), 0);
        // The same config again keeps the checker and its state.
        h.set_config(&c.clone(), &mut p.overlays);
        assert_eq!(h.targets[&k].generation, g);
        assert_eq!(weights(&p.effective().unwrap(), 0)[1].1, 0);
        assert!(!h.record_in(&mut p, result(k, g, true)));
        assert!(h.record_in(&mut p, result(k, g, true)), "rise 2: up again");
        assert_eq!(p.effective().unwrap(), c);

        // A changed check restarts the checker but keeps the state.
        let mut c2 = c.clone();
        c2.services[0].health_check.as_mut().unwrap().interval_ms = Some(300);
        let k0 = key(&c, 0, 0);
        let g0 = h.targets[&k0].generation;
        h.record_in(&mut p, result(k0, g0, false));
        h.record_in(&mut p, result(k0, g0, false));
        p.assume_desired(&c2);
        h.set_config(&c2, &mut p.overlays);
        assert_ne!(h.targets[&k0].generation, g0);
        assert!(
            !h.targets[&k0].tracker.is_up(),
            "still down after the change"
        );

        // A check removed: the real server is available whatever its last state.
        let mut c3 = c2.clone();
        c3.services[0].health_check = None;
        assert!(p.overlays.unavailable_in(&c3).is_empty());
        p.assume_desired(&c3);
        h.set_config(&c3, &mut p.overlays);
        assert_eq!(h.targets.len(), 1);

        // Drains.
        let d = key(&c3, 0, 2);
        assert_eq!(
            p.drain(
                RealKey {
                    address: "10.0.0.77".parse().unwrap(),
                    ..d
                },
                Duration::from_secs(1)
            ),
            Err("service tcp 10.0.0.100:80 has no real server 10.0.0.77:80".into())
        );
        p.drain(d, Duration::from_secs(3600)).unwrap();
        assert_eq!(weights(&p.effective().unwrap(), 0)[2].1, 0);
        assert!(
            p.due_drains(Instant::now()).is_empty(),
            "deadline not reached"
        );
        let later = Instant::now() + Duration::from_secs(3601);
        assert_eq!(p.due_drains(later), [d]);
        assert!(p.due_drains(later).is_empty(), "reported once");
        assert_eq!(
            weights(&p.effective().unwrap(), 0)[2].1,
            0,
            "still drained after the deadline"
        );
        assert_eq!(p.undrain(d), Ok(true));
        assert_eq!(p.undrain(d), Ok(false));
        assert_eq!(p.effective().unwrap(), c3);
    }

    #[test]
    fn on_down_expire_is_due_after_the_grace_period_once() {
        let mut c = cfg(TWO_SERVICES);
        let hc = c.services[0].health_check.as_mut().unwrap();
        hc.on_down = Some(OnDown::Expire);
        hc.grace_ms = Some(5000);
        let mut h = Health::without_checkers();
        let mut p = planner(&c);
        h.set_config(&c, &mut p.overlays);
        let k = key(&c, 0, 0);
        let g = h.targets[&k].generation;
        h.record_in(&mut p, result(k, g, false));
        h.record_in(&mut p, result(k, g, false));
        let now = Instant::now();
        assert!(h.due_down(now).is_empty(), "within the grace period");
        let later = now + Duration::from_secs(6);
        assert_eq!(h.due_down(later), [k]);
        assert!(h.due_down(later).is_empty());
        // Up and down again: due again.
        h.record_in(&mut p, result(k, g, true));
        h.record_in(&mut p, result(k, g, true));
        h.record_in(&mut p, result(k, g, false));
        h.record_in(&mut p, result(k, g, false));
        assert_eq!(h.due_down(Instant::now() + Duration::from_secs(6)), [k]);
    }

    #[test]
    fn listings_show_configured_weight_health_and_the_sorry_server() {
        use lb_model::api::{RealServerView, StatsView};
        let c = cfg(TWO_SERVICES);
        let mut h = Health::without_checkers();
        let mut p = planner(&c);
        h.set_config(&c, &mut p.overlays);
        for r in 0..3 {
            let k = key(&c, 0, r);
            if let Some(g) = h.targets.get(&k).map(|t| t.generation) {
                h.record_in(&mut p, result(k, g, false));
                h.record_in(&mut p, result(k, g, false));
            }
        }
        p.drain(key(&c, 0, 2), Duration::from_secs(10)).unwrap();
        // What the context lists from the effective config.
        let e = p.effective().unwrap();
        let rv = |r: &RealServerConfig| RealServerView {
            address: r.address,
            port: 80,
            forwarding: r.forwarding.name().into(),
            weight: r.weight,
            active_conns: 1,
            inactive_conns: 2,
            stats: StatsView::default(),
            health: None,
            ..Default::default()
        };
        let mut views = vec![ServiceView {
            protocol: "tcp".into(),
            vip: c.services[0].vip,
            port: 80,
            scheduler: "mh".into(),
            sched_flags: vec![],
            persistent: None,
            stats: StatsView::default(),
            real_servers: e.services[0].real_servers.iter().map(rv).collect(),
            health: None,
            ..Default::default()
        }];
        h.annotate(&mut views, &p);
        let v = &views[0];
        let sh = v.health.as_ref().unwrap();
        assert!(!sh.up && sh.sorry_server_active && sh.fallback == "sorry_server");
        let rs = &v.real_servers;
        assert_eq!(rs.len(), 4);
        assert_eq!(rs[1].weight, 3, "the configured weight");
        let h1 = rs[1].health.as_ref().unwrap();
        assert_eq!((h1.state.as_str(), h1.effective_weight), ("down", 0));
        let c1 = h1.check.as_ref().unwrap();
        assert_eq!((c1.failures, c1.checks_failed, c1.checks_ok), (2, 2, 0));
        assert_eq!(c1.last_error.as_deref(), Some("refused"));
        assert_eq!(c1.target, "10.0.0.12:80");
        let h2 = rs[2].health.as_ref().unwrap();
        assert_eq!(h2.state, "unchecked");
        let d = h2.draining.as_ref().unwrap();
        assert_eq!((d.remaining_secs, d.expired, d.connections), (10, false, 3));
        let h3 = rs[3].health.as_ref().unwrap();
        assert!(h3.sorry_server);
        assert_eq!(h3.effective_weight, 1);
    }
}
