//! The benchmark shim's state (`cargo xtask bench` only).

#[cfg(doc)]
use crate::map_name;

/// [`BenchState::mode`]: every repeat is the packet as given (one flow).
pub const BENCH_FIXED: u32 = 0;
/// Every repeat is a flow never seen: the tuple number is [`BenchState::counter`], which then
/// moves on by one.
pub const BENCH_NEW: u32 = 1;
/// Repeats go in pairs of one new flow: its first packet with TCP flags
/// [`BenchState::first_flags`], then the packet's own flags (a SYN, then the ACK that
/// confirms it).
pub const BENCH_PAIRS: u32 = 2;
/// A flood among established flows: every [`BenchState::every`]-th repeat is one of the
/// [`BenchState::est_n`] established flows (tuple numbers from [`BenchState::est_base`], in
/// turn, with the packet's own flags); every other repeat is a new flow with flags
/// [`BenchState::first_flags`].
pub const BENCH_FLOOD: u32 = 3;

/// `bench_table`'s experiment tables: how much a first packet's miss + insert (and an
/// established packet's hit) costs by map kind and key size, with the 16-byte values the
/// connection table holds. IPv4 keys of 16 bytes ([`BENCH_TABLE_HASH16`] ..
/// [`BENCH_TABLE_LRU16_PERCPU`]) or the 40-byte key of both families (the rest).
pub const BENCH_TABLE_HASH16: u32 = 1;
pub const BENCH_TABLE_LRU16: u32 = 2;
pub const BENCH_TABLE_LRU16_PERCPU: u32 = 3;
pub const BENCH_TABLE_HASH40: u32 = 4;
pub const BENCH_TABLE_LRU40: u32 = 5;
pub const BENCH_TABLE_LRU40_PERCPU: u32 = 6;
/// One past the last experiment table.
pub const BENCH_TABLE_MAX: u32 = 7;
/// With a table number in [`BenchState::table`]: delete the packet's key instead.
pub const BENCH_TABLE_DELETE: u32 = 1 << 8;
/// The experiment tables' capacity in the object; the bench loads them larger.
pub const BENCH_TABLE_DEFAULT_SIZE: u32 = 64;

/// Per-CPU state of the benchmark shim (value of [`map_name::BENCH_STATE`]). A tuple number
/// `t` is written into an IPv4 packet as its source port (low 16 bits) and the low 16 bits of
/// its source address (high 16 bits; the IPv4 header checksum updated), so 2^32 flows never
/// repeat within a run.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchState {
    /// The next new flow's tuple number.
    pub counter: u32,
    /// `BENCH_*`.
    pub mode: u32,
    /// Non-zero: copy [`BenchState::head`] over the packet's first 64 bytes before each
    /// repeat (undoes a rewrite such as `nat`'s).
    pub restore: u32,
    /// [`BENCH_FLOOD`]: one repeat in this many is an established flow.
    pub every: u32,
    /// Repeats seen (pairs and flood use it to alternate).
    pub seq: u32,
    /// TCP flags of a new flow's first packet ([`BENCH_PAIRS`], [`BENCH_FLOOD`]).
    pub first_flags: u32,
    /// [`BENCH_FLOOD`]: the established flows' tuple numbers, `est_base ..
    /// est_base + est_n`, and the next one's index.
    pub est_base: u32,
    pub est_n: u32,
    pub est_i: u32,
    /// `bench_table` only: which experiment table it uses (`BENCH_TABLE_*`), and whether it
    /// deletes (bit [`BENCH_TABLE_DELETE`]) instead of looking up and inserting.
    pub table: u32,
    /// `bench_redirect` only: the interface it redirects every packet to (the veth chain's
    /// floor).
    pub redirect: u32,
    pub _pad: u32,
    /// The original first 64 bytes of the packet.
    pub head: [u64; 8],
}
const _: () = assert!(core::mem::size_of::<BenchState>() == 112);

/// A 16-byte key or value of `bench_table`'s experiment tables (an IPv4 connection's key, a
/// compact connection value). 8-aligned: the BPF stack refuses 8-byte stores to a
/// 4-aligned slot, which LLVM emits for it.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchWords {
    pub w: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<BenchWords>() == 16);
