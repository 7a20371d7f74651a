//! The maps of the XDP object as both sides know them: each map's name, capacity, kind and the
//! types it holds ([`MAPS`]), and the layout version stored in the pinned maps so that an lbd
//! never adopts a running data plane whose maps it would read differently.
//!
//! `lb-ebpf/src/maps.rs` declares the maps; its `#[map(name = "...")]` attributes need string
//! literals, so the names are written there a second time. `lb-daemon/tests/map_layout.rs`
//! reads the built object and fails if any name, capacity, kind, flag, size or field offset
//! there differs from what this module says.

use crate::layout::{self, TypeLayout};

/// Map names, shared so that user space finds (and pins) exactly what the object defines.
/// Kept at 15 characters or fewer: the kernel truncates longer names, which breaks lookups of
/// pinned maps by name.
pub mod map_name {
    pub const SERVICES: &str = "lb_services";
    pub const REALS: &str = "lb_reals";
    pub const SCHED_TABLE: &str = "lb_sched_tbl";
    /// The confirmed IPv4 connections (see `lb_common::conn`).
    pub const CONNS: &str = "lb_conns";
    /// The confirmed IPv6 connections.
    pub const CONNS6: &str = "lb_conns6";
    /// The unconfirmed connections (both families): first packets.
    pub const CONNS_NEW: &str = "lb_conns_new";
    /// Entries of the confirmed tables.
    pub const CONN_COUNT: &str = "lb_conn_count";
    pub const CONFIG: &str = "lb_config";
    pub const REASONS: &str = "lb_reasons";
    pub const SVC_STATS: &str = "lb_svc_stats";
    pub const REAL_STATS: &str = "lb_real_stats";
    pub const BENCH_PROGS: &str = "lb_bench_progs";
    pub const BENCH_STATE: &str = "lb_bench_state";
    /// `bench_table`'s experiment tables (`lb_common::BENCH_TABLE_*`), in that order.
    pub const BENCH_TABLES: [&str; 6] = [
        "lb_bt_hash16",
        "lb_bt_lru16",
        "lb_bt_lru16pc",
        "lb_bt_hash40",
        "lb_bt_lru40",
        "lb_bt_lru40pc",
    ];
    pub const NH_CACHE: &str = "lb_nh_cache";
    /// Not pinned (a cache: a new program instance starts empty): next hops toward `nat`
    /// clients ([`crate::ClientHop`]).
    pub const CLIENT_NH: &str = "lb_client_nh";
    pub const REAL_CONNS: &str = "lb_real_conns";
    pub const SCHED_CURSOR: &str = "lb_sched_cur";
    pub const PERSIST: &str = "lb_persist";
    pub const FRAGS: &str = "lb_frags";
    pub const REAL_LIMITS: &str = "lb_real_limits";
    pub const LOCALITY: &str = "lb_locality";
    /// Not pinned (a new program instance has its own): `lbctl trace`'s ring buffer and
    /// filter.
    pub const TRACE: &str = "lb_trace";
    pub const TRACE_FILTER: &str = "lb_trace_flt";
    /// Not pinned (each program instance reports to the lbd that loaded it): `dr` packets
    /// dropped for want of a neighbour entry ([`crate::NeighMiss`] records).
    pub const NEIGH_MISS: &str = "lb_neigh_miss";
    /// Not pinned (a new program instance reports to the lbd that loaded it, whose sender
    /// starts with a whole read of the table): connections changed for the sync sender
    /// ([`crate::FlowKey`] records).
    pub const SYNC_EVENTS: &str = "lb_sync_events";
    pub const PROGS: &str = "lb_progs";
    pub const ADDR_FILTER: &str = "lb_addr_flt";
    /// Not pinned (a new program instance starts with none): FTP's expected data
    /// connections ([`crate::ExpectKey`] -> [`crate::Expect`]).
    pub const FTP_EXPECT: &str = "lb_ftp_expect";
    /// Not pinned: the device map whose one entry is the interface lbd's FTP helper reads.
    pub const FTP_HELPER: &str = "lb_ftp_helper";
    /// Not a map: the pinned XDP link of `lb` (a restarted or upgraded lbd swaps the program
    /// in it atomically).
    pub const LINK: &str = "link_lb";
    pub const DECAP_CONFIG: &str = "lb_decap_cfg";
    /// The XDP programs' per-CPU scratch space (kernel only; not pinned).
    pub const SCRATCH: &str = "lb_scratch";
    /// `twos`' last draws per CPU ([`crate::TwosDraw`]; not pinned): for the tests.
    pub const TWOS_DRAW: &str = "lb_twos_draw";
    /// Per-interface packet counters ([`crate::IfStats`]; not pinned: each program instance
    /// counts from its start) of the interfaces whose index is below
    /// [`crate::IF_STATS_DIRECT`]: a per-CPU array indexed by the ifindex, which `lb` reads
    /// without a helper call.
    pub const IF_STATS: &str = "lb_if_stats";
    /// The same counters of interfaces of a larger index: a per-CPU hash under the ifindex.
    pub const IF_STATS_FAR: &str = "lb_if_stats_far";
    /// The layout version of the pinned maps ([`crate::LayoutMeta`]): written by lbd when it
    /// creates them, checked by an lbd that adopts them. The programs never read it.
    pub const META: &str = "lb_meta";
    /// The firewall-mark classifier (an LPM trie: prefix length and [`crate::MarkAddr`] ->
    /// [`crate::MarkRules`]; its spec's key type is the key's data, 4 bytes shorter than the key).
    pub const MARKS: &str = "lb_marks";
    /// The destinations of firewall-mark services' `nat` connections (reply [`crate::FlowKey`]
    /// -> [`crate::NatDest`]).
    pub const NAT_DESTS: &str = "lb_nat_dests";
    /// The maps that hold the director's state; `lbd` pins each under its pin directory, and a
    /// restarted or upgraded lbd adopts them.
    ///
    /// Not `PROGS`: each program instance keeps its own tail-call map, so that during an
    /// upgrade the old `lb` hands ICMP to the old `lb_icmp` (which reads the old scratch
    /// map) and the new one to the new, until the link swap.
    pub const DIRECTOR: [&str; 22] = [
        SERVICES,
        REALS,
        SCHED_TABLE,
        CONNS,
        CONNS6,
        CONNS_NEW,
        CONN_COUNT,
        CONFIG,
        REASONS,
        SVC_STATS,
        REAL_STATS,
        NH_CACHE,
        REAL_CONNS,
        SCHED_CURSOR,
        PERSIST,
        FRAGS,
        ADDR_FILTER,
        REAL_LIMITS,
        LOCALITY,
        META,
        MARKS,
        NAT_DESTS,
    ];
}

