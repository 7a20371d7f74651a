//! The schedulers' reference models that only the tests need: the count-driven schedulers
//! (IPVS's formulas), `twos` given its two random draws, how `lb` takes a real server from a
//! table when one is overloaded, and `lblc` / `lblcr`'s locality table. The differential tests drive `lb` with the same
//! connection starts as a model and require the same choices. (The table builders that lbd
//! itself uses, and that are also the table-driven schedulers' models, are lbd's own:
//! `lb_daemon::plan::sched`.)

use std::collections::HashMap;

use lb_common::LBLCR_SET_MAX;

/// One real server as the count-driven schedulers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub id: u32,
    pub weight: u32,
    pub active: u64,
    pub inactive: u64,
    /// Over its upper connection threshold (IPVS's `IP_VS_DEST_F_OVERLOAD`).
    pub overloaded: bool,
}

impl Load {
    /// IPVS's `ip_vs_dest_conn_overhead`: active x 256 + inactive.
    fn overhead(&self) -> u64 {
        (self.active << 8) + self.inactive
    }
}

/// The reference model of the count-driven schedulers (IPVS's ip_vs_lc.c, ip_vs_wlc.c,
/// ip_vs_sed.c, ip_vs_nq.c): in list order, the first real server of weight > 0 with the
/// least overhead, where overhead is active x 256 + inactive (lc, wlc) or active + 1 (sed,
/// nq), divided by weight (wlc, sed, nq; compared by cross-multiplication); nq takes the
/// first real server with no active connection outright; fo (ip_vs_fo.c) takes the first of
/// the highest weight, ovf (ip_vs_ovf.c) the same among those whose active connections do not
/// exceed their weight. Overloaded real servers are passed over. None when no real server
/// qualifies.
pub fn pick(name: &str, reals: &[Load]) -> Option<u32> {
    let mut best: Option<(u32, u64, u64)> = None;
    for r in reals.iter().filter(|r| r.weight > 0 && !r.overloaded) {
        let w = r.weight as u64;
        let oh = match name {
            "sed" | "nq" => r.active + 1,
            "fo" | "ovf" => 1,
            _ => (r.active << 8) + r.inactive,
        };
        if name == "nq" && r.active == 0 {
            return Some(r.id);
        }
        if name == "ovf" && r.active > w {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, boh, bw)) => {
                if name == "lc" {
                    oh < boh
                } else {
                    oh * bw < boh * w
                }
            }
        };
        if better {
            best = Some((r.id, oh, w));
        }
    }
    best.map(|b| b.0)
}

/// The reference model of `twos` (IPVS's ip_vs_twos.c), given the two 32-bit random numbers
/// drawn (`lb` takes them from `bpf_get_prandom_u32`): over the real servers of weight > 0 not
/// overloaded, in list order, `total` = the sum of their weights + 1; each draw becomes
/// `draw * total / 2^32` (IPVS's `get_random_u32_below`); the first real server at which the
/// running sum of weights reaches a draw is that draw's choice; the second draw's is taken
/// only when its overhead (active x 256 + inactive) per weight is strictly less than the
/// first's. None when no real server qualifies.
pub fn twos(reals: &[Load], draw1: u32, draw2: u32) -> Option<u32> {
    let avail: Vec<&Load> = reals
        .iter()
        .filter(|r| r.weight > 0 && !r.overloaded)
        .collect();
    if avail.is_empty() {
        return None;
    }
    let total = avail.iter().map(|r| r.weight as u128).sum::<u128>() + 1;
    let place = |draw: u32| {
        let mut rest = ((draw as u128 * total) >> 32) as i128;
        for r in &avail {
            rest -= r.weight as i128;
            if rest <= 0 {
                return *r;
            }
        }
        unreachable!("a draw below the total is placed by the last real server")
    };
    let (c1, c2) = (place(draw1), place(draw2));
    let (w1, w2) = (c1.weight as u128, c2.weight as u128);
    Some(if w2 * c1.overhead() as u128 > w1 * c2.overhead() as u128 {
        c2.id
    } else {
        c1.id
    })
}

