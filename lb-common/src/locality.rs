//! The locality table of `lblc` and `lblcr`: a destination address's real server(s).

#[cfg(doc)]
use crate::{PersistKey, map_name};

/// Most real servers an `lblcr` destination's server set holds (IPVS's set is unbounded; it
/// grows only while its members are overloaded). A full set drops its oldest member to take
/// a new one.
pub const LBLCR_SET_MAX: usize = 8;
/// A destination address's real servers for `lblc` / `lblcr` (value of
/// [`map_name::LOCALITY`], key a [`PersistKey`] of the service and the destination address):
/// inserted and updated by `lb` when it schedules; removed by lbd when idle longer than the
/// scheduler's expiration (IPVS's `lblc_expiration` / `lblcr_expiration`, 24 h by default).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Locality {
    /// Real-server ids, newest first (IPVS adds to the head of its list); `lblc` uses `[0]`.
    pub reals: [u32; LBLCR_SET_MAX],
    /// How many of `reals` are set.
    pub count: u32,
    pub _pad: u32,
    /// `bpf_ktime_get_ns` when the mapping was last used.
    pub last_use_ns: u64,
    /// `bpf_ktime_get_ns` when the set last changed (`lblcr`).
    pub last_mod_ns: u64,
}
const _: () = assert!(core::mem::size_of::<Locality>() == 56);
/// Capacity of the locality table (all `lblc` / `lblcr` services together; IPVS collects a
/// service's idle entries beyond 16384 after 6 minutes; the LRU drops the least recently used).
pub const LOCALITY_TABLE_SIZE: u32 = 65_536;
/// IPVS's default `lblc_expiration` and `lblcr_expiration`: 24 hours.
pub const LOCALITY_DEFAULT_EXPIRATION_S: u32 = 86_400;
