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

/// What `lb` did with the packets that arrived on one interface: the per-CPU slot of its
/// index (the ingress `ifindex`) in [`map_name::IF_STATS`], or its value in
/// [`map_name::IF_STATS_FAR`] for an index from [`IF_STATS_DIRECT`] on. `lb` counts
/// each packet and its bytes as it arrives, and its verdict (one of the five XDP actions) where
/// the packet ends: in `lb`, or in the program it hands the packet to (`lb_icmp`, `lb_new`,
/// `lb_xmit`). lbd sums the CPUs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfStats {
    /// The interface's MAC address, written by lbd with the entry (the same on every CPU) and
    /// only read by `lb`: a unicast frame to another address is not for this host (what the
    /// kernel calls PACKET_OTHERHOST: a switch flooding a frame meant for another director,
    /// a bridge port) and is passed to the kernel, which drops it (`pass_other_host`). All
    /// zero: no check.
    pub mac: [u8; 6],
    /// 1: lbd made these counters (it writes 1 with the entry). The direct array
    /// ([`map_name::IF_STATS`]) has a slot for every small index whether or not lbd made it:
    /// `lb` counts a packet only where this is set.
    pub counted: u8,
    pub _pad: u8,
    pub packets: u64,
    /// The frames' lengths as they arrived (Ethernet header included).
    pub bytes: u64,
    pub aborted: u64,
    pub drop: u64,
    pub pass: u64,
    pub tx: u64,
    pub redirect: u64,
}
const _: () = assert!(core::mem::size_of::<IfStats>() == 64);

/// Interfaces of an index below this have their counters in the direct array
/// ([`crate::map_name::IF_STATS`], 64 bytes a slot and CPU); a larger index in the hash
/// ([`crate::map_name::IF_STATS_FAR`]). An array read is inlined by the verifier, where a hash
/// lookup is a helper call: about 16 ns of every packet here. Hosts number their NICs from 1
/// and each network namespace its own devices, so indices stay small but where thousands
/// of interfaces were made in one namespace.
pub const IF_STATS_DIRECT: u32 = 256;
impl IfStats {
    /// Adds another CPU's counters (the address is the same on every CPU).
    pub fn add(&mut self, o: &IfStats) {
        self.mac = o.mac;
        self.counted = o.counted;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.aborted += o.aborted;
        self.drop += o.drop;
        self.pass += o.pass;
        self.tx += o.tx;
        self.redirect += o.redirect;
    }
}