/// Slots of [`map_name::PROGS`], the programs `lb` tail-calls, by name.
pub mod prog_slot {
    /// `lb_icmp`: ICMP to or about a VIP.
    pub const ICMP: u32 = 0;
    /// `lb_xmit`: the forwarding stage, for a packet `lb_new` found a real server for.
    pub const XMIT: u32 = 1;
    /// `lb_new`: a packet the connection table does not know: its service and scheduler.
    pub const NEW: u32 = 2;
    pub const COUNT: u32 = 3;
    /// The program in each slot.
    pub const NAMES: [&str; COUNT as usize] = ["lb_icmp", "lb_xmit", "lb_new"];
}

/// Each map's capacity (`max_entries`; for the ring buffer, its size in bytes), by the map's
/// name in [`map_name`]. lbd may give the connection table another at load
/// (`conn_table_size`); every other capacity is fixed by the object.
pub mod capacity {
    use crate::{
        ADDR_FILTER_WORDS, DEFAULT_MAX_CONNS, DEFAULT_MAX_CONNS6, DEFAULT_SCHED_TABLE_SLOTS,
        FRAG_TABLE_SIZE, LOCALITY_TABLE_SIZE, MAX_REALS, MAX_SERVICES, REASON_MAX, prog_slot,
    };

    /// Services and VIP address markers ([`crate::SVC_F_VIP_ADDR`], one per distinct VIP
    /// address) share the map: up to `MAX_SERVICES - 1` of each. A change removes the
    /// services it deletes first, adds the new ones, and only then swaps the markers, so it
    /// never holds more than the new services and the old markers.
    pub const SERVICES: u32 = 2 * MAX_SERVICES;
    pub const REALS: u32 = MAX_REALS;
    pub const SCHED_TABLE: u32 = DEFAULT_SCHED_TABLE_SLOTS;
    pub const CONNS: u32 = DEFAULT_MAX_CONNS;
    pub const CONNS6: u32 = DEFAULT_MAX_CONNS6;
    pub const CONNS_NEW: u32 = crate::NEW_CONN_SLOTS;
    pub const CONN_COUNT: u32 = 2;
    /// Persistence templates: a quarter of the default connection table (a template covers a
    /// client network, most of whose connections share it).
    pub const PERSIST: u32 = DEFAULT_MAX_CONNS / 4;
    pub const SCHED_CURSOR: u32 = MAX_SERVICES;
    pub const FRAGS: u32 = FRAG_TABLE_SIZE;
    pub const PROGS: u32 = prog_slot::COUNT;
    /// Bytes (a power of two, as the kernel requires): 4,096 trace events.
    pub const TRACE: u32 = 256 * 1024;
    pub const TRACE_FILTER: u32 = 1;
    /// Bytes (a power of two): 512 records of 24 bytes and the ring's 8-byte headers.
    pub const NEIGH_MISS: u32 = 16 * 1024;
    /// Bytes (a power of two): 87,381 records of 40 bytes and the ring's 8-byte headers,
    /// about 200 ms of changes at 100,000 new TCP connections a second (four changes each),
    /// against lbd reading it every 20 ms.
    pub const SYNC_EVENTS: u32 = 4 * 1024 * 1024;
    /// Two bitmaps (VIP destinations, `nat` real-server sources).
    pub const ADDR_FILTER: u32 = 2 * ADDR_FILTER_WORDS;
    pub const DECAP_CONFIG: u32 = 1;
    pub const FTP_EXPECT: u32 = crate::FTP_EXPECT_SIZE;
    pub const FTP_HELPER: u32 = 1;
    pub const NH_CACHE: u32 = MAX_REALS;
    pub const CLIENT_NH: u32 = crate::CLIENT_NH_SLOTS;
    pub const REAL_CONNS: u32 = MAX_REALS;
    pub const REAL_LIMITS: u32 = MAX_REALS;
    pub const LOCALITY: u32 = LOCALITY_TABLE_SIZE;
    pub const CONFIG: u32 = 1;
    pub const REASONS: u32 = REASON_MAX;
    pub const SVC_STATS: u32 = MAX_SERVICES;
    pub const REAL_STATS: u32 = MAX_REALS;
    pub const BENCH_PROGS: u32 = 1;
    pub const BENCH_STATE: u32 = 1;
    pub const BENCH_TABLE: u32 = crate::BENCH_TABLE_DEFAULT_SIZE;
    pub const SCRATCH: u32 = 1;
    pub const TWOS_DRAW: u32 = 1;
    pub const META: u32 = 1;
    pub const MARKS: u32 = crate::MAX_MARK_PREFIXES;
    /// `nat` connections of firewall-mark services at once (no memory is taken before an
    /// entry is: the map is not preallocated).
    pub const NAT_DESTS: u32 = DEFAULT_MAX_CONNS / 4;
    /// One slot per interface index below [`crate::IF_STATS_DIRECT`].
    pub const IF_STATS: u32 = crate::IF_STATS_DIRECT;
    /// Interfaces of a larger index counted at once: room for those that came and went (lbd
    /// removes the entry of an interface it detaches from).
    pub const IF_STATS_FAR: u32 = 256;
}

