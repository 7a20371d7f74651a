//! The daemon's shared context: the data plane, the desired state and the services' state,
//! behind one lock (`run` wires it to the threads and doors that use it). A changing request
//! is made whole under the lock before the next is looked at.

use std::path::PathBuf;

use lb_model::api::{InterfaceCounters, LinkView, RateView, RealServerView, ServiceView};
use lb_model::{
    Named,
    config::{Config, XdpMode},
};

use crate::{
    bgp::Announcer,
    dataplane::{Dataplane, DataplaneError},
    estimator::Estimator,
    expiry::Conntrack,
    health::Health,
    plan::{ApplyError, ApplyReport, Planner},
    sync::daemon::SyncDaemons,
};

pub struct Context {
    pub dp: Dataplane,
    /// The desired state (one owner) and what the maps hold.
    pub plan: Planner,
    /// Health checks.
    pub health: Health,
    /// The connection table's upkeep.
    pub conntrack: Conntrack,
    /// Rates for `--rate`, sampled every 2 seconds.
    pub rates: Estimator,
    /// The VIPs' announcement through BIRD, and the director's drain.
    pub announcer: Announcer,
    /// The connection-sync daemons (the config's `sync` section, `lbctl --start-daemon`).
    pub sync: SyncDaemons,
    /// The interfaces `lb` is attached to, in the config's order.
    pub interfaces: Vec<String>,
    pub xdp_mode: XdpMode,
    pub config_path: PathBuf,
    /// Where the applied state is persisted (None: not persisted).
    pub state_file: Option<PathBuf>,
    /// The config lbd started with: its daemon settings (interface, XDP mode, pins, table
    /// size, metrics) hold until a restart.
    pub started: Config,
}

impl Context {
    /// The desired state: the config last applied, as the user gave it (health checks and
    /// drains make an effective one of it for the maps).
    pub fn desired(&self) -> &Config {
        self.plan.desired().unwrap_or(&self.started)
    }

    /// Makes `cfg` the desired state: the maps hold its effective config, and the health
    /// checks follow it.
    pub fn set_desired(&mut self, cfg: &Config) -> Result<ApplyReport, ApplyError> {
        crate::health::apply(&mut self.health, &mut self.plan, &mut self.dp, cfg)
    }

    /// The interfaces `lb` is attached to as the kernel reports them (rtnetlink), with the
    /// data plane's counters of each; one the kernel does not know (any more) has index 0.
    pub fn link_views(&self) -> Vec<LinkView> {
        let known = crate::host::netlink::links().unwrap_or_default();
        self.interfaces
            .iter()
            .map(|n| {
                let l = known.iter().find(|l| &l.name == n);
                let counters = l
                    .and_then(|l| self.dp.interface_stats(l.index))
                    .map(|s| InterfaceCounters {
                        packets: s.packets,
                        bytes: s.bytes,
                        tx: s.tx,
                        redirect: s.redirect,
                        pass: s.pass,
                        drop: s.drop,
                        aborted: s.aborted,
                    })
                    .unwrap_or_default();
                LinkView {
                    name: n.clone(),
                    index: l.map_or(0, |l| l.index),
                    up: l.is_some_and(|l| l.up),
                    mtu: l.map_or(0, |l| l.mtu),
                    xdp_mode: l.and_then(|l| l.xdp).map_or("none", |x| x.1).into(),
                    program_id: l.and_then(|l| l.xdp).map_or(0, |x| x.0),
                    counters,
                }
            })
            .collect()
    }

