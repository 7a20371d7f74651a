//! Rate estimation for `ipvsadm --rate`: IPVS's estimator (`net/netfilter/ipvs/ip_vs_est.c`).
//!
//! Every 2 seconds lbd samples the counters of every service and real server and smooths the
//! per-second rates exponentially with weight 1/4:
//!
//! ```text
//! avg += (rate - avg) / 4
//! ```
//!
//! kept in fixed point as IPVS keeps them: connections and packets per second scaled by 2^10,
//! bytes per second by 2^5, and rounded when read (`(cps + 0x1FF) >> 10`, `(bps + 0xF) >> 5`).
//! IPVS computes the rate as the 2-second difference shifted by 9 (or 4); lbd divides by the
//! measured interval instead, which is the same at exactly 2 seconds and stays right when a
//! sample comes late.

use std::{collections::HashMap, time::Duration};

use lb_common::Stats;
use lb_model::api::RateView;

/// How often the estimator samples (IPVS's 2 seconds).
pub const PERIOD: Duration = Duration::from_secs(2);

/// One object's estimator state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Est {
    last: Stats,
    /// Scaled by 2^10.
    cps: i64,
    in_pps: i64,
    out_pps: i64,
    /// Scaled by 2^5.
    in_bps: i64,
    out_bps: i64,
}

/// `avg += (rate - avg) >> 2`, with the rate of `delta` over `elapsed_ms`, scaled by
/// `2^shift`.
fn smooth(avg: &mut i64, delta: u64, elapsed_ms: u64, shift: u32) {
    let rate = ((delta as u128) << shift) * 1000 / elapsed_ms.max(1) as u128;
    let rate = rate.min(i64::MAX as u128 / 2) as i64;
    *avg += (rate - *avg) >> 2;
}

impl Est {
    pub fn new(now: Stats) -> Self {
        Self {
            last: now,
            ..Default::default()
        }
    }

    /// Takes one sample `elapsed_ms` after the previous one.
    pub fn sample(&mut self, now: Stats, elapsed_ms: u64) {
        let d = |n: u64, l: u64| n.saturating_sub(l);
        let last = self.last;
        // A counter that went down was zeroed (ipvsadm -Z, or an id given to a new object):
        // that interval has no meaning, start again from here.
        if now.conns < last.conns
            || now.in_pkts < last.in_pkts
            || now.out_pkts < last.out_pkts
            || now.in_bytes < last.in_bytes
            || now.out_bytes < last.out_bytes
        {
            self.last = now;
            return;
        }
        smooth(&mut self.cps, d(now.conns, last.conns), elapsed_ms, 10);
        smooth(
            &mut self.in_pps,
            d(now.in_pkts, last.in_pkts),
            elapsed_ms,
            10,
        );
        smooth(
            &mut self.out_pps,
            d(now.out_pkts, last.out_pkts),
            elapsed_ms,
            10,
        );
        smooth(
            &mut self.in_bps,
            d(now.in_bytes, last.in_bytes),
            elapsed_ms,
            5,
        );
        smooth(
            &mut self.out_bps,
            d(now.out_bytes, last.out_bytes),
            elapsed_ms,
            5,
        );
        self.last = now;
    }

    /// `ip_vs_read_estimator`: the rates, rounded.
    pub fn view(&self) -> RateView {
        let r10 = |v: i64| (v.max(0) as u64 + 0x1FF) >> 10;
        let r5 = |v: i64| (v.max(0) as u64 + 0xF) >> 5;
        RateView {
            cps: r10(self.cps),
            in_pps: r10(self.in_pps),
            out_pps: r10(self.out_pps),
            in_bps: r5(self.in_bps),
            out_bps: r5(self.out_bps),
        }
    }
}

/// The estimators of every service and real server, by id.
#[derive(Debug, Default)]
pub struct Estimator {
    services: HashMap<u32, Est>,
    reals: HashMap<u32, Est>,
    /// Past the first sample.
    started: bool,
}

