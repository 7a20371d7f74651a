//! Health checks and draining: which real servers may take new connections.
//!
//! The config the user gave (the *desired* config) is never changed here. Each checked real
//! server has a checker thread that runs its check every interval and reports the result to
//! [`manage`], which feeds a rise/fall [`Tracker`]. When a real server changes state, or is
//! drained, lbd applies the *effective* config ([`effective`]): the desired one with every
//! unavailable real server's weight set to 0 (the quiesce path: tables are rebuilt without it,
//! Maglev moving as few flows as possible, while its connections stay), plus the service's
//! sorry server while no real server can take connections. Listings show the configured
//! weight with the health state beside it ([`Health::annotate`]).
//!
//! Connections of a real server that went down stay (`on_down: keep`, the default) or are
//! removed `grace_ms` later (`expire`); a drained real server's are removed at its deadline.
//! Either way its persistence templates go at once, so clients are not sent back to it.

pub mod check;
pub mod tracker;

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError, Sender},
    },
    thread::Thread,
    time::{Duration, Instant},
};

use lb_common::api::{
    CheckView, DrainView, Op, RealHealthView, Response, ServiceHealthView, ServiceView,
};
use tracing::{debug, error, info, warn};

pub use self::{
    check::{CheckConfig, CheckKind, CheckSpec, OnDown},
    tracker::Tracker,
};
use crate::{
    config::{Config, ConfigError, Protocol, RealServerConfig, ServiceConfig, fmt_addr_port},
    daemon::Daemon,
    dataplane::Dataplane,
    state::{ApplyError, ApplyReport, State, vip_key},
};

/// The longest drain deadline accepted (a year).
pub const MAX_DRAIN_SECS: u64 = 31_536_000;
/// How often [`manage`] looks for due deadlines when no check result arrives.
const TICK: Duration = Duration::from_millis(100);

/// One real server of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RealKey {
    pub protocol: Protocol,
    pub vip: IpAddr,
    pub port: u16,
    pub address: IpAddr,
    pub real_port: u16,
}

impl RealKey {
    pub fn of(svc: &ServiceConfig, r: &RealServerConfig) -> Self {
        Self {
            protocol: svc.protocol,
            vip: svc.vip,
            port: svc.port,
            address: r.address,
            real_port: r.port.unwrap_or(svc.port),
        }
    }

    fn is_of(&self, svc: &ServiceConfig) -> bool {
        self.protocol == svc.protocol && self.vip == svc.vip && self.port == svc.port
    }
}

impl std::fmt::Display for RealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "real server {} of {} {}",
            fmt_addr_port(self.address, self.real_port),
            self.protocol.name(),
            fmt_addr_port(self.vip, self.port)
        )
    }
}

