//! Every map of the XDP programs, in one place. Capacities come from `lb-common`; lbd may
//! override some at load time (`EbpfLoader::map_max_entries`) and pins all of them so that a
//! restarted daemon adopts them.

use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC},
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, ProgramArray, RingBuf},
};
use lb_common::{
    BenchState, Conn, DEFAULT_MAX_CONNS, DEFAULT_SCHED_TABLE_SLOTS, DecapConfig, FRAG_TABLE_SIZE,
    FlowKey, FragEntry, FragKey, GlobalConfig, LOCALITY_TABLE_SIZE, Locality, MAX_REALS,
    MAX_SERVICES, NextHop, PersistKey, REASON_MAX, RealConns, RealLimits, RealServer, Service,
    Stats, TraceFilter, VipKey,
};

/// VIP (address, port, protocol) -> service. Written by lbd (one whole-value update per
/// change, which is how a new scheduler table is flipped in); read by `lb` for every packet.
/// `BPF_F_NO_PREALLOC` makes an update RCU-safe: a reader holding the old value keeps a
/// complete copy instead of a recycled element.
#[map(name = "lb_services")]
pub static SERVICES: HashMap<VipKey, Service> =
    HashMap::with_max_entries(MAX_SERVICES, BPF_F_NO_PREALLOC);

/// Real-server id -> real server (address, forwarding method). Written by lbd before any
/// table names the id; read by `lb` when forwarding.
#[map(name = "lb_reals")]
pub static REALS: Array<RealServer> = Array::with_max_entries(MAX_REALS, 0);

/// The flat array of scheduler tables: each service owns a region `[table_off, table_off +
/// table_len)` of cells `lb_common::sched_cell(id, weight)` (a Maglev lookup table for `mh`). Written by lbd into a
/// region no service points at yet (through a shared mmap, `BPF_F_MMAPABLE`); read by `lb` to
/// schedule new flows.
#[map(name = "lb_sched_tbl")]
pub static SCHED_TABLE: Array<u64> =
    Array::with_max_entries(DEFAULT_SCHED_TABLE_SLOTS, BPF_F_MMAPABLE);

/// Persistence templates (ipvsadm `-p`, `-M`): (service, client network) -> the real server
/// its new connections go to. Inserted and refreshed by `lb` when a persistent service gets a
/// new connection; expired by lbd after the service's persistence timeout.
#[map(name = "lb_persist")]
pub static PERSIST: LruHashMap<PersistKey, Conn> =
    LruHashMap::with_max_entries(DEFAULT_MAX_CONNS / 4, 0);

/// Per service (by id), this CPU's position in a `rr` / `wrr` sequence. Written and read by
/// `lb` only.
#[map(name = "lb_sched_cur")]
pub static SCHED_CURSOR: PerCpuArray<u32> = PerCpuArray::with_max_entries(MAX_SERVICES, 0);

/// The connection table: 5-tuple -> real server. Inserted by `lb` on a new flow, read by `lb`
/// on every later packet; read (and expired) by lbd. Per-CPU LRU lists
/// (`BPF_F_NO_COMMON_LRU`) avoid a global lock on insert.
#[map(name = "lb_conns")]
pub static CONNS: LruHashMap<FlowKey, Conn> =
    LruHashMap::with_max_entries(DEFAULT_MAX_CONNS, BPF_F_NO_COMMON_LRU);

/// Fragmented datagrams: (source, destination, protocol, IP id) -> the real server their
/// first fragment went to (or, for a `nat` reply, the VIP to restore). Inserted by `lb` for
/// each first fragment it forwards, read by `lb` for the later ones; short-lived (entries
/// older than `lb_common::FRAG_TIMEOUT_NS` are ignored, the LRU recycles them).
#[map(name = "lb_frags")]
pub static FRAGS: LruHashMap<FragKey, FragEntry> = LruHashMap::with_max_entries(FRAG_TABLE_SIZE, 0);

/// The programs `lb` hands a packet to (`lb_common::prog_slot`): ICMP has its own program
/// so that its stack frame is not added to the TCP/UDP path's. Written by lbd at load.
#[map(name = "lb_progs")]
pub static PROGS: ProgramArray = ProgramArray::with_max_entries(lb_common::prog_slot::COUNT, 0);

/// `lbctl trace`'s events: written by `lb` (only while `CFG_F_TRACE` is set, and only for the
/// packets `TRACE_FILTER` selects, at most its `max_per_sec`); read by lbd.
#[map(name = "lb_trace")]
pub static TRACE: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);

/// Which packets `lb` traces. Written by lbd; read by `lb` while tracing.
#[map(name = "lb_trace_flt")]
pub static TRACE_FILTER: Array<TraceFilter> = Array::with_max_entries(1, 0);