/// The reference model of how `lb` takes a real server from a table-driven scheduler's table:
/// the slot at `start` (from the hash or the rotating cursor); if its real server is
/// overloaded, the first available one in the following slots (wrapping, at most
/// `max_probes` of them) when `walk` (`rr`, `wrr`, and `sh` / `mh` with their `-fallback`
/// flag), else none. Returns the real server and how many slots past `start` it lies.
pub fn table_choice(
    table: &[u32],
    start: usize,
    overloaded: impl Fn(u32) -> bool,
    walk: bool,
    max_probes: usize,
) -> Option<(u32, usize)> {
    let id = *table.get(start)?;
    if id == 0 {
        return None;
    }
    if !overloaded(id) {
        return Some((id, 0));
    }
    if !walk {
        return None;
    }
    (1..table.len().min(max_probes + 1))
        .map(|k| (table[(start + k) % table.len()], k))
        .find(|&(id, _)| id != 0 && !overloaded(id))
}

/// One destination address's entry of the `lblc` / `lblcr` model (what `lb` keeps in its
/// locality map).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalityEntry {
    /// Real servers, newest first (`lblc`: one).
    pub set: Vec<u32>,
    /// When the set last changed / the entry was last used (ns).
    pub last_mod: u64,
    pub last_use: u64,
}

/// The reference model of `lblc` and `lblcr` (IPVS's ip_vs_lblc.c and ip_vs_lblcr.c) as `lb`
/// runs them: destination address -> real server (set), with IPVS's overload rule.
#[derive(Clone, Debug, Default)]
pub struct LocalityModel {
    pub entries: HashMap<[u32; 4], LocalityEntry>,
}