/// Map kinds (the kernel's `BPF_MAP_TYPE_*`) of the maps in [`MAPS`].
pub mod kind {
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PROG_ARRAY: u32 = 3;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const LRU_HASH: u32 = 9;
    pub const LPM_TRIE: u32 = 11;
    pub const DEVMAP: u32 = 14;
    pub const RINGBUF: u32 = 27;
}

/// Map flags (the kernel's `BPF_F_*`) of the maps in [`MAPS`].
pub mod flag {
    pub const NO_PREALLOC: u32 = 1 << 0;
    pub const NO_COMMON_LRU: u32 = 1 << 1;
    pub const MMAPABLE: u32 = 1 << 10;
}

/// One map of the object: what user space may rely on.
#[derive(Clone, Copy, Debug)]
pub struct MapSpec {
    pub name: &'static str,
    /// `max_entries` ([`capacity`]).
    pub capacity: u32,
    /// [`kind`].
    pub kind: u32,
    /// [`flag`]s.
    pub flags: u32,
    /// The key type; `None` for a ring buffer (no keys).
    pub key: Option<&'static TypeLayout>,
    /// The value type; `None` for a ring buffer (records of any size) and for what only the
    /// programs read ([`map_name::SCRATCH`]: its type lives in `lb-ebpf`).
    pub value: Option<&'static TypeLayout>,
    /// Pinned by lbd and adopted by the next one ([`map_name::DIRECTOR`]).
    pub pinned: bool,
}

