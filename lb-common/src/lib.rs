//! The one contract between lb's XDP programs (`lb-ebpf`) and user space (`lbd`, `lbctl`,
//! tests): map names and capacities, keys and values, flags and counter indices.
//!
//! Every type here is `#[repr(C)]`, `Copy`, has explicit padding and a compile-time size
//! assertion, and states the byte order of each multi-byte field. No `bool`, `Option` or enum
//! appears in a map value: the kernel side reads plain integers and compares them with the
//! constants below.
#![no_std]

#[cfg(feature = "user")]
extern crate std;

#[cfg(feature = "user")]
pub mod api;
pub mod hash;
pub mod layout;
pub mod maps;
pub mod reason;

pub use maps::{LAYOUT_FINGERPRINT, LAYOUT_VERSION, LayoutMeta, capacity, map_name};
pub use reason::*;

/// Capacities. Service and real-server ids index arrays of these sizes; id 0 is reserved as
/// "unset" so that an unfilled table slot is detectable.
pub const MAX_SERVICES: u32 = 4096;
/// Real servers are counted per service (as ipvsadm lists them): one id per (service, real
/// server) pair, so per-service real-server counters need no second key.
pub const MAX_REALS: u32 = 131_072;
/// Default capacity of the connection table (an LRU hash); `lbd` may override it at load.
pub const DEFAULT_MAX_CONNS: u32 = 1_048_576;
/// Default capacity of the flat scheduler-table array, in slots (u32 real-server ids). Each
/// service owns one region of it per table generation (see [`Service::table_off`]); 16 default
/// Maglev tables fit with room for a spare generation each.
pub const DEFAULT_SCHED_TABLE_SLOTS: u32 = 32 * 65_537;
/// IPVS's `mh` default table size (a prime).
pub const MAGLEV_DEFAULT_TABLE_SIZE: u32 = 65_537;

/// Address families, as stored in keys and values (not the kernel's AF_* values).
/// The address filter ([`map_name::ADDR_FILTER`]): two bitmaps of `1 << ADDR_FILTER_BITS_LOG2`
/// bits, as `u64` words: the first has the bit ([`hash::addr_filter_bit`]) of every VIP
/// address set, the second that of every `nat` real server's address. `lb` looks a packet up
/// in the connection table and the services only when its destination's bit is set in the
/// first or its source's in the second: the rest of the host's traffic costs two array reads.
/// Written by lbd (bits of new addresses before their services, stale bits cleared after);
/// read by `lb` per packet.
pub const ADDR_FILTER_BITS_LOG2: u32 = 16;
/// Words of one bitmap of the address filter.
pub const ADDR_FILTER_WORDS: u32 = (1 << ADDR_FILTER_BITS_LOG2) / 64;

/// Slots of [`map_name::PROGS`], the programs `lb` tail-calls, by name.
pub mod prog_slot {
    /// `lb_icmp`: ICMP to or about a VIP.
    pub const ICMP: u32 = 0;
    pub const COUNT: u32 = 1;
    /// The program in each slot.
    pub const NAMES: [&str; COUNT as usize] = ["lb_icmp"];
}

pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;

/// IP protocol numbers used in keys.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_ICMPV6: u8 = 58;

/// Schedulers, by their ipvsadm names. Table-driven ones read [`map_name::SCHED_TABLE`]; how
/// `lb` picks a slot is the only difference between them (the tables differ too, lbd builds
/// each by IPVS's rules):
/// `mh`: Maglev table, slot by the hash of the client address (and port, [`SCHED_F_PORT`]).
pub const SCHED_MH: u8 = 1;
/// `rr`: each real server of weight > 0 once, slot from a per-CPU rotating cursor.
pub const SCHED_RR: u8 = 2;
/// `wrr`: IPVS's interleaved weighted sequence, slot from a per-CPU rotating cursor.
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

/// A scheduler-table cell ([`map_name::SCHED_TABLE`] values): the real-server id in the low
/// 32 bits, its weight in the high 32 (count-driven schedulers only; 0 otherwise).
pub const fn sched_cell(id: u32, weight: u32) -> u64 {
    id as u64 | (weight as u64) << 32
}

