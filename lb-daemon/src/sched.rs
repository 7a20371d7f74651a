//! Scheduler tables: what each table-driven IPVS scheduler's table holds, built here and read
//! by `lb` (which only picks a slot: a hash, or a per-CPU rotating cursor). The tests check
//! `lb`'s choices against these tables and against the count-driven and locality schedulers'
//! reference models (in the tests crate, `tests/src/models.rs`).

use lb_common::{
    SCHED_DH, SCHED_F_FALLBACK, SCHED_F_PORT, SCHED_FO, SCHED_LBLC, SCHED_LBLCR, SCHED_LC,
    SCHED_MH, SCHED_NQ, SCHED_OVF, SCHED_RR, SCHED_SED, SCHED_SH, SCHED_WLC, SCHED_WRR, sched_cell,
};

use crate::maglev::{self, Backend, MaglevError};

/// Buckets of the `sh` and `dh` tables (IPVS's IP_VS_SH_TAB_SIZE / IP_VS_DH_TAB_SIZE).
pub const HASH_BUCKETS: usize = 256;
/// Longest `wrr` sequence; heavier weight sets are scaled down proportionally.
pub const MAX_WRR_SEQUENCE: u64 = 65_536;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchedError {
    #[error("scheduler {0:?} is not table-driven in this build")]
    Unsupported(String),
    #[error(transparent)]
    Maglev(#[from] MaglevError),
}

/// The `SCHED_*` code `lb` switches on.
pub fn code(name: &str) -> Option<u8> {
    Some(match name {
        "mh" => SCHED_MH,
        "rr" => SCHED_RR,
        "wrr" => SCHED_WRR,
        "sh" => SCHED_SH,
        "dh" => SCHED_DH,
        "lc" => SCHED_LC,
        "wlc" => SCHED_WLC,
        "sed" => SCHED_SED,
        "nq" => SCHED_NQ,
        "fo" => SCHED_FO,
        "ovf" => SCHED_OVF,
        "lblc" => SCHED_LBLC,
        "lblcr" => SCHED_LBLCR,
        _ => return None,
    })
}

/// The `SCHED_F_*` bits of scheduler flags (ipvsadm `-b`; validated per scheduler by the
/// config).
pub fn flag_bits(flags: &[String]) -> u8 {
    flags.iter().fold(0, |bits, f| {
        bits | match f.as_str() {
            "sh-fallback" | "mh-fallback" => SCHED_F_FALLBACK,
            "sh-port" | "mh-port" => SCHED_F_PORT,
            _ => 0,
        }
    })
}

/// Count-driven schedulers pick by live connection counts, not from a computed order.
pub fn is_count_driven(name: &str) -> bool {
    matches!(
        name,
        "lc" | "wlc" | "sed" | "nq" | "fo" | "ovf" | "lblc" | "lblcr"
    )
}

/// The cells `lb` reads for scheduler `name` (`lb_common::sched_cell`): the table's ids, and
/// for count-driven schedulers every real server of weight > 0 with its weight.
pub fn cells(name: &str, mh_size: u32, backends: &[Backend<'_>]) -> Result<Vec<u64>, SchedError> {
    if is_count_driven(name) {
        return Ok(backends
            .iter()
            .filter(|b| b.weight > 0)
            .map(|b| sched_cell(b.id, b.weight))
            .collect());
    }
    Ok(table(name, mh_size, backends)?
        .into_iter()
        .map(|id| sched_cell(id, 0))
        .collect())
}

/// The table of scheduler `name` over `backends` (in the order the real servers were
/// configured, as IPVS keeps its list), `mh_size` slots for `mh`. Real servers of weight 0
/// never appear: new connections must not reach them. An all-zero table means no real server.
pub fn table(name: &str, mh_size: u32, backends: &[Backend<'_>]) -> Result<Vec<u32>, SchedError> {
    let live: Vec<(u32, u32)> = backends
        .iter()
        .filter(|b| b.weight > 0)
        .map(|b| (b.id, b.weight))
        .collect();
    match name {
        "mh" => Ok(maglev::build(mh_size, backends)?),
        "rr" => Ok(live.iter().map(|(id, _)| *id).collect()),
        "wrr" => Ok(wrr_sequence(&live)),
        "sh" => Ok(sh_buckets(&live)),
        "dh" => Ok(dh_buckets(&live)),
        other => Err(SchedError::Unsupported(other.into())),
    }
}

/// The most slots the table of scheduler `name` can take (for the table capacity check).
pub fn table_len_bound(name: &str, mh_size: u32, weights: &[u32]) -> u64 {
    let live: Vec<u64> = weights
        .iter()
        .filter(|w| **w > 0)
        .map(|w| *w as u64)
        .collect();
    match name {
        "mh" => mh_size as u64,
        "sh" | "dh" => HASH_BUCKETS as u64,
        n if is_count_driven(n) => live.len() as u64,
        "wrr" if !live.is_empty() => {
            let g = live.iter().copied().fold(0, gcd);
            (live.iter().sum::<u64>() / g).min(MAX_WRR_SEQUENCE + live.len() as u64)
        }
        _ => live.len() as u64,
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
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
        for name in ["rr", "wrr", "sh", "dh"] {
            let t = table(name, 0, &backends).unwrap();
            assert!(
                !t.is_empty() && t.iter().all(|&id| id == 2),
                "{name}: {t:?}"
            );
        }
        assert_eq!(
            table("lblc", 0, &backends),
            Err(SchedError::Unsupported("lblc".into())),
            "lblc is count-driven: no table order"
        );
        assert_eq!(code("wrr"), Some(SCHED_WRR));
        assert_eq!(code("lblcr"), Some(SCHED_LBLCR));
        assert_eq!(code("fastest"), None);
        assert_eq!(cells("wlc", 0, &backends).unwrap(), vec![sched_cell(2, 1)]);
        assert_eq!(cells("lblc", 0, &backends).unwrap(), vec![sched_cell(2, 1)]);
    }

    #[test]
    fn flags_map_to_their_bits() {
        let f = |v: &[&str]| flag_bits(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&[]), 0);
        assert_eq!(f(&["sh-port"]), SCHED_F_PORT);
        assert_eq!(
            f(&["mh-fallback", "mh-port"]),
            SCHED_F_FALLBACK | SCHED_F_PORT
        );
        assert_eq!(f(&["sh-fallback"]), SCHED_F_FALLBACK);
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