const fn spec(
    name: &'static str,
    capacity: u32,
    kind: u32,
    flags: u32,
    key: Option<&'static TypeLayout>,
    value: Option<&'static TypeLayout>,
) -> MapSpec {
    let mut pinned = false;
    let mut i = 0;
    while i < map_name::DIRECTOR.len() {
        if layout::str_eq(map_name::DIRECTOR[i], name) {
            pinned = true;
        }
        i += 1;
    }
    MapSpec {
        name,
        capacity,
        kind,
        flags,
        key,
        value,
        pinned,
    }
}

/// Every map of the object, pinned ones in [`map_name::DIRECTOR`]'s order first.
pub const MAPS: [MapSpec; 43] = {
    use layout::*;
    use map_name as n;
    const K: Option<&TypeLayout> = Some(&U32);
    [
        spec(
            n::SERVICES,
            capacity::SERVICES,
            kind::HASH,
            flag::NO_PREALLOC,
            Some(&VIP_KEY),
            Some(&SERVICE),
        ),
        spec(
            n::REALS,
            capacity::REALS,
            kind::ARRAY,
            0,
            K,
            Some(&REAL_SERVER),
        ),
        spec(
            n::SCHED_TABLE,
            capacity::SCHED_TABLE,
            kind::ARRAY,
            flag::MMAPABLE,
            K,
            Some(&U64),
        ),
        spec(
            n::CONNS,
            capacity::CONNS,
            kind::HASH,
            0,
            Some(&CONN_KEY4),
            Some(&CONN),
        ),
        spec(
            n::CONNS6,
            capacity::CONNS6,
            kind::HASH,
            0,
            Some(&FLOW_KEY),
            Some(&CONN),
        ),
        spec(
            n::CONNS_NEW,
            capacity::CONNS_NEW,
            kind::ARRAY,
            flag::MMAPABLE,
            K,
            Some(&NEW_CONN),
        ),
        spec(
            n::CONN_COUNT,
            capacity::CONN_COUNT,
            kind::ARRAY,
            flag::MMAPABLE,
            K,
            Some(&CONN_COUNT),
        ),
        spec(
            n::CONFIG,
            capacity::CONFIG,
            kind::ARRAY,
            0,
            K,
            Some(&GLOBAL_CONFIG),
        ),
        spec(
            n::REASONS,
            capacity::REASONS,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&U64),
        ),
        spec(
            n::SVC_STATS,
            capacity::SVC_STATS,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&STATS),
        ),
        spec(
            n::REAL_STATS,
            capacity::REAL_STATS,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&STATS),
        ),
        spec(
            n::NH_CACHE,
            capacity::NH_CACHE,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&NEXT_HOP),
        ),
        spec(
            n::CLIENT_NH,
            capacity::CLIENT_NH,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&CLIENT_HOP),
        ),
        spec(
            n::REAL_CONNS,
            capacity::REAL_CONNS,
            kind::ARRAY,
            flag::MMAPABLE,
            K,
            Some(&REAL_CONNS),
        ),
        spec(
            n::SCHED_CURSOR,
            capacity::SCHED_CURSOR,
            kind::ARRAY,
            0,
            K,
            Some(&U64),
        ),
        spec(
            n::PERSIST,
            capacity::PERSIST,
            kind::LRU_HASH,
            0,
            Some(&PERSIST_KEY),
            Some(&TEMPLATE),
        ),
        spec(
            n::FRAGS,
            capacity::FRAGS,
            kind::LRU_HASH,
            0,
            Some(&FRAG_KEY),
            Some(&FRAG_ENTRY),
        ),
        spec(
            n::ADDR_FILTER,
            capacity::ADDR_FILTER,
            kind::ARRAY,
            0,
            K,
            Some(&U64),
        ),
        spec(
            n::REAL_LIMITS,
            capacity::REAL_LIMITS,
            kind::ARRAY,
            0,
            K,
            Some(&REAL_LIMITS),
        ),
        spec(
            n::LOCALITY,
            capacity::LOCALITY,
            kind::LRU_HASH,
            0,
            Some(&PERSIST_KEY),
            Some(&LOCALITY),
        ),
        spec(
            n::META,
            capacity::META,
            kind::ARRAY,
            0,
            K,
            Some(&LAYOUT_META),
        ),
        spec(
            n::MARKS,
            capacity::MARKS,
            kind::LPM_TRIE,
            flag::NO_PREALLOC,
            Some(&MARK_ADDR),
            Some(&MARK_RULES),
        ),
        spec(
            n::NAT_DESTS,
            capacity::NAT_DESTS,
            kind::HASH,
            flag::NO_PREALLOC,
            Some(&FLOW_KEY),
            Some(&NAT_DEST),
        ),
        spec(
            n::PROGS,
            capacity::PROGS,
            kind::PROG_ARRAY,
            0,
            K,
            Some(&U32),
        ),
        spec(n::TRACE, capacity::TRACE, kind::RINGBUF, 0, None, None),
        spec(
            n::NEIGH_MISS,
            capacity::NEIGH_MISS,
            kind::RINGBUF,
            0,
            None,
            None,
        ),
        spec(
            n::SYNC_EVENTS,
            capacity::SYNC_EVENTS,
            kind::RINGBUF,
            0,
            None,
            None,
        ),
        spec(
            n::TRACE_FILTER,
            capacity::TRACE_FILTER,
            kind::ARRAY,
            0,
            K,
            Some(&TRACE_FILTER),
        ),
        spec(
            n::DECAP_CONFIG,
            capacity::DECAP_CONFIG,
            kind::ARRAY,
            0,
            K,
            Some(&DECAP_CONFIG),
        ),
        spec(
            n::BENCH_PROGS,
            capacity::BENCH_PROGS,
            kind::PROG_ARRAY,
            0,
            K,
            Some(&U32),
        ),
        spec(
            n::BENCH_STATE,
            capacity::BENCH_STATE,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&BENCH_STATE),
        ),
        spec(
            n::BENCH_TABLES[0],
            capacity::BENCH_TABLE,
            kind::HASH,
            0,
            Some(&BENCH_WORDS),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::BENCH_TABLES[1],
            capacity::BENCH_TABLE,
            kind::LRU_HASH,
            0,
            Some(&BENCH_WORDS),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::BENCH_TABLES[2],
            capacity::BENCH_TABLE,
            kind::LRU_HASH,
            flag::NO_COMMON_LRU,
            Some(&BENCH_WORDS),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::BENCH_TABLES[3],
            capacity::BENCH_TABLE,
            kind::HASH,
            0,
            Some(&FLOW_KEY),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::BENCH_TABLES[4],
            capacity::BENCH_TABLE,
            kind::LRU_HASH,
            0,
            Some(&FLOW_KEY),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::BENCH_TABLES[5],
            capacity::BENCH_TABLE,
            kind::LRU_HASH,
            flag::NO_COMMON_LRU,
            Some(&FLOW_KEY),
            Some(&BENCH_WORDS),
        ),
        spec(
            n::SCRATCH,
            capacity::SCRATCH,
            kind::PERCPU_ARRAY,
            0,
            K,
            None,
        ),
        spec(
            n::FTP_EXPECT,
            capacity::FTP_EXPECT,
            kind::LRU_HASH,
            0,
            Some(&EXPECT_KEY),
            Some(&EXPECT),
        ),
        spec(
            n::FTP_HELPER,
            capacity::FTP_HELPER,
            kind::DEVMAP,
            0,
            K,
            None,
        ),
        spec(
            n::TWOS_DRAW,
            capacity::TWOS_DRAW,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&TWOS_DRAW),
        ),
        spec(
            n::IF_STATS,
            capacity::IF_STATS,
            kind::PERCPU_ARRAY,
            0,
            K,
            Some(&IF_STATS),
        ),
        spec(
            n::IF_STATS_FAR,
            capacity::IF_STATS_FAR,
            kind::PERCPU_HASH,
            0,
            K,
            Some(&IF_STATS),
        ),
    ]
};