/// Forwarding methods (ipvsadm `-i`, `-g`, `-m`).
pub const FWD_TUN: u8 = 1;
pub const FWD_DR: u8 = 2;
pub const FWD_NAT: u8 = 3;

/// [`Service::flags`]: not a service but a VIP address marker (key: the address, port 0,
/// protocol ICMP/ICMPv6), so that `lb` answers pings to every VIP. Written by lbd.
pub const SVC_F_VIP_ADDR: u32 = 1 << 0;
/// [`Service::flags`]: one-packet scheduling (ipvsadm `-o`, UDP): every datagram is scheduled
/// on its own, no connection entry is made, and each counts as a connection. Written by lbd.
pub const SVC_F_ONE_PACKET: u32 = 1 << 1;

/// [`GlobalConfig::flags`]: skip the connection table entirely (no lookup, no insert), so
/// that every packet is scheduled as a new flow. Only `cargo xtask bench` sets it, to measure
/// the new-flow path with `BPF_PROG_TEST_RUN` repeats.
pub const CFG_F_NO_CONN_TABLE: u32 = 1 << 0;
/// [`GlobalConfig::flags`]: some real server uses `nat`, so an ICMP error about no VIP's
/// connection may be a `nat` real server's about a client's packet (`lb_icmp` looks its reply
/// entry up). Set by lbd. (Other packets need no flag: the connection table is looked up
/// first, and the address filter decides which packets get that far.)
pub const CFG_F_NAT: u32 = 1 << 1;
/// [`GlobalConfig::flags`]: `lbctl trace` is running: `lb` reports its decisions for the
/// packets [`TraceFilter`] selects into [`map_name::TRACE`]. Set and cleared by lbd.
pub const CFG_F_TRACE: u32 = 1 << 2;

/// A VIP: the key of [`map_name::SERVICES`]. Written by lbd, read by `lb` per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipKey {
    /// Network byte order. IPv4 uses `addr[0]`; the rest is zero.
    pub addr: [u32; 4],
    /// Network byte order.
    pub port: u16,
    /// IP protocol number ([`PROTO_TCP`], [`PROTO_UDP`]).
    pub proto: u8,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
}
const _: () = assert!(core::mem::size_of::<VipKey>() == 20);

/// A virtual service: the value of [`map_name::SERVICES`]. lbd replaces the whole value in
/// one map update (hash-map updates are atomic to readers), which is how a change of
/// scheduler table is flipped: the new table is written into a region no reader uses yet, and
/// then the service is pointed at it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Index into [`map_name::SVC_STATS`]; 1..[`MAX_SERVICES`].
    pub id: u32,
    /// `SVC_F_*` flags.
    pub flags: u32,
    /// `SCHED_*`.
    pub sched: u8,
    /// Persistence (ipvsadm `-M`): prefix length of the client network a persistence template
    /// covers (32 / 128 = one address).
    pub persist_prefix: u8,
    /// `SCHED_F_*` (ipvsadm `-b`).
    pub sched_flags: u8,
    pub _pad: u8,
    /// First slot of this service's current table in [`map_name::SCHED_TABLE`].
    pub table_off: u32,
    /// Number of slots; 0 means the service has no real server to schedule to.
    pub table_len: u32,
    /// Persistence timeout in seconds (ipvsadm `-p`); 0: not persistent.
    pub persist_timeout: u32,
}
const _: () = assert!(core::mem::size_of::<Service>() == 24);

/// A real server of one service: the value of [`map_name::REALS`], indexed by real-server id.
/// Written by lbd before any table refers to the id; never rewritten while referenced (a
/// changed real server gets a new id), so readers never see a half-written entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealServer {
    /// Network byte order. IPv4 uses `addr[0]`.
    pub addr: [u32; 4],
    /// Network byte order; the destination port for `nat` (0 keeps the VIP's port).
    pub port: u16,
    /// [`FAMILY_V4`] or [`FAMILY_V6`]; 0 marks an unused id.
    pub family: u8,
    /// `FWD_*`.
    pub method: u8,
    /// `REAL_F_*`.
    pub flags: u16,
    /// `tun` only: 0 for IP-in-IP; otherwise GUE (ipvsadm `--tun-type gue`) to this UDP
    /// destination port, network byte order.
    pub tun_port: u16,
    /// The service this real server belongs to: not read by the data plane; a restarted lbd
    /// rebuilds its bookkeeping from the maps with it.
    pub service: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<RealServer>() == 32);

