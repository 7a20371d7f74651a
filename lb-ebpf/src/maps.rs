//! Every map of the XDP programs, in one place. Names, capacities and the types they hold are
//! `lb_common::maps`'s (the names are repeated in the attributes, which need literals;
//! `lb-daemon/tests/map_layout.rs` checks that they agree); lbd may give the connection table
//! another capacity at load (`EbpfLoader::map_max_entries`) and pins the director's maps so
//! that a restarted daemon adopts them.

use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC},
    macros::map,
    maps::{
        Array, DevMap, HashMap, LpmTrie, LruHashMap, PerCpuArray, PerCpuHashMap, ProgramArray,
        RingBuf,
    },
};
use lb_common::{
    BenchState, BenchWords, ClientHop, Conn, ConnCount, ConnKey4, DecapConfig, Expect, ExpectKey,
    FlowKey, FragEntry, FragKey, GlobalConfig, IfStats, LayoutMeta, Locality, MarkAddr, MarkRules,
    NatDest, NewConn, NextHop, PersistKey, RealConns, RealLimits, RealServer, Service, Stats,
    Template, TraceFilter, TwosDraw, VipKey, capacity,
};

use crate::scratch::Scratch;

/// VIP (address, port, protocol) -> service. Written by lbd (one whole-value update per
/// change, which is how a new scheduler table is flipped in); read by `lb` for every packet.
/// `BPF_F_NO_PREALLOC` makes an update RCU-safe: a reader holding the old value keeps a
/// complete copy instead of a recycled element.
#[map(name = "lb_services")]
pub static SERVICES: HashMap<VipKey, Service> =
    HashMap::with_max_entries(capacity::SERVICES, BPF_F_NO_PREALLOC);

/// The firewall-mark classifier (`lb_common::mark`): destination prefix -> the rules that may
/// mark a packet to an address under it, in config order. Written by lbd (whole values);
/// read by `lb` for a new flow only while `CFG_F_MARKS` is set.
#[map(name = "lb_marks")]
pub static MARKS: LpmTrie<MarkAddr, MarkRules> = LpmTrie::with_max_entries(capacity::MARKS, 0);

/// Real-server id -> real server (address, forwarding method). Written by lbd before any
/// table names the id; read by `lb` when forwarding.
#[map(name = "lb_reals")]
pub static REALS: Array<RealServer> = Array::with_max_entries(capacity::REALS, 0);

/// The flat array of scheduler tables: each service owns a region `[table_off, table_off +
/// table_len)` of cells `lb_common::sched_cell(id, weight)` (a Maglev lookup table for `mh`). Written by lbd into a
/// region no service points at yet (through a shared mmap, `BPF_F_MMAPABLE`); read by `lb` to
/// schedule new flows.
#[map(name = "lb_sched_tbl")]
pub static SCHED_TABLE: Array<u64> = Array::with_max_entries(capacity::SCHED_TABLE, BPF_F_MMAPABLE);

/// Persistence templates (ipvsadm `-p`, `-M`): (service, client network) -> the real server
/// its new connections go to. Inserted and refreshed by `lb` when a persistent service gets a
/// new connection; expired by lbd after the service's persistence timeout.
#[map(name = "lb_persist")]
pub static PERSIST: LruHashMap<PersistKey, Template> =
    LruHashMap::with_max_entries(capacity::PERSIST, 0);

/// Per service (by id), its position in a `rr` / `wrr` sequence, shared by every CPU (as
/// IPVS's one position per service): taken and advanced atomically by `lb` only.
#[map(name = "lb_sched_cur")]
pub static SCHED_CURSOR: Array<u64> = Array::with_max_entries(capacity::SCHED_CURSOR, 0);

/// FTP's expected data connections (`lb_common::ftp`): written by lbd's FTP helper when a
/// real server announces a passive port (key: client, VIP, port) or a client an active one
/// (key: client, real server's address, the client's port); read and removed by `lb` when
/// the connection's first packet arrives. Not pinned: a new program instance starts empty.
#[map(name = "lb_ftp_expect")]
pub static FTP_EXPECT: LruHashMap<ExpectKey, Expect> =
    LruHashMap::with_max_entries(capacity::FTP_EXPECT, 0);

/// The interface lbd's FTP helper reads (slot 0), written by lbd when it has created it;
/// `lb` redirects FTP control connections' packets there. Empty: no helper, they leave as
/// any packet.
#[map(name = "lb_ftp_helper")]
pub static FTP_HELPER: DevMap = DevMap::with_max_entries(capacity::FTP_HELPER, 0);