/// The layout version of the pinned maps. Bump it with every change to what a pinned map
/// holds (a field added, removed, moved or resized, a key or value type, a map kind or flag):
/// lbd then refuses to adopt a data plane of another version, even when every size agrees, so
/// that it never reads a running data plane's maps by the wrong layout.
///
/// How a forgotten bump is caught: [`LAYOUT_FINGERPRINT`] records [`layout_fingerprint`] of
/// the layouts this version describes, and `lb-daemon/tests/map_layout.rs` fails when the two
/// differ (after checking those layouts against the built object), naming the new value; a
/// layout change therefore needs a new fingerprint, and the rule is to bump the version with
/// it (the test's message says so).
///
/// A data plane pinned before versions existed (no [`map_name::META`]) has version 1's layout.
///
/// Version 2: `rr` / `wrr`'s position ([`map_name::SCHED_CURSOR`]) is one `u64` per service
/// shared by every CPU (it was a per-CPU `u32`).
///
/// Version 3: the connection tables: confirmed connections per family (`lb_conns` with
/// 16-byte IPv4 keys, `lb_conns6`), both hash maps without LRU and 16-byte values; the
/// unconfirmed slots (`lb_conns_new`) and the tables' counts (`lb_conn_count`); a real
/// server's entry holds its service's VIP; persistence templates have their own value type;
/// `GlobalConfig` the flood window.
///
/// Version 4: a cached next hop ([`crate::NextHop`]) holds the path MTU the FIB reported
/// (tunnels are sized by it); the reason counters grow by `pass_no_neigh`.
///
/// Version 5: a real server's entry names its FTP control port (`ftp_port`, where a padding
/// field was); the reason counters grow by `ftp_helper` and `ftp_data`; FTP's expected data
/// connections and the helper's device map; the per-interface counters (`lb_if_stats`); the
/// reason counters grow by `csum_completed` and `pass_other_host`; a cached next hop also
/// holds the source address the route toward a `tun` real server gives (the outer source when
/// the config names none); a connection's state byte holds IPVS's TCP state numbers
/// ([`crate::proto_tcp`]; UDP 16), and a forward entry of a `dr` / `tun` connection the flag
/// [`crate::CONN_F_NOOUTPUT`].
///
/// Version 6: a persistence template ([`crate::Template`]) has flags
/// ([`crate::TEMPLATE_F_SYNCED`]): 24 bytes; the reason counters grow by `pass_tun_fragment`
/// and SCTP's.
///
/// Version 7: the firewall-mark classifier (`lb_marks`, [`crate::MarkAddr`] ->
/// [`crate::MarkRules`]); firewall-mark services in the services map under
/// [`crate::fwmark_key`]; the reason counters grow by `sync_event_lost`; `GlobalConfig`'s
/// flag [`crate::CFG_F_SYNC_EVENTS`] and the ring buffer [`map_name::SYNC_EVENTS`].
///
/// Version 8: the destinations of firewall-mark services' `nat` connections
/// ([`map_name::NAT_DESTS`], [`crate::NatDest`]) and the real-server flag
/// [`crate::REAL_F_NAT_DEST`]; the reason counters grow by `drop_nat_dest_full`,
/// `drop_nat_no_dest` and `drop_tail_call`.
pub const LAYOUT_VERSION: u32 = 8;

