//! The per-CPU scratch space (the one-entry map `maps::SCRATCH`, reached through
//! `maps::scratch()`): values too big for the 512-byte BPF stack next to everything else `lb`
//! keeps there. Written and read by `lb` (and `lb_icmp`, which `lb` tail-calls) only, within
//! one run.
//!
//! The schedulers' walks keep their state here too, not on the stack, so that the verifier
//! does not track its values: it then checks a `bpf_loop` step once instead of until every
//! tracked value converges.

use lb_common::{FlowKey, FragEntry, FragKey, LBLCR_SET_MAX, Locality, PersistKey, Template};

use crate::{parse::Packet, vlan::Tags};

#[repr(C)]
pub struct Scratch {
    /// The packet being processed, as `parse` found it.
    pub pkt: Packet,
    /// Its VLAN tags, for the program `lb` tail-calls (which puts them back).
    pub tags: Tags,
    pub fib: aya_ebpf::bindings::bpf_fib_lookup,
    /// A persistence template being stored.
    pub tpl: Template,
    /// A `nat` connection's reply direction (real server -> client) being recorded.
    pub reply: FlowKey,
    /// The unconfirmed table's walk to a slot for a new flow (`conn/unconfirmed.rs`).
    pub pick: Pick,
    pub least: Least,
    /// A table-driven scheduler's search for an available real server.
    pub probe: Probe,
    pub pkey: PersistKey,
    /// The classifier's key: the packet's destination (`lookup.rs`, firewall marks).
    pub mkey: aya_ebpf::maps::lpm_trie::Key<lb_common::MarkAddr>,
    /// The services-map key of the mark the classifier found, and that mark.
    pub fkey: lb_common::VipKey,
    pub mark: u32,
    pub _pad_mark: u32,
    /// The locality table's key and the entry being built (`lblc`, `lblcr`).
    pub lkey: PersistKey,
    pub loc: Locality,
    /// Set once `parse` has filled `pkt` for this packet (so a trace can show its flow).
    pub pkt_ok: u32,
    /// The real-server id this packet goes to (0: none yet), for a trace.
    pub trace_real: u32,
    /// This CPU's trace rate limit: start of the current second and events in it.
    pub trace_window_ns: u64,
    pub trace_count: u32,
    /// Flood mode's window on this CPU (`conn/flood.rs`): its number and the new
    /// connections seen in it.
    pub flood_window: u32,
    pub flood_count: u32,
    /// Set by `lb` when it left this packet's flow out of the unconfirmed table's lookup (a
    /// SYN while this CPU is in flood mode, `conn::find`); `lb_new` then looks it up for a
    /// service whose new connections are recorded (`conn::find_unconfirmed`).
    pub unconfirmed_unread: u32,
    pub _pad_flood: u32,
    /// Set by `tun` (to the reason counted) when the tunnelled packet goes to the kernel: the
    /// next hop has no neighbour entry, or the kernel is to fragment it. Kept here, read volatile, so that the verifier does not know its value
    /// and checks the encapsulation once, not once per outcome (`xmit/tun.rs`).
    pub to_kernel: u32,
    /// The frame's MAC addresses as it came, for a `tun` packet handed to the kernel.
    pub macs: [u32; 3],
    pub _pad_macs: u32,
    /// A fragment table key and entry being looked up or inserted.
    pub frag_key: FragKey,
    pub frag: FragEntry,
    /// An FTP data connection's key being looked up (`ftp.rs`).
    pub expect: lb_common::ExpectKey,
    /// The client's direction of an active FTP data connection being recorded.
    pub active: FlowKey,
    /// The sum of a transport segment whose checksum is being finished (`xmit/partial.rs`).
    pub csum: CsumWalk,
    /// An SCTP CRC32c update being computed (`sctp.rs`).
    pub crc: CrcWalk,
    /// What `lb` hands to `lb_xmit` (`director.rs`): the way out, the real server and the
    /// time the packet was seen.
    pub xmit: Xmit,
    /// This CPU's last reading of the clock (`clock::cached`).
    pub clock: crate::clock::Cache,
}

