//! The benchmark shim's state (`cargo xtask bench` only).

#[cfg(doc)]
use crate::map_name;

/// Per-CPU state of the benchmark shim (value of [`map_name::BENCH_STATE`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchState {
    /// Incremented per packet and written into the source port when
    /// [`BenchState::new_flows`] is non-zero.
    pub counter: u32,
    pub new_flows: u32,
    /// Non-zero: copy [`BenchState::head`] over the packet's first 64 bytes before each
    /// repeat (undoes a rewrite such as `nat`'s).
    pub restore: u32,
    pub _pad: u32,
    /// The original first 64 bytes of the packet.
    pub head: [u64; 8],
}
const _: () = assert!(core::mem::size_of::<BenchState>() == 80);