/// The address filter (`lb_common::ADDR_FILTER_WORDS` words per bitmap, two bitmaps): which
/// destinations may be VIPs and which sources may be `nat` real servers. Written by lbd; read
/// by `lb` per packet.
#[map(name = "lb_addr_flt")]
pub static ADDR_FILTER: Array<u64> = Array::with_max_entries(2 * lb_common::ADDR_FILTER_WORDS, 0);

/// `decap`'s settings (one entry: the GUE port). Written by `lbd decap`; read by `decap`.
#[map(name = "lb_decap_cfg")]
pub static DECAP_CONFIG: Array<DecapConfig> = Array::with_max_entries(1, 0);

/// Next hop per real server (per CPU), cached from `bpf_fib_lookup` for
/// `lb_common::NH_CACHE_TTL_NS`. Written and read by `lb` only.
#[map(name = "lb_nh_cache")]
pub static NH_CACHE: PerCpuArray<NextHop> = PerCpuArray::with_max_entries(MAX_REALS, 0);

/// Active / inactive connections per real server (see `lb_common::RealConns`). Updated
/// atomically by `lb` on connection start and state change, and by lbd (through a shared
/// mapping) on expiry and reconciliation; read by the schedulers and lbd.
#[map(name = "lb_real_conns")]
pub static REAL_CONNS: Array<RealConns> = Array::with_max_entries(MAX_REALS, BPF_F_MMAPABLE);

/// Connection thresholds and overload state per real server (see `lb_common::RealLimits`).
/// Thresholds written by lbd; `overloaded` set by `lb` when a new connection reaches the upper
/// threshold and cleared by lbd when expiry takes the count below the lower one; read by every
/// scheduler.
#[map(name = "lb_real_limits")]
pub static REAL_LIMITS: Array<RealLimits> = Array::with_max_entries(MAX_REALS, 0);

/// `lblc` / `lblcr`: (service, destination address) -> its real server(s). Inserted and
/// updated by `lb` when it schedules a new connection of such a service; idle entries removed
/// by lbd.
#[map(name = "lb_locality")]
pub static LOCALITY: LruHashMap<PersistKey, Locality> =
    LruHashMap::with_max_entries(LOCALITY_TABLE_SIZE, 0);

/// Director-wide settings (one entry). Written by lbd; read by `lb` per packet.
#[map(name = "lb_config")]
pub static CONFIG: Array<GlobalConfig> = Array::with_max_entries(1, 0);

/// One counter per verdict and reason (`lb_common::reason`). Written by `lb` and `decap`;
/// read by lbd.
#[map(name = "lb_reasons")]
pub static REASONS: PerCpuArray<u64> = PerCpuArray::with_max_entries(REASON_MAX, 0);

/// Per-service counters, indexed by service id. Written by `lb`; read by lbd.
#[map(name = "lb_svc_stats")]
pub static SVC_STATS: PerCpuArray<Stats> = PerCpuArray::with_max_entries(MAX_SERVICES, 0);

/// Per-real-server counters, indexed by real-server id. Written by `lb`; read by lbd.
#[map(name = "lb_real_stats")]
pub static REAL_STATS: PerCpuArray<Stats> = PerCpuArray::with_max_entries(MAX_REALS, 0);

/// Benchmark only: slot 0 holds the program under test, tail-called by `bench_shim`.
/// Written by `cargo xtask bench`.
#[map(name = "lb_bench_progs")]
pub static BENCH_PROGS: ProgramArray = ProgramArray::with_max_entries(1, 0);

/// Benchmark only: the shim's per-CPU state. Written by `cargo xtask bench` (mode) and the
/// shim (counter).
#[map(name = "lb_bench_state")]
pub static BENCH_STATE: PerCpuArray<BenchState> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU scratch space for values too big for the 512-byte BPF stack next to everything
/// else `lb` keeps there: the FIB lookup's parameters, a connection entry being built, and
/// the count-driven schedulers' walk (kept in a map, not on the stack, so that the verifier
/// does not track its values: it then checks the `bpf_loop` step once instead of until every
/// tracked value converges).
/// Written and read by `lb` only, within one run.
#[repr(C)]
pub struct Scratch {
    /// The packet being processed, as `parse` found it.
    pub pkt: crate::parse::Packet,
    /// Its VLAN tags, for the program `lb` tail-calls (which puts them back).
    pub tags: crate::vlan::Tags,
    pub fib: aya_ebpf::bindings::bpf_fib_lookup,
    pub conn: Conn,
    pub least: crate::sched::Least,
    /// A table-driven scheduler's search for an available real server.
    pub probe: crate::sched::Probe,
    pub pkey: PersistKey,
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
    pub _pad: u32,
    /// A fragment table key and entry being looked up or inserted.
    pub frag_key: lb_common::FragKey,
    pub frag: lb_common::FragEntry,
}

#[map(name = "lb_scratch")]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);
