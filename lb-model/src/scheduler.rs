//! IPVS's schedulers and their flags (ipvsadm `-s`, `-b`), with the kernel codes `lb` switches
//! on and what each scheduler is: table-driven (`lb` reads a table lbd computed) or
//! count-driven (`lb` compares live connection counts).

use lb_common::{
    SCHED_DH, SCHED_F_FALLBACK, SCHED_F_PORT, SCHED_FO, SCHED_LBLC, SCHED_LBLCR, SCHED_LC,
    SCHED_MH, SCHED_NQ, SCHED_OVF, SCHED_RR, SCHED_SED, SCHED_SH, SCHED_TWOS, SCHED_WLC, SCHED_WRR,
};

use crate::names::{Named, named_impls};

/// A scheduler, by its ipvsadm name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheduler {
    /// `rr`: round robin.
    Rr,
    /// `wrr`: weighted round robin (IPVS's interleaved sequence).
    Wrr,
    /// `lc`: least connection.
    Lc,
    /// `wlc`: weighted least connection (ipvsadm's default).
    Wlc,
    /// `lblc`: locality-based least connection.
    Lblc,
    /// `lblcr`: locality-based least connection with replication.
    Lblcr,
    /// `dh`: destination hashing.
    Dh,
    /// `sh`: source hashing.
    Sh,
    /// `sed`: shortest expected delay.
    Sed,
    /// `nq`: never queue.
    Nq,
    /// `mh`: Maglev hashing.
    Mh,
    /// `fo`: weighted failover.
    Fo,
    /// `ovf`: weighted overflow.
    Ovf,
    /// `twos`: weighted random of two choices.
    Twos,
}

impl Named for Scheduler {
    const KIND: &'static str = "scheduler";
    const ALL: &'static [Self] = &[
        Self::Rr,
        Self::Wrr,
        Self::Lc,
        Self::Wlc,
        Self::Lblc,
        Self::Lblcr,
        Self::Dh,
        Self::Sh,
        Self::Sed,
        Self::Nq,
        Self::Mh,
        Self::Fo,
        Self::Ovf,
        Self::Twos,
    ];
    fn name(self) -> &'static str {
        match self {
            Self::Rr => "rr",
            Self::Wrr => "wrr",
            Self::Lc => "lc",
            Self::Wlc => "wlc",
            Self::Lblc => "lblc",
            Self::Lblcr => "lblcr",
            Self::Dh => "dh",
            Self::Sh => "sh",
            Self::Sed => "sed",
            Self::Nq => "nq",
            Self::Mh => "mh",
            Self::Fo => "fo",
            Self::Ovf => "ovf",
            Self::Twos => "twos",
        }
    }
}
named_impls!(Scheduler);

impl Default for Scheduler {
    /// ipvsadm's default.
    fn default() -> Self {
        Self::Wlc
    }
}

impl Scheduler {
    /// The `SCHED_*` code `lb` switches on.
    pub fn code(self) -> u8 {
        match self {
            Self::Mh => SCHED_MH,
            Self::Rr => SCHED_RR,
            Self::Wrr => SCHED_WRR,
            Self::Sh => SCHED_SH,
            Self::Dh => SCHED_DH,
            Self::Lc => SCHED_LC,
            Self::Wlc => SCHED_WLC,
            Self::Sed => SCHED_SED,
            Self::Nq => SCHED_NQ,
            Self::Fo => SCHED_FO,
            Self::Ovf => SCHED_OVF,
            Self::Lblc => SCHED_LBLC,
            Self::Lblcr => SCHED_LBLCR,
            Self::Twos => SCHED_TWOS,
        }
    }

    /// Count-driven schedulers pick by live connection counts (the table lists the real
    /// servers of weight > 0 with their weights); the others read a table in an order lbd
    /// computed.
    pub fn is_count_driven(self) -> bool {
        matches!(
            self,
            Self::Lc
                | Self::Wlc
                | Self::Sed
                | Self::Nq
                | Self::Fo
                | Self::Ovf
                | Self::Lblc
                | Self::Lblcr
                | Self::Twos
        )
    }

    /// `lblc` and `lblcr` remember real servers per destination address (the locality map).
    pub fn is_locality(self) -> bool {
        matches!(self, Self::Lblc | Self::Lblcr)
    }

