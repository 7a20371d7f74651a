//! Schedulers: their codes (`Service::sched`), flags (ipvsadm `-b`), the scheduler-table cells lbd
//! computes and the limits of the data plane's walks.

#[cfg(doc)]
use crate::{RealConns, Service, map_name};

/// Default capacity of the flat scheduler-table array, in slots (u32 real-server ids). Each
/// service owns one region of it per table generation (see [`Service::table_off`]); 16 default
/// Maglev tables fit with room for a spare generation each.
pub const DEFAULT_SCHED_TABLE_SLOTS: u32 = 32 * 65_537;
/// IPVS's `mh` default table size (a prime).
pub const MAGLEV_DEFAULT_TABLE_SIZE: u32 = 65_537;
/// Schedulers, by their ipvsadm names. Table-driven ones read [`map_name::SCHED_TABLE`]; how
/// `lb` picks a slot is the only difference between them (the tables differ too, lbd builds
/// each by IPVS's rules):
/// `mh`: Maglev table, slot by the hash of the client address (and port, [`SCHED_F_PORT`]).
pub const SCHED_MH: u8 = 1;
/// `rr`: each real server of weight > 0 once, slot from the service's rotating position
/// ([`map_name::SCHED_CURSOR`], one per service, shared by every CPU).
pub const SCHED_RR: u8 = 2;
/// `wrr`: IPVS's interleaved weighted sequence, slot from the service's rotating position.
pub const SCHED_WRR: u8 = 3;
/// `sh` (source hashing): 256 buckets filled by weight, slot by the hash of the client address
/// (and port, [`SCHED_F_PORT`]).
pub const SCHED_SH: u8 = 4;
/// `dh` (destination hashing): 256 buckets, slot by the hash of the destination address.
pub const SCHED_DH: u8 = 5;
/// Count-driven schedulers: the table lists the real servers of weight > 0 with their
/// weights, and `lb` picks by their live connection counts ([`RealConns`]) with IPVS's
/// formulas. `lc`: least (active x 256 + inactive).
pub const SCHED_LC: u8 = 6;
/// `wlc` (ipvsadm's default): least (active x 256 + inactive) / weight.
pub const SCHED_WLC: u8 = 7;
/// `sed` (shortest expected delay): least (active + 1) / weight.
pub const SCHED_SED: u8 = 8;
/// `nq` (never queue): the first real server with no active connection, else as `sed`.
pub const SCHED_NQ: u8 = 9;
/// `fo` (weighted failover): the first real server of the highest weight.
pub const SCHED_FO: u8 = 10;
/// `ovf` (weighted overflow): as `fo`, among the real servers whose active connections do
/// not exceed their weight.
pub const SCHED_OVF: u8 = 11;
/// `lblc` (locality-based least-connection): the real server last chosen for the packet's
/// destination address ([`map_name::LOCALITY`]) while it is not overloaded (IPVS's rule: more
/// active connections than its weight while another real server has fewer than half its
/// weight), else the `wlc` choice, remembered.
pub const SCHED_LBLC: u8 = 12;
/// `lblcr` (locality-based least-connection with replication): as `lblc` with a set of real
/// servers per destination address: the least loaded of the set; an overloaded set grows by
/// the `wlc` choice, and a set unchanged for the expiration time loses its most loaded member.
pub const SCHED_LBLCR: u8 = 13;
/// `twos` (weighted random of two choices, IPVS's ip_vs_twos.c): two real servers drawn at
/// random with probabilities by weight, and of the two the one with the lower (active x 256 +
/// inactive) / weight. The draws and the walk's state are in [`TwosDraw`].
pub const SCHED_TWOS: u8 = 14;
/// Most real servers a count-driven service may have: `lb` looks at each for every new
/// connection (in a `bpf_loop`).
pub const MAX_COUNTED_REALS: u32 = 1024;
/// [`Service::sched_flags`] (ipvsadm `-b`): `sh-fallback` / `mh-fallback`: when the hashed
/// real server is unavailable (over its upper connection threshold), the next available one
/// in the table is taken instead of dropping the connection.
pub const SCHED_F_FALLBACK: u8 = 1 << 0;
/// [`Service::sched_flags`]: `sh-port` / `mh-port`: hash the client's port with its address.
pub const SCHED_F_PORT: u8 = 1 << 1;
/// Most further table slots `lb` looks at for an available real server when the one a
/// table-driven scheduler picked is overloaded (`rr`, `wrr`, `sh-fallback`, `mh-fallback`):
/// every `sh` bucket, and in longer tables (`mh`, long `wrr` sequences) enough that a service
/// with any sizeable share of available real servers finds one, while a service whose real
/// servers are all overloaded costs a bounded walk per new connection.
pub const MAX_SCHED_PROBES: u32 = 4096;
/// `twos`' state for one new connection on this CPU ([`map_name::TWOS_DRAW`]): the two
/// random numbers `lb` drew and what its two walks over the service's table found. Written by
/// `lb` for each `twos` connection; read only by the tests, which recompute the choice from
/// the same draws with the reference model.
///
/// IPVS's `ip_vs_twos_schedule`: `total` is the sum of the weights of the real servers that
/// are not overloaded, plus one; each draw is reduced to `0..total` (`get_random_u32_below`:
/// `draw * total >> 32`); walking the real servers in order, each subtracts its weight from
/// both remainders, and the first at which a remainder reaches 0 or below is that draw's
/// choice (so the first real server also takes the draw 0: weight + 1 chances of total).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TwosDraw {
    /// The service's table region.
    pub off: u32,
    pub len: u32,
    /// The raw `bpf_get_prandom_u32` values.
    pub draw1: u32,
    pub draw2: u32,
    /// Sum of the weights of the real servers not overloaded, plus one (0: none).
    pub total: u64,
    /// What is left of each reduced draw as the walk subtracts weights.
    pub rest1: i64,
    pub rest2: i64,
    /// Each draw's real server (0: none yet), with its weight and overhead (active x 256 +
    /// inactive).
    pub id1: u32,
    pub id2: u32,
    pub weight1: u64,
    pub weight2: u64,
    pub overhead1: u64,
    pub overhead2: u64,
    /// The last real server not overloaded that the first walk saw (IPVS's fallback choice).
    pub last: u32,
    /// The real server chosen (0: none).
    pub chosen: u32,
}
const _: () = assert!(core::mem::size_of::<TwosDraw>() == 88);

impl TwosDraw {
    /// `get_random_u32_below(total)` as `lb` computes it: `draw * total >> 32`, in 64-bit
    /// parts (`total` may exceed 32 bits: up to 1024 weights below 2^31).
    pub const fn below(draw: u32, total: u64) -> u64 {
        let d = draw as u64;
        d * (total >> 32) + ((d * (total & 0xffff_ffff)) >> 32)
    }
}

/// A scheduler-table cell ([`map_name::SCHED_TABLE`] values): the real-server id in the low
/// 32 bits, its weight in the high 32 (count-driven schedulers only; 0 otherwise).
pub const fn sched_cell(id: u32, weight: u32) -> u64 {
    id as u64 | (weight as u64) << 32
}