/// The effective config: `desired` with every real server in `unavailable` at weight 0, and
/// each service's sorry server added while none of its real servers can take connections.
pub fn effective(desired: &Config, unavailable: &HashSet<RealKey>) -> Config {
    let mut eff = desired.clone();
    for svc in &mut eff.services {
        let key_of = |r: &RealServerConfig| RealKey::of(svc, r);
        let keys: Vec<RealKey> = svc.real_servers.iter().map(key_of).collect();
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
        .any(|r| r.weight > 0 && !unavailable.contains(&RealKey::of(svc, r)))
}

/// The health-check and sorry-server parts of config validation (called by
/// `Config::validate`): every error names its JSON path.
pub fn validate(cfg: &Config) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    let mut shell: Option<Config> = None;
    for (i, s) in cfg.services.iter().enumerate() {
        let sp = format!("services[{i}]");
        if let Some(hc) = &s.health_check {
            hc.validate(&format!("{sp}.health_check"), &mut errs);
        }
        for (j, r) in s.real_servers.iter().enumerate() {
            if let Some(hc) = &r.health_check {
                hc.validate(&format!("{sp}.real_servers[{j}].health_check"), &mut errs);
            }
        }
        let Some(sorry) = &s.sorry_server else {
            continue;
        };
        let path = format!("{sp}.sorry_server");
        if sorry.health_check.is_some() {
            errs.push(ConfigError {
                path: format!("{path}.health_check"),
                message: "a sorry server is not checked (it is used only while no real server can take connections)".into(),
            });
        }
        if sorry.weight == 0 {
            errs.push(ConfigError {
                path: format!("{path}.weight"),
                message: "0 would give the sorry server no connections (1 to 2147483647)".into(),
            });
        }
        let port = sorry.port.unwrap_or(s.port);
        if let Some(j) = s
            .real_servers
            .iter()
            .position(|r| r.address == sorry.address && r.port.unwrap_or(s.port) == port)
        {
            errs.push(ConfigError {
                path: path.clone(),
                message: format!(
                    "{} is also {sp}.real_servers[{j}]; a sorry server must be another server",
                    fmt_addr_port(sorry.address, port)
                ),
            });
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
                .get_or_insert_with(|| Config {
                    services: Vec::new(),
                    ..cfg.clone()
                })
                .clone()
        };
        for e in shadow.validate() {
            if let Some(rest) = e.path.strip_prefix("services[0].real_servers[0]") {
                errs.push(ConfigError {
                    path: format!("{path}{rest}"),
                    message: e.message.replace("services[0].real_servers[0]", &path),
                });
            } else if e.path.starts_with("director.") {
                errs.push(ConfigError {
                    path: e.path,
                    message: e.message.replace("services[0].real_servers[0]", &path),
                });
            }
        }
    }
    errs
}

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

#[derive(Clone, Copy, Debug)]
struct Drain {
    deadline: Instant,
    expired: bool,
}

/// Why a real server's connections are removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireReason {
    DrainDeadline,
    Down,
}

/// The health of every checked real server, the drains, and the desired config they apply
/// to.
pub struct Health {
    /// None until the first config.
    desired: Option<Config>,
    targets: HashMap<RealKey, Target>,
    drains: HashMap<RealKey, Drain>,
    /// Where checker threads send results; None: no threads are started (tests feed
    /// [`Health::record`] themselves).
    results: Option<Sender<CheckResult>>,
    next_generation: u64,
}

impl Health {
    /// Checks run in threads that report to `results` (read by [`manage`]).
    pub fn new(results: Sender<CheckResult>) -> Self {
        let mut h = Self::without_checkers();
        h.results = Some(results);
        h
    }

    /// No checker threads: state changes come only from [`Health::record`].
    pub fn without_checkers() -> Self {
        Self {
            desired: None,
            targets: HashMap::new(),
            drains: HashMap::new(),
            results: None,
            next_generation: 1,
        }
    }

    /// The config the user gave (last applied).
    pub fn desired(&self) -> Option<&Config> {
        self.desired.as_ref()
    }

    /// The real servers of `cfg` that may not take new connections now: down by their check
    /// (if `cfg` still checks them) or draining.
    pub fn unavailable_in(&self, cfg: &Config) -> HashSet<RealKey> {
        let mut out = HashSet::new();
        for svc in &cfg.services {
            for r in &svc.real_servers {
                let k = RealKey::of(svc, r);
                let down = CheckSpec::of(svc, r).is_some()
                    && self.targets.get(&k).is_some_and(|t| !t.tracker.is_up());
                if down || self.drains.contains_key(&k) {
                    out.insert(k);
                }
            }
        }
        out
    }

    pub fn unavailable(&self) -> HashSet<RealKey> {
        self.desired
            .as_ref()
            .map(|c| self.unavailable_in(c))
            .unwrap_or_default()
    }

    /// The effective config of the desired one now.
    pub fn effective(&self) -> Option<Config> {
        Some(effective(self.desired.as_ref()?, &self.unavailable()))
    }

    fn services(&self) -> &[ServiceConfig] {
        self.desired
            .as_ref()
            .map(|c| &c.services[..])
            .unwrap_or(&[])
    }