    /// The services as listed (lbctl, metrics): counters and connection counts from the data
    /// plane, configured weights, health, and the estimator's rates.
    pub fn views(&self) -> Result<Vec<ServiceView>, DataplaneError> {
        let services = self.plan.services();
        let mut out = Vec::with_capacity(services.len());
        for st in services {
            let mut real_servers = Vec::with_capacity(st.reals.len());
            for r in &st.reals {
                let conns = self.dp.real_conns(r.id)?;
                real_servers.push(RealServerView {
                    address: r.cfg.address,
                    port: r.port,
                    forwarding: r.cfg.forwarding.name().into(),
                    weight: r.cfg.weight,
                    active_conns: conns.active.max(0) as u64,
                    inactive_conns: conns.inactive.max(0) as u64,
                    upper_threshold: r.cfg.upper_threshold.unwrap_or(0),
                    lower_threshold: r.cfg.lower_threshold.unwrap_or(0),
                    tun_type: (r.cfg.forwarding == lb_model::Forwarding::Tun).then(|| {
                        r.cfg
                            .tun_type
                            .unwrap_or(lb_model::TunType::Ipip)
                            .name()
                            .into()
                    }),
                    tun_port: r.cfg.tun_port,
                    tun_csum: r.cfg.tun_csum.map(|c| c.name().into()),
                    stats: self.dp.real_stats(r.id)?.into(),
                    rate: self.rates.real(r.id),
                    ..Default::default()
                });
            }
            let full = lb_model::addr::full_prefix(st.cfg.vip);
            out.push(ServiceView {
                fwmark: st.cfg.fwmark,
                protocol: st.cfg.protocol.name().into(),
                vip: st.cfg.vip,
                port: st.cfg.port,
                scheduler: st.cfg.scheduler.name().into(),
                sched_flags: st.cfg.sched_flags.iter().map(|f| f.name().into()).collect(),
                persistent: st.cfg.persistent,
                persistent_netmask: st.cfg.persistent_netmask.filter(|m| *m != full),
                one_packet: st.cfg.one_packet,
                mh_table_size: st.cfg.mh_table_size,
                stats: self.dp.service_stats(st.id)?.into(),
                rate: self.rates.service(st.id),
                real_servers,
                ..Default::default()
            });
        }
        self.health.annotate(&mut out, &self.plan);
        Ok(out)
    }

    /// IPVS's total counters (`tot_stats`, which every packet of every service adds to): the
    /// services' per-CPU counters summed CPU by CPU, and their rates summed (the estimator
    /// is linear, so the sum of the services' rates is the total's). Unlike IPVS's, the total
    /// leaves out services that were removed.
    pub fn cpu_stats(&self) -> Result<(Vec<lb_common::Stats>, RateView), DataplaneError> {
        let mut per_cpu: Vec<lb_common::Stats> = Vec::new();
        let mut rate = RateView::default();
        for st in self.plan.services() {
            let cpus = self.dp.service_stats_per_cpu(st.id)?;
            if per_cpu.len() < cpus.len() {
                per_cpu.resize(cpus.len(), lb_common::Stats::default());
            }
            for (sum, s) in per_cpu.iter_mut().zip(&cpus) {
                sum.add(s);
            }
            let r = self.rates.service(st.id);
            rate.cps += r.cps;
            rate.in_pps += r.in_pps;
            rate.out_pps += r.out_pps;
            rate.in_bps += r.in_bps;
            rate.out_bps += r.out_bps;
        }
        if per_cpu.is_empty() {
            // No service: every possible CPU's counters are 0.
            per_cpu = vec![lb_common::Stats::default(); crate::dataplane::possible_cpus()];
        }
        Ok((per_cpu, rate))
    }

    /// One sample of every service's and real server's counters for the rate estimator.
    pub fn sample_rates(&mut self, elapsed_ms: u64) {
        let (mut svcs, mut reals) = (Vec::new(), Vec::new());
        for st in self.plan.services() {
            if let Ok(s) = self.dp.service_stats(st.id) {
                svcs.push((st.id, s));
            }
            for r in &st.reals {
                if let Ok(s) = self.dp.real_stats(r.id) {
                    reals.push((r.id, s));
                }
            }
        }
        self.rates.tick(&svcs, &reals, elapsed_ms);
    }
}