impl LocalityModel {
    /// The real server for a new connection to `dst`, given the service's real servers (in
    /// configured order) at time `now` (ns); `expiration_ns`: `lblcr_expiration`.
    ///
    /// `lblc`: the entry's real server while it is schedulable (weight > 0, in the service,
    /// not over its threshold: IPVS's lblc does not look at thresholds; lb never gives an
    /// overloaded real server new connections) and not overloaded in IPVS's sense (more
    /// active connections than its weight while some real server has fewer than half its
    /// weight); otherwise the `wlc` choice, which replaces the entry.
    ///
    /// `lblcr`: the least loaded schedulable member (weighted least connection, the first in
    /// set order on ties); a set of two or more that has not changed for `expiration_ns`
    /// loses its most loaded member of weight > 0; if no member is left to take, or it is
    /// overloaded as above, the `wlc` choice joins the set (at its head; a full set of
    /// [`LBLCR_SET_MAX`] drops its oldest).
    pub fn pick(
        &mut self,
        lblcr: bool,
        dst: [u32; 4],
        reals: &[Load],
        now: u64,
        expiration_ns: u64,
    ) -> Option<u32> {
        let any_half = reals
            .iter()
            .any(|r| r.weight > 0 && r.active * 2 < r.weight as u64);
        let info = |id: u32| reals.iter().find(|r| r.id == id && r.weight > 0);
        let ipvs_overloaded = |r: &Load| r.active > r.weight as u64 && any_half;
        let fresh = |id| LocalityEntry {
            set: vec![id],
            last_mod: now,
            last_use: now,
        };
        let Some(e) = self.entries.get_mut(&dst) else {
            let best = pick("wlc", reals)?;
            self.entries.insert(dst, fresh(best));
            return Some(best);
        };
        e.last_use = now;
        if !lblcr {
            if let Some(r) = e.set.first().and_then(|id| info(*id))
                && !r.overloaded
                && !ipvs_overloaded(r)
            {
                return Some(r.id);
            }
            let best = pick("wlc", reals)?;
            *e = fresh(best);
            return Some(best);
        }
        let mut least: Option<&Load> = None;
        for r in e.set.iter().filter_map(|id| info(*id)) {
            if r.overloaded {
                continue;
            }
            if least
                .is_none_or(|l| r.overhead() * (l.weight as u64) < l.overhead() * r.weight as u64)
            {
                least = Some(r);
            }
        }
        // Wrapping, like the data plane's clock arithmetic.
        if e.set.len() > 1 && now.wrapping_sub(e.last_mod) > expiration_ns {
            let mut most: Option<&Load> = None;
            for r in e.set.iter().filter_map(|id| info(*id)) {
                if most.is_none_or(|m| {
                    m.overhead() * (r.weight as u64) < r.overhead() * m.weight as u64
                }) {
                    most = Some(r);
                }
            }
            if let Some(m) = most {
                e.set.retain(|id| *id != m.id);
                e.last_mod = now;
            }
        }
        if let Some(l) = least
            && !ipvs_overloaded(l)
        {
            return Some(l.id);
        }
        let best = pick("wlc", reals)?;
        if !e.set.contains(&best) {
            e.set.insert(0, best);
            e.set.truncate(LBLCR_SET_MAX);
            e.last_mod = now;
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(id: u32, weight: u32, active: u64, inactive: u64) -> Load {
        Load {
            id,
            weight,
            active,
            inactive,
            overloaded: false,
        }
    }

    #[test]
    fn count_driven_models_follow_ipvs_formulas() {
        let reals = [load(1, 1, 2, 0), load(2, 2, 3, 0), load(3, 1, 0, 300)];
        // lc: overheads 512, 768, 300: the third.
        assert_eq!(pick("lc", &reals), Some(3));
        // wlc: 512/1, 768/2 = 384, 300/1: the third (300 < 384).
        assert_eq!(pick("wlc", &reals), Some(3));
        // sed: (2+1)/1 = 3, (3+1)/2 = 2, (0+1)/1 = 1: the third.
        assert_eq!(pick("sed", &reals), Some(3));
        // nq: the third has no active connection: taken outright.
        assert_eq!(pick("nq", &reals), Some(3));
        // Ties keep the first; weight 0 is never chosen.
        let tie = [load(5, 0, 0, 0), load(6, 1, 1, 0), load(7, 1, 1, 0)];
        for s in ["lc", "wlc", "sed", "nq"] {
            assert_eq!(pick(s, &tie), Some(6), "{s}");
        }
        // wlc weighs: 10 active on weight 10 beats 2 active on weight 1.
        assert_eq!(
            pick("wlc", &[load(1, 1, 2, 0), load(2, 10, 10, 0)]),
            Some(2)
        );
        assert_eq!(pick("wlc", &[load(1, 0, 0, 0)]), None);
        // fo: the first of the highest weight, whatever the load.
        let fo = [load(1, 2, 0, 0), load(2, 5, 90, 0), load(3, 5, 0, 0)];
        assert_eq!(pick("fo", &fo), Some(2));
        // ovf: the same, but 90 active connections overflow a weight of 5.
        assert_eq!(pick("ovf", &fo), Some(3));
        assert_eq!(pick("ovf", &[load(1, 1, 2, 0)]), None);
        assert_eq!(pick("wlc", &[]), None);
    }

    #[test]
    fn twos_places_draws_by_weight_and_takes_the_less_loaded() {
        // Weights 1, 0, 2, 1: total 4 + 1 = 5; a draw d is placed at d * 5 / 2^32: 0 and 1 go
        // to the first (its weight + 1 chances), 2 and 3 to the third, 4 to the fourth.
        let reals = [
            load(1, 1, 0, 0),
            load(2, 0, 0, 0),
            load(3, 2, 0, 0),
            load(4, 1, 0, 0),
        ];
        let at = |k: u64| ((k << 32) / 5 + 1) as u32;
        assert_eq!(twos(&reals, 0, 0), Some(1));
        assert_eq!(twos(&reals, at(1), at(1)), Some(1));
        assert_eq!(twos(&reals, at(2), at(2)), Some(3));
        assert_eq!(twos(&reals, at(3), at(3)), Some(3));
        assert_eq!(twos(&reals, at(4), at(4)), Some(4));
        assert_eq!(twos(&reals, u32::MAX, u32::MAX), Some(4));
        // Equal loads: the first draw's real server.
        assert_eq!(twos(&reals, at(4), 0), Some(4));
        assert_eq!(twos(&reals, 0, at(4)), Some(1));
        // The second draw's when it is less loaded per weight: 1 active on weight 1 (256)
        // against 1 active on weight 2 (128).
        let loaded = [load(1, 1, 1, 0), load(3, 2, 1, 0)];
        assert_eq!(twos(&loaded, 0, u32::MAX), Some(3));
        assert_eq!(twos(&loaded, u32::MAX, 0), Some(3));
        // A tie per weight keeps the first draw's: 256 / 1 against 512 / 2.
        let tie = [load(1, 1, 1, 0), load(3, 2, 2, 0)];
        assert_eq!(twos(&tie, 0, u32::MAX), Some(1));
        assert_eq!(twos(&tie, u32::MAX, 0), Some(3));
        // Overloaded and weight-0 real servers are never placed; none left: no choice.
        let mut over = reals;
        over[0].overloaded = true;
        assert_eq!(twos(&over, 0, 0), Some(3));
        assert_eq!(twos(&[load(1, 0, 0, 0)], 0, 0), None);
        // Weights near 2^31 do not overflow.
        let heavy = [
            load(1, i32::MAX as u32, 0, 0),
            load(2, i32::MAX as u32, 9, 0),
        ];
        assert_eq!(twos(&heavy, u32::MAX, 0), Some(1));
    }

    fn busy(id: u32, weight: u32, active: u64, inactive: u64) -> Load {
        Load {
            overloaded: true,
            ..load(id, weight, active, inactive)
        }
    }

    #[test]
    fn count_driven_models_pass_over_overloaded_real_servers() {
        // The least loaded is over its threshold: every scheduler takes another.
        let reals = [busy(1, 5, 0, 0), load(2, 1, 3, 0), load(3, 1, 4, 0)];
        for s in ["lc", "wlc", "sed", "nq", "fo", "ovf"] {
            assert_ne!(pick(s, &reals), Some(1), "{s}");
        }
        assert_eq!(pick("wlc", &reals), Some(2));
        assert_eq!(pick("nq", &reals), Some(2), "nq: no idle one left: as sed");
        assert_eq!(
            pick("fo", &reals),
            Some(2),
            "fo: the first of the highest weight left"
        );
        assert_eq!(pick("wlc", &[busy(1, 1, 0, 0)]), None);
    }

    #[test]
    fn table_choice_walks_on_only_when_allowed() {
        let t = [1, 2, 3, 1, 2, 3];
        let over = |ids: &'static [u32]| move |id: u32| ids.contains(&id);
        assert_eq!(table_choice(&t, 1, over(&[]), false, 4096), Some((2, 0)));
        // Without a walk (plain sh, mh, dh) an overloaded slot means no real server.
        assert_eq!(table_choice(&t, 1, over(&[2]), false, 4096), None);
        // With one (rr, wrr, -fallback), the next available slot, wrapping.
        assert_eq!(table_choice(&t, 1, over(&[2]), true, 4096), Some((3, 1)));
        assert_eq!(table_choice(&t, 4, over(&[2, 3]), true, 4096), Some((1, 2)));
        assert_eq!(table_choice(&t, 0, over(&[1, 2, 3]), true, 4096), None);
        // At most max_probes further slots.
        assert_eq!(table_choice(&t, 1, over(&[2, 3]), true, 1), None);
        assert_eq!(table_choice(&[], 0, over(&[]), true, 4096), None);
    }

    const DAY: u64 = 86_400_000_000_000;
    const D1: [u32; 4] = [1, 0, 0, 0];
    const D2: [u32; 4] = [2, 0, 0, 0];

    #[test]
    fn lblc_sticks_to_a_destination_until_ipvs_calls_it_overloaded() {
        let mut m = LocalityModel::default();
        // First connection to D1: wlc's choice (2: 0 / 2 beats 1's 256 / 1).
        let mut reals = vec![load(1, 1, 1, 0), load(2, 2, 0, 0), load(3, 1, 0, 9)];
        assert_eq!(m.pick(false, D1, &reals, 0, DAY), Some(2));
        // Later ones stick, however loaded 2 gets, while it has no more active connections
        // than its weight...
        reals[1].active = 2;
        reals[1].inactive = 500;
        assert_eq!(m.pick(false, D1, &reals, 1, DAY), Some(2));
        // ... or nobody has fewer than half its weight (2 active of weight 3 is not).
        reals[1].active = 3;
        let crowded = [load(1, 1, 1, 0), reals[1], load(3, 3, 2, 0)];
        assert_eq!(m.pick(false, D1, &crowded, 2, DAY), Some(2));
        // Over its weight while 3 idles below half its weight: rescheduled by wlc, remembered.
        reals[2] = load(3, 4, 1, 0);
        assert_eq!(m.pick(false, D1, &reals, 3, DAY), Some(3));
        assert_eq!(m.entries[&D1].set, vec![3]);
        // Another destination has its own mapping.
        assert_eq!(
            m.pick(false, D2, &reals, 4, DAY),
            Some(3),
            "wlc: 256/4 is least"
        );
        // A mapped real server of weight 0, over its threshold, or gone is not taken.
        reals[2].weight = 0;
        assert_eq!(
            m.pick(false, D1, &reals, 5, DAY),
            Some(1),
            "256 / 1 < 1268 / 2"
        );
        reals[0] = busy(1, 1, 1, 0);
        assert_eq!(m.pick(false, D1, &reals, 6, DAY), Some(2));
        assert_eq!(m.pick(false, D1, &reals[..0], 7, DAY), None);
        assert_eq!(
            m.entries[&D1].set,
            vec![2],
            "no choice leaves the entry as it was"
        );
        assert_eq!(m.entries[&D1].last_use, 7);
    }

    #[test]
    fn lblcr_grows_its_set_under_load_and_sheds_the_busiest_member_when_stale() {
        let mut m = LocalityModel::default();
        let mut reals = vec![load(1, 2, 0, 0), load(2, 2, 1, 0), load(3, 2, 2, 0)];
        assert_eq!(m.pick(true, D1, &reals, 0, DAY), Some(1));
        // 1 overloaded (3 active > weight 2) while 2 has fewer than half (0 of 2)... not yet:
        // 2 has 1 active, 1 x 2 < 2 is false; nobody is below half: 1 stays.
        reals[0].active = 3;
        assert_eq!(m.pick(true, D1, &reals, 1, DAY), Some(1));
        // Now 3 idles: 1 is overloaded; wlc takes 3 and the set grows (newest first).
        reals[2].active = 0;
        assert_eq!(m.pick(true, D1, &reals, 2, DAY), Some(3));
        assert_eq!(m.entries[&D1].set, vec![3, 1]);
        assert_eq!(m.entries[&D1].last_mod, 2);
        // The least loaded member is taken (3: 0 active beats 1's 3).
        assert_eq!(m.pick(true, D1, &reals, 3, DAY), Some(3));
        // Ties go to the first in set order: the newest.
        reals[0] = load(1, 2, 0, 0);
        assert_eq!(m.pick(true, D1, &reals, 4, DAY), Some(3));
        // Unchanged for longer than the expiration: the most loaded member leaves first.
        reals[2].active = 1;
        assert_eq!(m.pick(true, D1, &reals, 2 + DAY + 1, DAY), Some(1));
        assert_eq!(m.entries[&D1].set, vec![1]);
        assert_eq!(m.entries[&D1].last_mod, 2 + DAY + 1);
        // A single member is never shed.
        assert_eq!(m.pick(true, D1, &reals, 10 * DAY, DAY), Some(1));
        assert_eq!(m.entries[&D1].set, vec![1]);
    }

    #[test]
    fn lblcr_sets_are_bounded_and_drop_their_oldest() {
        let mut m = LocalityModel::default();
        // Each round the newest member is overloaded and a fresh idle real server joins.
        let n = LBLCR_SET_MAX as u32 + 2;
        let mut reals: Vec<Load> = (1..=n).map(|id| load(id, 1, 5, 0)).collect();
        for id in 1..=n {
            reals[id as usize - 1].active = 0;
            assert_eq!(m.pick(true, D1, &reals, id as u64, DAY), Some(id));
            reals[id as usize - 1].active = 5;
        }
        let want: Vec<u32> = (3..=n).rev().collect();
        assert_eq!(m.entries[&D1].set, want);
    }
}
