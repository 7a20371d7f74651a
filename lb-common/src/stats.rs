//! Traffic counters of services and real servers (ipvsadm `--stats`).

#[cfg(doc)]
use crate::map_name;

/// Traffic counters of one service or real server, as ipvsadm `--stats` reports them. Values
/// of the per-CPU arrays [`map_name::SVC_STATS`] and [`map_name::REAL_STATS`]; written by `lb`,
/// summed over CPUs by lbd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}
const _: () = assert!(core::mem::size_of::<Stats>() == 40);
impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.conns += o.conns;
        self.in_pkts += o.in_pkts;
        self.out_pkts += o.out_pkts;
        self.in_bytes += o.in_bytes;
        self.out_bytes += o.out_bytes;
    }
}