/// `lb`'s hand-over to `lb_xmit`: `kind` ([`XMIT_FORWARD`] or [`XMIT_FROM_REAL`]), the real
/// server's id, and the clock as `lb` read it.
#[repr(C)]
pub struct Xmit {
    pub kind: u32,
    pub real: u32,
    pub now: u64,
}

/// A packet toward real server `Xmit::real`, by its method.
pub const XMIT_FORWARD: u32 = 0;
/// A `nat` real server's reply, back to the client.
pub const XMIT_FROM_REAL: u32 = 1;

/// `sctp.rs`'s CRC32c update, one step per bit of the length: the register being advanced
/// and the length (bytes) it is advanced over.
#[repr(C)]
pub struct CrcWalk {
    pub crc: u32,
    pub len: u32,
}

/// `xmit/partial.rs`'s walk over a segment: where it starts and how long it is (offsets in
/// the packet), how far the sum got, its running sum, whether a helper failed, whether the
/// packet's checksum was finished, and the chunk being summed.
#[repr(C)]
pub struct CsumWalk {
    pub start: u32,
    pub len: u32,
    pub off: u32,
    pub acc: u32,
    pub failed: u32,
    /// Set when this packet's checksum was finished (cleared for every packet).
    pub finished: u32,
    /// 512 bytes, and two words the verifier's bound of the rounded length reaches past.
    pub buf: [u32; 130],
}

/// The state of the unconfirmed table's walk to the slot a new flow takes: its own (if it
/// has one), the first free one, and the oldest one with its age; `NEW_CONN_WAYS` for none.
#[repr(C)]
pub struct Pick {
    pub own: u32,
    pub free: u32,
    pub oldest: u32,
    pub oldest_age: u32,
}

/// The state of `sched::table`'s walk to the next available slot.
#[repr(C)]
pub struct Probe {
    pub off: u32,
    pub len: u32,
    pub start: u32,
    pub found: u32,
    pub steps: u32,
    pub _pad: u32,
}

/// The state `sched::counted`'s walk carries from one real server to the next (and, for
/// `lblc` / `lblcr`, what `sched::locality` needs of it).
#[repr(C)]
pub struct Least {
    pub off: u32,
    pub len: u32,
    /// sed and nq count active + 1 (1), lc and wlc active x 256 + inactive (0).
    pub sed: u64,
    /// lc ignores weights (1).
    pub lc: u64,
    pub nq: u64,
    /// fo and ovf rank by weight alone (overhead 1 for all).
    pub fo: u64,
    /// ovf skips real servers with more active connections than their weight.
    pub ovf: u64,
    pub best: u64,
    pub best_oh: u64,
    pub best_w: u64,
    /// lblc / lblcr (1): note the members of the destination's set as they come by, and
    /// whether some real server has fewer active connections than half its weight.
    pub loc: u64,
    /// Some real server has active x 2 < weight (IPVS's `is_overloaded` looks for one).
    pub any_half: u64,
    /// The locality entry existed (1).
    pub found: u64,
    /// Members of the set (at most `LBLCR_SET_MAX`), newest first, and per member as the walk
    /// found it: weight (0: not schedulable: weight 0, or no longer in the service), overhead
    /// (active x 256 + inactive), active connections, not overloaded (1).
    pub count: u64,
    pub set: [u32; LBLCR_SET_MAX],
    pub m_w: [u64; LBLCR_SET_MAX],
    pub m_oh: [u64; LBLCR_SET_MAX],
    pub m_act: [u64; LBLCR_SET_MAX],
    pub m_ok: [u64; LBLCR_SET_MAX],
    /// When the set last changed (ns).
    pub last_mod: u64,
    /// `sched::locality`'s member walk's results: the positions of the least loaded
    /// schedulable member and of the most loaded member of weight > 0; `LBLCR_SET_MAX` for
    /// none.
    pub dj: u64,
    pub mj: u64,
}