impl Estimator {
    /// One sample of every object in `services` and `reals` ((id, counters) each); objects no
    /// longer listed are forgotten. An object new since the last sample counts from zero, as
    /// IPVS's estimator starts with the service (lbd zeroes an id's counters when it gives
    /// the id out); at the very first sample, counters lbd found (pinned maps it adopted)
    /// are the baseline instead.
    pub fn tick(&mut self, services: &[(u32, Stats)], reals: &[(u32, Stats)], elapsed_ms: u64) {
        fn one(map: &mut HashMap<u32, Est>, now: &[(u32, Stats)], elapsed_ms: u64, first: bool) {
            let mut next = HashMap::with_capacity(now.len());
            for &(id, s) in now {
                let mut e = match map.remove(&id) {
                    Some(e) => e,
                    None if first => Est::new(s),
                    None => Est::default(),
                };
                e.sample(s, elapsed_ms);
                next.insert(id, e);
            }
            *map = next;
        }
        let first = !self.started;
        self.started = true;
        one(&mut self.services, services, elapsed_ms, first);
        one(&mut self.reals, reals, elapsed_ms, first);
    }

    pub fn service(&self, id: u32) -> RateView {
        self.services.get(&id).map(Est::view).unwrap_or_default()
    }

    pub fn real(&self, id: u32) -> RateView {
        self.reals.get(&id).map(Est::view).unwrap_or_default()
    }

    /// `ip_vs_zero_estimator`: after the counters were zeroed, rates start again from 0.
    pub fn zero_service(&mut self, id: u32) {
        self.services.insert(id, Est::default());
    }

    pub fn zero_real(&mut self, id: u32) {
        self.reals.insert(id, Est::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(conns: u64, pkts: u64, bytes: u64) -> Stats {
        Stats {
            conns,
            in_pkts: pkts,
            out_pkts: pkts / 2,
            in_bytes: bytes,
            out_bytes: bytes / 2,
        }
    }

    #[test]
    fn steady_traffic_converges_to_its_rate() {
        let mut e = Est::new(Stats::default());
        // 100 connections, 1000 packets and 1,000,000 bytes per second, sampled every 2 s.
        for i in 1..=100u64 {
            e.sample(stats(200 * i, 2000 * i, 2_000_000 * i), 2000);
        }
        assert_eq!(
            e.view(),
            RateView {
                cps: 100,
                in_pps: 1000,
                out_pps: 500,
                in_bps: 1_000_000,
                out_bps: 500_000,
            }
        );
    }

    #[test]
    fn smoothing_follows_ipvs_weight_of_a_quarter() {
        let mut e = Est::new(Stats::default());
        // One 2-second interval of 100 conns/s: a quarter of it shows after one sample.
        e.sample(stats(200, 0, 0), 2000);
        assert_eq!(e.view().cps, 25);
        // Then silence: the average decays by a quarter per sample.
        e.sample(stats(200, 0, 0), 2000);
        assert_eq!(e.view().cps, 19); // 25 * 3/4 = 18.75, rounded
        // A late sample (4 s) is normalised to per-second rates.
        let mut late = Est::new(Stats::default());
        late.sample(stats(400, 0, 0), 4000);
        assert_eq!(late.view().cps, 25);
    }

    #[test]
    fn zeroed_counters_restart_the_interval_and_forgotten_ids_go() {
        let mut est = Estimator::default();
        // The first sample takes what it finds as the baseline...
        est.tick(&[(1, stats(1000, 0, 0))], &[(7, stats(10, 0, 0))], 2000);
        assert_eq!(est.service(1).cps, 0);
        est.tick(&[(1, stats(1400, 0, 0))], &[(7, stats(10, 0, 0))], 2000);
        assert_eq!(est.service(1).cps, 50);
        // ...later, a new object counts from zero: a burst before its first sample shows
        // (20 in 2 s: 10/s, a quarter of it, rounded).
        est.tick(&[(2, stats(20, 0, 0))], &[(7, stats(10, 0, 0))], 2000);
        assert_eq!(est.service(2).cps, 2);
        assert_eq!(
            est.service(1),
            RateView::default(),
            "service 1 was forgotten"
        );
        // Counters that went to zero (-Z): no bogus huge rate, no negative one.
        est.tick(&[(2, stats(0, 0, 0))], &[], 2000);
        assert_eq!(est.service(2).cps, 2);
        assert_eq!(est.real(7), RateView::default(), "real 7 was forgotten");
        est.zero_service(2);
        assert_eq!(est.service(2), RateView::default());
    }
}
