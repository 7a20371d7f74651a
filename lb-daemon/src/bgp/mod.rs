//! VIP announcement through BIRD 2 (a service over `plan`): lbd never speaks BGP itself. It
//! keeps BIRD's include file of static routes ([`include`]) holding the VIPs this director
//! should be sent traffic for, and has BIRD read it again through its control socket
//! ([`birdc`], `configure`); BIRD's BGP sessions announce and withdraw them.
//!
//! A VIP is wanted when `lb` is attached, the director is not drained (`lbctl director
//! drain`), and some service on that VIP has a real server that can take new connections (not
//! down by its health check, not drained, weight above 0). A sorry server is no reason to
//! announce: a director that cannot reach its real servers leaves the VIP to the directors
//! that can. lbd withdraws everything before a clean stop; a killed lbd cannot, and its
//! routes go when BIRD stops (the router's hold timer, or BFD) or stay announced while BIRD
//! runs (the data plane keeps forwarding without lbd, so they still lead somewhere).

pub mod birdc;
pub mod include;

use std::{
    collections::BTreeSet,
    net::IpAddr,
    time::{Duration, Instant},
};

use lb_model::{api::DirectorView, config::Announce};
use tracing::{info, warn};

use crate::plan::{Planner, service_down};

/// How often lbd looks whether the VIPs to announce changed.
pub const PERIOD: Duration = Duration::from_millis(200);
/// How often lbd tries again after BIRD could not be told.
pub const RETRY: Duration = Duration::from_secs(1);

/// The announcement's state.
#[derive(Debug)]
pub struct Announcer {
    cfg: Option<Announce>,
    attached: bool,
    drained: bool,
    /// What BIRD last accepted (None: not told anything yet).
    announced: Option<BTreeSet<IpAddr>>,
    error: Option<String>,
    last_attempt: Option<Instant>,
}

impl Announcer {
    /// With `cfg` None, nothing is ever announced or written.
    pub fn new(cfg: Option<Announce>) -> Self {
        Self {
            cfg,
            attached: false,
            drained: false,
            announced: None,
            error: None,
            last_attempt: None,
        }
    }

    /// `lb` is attached (true) or is about to stop serving (false: everything is withdrawn).
    pub fn set_attached(&mut self, attached: bool) {
        self.attached = attached;
    }

    /// `lbctl director drain` (true) and `undrain` (false).
    pub fn set_drained(&mut self, drained: bool) {
        if self.drained != drained {
            info!(drained, "director drain changed");
        }
        self.drained = drained;
    }

    /// The VIPs to announce now, sorted.
    pub fn wanted(&self, plan: &Planner) -> BTreeSet<IpAddr> {
        if self.cfg.is_none() || !self.attached || self.drained {
            return BTreeSet::new();
        }
        let Some(desired) = plan.desired() else {
            return BTreeSet::new();
        };
        let un = plan.unavailable();
        desired
            .services
            .iter()
            // A firewall-mark service has no VIP to announce (its marks' destinations are
            // routed to the director by whoever set them up).
            .filter(|s| !s.is_fwmark() && !service_down(s, &un))
            .map(|s| s.vip)
            .collect()
    }

    /// Tells BIRD what to announce if that changed since it was last told (or telling it
    /// failed and [`RETRY`] has passed). `force` tells it again even when nothing changed and
    /// the last attempt was recent.
    pub fn step(&mut self, plan: &Planner, force: bool) {
        let Some(cfg) = self.cfg.clone() else { return };
        let wanted = self.wanted(plan);
        let changed = self.announced.as_ref() != Some(&wanted);
        let retry_due =
            self.error.is_some() && self.last_attempt.is_none_or(|t| t.elapsed() >= RETRY);
        if !(force || (changed && (self.error.is_none() || retry_due))) {
            return;
        }
        self.last_attempt = Some(Instant::now());
        match tell(&cfg, &wanted) {
            Ok(()) => {
                if self.error.take().is_some() {
                    info!("BIRD told again: announcing works");
                }
                if changed {
                    let vips: Vec<String> = wanted.iter().map(IpAddr::to_string).collect();
                    info!(vips = %vips.join(" "), "announced VIPs");
                }
                self.announced = Some(wanted);
            }
            Err(e) => {
                if self.error.as_deref() != Some(e.as_str()) {
                    warn!("announcing through BIRD: {e} (lbd tries again every second)");
                }
                self.error = Some(e);
            }
        }
    }

    /// Withdraws whatever the include file still holds from an lbd that died (`kill -9`, a
    /// crash, a machine that rebooted): a fresh data plane is not attached and holds no
    /// connection, so nothing may be announced before it is attached and bulk-synced. Called
    /// once at start when lbd did not adopt a running data plane (one it adopts forwards
    /// meanwhile: its VIPs stay announced). A BIRD that cannot be told reads the emptied file
    /// when it starts.
    pub fn withdraw_stale(&mut self) {
        let Some(cfg) = self.cfg.clone() else { return };
        self.last_attempt = Some(Instant::now());
        match tell(&cfg, &BTreeSet::new()) {
            Ok(()) => {
                info!(include_file = %cfg.include_file.display(), "a new data plane: nothing announced until it is ready (the include file emptied)");
                self.announced = Some(BTreeSet::new());
            }
            Err(e) => {
                warn!(
                    "withdrawing what an earlier lbd announced: {e} (lbd tries again every second)"
                );
                self.error = Some(e);
            }
        }
    }

    /// Withdraws every VIP now (a clean stop): BIRD told, or why it could not be.
    pub fn withdraw_all(&mut self, plan: &Planner) -> Result<(), String> {
        self.attached = false;
        if self.cfg.is_none() {
            return Ok(());
        }
        self.step(plan, true);
        match &self.error {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }

    /// The state as `lbctl director status` shows it.
    pub fn view(&self, plan: &Planner) -> DirectorView {
        DirectorView {
            announcing: self.cfg.is_some(),
            attached: self.attached,
            drained: self.drained,
            wanted: self.wanted(plan).into_iter().collect(),
            announced: self.announced.iter().flatten().copied().collect(),
            error: self.error.clone(),
            bird_socket: self
                .cfg
                .as_ref()
                .map(|c| c.bird_socket.display().to_string()),
            include_file: self
                .cfg
                .as_ref()
                .map(|c| c.include_file.display().to_string()),
        }
    }
}

/// Writes the include file for `vips` and has BIRD read it.
fn tell(cfg: &Announce, vips: &BTreeSet<IpAddr>) -> Result<(), String> {
    include::write_atomic(&cfg.include_file, &include::render(vips))
        .map_err(|e| format!("writing {}: {e}", cfg.include_file.display()))?;
    birdc::configure(&cfg.bird_socket).map_err(|e| e.to_string())?;
    Ok(())
}