    /// Takes `cfg` as the desired config: starts checkers for newly checked real servers,
    /// restarts those whose check changed (keeping their state), stops the rest, and forgets
    /// drains of real servers no longer configured.
    pub fn set_config(&mut self, cfg: &Config) {
        let mut wanted: HashMap<RealKey, CheckSpec> = HashMap::new();
        let mut configured: HashSet<RealKey> = HashSet::new();
        for svc in &cfg.services {
            for r in &svc.real_servers {
                let k = RealKey::of(svc, r);
                configured.insert(k);
                if let Some(spec) = CheckSpec::of(svc, r) {
                    wanted.insert(k, spec);
                }
            }
        }
        // A real server whose check changed keeps its state under the new check.
        let mut old_states: HashMap<RealKey, bool> = HashMap::new();
        self.targets.retain(|k, t| {
            let keep = wanted.get(k) == Some(&t.spec);
            if !keep {
                t.stop();
                if wanted.contains_key(k) {
                    old_states.insert(*k, t.tracker.is_up());
                }
            }
            keep
        });
        for (k, spec) in wanted {
            if self.targets.contains_key(&k) {
                continue;
            }
            let up = old_states.get(&k).copied().unwrap_or(true);
            self.start(k, spec, up);
        }
        self.drains.retain(|k, _| configured.contains(k));
        self.desired = Some(cfg.clone());
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

    /// Records a check result; true when its real server changed state (so the effective
    /// config changed).
    pub fn record(&mut self, r: CheckResult) -> bool {
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

    /// Drains a configured real server: no new connections at once, the remaining ones
    /// removed after `deadline`. Draining again sets a new deadline.
    pub fn drain(&mut self, key: RealKey, deadline: Duration) -> Result<(), String> {
        self.check_configured(&key)?;
        self.drains.insert(
            key,
            Drain {
                deadline: Instant::now() + deadline,
                expired: false,
            },
        );
        info!(%key, deadline_secs = deadline.as_secs(), "draining");
        Ok(())
    }

    /// Ends a drain; false when the real server was not draining.
    pub fn undrain(&mut self, key: RealKey) -> Result<bool, String> {
        self.check_configured(&key)?;
        let was = self.drains.remove(&key).is_some();
        if was {
            info!(%key, "drain ended: back in scheduling");
        }
        Ok(was)
    }

    fn check_configured(&self, key: &RealKey) -> Result<(), String> {
        let svc = self
            .services()
            .iter()
            .find(|s| key.is_of(s))
            .ok_or_else(|| {
                format!(
                    "no service {} {}",
                    key.protocol.name(),
                    fmt_addr_port(key.vip, key.port)
                )
            })?;
        if svc.real_servers.iter().any(|r| RealKey::of(svc, r) == *key) {
            Ok(())
        } else {
            Err(format!(
                "service {} {} has no real server {}",
                key.protocol.name(),
                fmt_addr_port(key.vip, key.port),
                fmt_addr_port(key.address, key.real_port)
            ))
        }
    }

    /// The real servers whose connections are due for removal at `now` (drain deadline
    /// passed, or down for `grace` with `on_down: expire`), each returned once.
    pub fn due_expiries(&mut self, now: Instant) -> Vec<(RealKey, ExpireReason)> {
        let mut out = Vec::new();
        for (k, d) in &mut self.drains {
            if !d.expired && now >= d.deadline {
                d.expired = true;
                out.push((*k, ExpireReason::DrainDeadline));
            }
        }
        for (k, t) in &mut self.targets {
            if let Some(since) = t.down_since
                && !t.expired
                && t.spec.on_down == OnDown::Expire
                && now >= since + t.spec.grace
            {
                t.expired = true;
                out.push((*k, ExpireReason::Down));
            }
        }
        out
    }

    /// Services of the desired config with no real server able to take connections.
    pub fn services_down(&self) -> usize {
        let un = self.unavailable();
        self.services()
            .iter()
            .filter(|s| service_down(s, &un))
            .count()
    }

    /// Adds health, drain and sorry-server state to listings made from the effective config,
    /// and puts the configured weights back (the effective one goes to
    /// `health.effective_weight`).
    pub fn annotate(&self, views: &mut [ServiceView]) {
        let un = self.unavailable();
        let now = Instant::now();
        for v in views {
            let Some(svc) = self
                .services()
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
                let configured = svc
                    .real_servers
                    .iter()
                    .find(|r| r.address == rv.address && r.port.unwrap_or(svc.port) == rv.port);
                let Some(r) = configured else {
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
                let k = RealKey::of(svc, r);
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
                    draining: self.drains.get(&k).map(|d| DrainView {
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

/// Applies a desired config: the effective config goes to the maps, then `health` takes the
/// desired one (checkers started or stopped) and the persistence templates of unavailable
/// real servers are removed. The one way a config reaches the data plane.
pub fn apply(
    health: &mut Health,
    state: &mut State,
    dp: &mut Dataplane,
    cfg: &Config,
) -> Result<ApplyReport, ApplyError> {
    let eff = effective(cfg, &health.unavailable_in(cfg));
    let report = state.apply(dp, &eff)?;
    health.set_config(cfg);
    forget_templates(dp, state, cfg, &health.unavailable());
    Ok(report)
}

/// Applies the desired config again (after a state change or a drain).
pub fn reapply(
    health: &mut Health,
    state: &mut State,
    dp: &mut Dataplane,
) -> Result<ApplyReport, ApplyError> {
    let Some(cfg) = health.desired().cloned() else {
        return Ok(ApplyReport::default());
    };
    apply(health, state, dp, &cfg)
}

/// The data-plane id of a configured real server.
fn real_id(state: &State, key: &RealKey) -> Option<u32> {
    state
        .real_ids(&vip_key(key.protocol, key.vip, key.port))
        .into_iter()
        .find(|(a, p, _)| *a == key.address && *p == key.real_port)
        .map(|(_, _, id)| id)
}

/// Removes the persistence templates that would send clients to unavailable real servers
/// (`lb` honours a template of any real server not removed, whatever its weight).
fn forget_templates(dp: &mut Dataplane, state: &State, cfg: &Config, un: &HashSet<RealKey>) {
    let persistent: Vec<&ServiceConfig> = cfg
        .services
        .iter()
        .filter(|s| s.persistent.is_some())
        .collect();
    let ids: HashSet<u32> = un
        .iter()
        .filter(|k| persistent.iter().any(|s| k.is_of(s)))
        .filter_map(|k| real_id(state, k))
        .collect();
    if ids.is_empty() {
        return;
    }
    let mut removed = 0;
    for (k, t) in dp.persist_templates() {
        if ids.contains(&t.real) && dp.delete_persist(&k) {
            removed += 1;
        }
    }
    if removed > 0 {
        debug!(
            removed,
            "persistence templates of unavailable real servers removed"
        );
    }
}

/// Removes the connections of the real servers whose time has come (drain deadlines,
/// `on_down: expire`).
pub fn expire_due(health: &mut Health, state: &State, dp: &mut Dataplane, now: Instant) {
    for (key, why) in health.due_expiries(now) {
        let Some(id) = real_id(state, &key) else {
            continue;
        };
        match crate::conntrack::expire_real(dp, id) {
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

/// The health thread: records check results, applies the effective config when a real
/// server changes state, and removes connections whose deadline came.
pub fn manage(daemon: Arc<Mutex<Daemon>>, results: Receiver<CheckResult>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let first = match results.recv_timeout(TICK) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(TICK);
                None
            }
        };
        let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
        let Daemon {
            dp, state, health, ..
        } = &mut *d;
        let mut changed = false;
        for r in first.into_iter().chain(results.try_iter()) {
            changed |= health.record(r);
        }
        if changed {
            match reapply(health, state, dp) {
                Ok(report) => debug!(?report, "effective config applied after a health change"),
                Err(e) => error!("applying the effective config after a health change: {e}"),
            }
        }
        expire_due(health, state, dp, Instant::now());
    }
}

/// `Op::Drain` and `Op::Undrain`.
pub fn drain_op(d: &mut Daemon, op: &Op) -> Response {
    let (protocol, vip, port, address, real_port, deadline) = match op {
        Op::Drain {
            protocol,
            vip,
            port,
            address,
            real_port,
            deadline_secs,
        } => (
            protocol,
            vip,
            port,
            address,
            real_port,
            Some(*deadline_secs),
        ),
        Op::Undrain {
            protocol,
            vip,
            port,
            address,
            real_port,
        } => (protocol, vip, port, address, real_port, None),
        _ => {
            return Response::Error {
                message: "not a drain request".into(),
                edit: None,
            };
        }
    };
    let err = |message: String| Response::Error {
        message,
        edit: None,
    };
    let protocol = match protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        p => return err(format!("protocol: {p:?} is not tcp or udp")),
    };
    let key = RealKey {
        protocol,
        vip: *vip,
        port: *port,
        address: *address,
        real_port: *real_port,
    };
    let Daemon {
        dp, state, health, ..
    } = d;
    let r = match deadline {
        Some(s) if s > MAX_DRAIN_SECS => {
            return err(format!(
                "deadline_secs: {s} is out of range (0 to {MAX_DRAIN_SECS})"
            ));
        }
        Some(s) => health.drain(key, Duration::from_secs(s)),
        None => health.undrain(key).map(drop),
    };
    if let Err(e) = r {
        return err(e);
    }
    if let Err(e) = reapply(health, state, dp) {
        return err(format!("applying the effective config: {e}"));
    }
    // A deadline of 0 takes effect now.
    expire_due(health, state, dp, Instant::now());
    match d.views() {
        Ok(services) => {
            let real = services
                .iter()
                .find(|s| {
                    s.protocol == key.protocol.name() && s.vip == key.vip && s.port == key.port
                })
                .and_then(|s| {
                    s.real_servers
                        .iter()
                        .find(|r| r.address == key.address && r.port == key.real_port)
                })
                .cloned();
            match real {
                Some(real) => Response::RealServer {
                    protocol: key.protocol.name().into(),
                    vip: key.vip,
                    port: key.port,
                    real,
                },
                None => err(format!("{key} is not in the listing")),
            }
        }
        Err(e) => err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(text, "t.json").unwrap_or_else(|e| panic!("{e}"))
    }

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

    fn key(c: &Config, s: usize, r: usize) -> RealKey {
        RealKey::of(&c.services[s], &c.services[s].real_servers[r])
    }

    fn result(k: RealKey, generation: u64, ok: bool) -> CheckResult {
        CheckResult {
            key: k,
            generation,
            result: if ok { Ok(()) } else { Err("refused".into()) },
            duration: Duration::from_millis(1),
        }
    }

    fn weights(c: &Config, s: usize) -> Vec<(String, u32)> {
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

    #[test]
    fn checks_results_and_drains_drive_the_effective_config() {
        let c = cfg(TWO_SERVICES);
        let mut h = Health::without_checkers();
        h.set_config(&c);
        // Checked: reals 0 and 1 of service 0 (the service's check), real 0 of service 1.
        assert_eq!(h.targets.len(), 3);
        assert!(
            !h.targets.contains_key(&key(&c, 0, 2)),
            "type none opts out"
        );
        assert_eq!(h.effective().unwrap(), c, "everything starts up");
        let k = key(&c, 0, 1);
        let g = h.targets[&k].generation;
        assert!(!h.record(result(k, g, false)), "one failure of fall 2");
        assert!(
            !h.record(result(k, g + 100, false)),
            "a stale checker's result"
        );
        assert!(h.record(result(k, g, false)), "second failure: down");
        assert_eq!(weights(&h.effective().unwrap(), 0)[1].1, 0);
        assert_eq!(h.services_down(), 0);
        // The same config again keeps the checker and its state.
        h.set_config(&c.clone());
        assert_eq!(h.targets[&k].generation, g);
        assert_eq!(weights(&h.effective().unwrap(), 0)[1].1, 0);
        assert!(!h.record(result(k, g, true)));
        assert!(h.record(result(k, g, true)), "rise 2: up again");
        assert_eq!(h.effective().unwrap(), c);

        // A changed check restarts the checker but keeps the state.
        let mut c2 = c.clone();
        c2.services[0].health_check.as_mut().unwrap().interval_ms = Some(300);
        let k0 = key(&c, 0, 0);
        let g0 = h.targets[&k0].generation;
        h.record(result(k0, g0, false));
        h.record(result(k0, g0, false));
        h.set_config(&c2);
        assert_ne!(h.targets[&k0].generation, g0);
        assert!(
            !h.targets[&k0].tracker.is_up(),
            "still down after the change"
        );

        // A check removed: the real server is available whatever its last state.
        let mut c3 = c2.clone();
        c3.services[0].health_check = None;
        assert!(h.unavailable_in(&c3).is_empty());
        h.set_config(&c3);
        assert_eq!(h.targets.len(), 1);

        // Drains.
        let d = key(&c3, 0, 2);
        assert_eq!(
            h.drain(
                RealKey {
                    address: "10.0.0.77".parse().unwrap(),
                    ..d
                },
                Duration::from_secs(1)
            ),
            Err("service tcp 10.0.0.100:80 has no real server 10.0.0.77:80".into())
        );
        h.drain(d, Duration::from_secs(3600)).unwrap();
        assert_eq!(weights(&h.effective().unwrap(), 0)[2].1, 0);
        assert!(
            h.due_expiries(Instant::now()).is_empty(),
            "deadline not reached"
        );
        let later = Instant::now() + Duration::from_secs(3601);
        assert_eq!(h.due_expiries(later), [(d, ExpireReason::DrainDeadline)]);
        assert!(h.due_expiries(later).is_empty(), "reported once");
        assert_eq!(
            weights(&h.effective().unwrap(), 0)[2].1,
            0,
            "still drained after the deadline"
        );
        assert_eq!(h.undrain(d), Ok(true));
        assert_eq!(h.undrain(d), Ok(false));
        assert_eq!(h.effective().unwrap(), c3);
    }

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

    #[test]
    fn on_down_expire_is_due_after_the_grace_period_once() {
        let mut c = cfg(TWO_SERVICES);
        let hc = c.services[0].health_check.as_mut().unwrap();
        hc.on_down = Some(OnDown::Expire);
        hc.grace_ms = Some(5000);
        let mut h = Health::without_checkers();
        h.set_config(&c);
        let k = key(&c, 0, 0);
        let g = h.targets[&k].generation;
        h.record(result(k, g, false));
        h.record(result(k, g, false));
        let now = Instant::now();
        assert!(h.due_expiries(now).is_empty(), "within the grace period");
        let later = now + Duration::from_secs(6);
        assert_eq!(h.due_expiries(later), [(k, ExpireReason::Down)]);
        assert!(h.due_expiries(later).is_empty());
        // Up and down again: due again.
        h.record(result(k, g, true));
        h.record(result(k, g, true));
        h.record(result(k, g, false));
        h.record(result(k, g, false));
        assert_eq!(
            h.due_expiries(Instant::now() + Duration::from_secs(6)),
            [(k, ExpireReason::Down)]
        );
    }

    #[test]
    fn listings_show_configured_weight_health_and_the_sorry_server() {
        use lb_common::api::{RealServerView, StatsView};
        let c = cfg(TWO_SERVICES);
        let mut h = Health::without_checkers();
        h.set_config(&c);
        for r in 0..3 {
            let k = key(&c, 0, r);
            if let Some(g) = h.targets.get(&k).map(|t| t.generation) {
                h.record(result(k, g, false));
                h.record(result(k, g, false));
            }
        }
        h.drain(key(&c, 0, 2), Duration::from_secs(10)).unwrap();
        // What State::views lists from the effective config.
        let e = h.effective().unwrap();
        let rv = |r: &RealServerConfig| RealServerView {
            address: r.address,
            port: 80,
            forwarding: r.forwarding.clone(),
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
        h.annotate(&mut views);
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