/// [`layout_fingerprint`] of the layout [`LAYOUT_VERSION`] describes; stored next to the
/// version in the pinned maps.
pub const LAYOUT_FINGERPRINT: u64 = 0x303b_9826_7e72_24c7;

/// The version a data plane pinned without [`map_name::META`] has.
pub const LAYOUT_VERSION_UNVERSIONED: u32 = 1;

/// The value of the one-entry array [`map_name::META`]: written by lbd when it creates the
/// pinned maps, read by an lbd that adopts them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayoutMeta {
    /// [`LAYOUT_VERSION`] of the lbd that created the maps.
    pub version: u32,
    pub _pad: u32,
    /// Its [`LAYOUT_FINGERPRINT`].
    pub fingerprint: u64,
}
const _: () = assert!(core::mem::size_of::<LayoutMeta>() == 16);

/// A hash (FNV-1a, 64 bits) of what the pinned maps' layout is made of: for each pinned map in
/// [`MAPS`], its name, kind and flags, and its key and value types' names, sizes and fields
/// (name, offset, size). Capacities are left out: adoption compares them map by map.
pub const fn layout_fingerprint() -> u64 {
    let mut h = layout::FNV_OFFSET;
    let mut i = 0;
    while i < MAPS.len() {
        let m = &MAPS[i];
        if m.pinned {
            h = layout::fnv_str(h, m.name);
            h = layout::fnv_u64(h, m.kind as u64);
            h = layout::fnv_u64(h, m.flags as u64);
            h = layout::fnv_type(h, m.key);
            h = layout::fnv_type(h, m.value);
        }
        i += 1;
    }
    h
}
