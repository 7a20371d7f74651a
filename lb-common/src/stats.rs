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

/// What `lb` did with the packets that arrived on one interface: values of the per-CPU hash
/// [`map_name::IF_STATS`] under the interface's index (the ingress `ifindex`). `lb` counts
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
    pub _pad: [u8; 2],
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
impl IfStats {
    /// Adds another CPU's counters (the address is the same on every CPU).
    pub fn add(&mut self, o: &IfStats) {
        self.mac = o.mac;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.aborted += o.aborted;
        self.drop += o.drop;
        self.pass += o.pass;
        self.tx += o.tx;
        self.redirect += o.redirect;
    }
}
