//! Scheduler tables: what each table-driven IPVS scheduler's table holds, built here and read
//! by `lb` (which only picks a slot: a hash, or the service's rotating position). The tests check
//! `lb`'s choices against these tables and against the count-driven and locality schedulers'
//! reference models (in the tests crate, `tests/src/models.rs`).

use lb_common::sched_cell;
pub use lb_model::scheduler::{HASH_BUCKETS, MAX_WRR_SEQUENCE};
use lb_model::{Scheduler, scheduler::gcd};

use super::maglev::{self, Backend, MaglevError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchedError {
    #[error("scheduler \"{0}\" is not table-driven in this build")]
    Unsupported(Scheduler),
    #[error(transparent)]
    Maglev(#[from] MaglevError),
}

/// The cells `lb` reads for scheduler `sched` (`lb_common::sched_cell`): the table's ids,
/// and for count-driven schedulers every real server of weight > 0 with its weight.
pub fn cells(
    sched: Scheduler,
    mh_size: u32,
    backends: &[Backend<'_>],
) -> Result<Vec<u64>, SchedError> {
    if sched.is_count_driven() {
        return Ok(backends
            .iter()
            .filter(|b| b.weight > 0)
            .map(|b| sched_cell(b.id, b.weight))
            .collect());
    }
    Ok(table(sched, mh_size, backends)?
        .into_iter()
        .map(|id| sched_cell(id, 0))
        .collect())
}

/// The table of scheduler `sched` over `backends` (in the order the real servers were
/// configured, as IPVS keeps its list), `mh_size` slots for `mh`. Real servers of weight 0
/// never appear: new connections must not reach them. An all-zero table means no real server.
pub fn table(
    sched: Scheduler,
    mh_size: u32,
    backends: &[Backend<'_>],
) -> Result<Vec<u32>, SchedError> {
    let live: Vec<(u32, u32)> = backends
        .iter()
        .filter(|b| b.weight > 0)
        .map(|b| (b.id, b.weight))
        .collect();
    match sched {
        Scheduler::Mh => Ok(maglev::build(mh_size, backends)?),
        Scheduler::Rr => Ok(live.iter().map(|(id, _)| *id).collect()),
        Scheduler::Wrr => Ok(wrr_sequence(&live)),
        Scheduler::Sh => Ok(sh_buckets(&live)),
        Scheduler::Dh => Ok(dh_buckets(&live)),
        other => Err(SchedError::Unsupported(other)),
    }
}

/// IPVS's weighted round robin (ip_vs_wrr_schedule) unrolled into one period: the current
/// weight starts at the largest and drops by the weights' gcd each time the list wraps;
/// a real server is picked when its weight reaches the current weight. One period holds
/// sum(weights) / gcd picks; above [`MAX_WRR_SEQUENCE`] the weights are scaled down first.
pub fn wrr_sequence(live: &[(u32, u32)]) -> Vec<u32> {
    if live.is_empty() {
        return Vec::new();
    }
    let mut w: Vec<u64> = live.iter().map(|(_, w)| *w as u64).collect();
    let g = w.iter().copied().fold(0, gcd);
    let mut total: u64 = w.iter().sum::<u64>() / g;
    if total > MAX_WRR_SEQUENCE {
        let sum: u64 = w.iter().sum();
        for x in w.iter_mut() {
            *x = (*x * MAX_WRR_SEQUENCE).div_ceil(sum).max(1);
        }
        let g = w.iter().copied().fold(0, gcd);
        for x in w.iter_mut() {
            *x /= g;
        }
        total = w.iter().sum();
    } else {
        for x in w.iter_mut() {
            *x /= g;
        }
    }
    let mw = *w.iter().max().expect("not empty");
    let n = w.len();
    let mut seq = Vec::with_capacity(total as usize);
    let (mut i, mut cw) = (n - 1, 0i64);
    while (seq.len() as u64) < total {
        i = (i + 1) % n;
        if i == 0 {
            cw -= 1;
            if cw <= 0 {
                cw = mw as i64;
            }
        }
        if w[i] as i64 >= cw {
            seq.push(live[i].0);
        }
    }
    seq
}

/// IPVS's source hashing table (ip_vs_sh_reassign): the buckets in order, each real server
/// taking as many consecutive buckets as its weight, in turn, until all 256 are filled.
pub fn sh_buckets(live: &[(u32, u32)]) -> Vec<u32> {
    if live.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(HASH_BUCKETS);
    let (mut p, mut count) = (0usize, 0u32);
    for _ in 0..HASH_BUCKETS {
        out.push(live[p].0);
        count += 1;
        if count >= live[p].1 {
            p = (p + 1) % live.len();
            count = 0;
        }
    }
    out
}

/// IPVS's destination hashing table (ip_vs_dh_reassign): the real servers in turn, one
/// bucket each, weights not considered.
pub fn dh_buckets(live: &[(u32, u32)]) -> Vec<u32> {
    if live.is_empty() {
        return Vec::new();
    }
    (0..HASH_BUCKETS).map(|i| live[i % live.len()].0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ids_weights: &[(u32, u32)]) -> Vec<(u32, u32)> {
        ids_weights.to_vec()
    }

    #[test]
    fn wrr_is_ipvs_interleaved_sequence() {
        // IPVS with weights a=4, b=3, c=2: current weight 4: a; 3: a b; 2: a b c; 1: a b c.
        assert_eq!(
            wrr_sequence(&b(&[(1, 4), (2, 3), (3, 2)])),
            vec![1, 1, 2, 1, 2, 3, 1, 2, 3]
        );
        // gcd 2: weights 4:2 behave as 2:1.
        assert_eq!(wrr_sequence(&b(&[(1, 4), (2, 2)])), vec![1, 1, 2]);
        // Equal weights: plain round robin.
        assert_eq!(wrr_sequence(&b(&[(1, 5), (2, 5), (3, 5)])), vec![1, 2, 3]);
        assert!(wrr_sequence(&[]).is_empty());
    }

    #[test]
    fn wrr_shares_follow_weights_even_when_scaled() {
        let seq = wrr_sequence(&b(&[(1, 3_000_000), (2, 1_000_000), (3, 7)]));
        assert!(seq.len() as u64 <= MAX_WRR_SEQUENCE + 3);
        let share = |id| seq.iter().filter(|&&x| x == id).count() as f64 / seq.len() as f64;
        assert!((share(1) - 0.75).abs() < 0.001, "{}", share(1));
        assert!((share(2) - 0.25).abs() < 0.001, "{}", share(2));
        assert!(share(3) > 0.0, "a tiny weight still gets picked");
    }

    #[test]
    fn sh_buckets_follow_ipvs_reassign() {
        let t = sh_buckets(&b(&[(7, 2), (8, 1)]));
        assert_eq!(t.len(), HASH_BUCKETS);
        assert_eq!(&t[..6], &[7, 7, 8, 7, 7, 8]);
        let sevens = t.iter().filter(|&&x| x == 7).count();
        assert_eq!(
            sevens, 171,
            "two of every three buckets (256 = 85 rounds + 1)"
        );
    }

    #[test]
    fn dh_buckets_ignore_weights() {
        let t = dh_buckets(&b(&[(7, 100), (8, 1)]));
        assert_eq!(&t[..4], &[7, 8, 7, 8]);
        assert_eq!(t.iter().filter(|&&x| x == 8).count(), 128);
    }

    #[test]
    fn weight_zero_never_appears_and_unknown_names_are_refused() {
        let backends = [
            Backend {
                id: 1,
                key: b"a",
                weight: 0,
            },
            Backend {
                id: 2,
                key: b"b",
                weight: 1,
            },
        ];
        for name in [Scheduler::Rr, Scheduler::Wrr, Scheduler::Sh, Scheduler::Dh] {
            let t = table(name, 0, &backends).unwrap();
            assert!(
                !t.is_empty() && t.iter().all(|&id| id == 2),
                "{name}: {t:?}"
            );
        }
        assert_eq!(
            table(Scheduler::Lblc, 0, &backends),
            Err(SchedError::Unsupported(Scheduler::Lblc)),
            "lblc is count-driven: no table order"
        );
        assert_eq!(
            cells(Scheduler::Wlc, 0, &backends).unwrap(),
            vec![sched_cell(2, 1)]
        );
        assert_eq!(
            cells(Scheduler::Lblc, 0, &backends).unwrap(),
            vec![sched_cell(2, 1)]
        );
    }

    #[test]
    fn overload_clears_below_the_lower_threshold_or_three_quarters_of_the_upper() {
        let l = |upper, lower| lb_common::RealLimits {
            upper,
            lower,
            overloaded: 1,
            _pad: 0,
        };
        // Lower threshold set: strictly below it.
        assert!(!l(10, 4).may_clear(4));
        assert!(l(10, 4).may_clear(3));
        // None: below three quarters of the upper (total x 4 < upper x 3).
        assert!(!l(10, 0).may_clear(8));
        assert!(l(10, 0).may_clear(7));
        assert!(!l(4, 0).may_clear(3));
        assert!(l(4, 0).may_clear(2));
        // No threshold at all: nothing holds it.
        assert!(l(0, 0).may_clear(1_000_000));
    }
}