/// The confirmed IPv4 connections (see `lb_common::conn`): inserted by `lb` when a flow's
/// second packet confirms it, read and updated in place by `lb` on every later packet; read
/// and removed by lbd (expiry, drains). A hash map without LRU: nothing else removes an entry
/// (lbd may give it another capacity at load).
#[map(name = "lb_conns")]
pub static CONNS: HashMap<ConnKey4, Conn> = HashMap::with_max_entries(capacity::CONNS, 0);

/// The confirmed IPv6 connections, as [`CONNS`].
#[map(name = "lb_conns6")]
pub static CONNS6: HashMap<FlowKey, Conn> = HashMap::with_max_entries(capacity::CONNS6, 0);

/// The destination each `nat` connection of a firewall-mark service was opened to (a reply's
/// source), keyed by the connection's reply direction (`lb_common::NatDest`). Inserted by `lb`
/// with such a connection's first packet and by lbd with a synced one; read by `lb` for its
/// replies and ICMP errors; removed by lbd once the connection's reply entry is gone. Not
/// preallocated: it costs nothing where firewall-mark services have no `nat` real server.
#[map(name = "lb_nat_dests")]
pub static NAT_DESTS: HashMap<FlowKey, NatDest> =
    HashMap::with_max_entries(capacity::NAT_DESTS, BPF_F_NO_PREALLOC);

/// The unconfirmed connections of both families (`lb_common::NewConn` slots in buckets):
/// written by `lb` for a flow's first packet, cleared by `lb` when its second packet
/// confirms it; read (through a shared mapping, `BPF_F_MMAPABLE`) and expired by lbd.
#[map(name = "lb_conns_new")]
pub static CONNS_NEW: Array<NewConn> = Array::with_max_entries(capacity::CONNS_NEW, BPF_F_MMAPABLE);

/// The confirmed tables' entry counts (index 0: IPv4, 1: IPv6), kept atomically by `lb` (on
/// insert) and lbd (on removal, through a shared mapping); read by lbd's status and metrics.
#[map(name = "lb_conn_count")]
pub static CONN_COUNT: Array<ConnCount> =
    Array::with_max_entries(capacity::CONN_COUNT, BPF_F_MMAPABLE);

/// Fragmented datagrams: (source, destination, protocol, IP id) -> the real server their
/// first fragment went to (or, for a `nat` reply, the VIP to restore). Inserted by `lb` for
/// each first fragment it forwards, read by `lb` for the later ones; short-lived (entries
/// older than `lb_common::FRAG_TIMEOUT_NS` are ignored, the LRU recycles them).
#[map(name = "lb_frags")]
pub static FRAGS: LruHashMap<FragKey, FragEntry> = LruHashMap::with_max_entries(capacity::FRAGS, 0);

/// The programs `lb` hands a packet to (`lb_common::prog_slot`): ICMP has its own program
/// so that its stack frame is not added to the TCP/UDP path's. Written by lbd at load.
#[map(name = "lb_progs")]
pub static PROGS: ProgramArray = ProgramArray::with_max_entries(capacity::PROGS, 0);

/// `lbctl trace`'s events: written by `lb` (only while `CFG_F_TRACE` is set, and only for the
/// packets `TRACE_FILTER` selects, at most its `max_per_sec`); read by lbd.
#[map(name = "lb_trace")]
pub static TRACE: RingBuf = RingBuf::with_byte_size(capacity::TRACE, 0);

/// `dr` packets dropped for want of their real server's neighbour entry: written by `lb`
/// (one [`NeighMiss`] per such packet, while there is room), read by lbd, which has the
/// kernel resolve that real server at once.
#[map(name = "lb_neigh_miss")]
pub static NEIGH_MISS: RingBuf = RingBuf::with_byte_size(capacity::NEIGH_MISS, 0);

/// Connections whose sync record changed: written by `lb` while `CFG_F_SYNC_EVENTS` is set
/// (one [`FlowKey`] when it confirms a connection, moves one to another state or takes one
/// over from another director; `sync_event_lost` when the ring is full), read by lbd's sync
/// sender, which then reads those entries only.
#[map(name = "lb_sync_events")]
pub static SYNC_EVENTS: RingBuf = RingBuf::with_byte_size(capacity::SYNC_EVENTS, 0);