/// A connection (flow) as the director sees it: the key of [`map_name::CONNS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Client address, network byte order. IPv4 uses `[0]`.
    pub src: [u32; 4],
    /// VIP, network byte order. IPv4 uses `[0]`.
    pub dst: [u32; 4],
    /// Network byte order.
    pub sport: u16,
    /// Network byte order.
    pub dport: u16,
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<FlowKey>() == 40);

/// [`RealServer::flags`]: removed from its service (its connections still drain to it, but
/// persistence templates no longer send new ones). Set by lbd.
pub const REAL_F_REMOVED: u16 = 1 << 0;
/// A `tun` real server reached through GRE (ipvsadm `--tun-type gre`, RFC 2784) rather than
/// IP-in-IP.
pub const REAL_F_GRE: u16 = 1 << 1;

/// A tracked connection: the value of [`map_name::CONNS`]. Inserted by `lb` on a new flow;
/// read by `lb` for every later packet of the flow; read (and, later, expired) by lbd.
///
/// A `nat` connection has two entries: the client's direction, and the real server's reply
/// direction (key: real server -> client, flag [`CONN_F_REPLY`]), whose `vaddr`/`vport` say
/// what to rewrite the reply's source back to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conn {
    /// Real-server id the flow is bound to.
    pub real: u32,
    /// Service id, so lbd can account connections without a reverse lookup.
    pub service: u32,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when a packet of the flow was last seen, to a
    /// second: `lb` rewrites it at most once a second per flow. lbd expires entries by it.
    pub last_seen_ns: u64,
    /// `CONN_F_*`.
    pub flags: u16,
    /// The VIP's port, network byte order (reply entries).
    pub vport: u16,
    /// `CONN_S_*`: the connection's state as the director sees it (forward entries).
    pub state: u32,
    /// The VIP, network byte order, IPv4 in `[0]` (reply entries).
    pub vaddr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<Conn>() == 40);

/// [`Conn::flags`]: this entry is the reply direction of a `nat` connection.
pub const CONN_F_REPLY: u16 = 1 << 0;
/// [`Conn::flags`], with [`CONN_F_REPLY`]: the reply direction of a one-packet service's
/// datagrams, which have no forward entry: lbd expires it by the UDP timeout alone.
pub const CONN_F_ONE_PACKET: u16 = 1 << 1;

/// [`Conn::state`], from the client's packets (all the director sees with `tun` and `dr`):
/// a TCP connection that has sent SYN but no ACK yet (IPVS's SYN_RECV).
pub const CONN_S_SYN: u32 = 1;
/// TCP, an ACK seen after the handshake: what IPVS counts as an active connection.
pub const CONN_S_ESTABLISHED: u32 = 2;
/// TCP, FIN or RST seen: closing.
pub const CONN_S_CLOSING: u32 = 3;
/// UDP (no states; counted as inactive, as IPVS does).
pub const CONN_S_UDP: u32 = 4;

/// How often `lb` refreshes [`Conn::last_seen_ns`] of a busy flow.
pub const CONN_TOUCH_NS: u64 = 1_000_000_000;

/// Active and inactive connection counts of one real server, as IPVS defines them (active:
/// established TCP; inactive: everything else). The value of the mmapable array
/// [`map_name::REAL_CONNS`], indexed by real-server id: `lb` adds and subtracts atomically as
/// connections start and change state; lbd subtracts what it expires and corrects the drift
/// left by entries the LRU evicted (also atomically, through the mapping). The count-driven
/// schedulers read it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealConns {
    pub active: i64,
    pub inactive: i64,
}
const _: () = assert!(core::mem::size_of::<RealConns>() == 16);