    /// The scheduler flags (ipvsadm `-b`) this scheduler takes.
    pub fn flags(self) -> &'static [SchedFlag] {
        match self {
            Self::Sh => &[SchedFlag::ShFallback, SchedFlag::ShPort],
            Self::Mh => &[SchedFlag::MhFallback, SchedFlag::MhPort],
            _ => &[],
        }
    }
}

/// A scheduler flag (ipvsadm `-b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchedFlag {
    /// `sh-fallback`: an unavailable hashed real server passes the connection to the next.
    ShFallback,
    /// `sh-port`: hash the client's port with its address.
    ShPort,
    /// `mh-fallback`: as `sh-fallback`, for `mh`.
    MhFallback,
    /// `mh-port`: as `sh-port`, for `mh`.
    MhPort,
}

impl Named for SchedFlag {
    const KIND: &'static str = "scheduler flag";
    const ALL: &'static [Self] = &[
        Self::ShFallback,
        Self::ShPort,
        Self::MhFallback,
        Self::MhPort,
    ];
    fn name(self) -> &'static str {
        match self {
            Self::ShFallback => "sh-fallback",
            Self::ShPort => "sh-port",
            Self::MhFallback => "mh-fallback",
            Self::MhPort => "mh-port",
        }
    }
}
named_impls!(SchedFlag);

impl SchedFlag {
    /// The `SCHED_F_*` bit.
    pub fn bit(self) -> u8 {
        match self {
            Self::ShFallback | Self::MhFallback => SCHED_F_FALLBACK,
            Self::ShPort | Self::MhPort => SCHED_F_PORT,
        }
    }

    /// The `SCHED_F_*` bits of a set of flags.
    pub fn bits(flags: &[SchedFlag]) -> u8 {
        flags.iter().fold(0, |bits, f| bits | f.bit())
    }
}

/// Buckets of the `sh` and `dh` tables (IPVS's IP_VS_SH_TAB_SIZE / IP_VS_DH_TAB_SIZE).
pub const HASH_BUCKETS: usize = 256;
/// Longest `wrr` sequence; heavier weight sets are scaled down proportionally.
pub const MAX_WRR_SEQUENCE: u64 = 65_536;

/// The most slots the table of a scheduler can take (for the table capacity check); an
/// unknown scheduler (`None`) as one slot per real server of weight > 0.
pub fn table_len_bound(sched: Option<Scheduler>, mh_size: u32, weights: &[u32]) -> u64 {
    let live: Vec<u64> = weights
        .iter()
        .filter(|w| **w > 0)
        .map(|w| *w as u64)
        .collect();
    match sched {
        Some(Scheduler::Mh) => mh_size as u64,
        Some(Scheduler::Sh | Scheduler::Dh) => HASH_BUCKETS as u64,
        Some(Scheduler::Wrr) if !live.is_empty() => {
            let g = live.iter().copied().fold(0, gcd);
            (live.iter().sum::<u64>() / g).min(MAX_WRR_SEQUENCE + live.len() as u64)
        }
        _ => live.len() as u64,
    }
}

/// Greatest common divisor (0 with 0 is 0).
pub fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Whether `n` is prime (Maglev table sizes must be; trial division: at most ~22k divisions
/// for any `u32`).
pub fn is_prime(n: u32) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    // u64 so that `d * d` cannot overflow near u32::MAX.
    let n = u64::from(n);
    let mut d = 5u64;
    while d * d <= n {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for s in Scheduler::ALL {
            assert_eq!(s.name().parse::<Scheduler>(), Ok(*s));
        }
        assert_eq!(
            "fastest".parse::<Scheduler>().unwrap_err().to_string(),
            "unknown scheduler \"fastest\"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos"
        );
        assert_eq!(Scheduler::Wrr.code(), SCHED_WRR);
        assert_eq!(Scheduler::Lblcr.code(), SCHED_LBLCR);
        assert!(Scheduler::Lblc.is_count_driven() && !Scheduler::Mh.is_count_driven());
    }

    #[test]
    fn flags_map_to_their_bits() {
        assert_eq!(SchedFlag::bits(&[]), 0);
        assert_eq!(SchedFlag::bits(&[SchedFlag::ShPort]), SCHED_F_PORT);
        assert_eq!(
            SchedFlag::bits(&[SchedFlag::MhFallback, SchedFlag::MhPort]),
            SCHED_F_FALLBACK | SCHED_F_PORT
        );
        assert_eq!(
            Scheduler::Sh.flags(),
            &[SchedFlag::ShFallback, SchedFlag::ShPort]
        );
        assert!(Scheduler::Wlc.flags().is_empty());
    }
}