/// Which packets `lb` traces. Written by lbd; read by `lb` while tracing.
#[map(name = "lb_trace_flt")]
pub static TRACE_FILTER: Array<TraceFilter> = Array::with_max_entries(capacity::TRACE_FILTER, 0);

/// The address filter (`lb_common::ADDR_FILTER_WORDS` words per bitmap, two bitmaps): which
/// destinations may be VIPs and which sources may be `nat` real servers. Written by lbd; read
/// by `lb` per packet.
#[map(name = "lb_addr_flt")]
pub static ADDR_FILTER: Array<u64> = Array::with_max_entries(capacity::ADDR_FILTER, 0);

/// `decap`'s settings (one entry: the GUE port). Written by `lbd decap`; read by `decap`.
#[map(name = "lb_decap_cfg")]
pub static DECAP_CONFIG: Array<DecapConfig> = Array::with_max_entries(capacity::DECAP_CONFIG, 0);

/// Next hop per real server (per CPU), cached from `bpf_fib_lookup` for
/// `lb_common::NH_CACHE_TTL_NS`. Written and read by `lb` only.
#[map(name = "lb_nh_cache")]
pub static NH_CACHE: PerCpuArray<NextHop> = PerCpuArray::with_max_entries(capacity::NH_CACHE, 0);

/// Next hops toward `nat` clients (per CPU), cached from `bpf_fib_lookup` for
/// `lb_common::NH_CACHE_TTL_NS` in the slot `lb_common::client_nh_slot` gives the client.
/// Written and read by `lb` only (`xmit/route.rs`).
#[map(name = "lb_client_nh")]
pub static CLIENT_NH: PerCpuArray<ClientHop> =
    PerCpuArray::with_max_entries(capacity::CLIENT_NH, 0);

/// Active / inactive connections per real server (see `lb_common::RealConns`). Updated
/// atomically by `lb` on connection start and state change, and by lbd (through a shared
/// mapping) on expiry and reconciliation; read by the schedulers and lbd.
#[map(name = "lb_real_conns")]
pub static REAL_CONNS: Array<RealConns> =
    Array::with_max_entries(capacity::REAL_CONNS, BPF_F_MMAPABLE);

/// Connection thresholds and overload state per real server (see `lb_common::RealLimits`).
/// Thresholds written by lbd; `overloaded` set by `lb` when a new connection reaches the upper
/// threshold and cleared by lbd when expiry takes the count below the lower one; read by every
/// scheduler.
#[map(name = "lb_real_limits")]
pub static REAL_LIMITS: Array<RealLimits> = Array::with_max_entries(capacity::REAL_LIMITS, 0);

/// `lblc` / `lblcr`: (service, destination address) -> its real server(s). Inserted and
/// updated by `lb` when it schedules a new connection of such a service; idle entries removed
/// by lbd.
#[map(name = "lb_locality")]
pub static LOCALITY: LruHashMap<PersistKey, Locality> =
    LruHashMap::with_max_entries(capacity::LOCALITY, 0);

/// Director-wide settings (one entry). Written by lbd; read by `lb` per packet.
#[map(name = "lb_config")]
pub static CONFIG: Array<GlobalConfig> = Array::with_max_entries(capacity::CONFIG, 0);

/// One counter per verdict and reason (`lb_common::reason`). Written by `lb` and `decap`;
/// read by lbd.
#[map(name = "lb_reasons")]
pub static REASONS: PerCpuArray<u64> = PerCpuArray::with_max_entries(capacity::REASONS, 0);

/// Per-interface counters, a slot per ingress interface index below `IF_STATS_DIRECT`: each
/// packet and its bytes as it arrives, and the verdict it ends with. lbd writes an
/// interface's slot (`counted` 1) before it attaches `lb` to it and zeroes it when it
/// detaches; `lb` and the programs it hands packets to write the counters of a slot lbd
/// marked; lbd reads them (`lbctl status`, metrics). An array, so that the lookup every
/// packet makes is inlined (a hash lookup cost about 16 ns a packet). Not pinned.
#[map(name = "lb_if_stats")]
pub static IF_STATS: PerCpuArray<IfStats> = PerCpuArray::with_max_entries(capacity::IF_STATS, 0);