/// Director-wide settings: the single entry of [`map_name::CONFIG`]. Written by lbd at start
/// and on config change; read by `lb` per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalConfig {
    /// The director's IPv4 address, network byte order: the outer source of IPIP packets.
    pub src4: u32,
    /// `CFG_F_*`.
    pub flags: u32,
    /// The director's IPv6 address, network byte order (for IPv6 tunnels).
    pub src6: [u32; 4],
    /// MTU of the director's interface: an encapsulated packet longer than this is not sent.
    /// 0 means unknown (no check).
    pub mtu: u32,
    /// IPVS's `lblcr_expiration` in seconds: an `lblcr` server set unchanged this long loses
    /// its most loaded member on its next use (lbd removes mappings idle this long).
    pub lblcr_expiration_s: u32,
}
const _: () = assert!(core::mem::size_of::<GlobalConfig>() == 32);

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

/// A cached next hop toward one real server: the value of the per-CPU array
/// [`map_name::NH_CACHE`], indexed by real-server id. Written and read by `lb` only: filled
/// from `bpf_fib_lookup` and trusted for [`NH_CACHE_TTL_NS`], so the FIB (about 70 ns a
/// lookup here) is consulted about once a second per real server and CPU, not per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: u32,
    pub smac: [u8; 6],
    pub dmac: [u8; 6],
    /// `bpf_ktime_get_ns` after which the entry must be looked up again; 0 = empty.
    pub expires_ns: u64,
    /// 1 when the destination itself is the next hop (on-link, no gateway): what `dr` needs.
    pub onlink: u8,
    pub _pad: [u8; 7],
}
const _: () = assert!(core::mem::size_of::<NextHop>() == 32);

/// How long `lb` trusts a cached next hop. A real server's MAC or route change is picked up
/// within this time.
pub const NH_CACHE_TTL_NS: u64 = 1_000_000_000;

/// Connection thresholds of one real server (ipvsadm `-x`, `-y`) and its overload state, as
/// IPVS keeps them (`IP_VS_DEST_F_OVERLOAD`): the value of [`map_name::REAL_LIMITS`], indexed
/// by real-server id. lbd writes the thresholds; `lb` sets `overloaded` when a new connection
/// brings the real server's active + inactive connections to `upper` (IPVS's
/// `ip_vs_bind_dest`), and lbd clears it when its expiry takes them below `lower`, or below
/// three quarters of `upper` when `lower` is 0 (IPVS's `ip_vs_unbind_dest`). An overloaded real
/// server gets no new connection from any scheduler.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealLimits {
    /// 0: no upper threshold.
    pub upper: u32,
    /// 0: three quarters of `upper`.
    pub lower: u32,
    /// Non-zero while overloaded.
    pub overloaded: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<RealLimits>() == 16);

impl RealLimits {
    /// IPVS's rule for clearing the overload flag (`ip_vs_unbind_dest`): below the lower
    /// threshold, or below three quarters of the upper one when there is no lower.
    pub const fn may_clear(&self, total: u64) -> bool {
        if self.lower != 0 {
            total < self.lower as u64
        } else if self.upper != 0 {
            total * 4 < self.upper as u64 * 3
        } else {
            true
        }
    }
}

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

/// A persistence template's key (value of [`map_name::PERSIST`]: a [`Conn`] whose `real` is
/// the real server the client network sticks to): the service and the client's address
/// masked to the service's persistence prefix.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PersistKey {
    pub service: u32,
    pub family: u8,
    pub _pad: [u8; 3],
    /// Network byte order, masked.
    pub addr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<PersistKey>() == 24);

/// The key of [`map_name::FRAGS`]: one fragmented datagram (RFC 791 / RFC 8200 4.5: source,
/// destination, protocol and identification).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Network byte order. IPv4 uses `[0]`.
    pub src: [u32; 4],
    /// Network byte order. IPv4 uses `[0]`.
    pub dst: [u32; 4],
    /// The IP identification as it lies in the packet (IPv4: 16 bits, in the low half).
    pub id: u32,
    /// The transport protocol (IPv6: the fragment header's next header).
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<FragKey>() == 40);

/// Where the later fragments of a datagram go (value of [`map_name::FRAGS`]): written by `lb`
/// when it forwards a first fragment, read by `lb` for the later ones. Entries older than
/// [`FRAG_TIMEOUT_NS`] are ignored; the LRU map drops the oldest when full.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragEntry {
    /// Real-server id.
    pub real: u32,
    pub service: u32,
    /// [`FRAG_F_REPLY`]: a `nat` real server's reply, to be given `vaddr` as its source.
    pub flags: u32,
    pub _pad: u32,
    /// `bpf_ktime_get_ns` when the first fragment passed.
    pub created_ns: u64,
    /// The VIP (network byte order), for [`FRAG_F_REPLY`] entries.
    pub vaddr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<FragEntry>() == 40);

pub const FRAG_F_REPLY: u32 = 1 << 0;
/// How long the later fragments of a datagram are matched to its first: Linux's IPv4
/// reassembly timeout (`ipfrag_time`).
pub const FRAG_TIMEOUT_NS: u64 = 30_000_000_000;
/// Capacity of the fragment table.
pub const FRAG_TABLE_SIZE: u32 = 16_384;

/// Which packets `lb` reports while [`CFG_F_TRACE`] is set (value of the one-entry array
/// [`map_name::TRACE_FILTER`]): written by lbd for `lbctl trace`, read by `lb`. An address
/// filter with family 0, or `real` 0, matches everything.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceFilter {
    /// A VIP (network byte order): packets to it, and `nat` replies from it.
    pub vip: [u32; 4],
    /// A client address: packets from it or to it.
    pub client: [u32; 4],
    /// A real-server id: packets forwarded to it.
    pub real: u32,
    pub vip_family: u8,
    pub client_family: u8,
    pub _pad: [u8; 2],
    /// At most this many events per second and CPU (0: no limit).
    pub max_per_sec: u32,
    pub _pad2: u32,
}
const _: () = assert!(core::mem::size_of::<TraceFilter>() == 48);

/// One decision of `lb` (a record of the ring buffer [`map_name::TRACE`]): written by `lb`,
/// read by lbd for `lbctl trace`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceEvent {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    /// The packet's 5-tuple as parsed (zero when [`TRACE_F_PARSED`] is not set).
    pub flow: FlowKey,
    /// The XDP action.
    pub action: u32,
    /// `lb_common::reason`.
    pub reason: u32,
    /// The real-server id it was forwarded to (0: none).
    pub real: u32,
    /// `TRACE_F_*`.
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<TraceEvent>() == 64);

/// [`TraceEvent::flags`]: the packet was parsed (the flow is valid).
pub const TRACE_F_PARSED: u32 = 1 << 0;

/// The decapsulating program's settings (value of the one-entry array
/// [`map_name::DECAP_CONFIG`]): written by `lbd decap`, read by `decap`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecapConfig {
    /// UDP destination port of GUE encapsulation (network byte order); 0: GUE is not
    /// decapsulated.
    pub gue_port: u16,
    pub _pad: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<DecapConfig>() == 8);

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

#[cfg(feature = "user")]
mod user {
    use super::*;
    // SAFETY: all of these are repr(C), Copy, with explicit padding and no invalid bit patterns.
    unsafe impl aya::Pod for VipKey {}
    unsafe impl aya::Pod for Service {}
    unsafe impl aya::Pod for RealServer {}
    unsafe impl aya::Pod for FlowKey {}
    unsafe impl aya::Pod for Conn {}
    unsafe impl aya::Pod for GlobalConfig {}
    unsafe impl aya::Pod for Stats {}
    unsafe impl aya::Pod for BenchState {}
    unsafe impl aya::Pod for NextHop {}
    unsafe impl aya::Pod for RealConns {}
    unsafe impl aya::Pod for PersistKey {}
    unsafe impl aya::Pod for FragKey {}
    unsafe impl aya::Pod for FragEntry {}
    unsafe impl aya::Pod for DecapConfig {}
    unsafe impl aya::Pod for RealLimits {}
    unsafe impl aya::Pod for Locality {}
    unsafe impl aya::Pod for TraceFilter {}
    unsafe impl aya::Pod for TraceEvent {}
    unsafe impl aya::Pod for LayoutMeta {}
}