/// [`IF_STATS`] of the interfaces of a larger index, under the index. lbd makes an entry
/// before it attaches `lb` (so `lb` only looks up: no insert on the packet path) and removes
/// it when it detaches; the programs write it, lbd reads it, as above. Not pinned.
#[map(name = "lb_if_stats_far")]
pub static IF_STATS_FAR: PerCpuHashMap<u32, IfStats> =
    PerCpuHashMap::with_max_entries(capacity::IF_STATS_FAR, 0);

/// Per-service counters, indexed by service id. Written by `lb`; read by lbd.
#[map(name = "lb_svc_stats")]
pub static SVC_STATS: PerCpuArray<Stats> = PerCpuArray::with_max_entries(capacity::SVC_STATS, 0);

/// Per-real-server counters, indexed by real-server id. Written by `lb`; read by lbd.
#[map(name = "lb_real_stats")]
pub static REAL_STATS: PerCpuArray<Stats> = PerCpuArray::with_max_entries(capacity::REAL_STATS, 0);

/// Benchmark only: slot 0 holds the program under test, tail-called by `bench_shim`.
/// Written by `cargo xtask bench`.
#[map(name = "lb_bench_progs")]
pub static BENCH_PROGS: ProgramArray = ProgramArray::with_max_entries(capacity::BENCH_PROGS, 0);

/// Benchmark only: the shim's per-CPU state. Written by `cargo xtask bench` (mode) and the
/// shim (counter).
#[map(name = "lb_bench_state")]
pub static BENCH_STATE: PerCpuArray<BenchState> =
    PerCpuArray::with_max_entries(capacity::BENCH_STATE, 0);

/// Benchmark only: `bench_table`'s experiment tables (`lb_common::BENCH_TABLE_*`): a first
/// packet's miss + insert and an established packet's hit, by map kind and key size. lbd
/// leaves them at `lb_common::BENCH_TABLE_DEFAULT_SIZE` entries; `cargo xtask bench` loads
/// them larger. Written and read by `bench_table` only.
#[map(name = "lb_bt_hash16")]
pub static BT_HASH16: HashMap<BenchWords, BenchWords> =
    HashMap::with_max_entries(capacity::BENCH_TABLE, 0);
#[map(name = "lb_bt_lru16")]
pub static BT_LRU16: LruHashMap<BenchWords, BenchWords> =
    LruHashMap::with_max_entries(capacity::BENCH_TABLE, 0);
#[map(name = "lb_bt_lru16pc")]
pub static BT_LRU16_PERCPU: LruHashMap<BenchWords, BenchWords> =
    LruHashMap::with_max_entries(capacity::BENCH_TABLE, BPF_F_NO_COMMON_LRU);
#[map(name = "lb_bt_hash40")]
pub static BT_HASH40: HashMap<FlowKey, BenchWords> =
    HashMap::with_max_entries(capacity::BENCH_TABLE, 0);
#[map(name = "lb_bt_lru40")]
pub static BT_LRU40: LruHashMap<FlowKey, BenchWords> =
    LruHashMap::with_max_entries(capacity::BENCH_TABLE, 0);
#[map(name = "lb_bt_lru40pc")]
pub static BT_LRU40_PERCPU: LruHashMap<FlowKey, BenchWords> =
    LruHashMap::with_max_entries(capacity::BENCH_TABLE, BPF_F_NO_COMMON_LRU);

/// The per-CPU scratch space (see `scratch.rs`). Written and read by `lb` and `lb_icmp`
/// only, within one run.
#[map(name = "lb_scratch")]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(capacity::SCRATCH, 0);

/// `twos`' draws and walk state for the connection being scheduled on this CPU (see
/// `lb_common::TwosDraw`). Written by `lb` for each `twos` connection; read by the
/// differential test only (the state of the last connection stays until the next).
#[map(name = "lb_twos_draw")]
pub static TWOS_DRAW: PerCpuArray<TwosDraw> = PerCpuArray::with_max_entries(capacity::TWOS_DRAW, 0);

/// This CPU's scratch slot. `None` never happens (index 0 of a one-entry per-CPU array always
/// exists); callers still handle it, for the type checker.
#[inline(always)]
pub fn scratch() -> Option<*mut Scratch> {
    SCRATCH.get_ptr_mut(0)
}

/// The layout version of the pinned maps (`lb_common::LayoutMeta`). Written by lbd when it
/// creates them, read by an lbd that adopts them; never read by the programs (it is here so
/// that loading the object creates it with the other maps).
#[map(name = "lb_meta")]
pub static META: Array<LayoutMeta> = Array::with_max_entries(capacity::META, 0);
