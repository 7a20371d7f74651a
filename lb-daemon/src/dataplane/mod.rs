//! The loaded XDP object and its maps: the only place user space touches the kernel's BPF
//! objects (lbd's lowest layer). lbd, the packet tests and the benchmark all load the
//! programs through here. Configuration reaches the maps through [`Dataplane::apply`] of a
//! compiled [`Plan`]; reads (counters, connections, templates) and the connection table's
//! upkeep have their own methods.

mod apply;
pub mod batch;
mod conns;
mod ftp;
pub mod links;
mod mmap;

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{
        Array, DevMap, HashMap, LpmTrie, Map, MapData, PerCpuArray, PerCpuHashMap, ProgramArray,
        RingBuf, lpm_trie::Key as LpmKey,
    },
    programs::{Xdp, xdp::XdpMode as AyaXdpMode},
};
use lb_common::{
    CFG_F_SYNC_EVENTS, CFG_F_TRACE, CONN_F_UNCONFIRMED, Conn, ConnKey4, DecapConfig, Expect,
    ExpectKey, FAMILY_V6, FlowKey, GlobalConfig, IF_STATS_DIRECT, IfStats, LAYOUT_FINGERPRINT,
    LAYOUT_VERSION, LayoutMeta, Locality, MarkAddr, MarkRules, NEW_CONN_WAYS, NatDest, NewConn,
    PersistKey, REASON_MAX, RealConns, RealLimits, RealServer, Service, Stats, Template,
    TraceFilter, TwosDraw, VipKey, map_name, maps::LAYOUT_VERSION_UNVERSIONED, new_conn_bucket,
};

use lb_model::config::XdpMode;

use self::mmap::MmapArray;
pub use self::{
    apply::{Applied, Plan, Step},
    conns::{Snapshot, SyncedEntry, SyncedInsert, is_active, monotonic_ns},
    ftp::DataExpect,
};

/// The XDP object built by `build.rs` (aya-build), embedded at compile time.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/lb-ebpf"));

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error(
        "this build has no XDP object (it was built with AYA_BUILD_SKIP=1); build with bpf-linker installed (`cargo xtask setup`)"
    )]
    NoObject,
    #[error("cannot load the XDP object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("map {0} is missing from the XDP object")]
    MissingMap(&'static str),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("map {name}: {source}")]
    XdpMap {
        name: &'static str,
        source: aya::maps::xdp::XdpMapError,
    },
    #[error("program {0} is missing from the XDP object")]
    MissingProgram(&'static str),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        source: aya::programs::ProgramError,
    },
    #[error("cannot map the scheduler table into memory: {0}")]
    Mmap(std::io::Error),
    #[error("cannot create pin directory {0}: {1}")]
    PinDir(PathBuf, std::io::Error),
    #[error("scheduler table write out of range: {off}+{len} > {cap}")]
    TableRange { off: u32, len: usize, cap: u32 },
    #[error(
        "the running data plane's map {name} ({pinned}) does not fit this build ({built}): its layout changed, so this build cannot take over without losing every connection; nothing was changed. To replace it anyway, `lbd flush --pin-dir {dir}` (drops all connections) and start again"
    )]
    Incompatible {
        name: &'static str,
        pinned: String,
        built: String,
        dir: String,
    },
    #[error(
        "the running data plane's maps have layout {pinned}, this build's have layout {built}: this build would read them wrongly, so it cannot take over without losing every connection; nothing was changed. To replace it anyway, `lbd flush --pin-dir {dir}` (drops all connections) and start again"
    )]
    LayoutVersion {
        pinned: String,
        built: String,
        dir: String,
    },
    #[error("pinned XDP link {path}: {detail}")]
    Link { path: PathBuf, detail: String },
}

type Result<T> = std::result::Result<T, DataplaneError>;

/// How to load the object.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Pin (or adopt already pinned) maps in this bpffs directory; None: no pinning.
    pub pin_dir: Option<PathBuf>,
    /// Capacity of the IPv4 connection table (None: the object's default).
    pub conn_table_size: Option<u32>,
    /// Capacity of the IPv6 connection table (None: the object's default).
    pub conn_table_size_v6: Option<u32>,
    /// Capacity of the benchmark's experiment tables (`map_name::BENCH_TABLES`; None: the
    /// object's few entries). Only `cargo xtask bench` sets it.
    pub bench_table_size: Option<u32>,
}

/// The loaded object with typed handles on every map the director uses.
pub struct Dataplane {
    ebpf: Ebpf,
    services: HashMap<MapData, VipKey, Service>,
    /// The firewall-mark classifier (`lb_marks`).
    marks: LpmTrie<MapData, MarkAddr, MarkRules>,
    reals: Array<MapData, RealServer>,
    conns: HashMap<MapData, ConnKey4, Conn>,
    conns6: HashMap<MapData, FlowKey, Conn>,
    /// The destinations of firewall-mark services' `nat` connections (`lb_nat_dests`).
    nat_dests: HashMap<MapData, FlowKey, NatDest>,
    /// The unconfirmed connections' slots (`lb_conns_new`), shared with the XDP program.
    new_conns: MmapArray,
    /// The confirmed tables' entry counts (`lb_conn_count`), shared with the XDP program.
    conn_count: MmapArray,
    persist: HashMap<MapData, PersistKey, Template>,
    locality: HashMap<MapData, PersistKey, Locality>,
    real_limits: Array<MapData, RealLimits>,
    config: Array<MapData, GlobalConfig>,
    reasons: PerCpuArray<MapData, u64>,
    svc_stats: PerCpuArray<MapData, Stats>,
    real_stats: PerCpuArray<MapData, Stats>,
    /// Per-interface counters, a slot per ifindex below `IF_STATS_DIRECT` (`lb_if_stats`),
    /// and under the ifindex for the others (`lb_if_stats_far`); not pinned.
    if_stats: PerCpuArray<MapData, IfStats>,
    if_stats_far: PerCpuHashMap<MapData, u32, IfStats>,
    table: MmapArray,
    real_conns: MmapArray,
    conn_capacity: u32,
    conn6_capacity: u32,
    pinned: Vec<PathBuf>,
    /// The pin directory, if any.
    pin_dir: Option<PathBuf>,
    /// Where `lb`'s XDP links are pinned, one per interface attached (see `links.rs`).
    link_pins: Vec<PathBuf>,
    /// Where this instance's tail-call map is pinned, once `lb` is attached (see
    /// [`Dataplane::attach`]).
    progs_pin: Option<PathBuf>,
    /// `lbctl trace`: the ring buffer (None while a trace holds it), its filter, and whether
    /// tracing is on (kept in the config's flags whoever writes the config).
    trace_ring: Option<RingBuf<MapData>>,
    /// `dr` packets' missing neighbours (`lb_neigh_miss`), until the neighbour keeper takes it.
    neigh_miss: Option<RingBuf<MapData>>,
    /// Connections changed for the sync sender (`lb_sync_events`), read by [`Self::sync_events`].
    sync_events: RingBuf<MapData>,
    trace_filter: Array<MapData, TraceFilter>,
    addr_filter: Array<MapData, u64>,
    /// FTP's expected data connections and the helper's interface (`ftp.rs`).
    ftp_expect: HashMap<MapData, ExpectKey, Expect>,
    ftp_helper: DevMap<MapData>,
    trace_on: bool,
    /// Whether `lb` reports connection changes (`CFG_F_SYNC_EVENTS`): while a sync sender runs.
    sync_events_on: bool,
    /// The maps were already pinned: a data plane is running (lbd restarted or upgraded).
    adopted: bool,
}

impl Dataplane {
    pub fn load(opts: &LoadOptions) -> Result<Self> {
        if OBJECT.is_empty() {
            return Err(DataplaneError::NoObject);
        }
        let mut loader = EbpfLoader::new();
        if let Some(n) = opts.conn_table_size {
            loader.map_max_entries(map_name::CONNS, n);
        }
        if let Some(n) = opts.conn_table_size_v6 {
            loader.map_max_entries(map_name::CONNS6, n);
        }
        if let Some(n) = opts.bench_table_size {
            for name in map_name::BENCH_TABLES {
                loader.map_max_entries(name, n);
            }
        }
        let mut pinned = Vec::new();
        let adopted = opts
            .pin_dir
            .as_ref()
            .is_some_and(|d| d.join(map_name::SERVICES).exists());
        if let Some(dir) = &opts.pin_dir
            && adopted
        {
            check_pinned_layout(dir)?;
        }
        if let Some(dir) = &opts.pin_dir {
            std::fs::create_dir_all(dir).map_err(|e| DataplaneError::PinDir(dir.clone(), e))?;
            for name in map_name::DIRECTOR {
                let p = dir.join(name);
                pinned.push(p.clone());
                loader.map_pin_path(name, p);
            }
        }
        let mut ebpf = loader.load(OBJECT)?;
        // The maps' layout version: new maps get this build's; adopted ones already had it
        // (`check_pinned_layout`), or had none (pinned before versions were recorded).
        write_layout_meta(&mut ebpf)?;
        fn take(ebpf: &mut Ebpf, name: &'static str) -> Result<Map> {
            ebpf.take_map(name).ok_or(DataplaneError::MissingMap(name))
        }
        fn typed<T: TryFrom<Map, Error = aya::maps::MapError>>(
            ebpf: &mut Ebpf,
            name: &'static str,
        ) -> Result<T> {
            T::try_from(take(ebpf, name)?).map_err(|source| DataplaneError::Map { name, source })
        }
        let conns: HashMap<MapData, ConnKey4, Conn> = typed(&mut ebpf, map_name::CONNS)?;
        let conns6: HashMap<MapData, FlowKey, Conn> = typed(&mut ebpf, map_name::CONNS6)?;
        let persist: HashMap<MapData, PersistKey, Template> = typed(&mut ebpf, map_name::PERSIST)?;
        // An adopted table keeps its size (resizing would drop every connection).
        let capacity = |name: &'static str, want: Option<u32>, default: u32| match &opts.pin_dir {
            Some(dir) if adopted => aya::maps::MapInfo::from_pin(dir.join(name))
                .map_err(|source| map_err(name, source))
                .map(|i| i.max_entries()),
            _ => Ok(want.unwrap_or(default)),
        };
        let conn_capacity = capacity(
            map_name::CONNS,
            opts.conn_table_size,
            lb_common::DEFAULT_MAX_CONNS,
        )?;
        let conn6_capacity = capacity(
            map_name::CONNS6,
            opts.conn_table_size_v6,
            lb_common::DEFAULT_MAX_CONNS6,
        )?;
        let new_conns = match take(&mut ebpf, map_name::CONNS_NEW)? {
            Map::Array(data) => MmapArray::new(data, std::mem::size_of::<NewConn>())?,
            _ => return Err(DataplaneError::MissingMap(map_name::CONNS_NEW)),
        };
        let conn_count = match take(&mut ebpf, map_name::CONN_COUNT)? {
            Map::Array(data) => MmapArray::new(data, 8)?,
            _ => return Err(DataplaneError::MissingMap(map_name::CONN_COUNT)),
        };
        let table = match take(&mut ebpf, map_name::SCHED_TABLE)? {
            Map::Array(data) => MmapArray::new(data, 8)?,
            _ => return Err(DataplaneError::MissingMap(map_name::SCHED_TABLE)),
        };
        let real_conns = match take(&mut ebpf, map_name::REAL_CONNS)? {
            Map::Array(data) => MmapArray::new(data, std::mem::size_of::<RealConns>())?,
            _ => return Err(DataplaneError::MissingMap(map_name::REAL_CONNS)),
        };
        // The programs `lb` tail-calls: loaded (verified) now and put in their slots, so that
        // `lb` finds them from its first packet.
        for (slot, name) in lb_common::prog_slot::NAMES.iter().enumerate() {
            let prog = xdp_program(&mut ebpf, name)?;
            let fd = prog
                .fd()
                .map_err(|source| DataplaneError::Program { name, source })?
                .try_clone()
                .map_err(|e| DataplaneError::Program {
                    name,
                    source: aya::programs::ProgramError::IOError(e),
                })?;
            let mut progs: ProgramArray<&mut MapData> = ProgramArray::try_from(
                ebpf.map_mut(map_name::PROGS)
                    .ok_or(DataplaneError::MissingMap(map_name::PROGS))?,
            )
            .map_err(|source| map_err(map_name::PROGS, source))?;
            progs
                .set(slot as u32, &fd, 0)
                .map_err(|source| map_err(map_name::PROGS, source))?;
        }
        Ok(Self {
            services: typed(&mut ebpf, map_name::SERVICES)?,
            marks: typed(&mut ebpf, map_name::MARKS)?,
            nat_dests: typed(&mut ebpf, map_name::NAT_DESTS)?,
            reals: typed(&mut ebpf, map_name::REALS)?,
            config: typed(&mut ebpf, map_name::CONFIG)?,
            locality: typed(&mut ebpf, map_name::LOCALITY)?,
            real_limits: typed(&mut ebpf, map_name::REAL_LIMITS)?,
            reasons: typed(&mut ebpf, map_name::REASONS)?,
            svc_stats: typed(&mut ebpf, map_name::SVC_STATS)?,
            real_stats: typed(&mut ebpf, map_name::REAL_STATS)?,
            if_stats: typed(&mut ebpf, map_name::IF_STATS)?,
            if_stats_far: typed(&mut ebpf, map_name::IF_STATS_FAR)?,
            conns,
            conns6,
            new_conns,
            conn_count,
            persist,
            table,
            real_conns,
            conn_capacity,
            conn6_capacity,
            pinned,
            pin_dir: opts.pin_dir.clone(),
            link_pins: Vec::new(),
            progs_pin: None,
            trace_ring: Some(typed(&mut ebpf, map_name::TRACE)?),
            neigh_miss: Some(typed(&mut ebpf, map_name::NEIGH_MISS)?),
            sync_events: typed(&mut ebpf, map_name::SYNC_EVENTS)?,
            trace_filter: typed(&mut ebpf, map_name::TRACE_FILTER)?,
            addr_filter: typed(&mut ebpf, map_name::ADDR_FILTER)?,
            ftp_expect: typed(&mut ebpf, map_name::FTP_EXPECT)?,
            ftp_helper: typed(&mut ebpf, map_name::FTP_HELPER)?,
            trace_on: false,
            sync_events_on: false,
            adopted,
            ebpf,
        })
    }

    /// Whether the maps were already pinned when this instance loaded: a data plane was
    /// running, and its state (services, real servers, connections) is now this instance's.
    pub fn adopted(&self) -> bool {
        self.adopted
    }

    /// Every entry of the services map (services and VIP markers).
    pub fn services_all(&self) -> Vec<(VipKey, Service)> {
        self.services.iter().filter_map(|r| r.ok()).collect()
    }

    /// Every real-server id in use (family set), with its entry.
    pub fn reals_all(&self) -> Vec<(u32, RealServer)> {
        (1..lb_common::MAX_REALS)
            .filter_map(|id| self.reals.get(&id, 0).ok().map(|r| (id, r)))
            .filter(|(_, r)| r.family != 0)
            .collect()
    }

    /// The whole object, for tests and benchmarks that load extra programs.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// Loads (verifies) one XDP program of the object and returns it.
    pub fn program(&mut self, name: &'static str) -> Result<&mut Xdp> {
        xdp_program(&mut self.ebpf, name)
    }

    /// Attaches the director program `lb` to an interface of the current network namespace.
    /// With a pin directory, through a pinned bpf_link per interface (`links.rs`): a data
    /// plane that is already running on it (the link is pinned) gets this build's program
    /// swapped in atomically (no packet meets no program); otherwise the new link is pinned,
    /// so that the program stays attached when lbd stops. `first`: the config's first
    /// interface (which takes over a link pinned by an lbd of one interface).
    ///
    /// The interface's counters (`lb_if_stats`) are made first, so that its first packet
    /// through this program is counted.
    pub fn attach(&mut self, iface: &str, mode: XdpMode, first: bool) -> Result<()> {
        if let Ok(index) = nix::net::if_::if_nametoindex(iface) {
            self.count_interface(index, links::mac(iface).unwrap_or_default())?;
        }
        let dir = self.pin_dir.clone();
        if let Some(dir) = &dir {
            self.pin_progs(dir)?;
        }
        let prog = self.program("lb")?;
        if let Some(p) = links::attach(prog, dir.as_deref(), iface, mode, first)? {
            self.link_pins.push(p);
        }
        Ok(())
    }

    /// Pins this instance's tail-call map (`lb_progs`) as `progs_lb_<id of its lb>`, before
    /// its `lb` is attached anywhere. The kernel empties a program array when its last user
    /// reference (file descriptor or pin) goes, so without the pin an `lb` left attached by
    /// a stopped or killed lbd would find none of the programs it hands packets to, and drop
    /// them. Each instance pins its own (an upgrade's old `lb` keeps calling its own build
    /// until its link is swapped); [`Dataplane::release_others`] removes the others' pins.
    fn pin_progs(&mut self, dir: &Path) -> Result<()> {
        if self.progs_pin.is_some() {
            return Ok(());
        }
        let name = "lb";
        let id = self
            .program(name)?
            .info()
            .map_err(|source| DataplaneError::Program { name, source })?
            .id();
        let path = dir.join(format!("{PROGS_PIN_PREFIX}{id}"));
        let map = self
            .ebpf
            .map(map_name::PROGS)
            .ok_or(DataplaneError::MissingMap(map_name::PROGS))?;
        map.pin(&path).map_err(|e| DataplaneError::Link {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        self.progs_pin = Some(path);
        Ok(())
    }

    /// Removes the tail-call map pins of earlier instances (an lbd that ran before this
    /// one), once this instance's `lb` is in every link: no attached program uses them any
    /// more. Returns how many were removed.
    pub fn release_others(&mut self) -> Result<usize> {
        let Some(dir) = self.pin_dir.clone() else {
            return Ok(0);
        };
        let mut n = 0;
        for p in progs_pins(&dir) {
            if Some(&p) != self.progs_pin.as_ref() {
                std::fs::remove_file(&p).map_err(|e| DataplaneError::Link {
                    path: p.clone(),
                    detail: e.to_string(),
                })?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Detaches `lb` from `iface` (a config change removed it): its pinned link is removed.
    /// Returns whether it was attached. Without a pin directory links are not tracked by
    /// interface and nothing is detached.
    pub fn detach(&mut self, iface: &str) -> Result<bool> {
        let Some(dir) = self.pin_dir.clone() else {
            return Ok(false);
        };
        if let Ok(index) = nix::net::if_::if_nametoindex(iface) {
            // Gone already when the entry is: nothing else to do.
            let _ = self.uncount_interface(index);
        }
        let path = dir.join(links::pin_name(iface));
        self.link_pins.retain(|p| *p != path);
        links::detach(&dir, iface).map_err(|e| DataplaneError::Link {
            path,
            detail: e.to_string(),
        })
    }

    /// Detaches `lb` from the interfaces a running data plane was attached to that are not
    /// in `keep` (their pinned links are removed). Returns them.
    pub fn detach_others(&mut self, keep: &[String]) -> Result<Vec<String>> {
        let Some(dir) = self.pin_dir.clone() else {
            return Ok(Vec::new());
        };
        links::detach_others(&dir, keep).map_err(|e| DataplaneError::Link {
            path: dir,
            detail: e.to_string(),
        })
    }

    /// Makes interface `ifindex`'s counters (zero, with its MAC address `mac`; all zero: `lb`
    /// does not check frames' destination) unless it has them: `lb` counts only the
    /// interfaces lbd marked (`counted`: a slot of the direct array, an entry of the hash;
    /// it never inserts on the packet path).
    pub fn count_interface(&mut self, ifindex: u32, mac: [u8; 6]) -> Result<()> {
        if self.interface_stats(ifindex).is_some() {
            return Ok(());
        }
        let first = IfStats {
            mac,
            counted: 1,
            ..IfStats::default()
        };
        self.write_interface(ifindex, first)
    }

    /// Takes interface `ifindex`'s counters away (`lb` counts its packets no more).
    fn uncount_interface(&mut self, ifindex: u32) -> Result<()> {
        if ifindex >= IF_STATS_DIRECT {
            return self
                .if_stats_far
                .remove(&ifindex)
                .map_err(|source| map_err(map_name::IF_STATS_FAR, source));
        }
        self.write_interface(ifindex, IfStats::default())
    }

    /// Writes `value` as interface `ifindex`'s counters on every CPU: its slot of the direct
    /// array, or its entry of the hash.
    fn write_interface(&mut self, ifindex: u32, value: IfStats) -> Result<()> {
        let direct = ifindex < IF_STATS_DIRECT;
        let name = if direct {
            map_name::IF_STATS
        } else {
            map_name::IF_STATS_FAR
        };
        let values = aya::maps::PerCpuValues::try_from(vec![value; possible_cpus()])
            .map_err(|e| map_err(name, aya::maps::MapError::IoError(e)))?;
        if direct {
            self.if_stats.set(ifindex, values, 0)
        } else {
            self.if_stats_far.insert(ifindex, values, 0)
        }
        .map_err(|source| map_err(name, source))
    }

    /// Interface `ifindex`'s counters summed over CPUs (None: it has none, not being one
    /// `lb` is attached to).
    pub fn interface_stats(&self, ifindex: u32) -> Option<IfStats> {
        let vals = if ifindex < IF_STATS_DIRECT {
            self.if_stats.get(&ifindex, 0).ok()?
        } else {
            self.if_stats_far.get(&ifindex, 0).ok()?
        };
        let mut s = IfStats::default();
        for v in vals.iter() {
            s.add(v);
        }
        (s.counted != 0).then_some(s)
    }

    pub fn config(&self) -> Result<GlobalConfig> {
        self.config
            .get(&0, 0)
            .map_err(|source| map_err(map_name::CONFIG, source))
    }

    pub fn set_config(&mut self, c: &GlobalConfig) -> Result<()> {
        let mut c = *c;
        if self.trace_on {
            c.flags |= CFG_F_TRACE;
        } else {
            c.flags &= !CFG_F_TRACE;
        }
        if self.sync_events_on {
            c.flags |= CFG_F_SYNC_EVENTS;
        } else {
            c.flags &= !CFG_F_SYNC_EVENTS;
        }
        self.config
            .set(0, c, 0)
            .map_err(|source| map_err(map_name::CONFIG, source))
    }

    /// The address filter's words (see `lb_common::ADDR_FILTER_BITS_LOG2`).
    pub fn addr_filter(&self) -> Result<Vec<u64>> {
        (0..2 * lb_common::ADDR_FILTER_WORDS)
            .map(|i| {
                self.addr_filter
                    .get(&i, 0)
                    .map_err(|source| map_err(map_name::ADDR_FILTER, source))
            })
            .collect()
    }

    pub fn set_addr_filter_word(&mut self, i: u32, w: u64) -> Result<()> {
        self.addr_filter
            .set(i, w, 0)
            .map_err(|source| map_err(map_name::ADDR_FILTER, source))
    }

    /// Whether `lb` reports connection changes to the sync sender.
    pub fn sync_events_on(&self) -> bool {
        self.sync_events_on
    }

    /// Has `lb` report connection changes (`lb_sync_events`) or stop; the reports still in the
    /// ring are dropped when they stop.
    pub fn set_sync_events(&mut self, on: bool) -> Result<()> {
        self.sync_events_on = on;
        let c = self.config()?;
        self.set_config(&c)?;
        if !on {
            while self.sync_events.next().is_some() {}
        }
        Ok(())
    }

    /// Takes the connection changes `lb` reported since the last call (at most `max`), in the
    /// order they came.
    pub fn sync_events(&mut self, max: usize, into: &mut impl Extend<FlowKey>) -> usize {
        let mut n = 0;
        while n < max {
            let Some(item) = self.sync_events.next() else {
                break;
            };
            if item.len() == std::mem::size_of::<FlowKey>() {
                // SAFETY: `lb` writes FlowKey records only (size checked).
                let k = unsafe { (item.as_ptr() as *const FlowKey).read_unaligned() };
                into.extend(std::iter::once(k));
                n += 1;
            }
        }
        n
    }

    /// One reason counter, summed over CPUs.
    pub fn reason(&self, i: u32) -> Result<u64> {
        self.reasons
            .get(&i, 0)
            .map(|v| v.iter().sum())
            .map_err(|source| map_err(map_name::REASONS, source))
    }

    /// The ring buffer in which `lb` reports the real servers whose neighbour entry a `dr`
    /// packet found missing ([`lb_common::NeighMiss`]); once (the first caller reads it).
    pub fn take_neigh_miss(&mut self) -> Option<RingBuf<MapData>> {
        self.neigh_miss.take()
    }

    /// Starts tracing the packets `f` selects; returns the ring buffer to read the events
    /// from (give it back to [`Dataplane::stop_trace`]). None while another trace runs.
    pub fn start_trace(&mut self, f: &TraceFilter) -> Result<Option<RingBuf<MapData>>> {
        let Some(ring) = self.trace_ring.take() else {
            return Ok(None);
        };
        let r = (|| {
            self.trace_filter
                .set(0, f, 0)
                .map_err(|source| map_err(map_name::TRACE_FILTER, source))?;
            self.trace_on = true;
            let c = self.config()?;
            self.set_config(&c)
        })();
        match r {
            Ok(()) => Ok(Some(ring)),
            Err(e) => {
                self.stop_trace(ring);
                Err(e)
            }
        }
    }

    /// Stops tracing (the data plane stops writing events) and takes the ring buffer back.
    pub fn stop_trace(&mut self, ring: RingBuf<MapData>) {
        self.trace_on = false;
        if let Ok(c) = self.config() {
            let _ = self.set_config(&c);
        }
        self.trace_ring = Some(ring);
    }

    /// Inserts or replaces a service; readers see the old or the new value, never a mix.
    pub fn set_service(&mut self, key: &VipKey, svc: &Service) -> Result<()> {
        self.services
            .insert(key, svc, 0)
            .map_err(|source| map_err(map_name::SERVICES, source))
    }

    /// The service entry the data plane reads for a VIP, if any.
    pub fn service(&self, key: &VipKey) -> Option<Service> {
        self.services.get(key, 0).ok()
    }

    /// Inserts or replaces the classifier's rules of a destination prefix (`len`: the trie's
    /// prefix length) in one update.
    pub fn set_mark_rules(&mut self, len: u32, addr: &MarkAddr, rules: &MarkRules) -> Result<()> {
        self.marks
            .insert(&LpmKey::new(len, *addr), rules, 0)
            .map_err(|source| map_err(map_name::MARKS, source))
    }

    /// Removes a destination prefix from the classifier; one already gone is no error.
    pub fn remove_mark_rules(&mut self, len: u32, addr: &MarkAddr) -> Result<()> {
        match self.marks.remove(&LpmKey::new(len, *addr)) {
            Ok(()) => Ok(()),
            Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            Err(source) => Err(map_err(map_name::MARKS, source)),
        }
    }

    /// Every entry of the classifier: (trie prefix length, data, rules).
    pub fn marks_all(&self) -> Vec<(u32, MarkAddr, MarkRules)> {
        self.marks
            .iter()
            .filter_map(|r| r.ok())
            .map(|(k, v)| (k.prefix_len(), k.data(), v))
            .collect()
    }

    pub fn remove_service(&mut self, key: &VipKey) -> Result<()> {
        self.services
            .remove(key)
            .map_err(|source| map_err(map_name::SERVICES, source))
    }

    pub fn set_real(&mut self, id: u32, r: &RealServer) -> Result<()> {
        self.reals
            .set(id, r, 0)
            .map_err(|source| map_err(map_name::REALS, source))
    }

    /// A real server's entry by id (also of removed real servers whose connections still
    /// drain to them).
    pub fn real(&self, id: u32) -> Result<RealServer> {
        self.reals
            .get(&id, 0)
            .map_err(|source| map_err(map_name::REALS, source))
    }

    /// Writes scheduler cells (`lb_common::sched_cell`) into the scheduler table at `off`.
    pub fn write_table(&mut self, off: u32, cells: &[u64]) -> Result<()> {
        self.table.write_cells(off, cells)
    }

    pub fn read_table(&self, off: u32, len: u32) -> Result<Vec<u32>> {
        self.table.read_ids(off, len as usize)
    }

    pub fn table_capacity(&self) -> u32 {
        self.table.slots
    }

    /// Every reason counter, summed over CPUs, indexed by `lb_common::reason`.
    pub fn reasons(&self) -> Result<Vec<u64>> {
        (0..REASON_MAX).map(|i| self.reason(i)).collect()
    }

    pub fn service_stats(&self, id: u32) -> Result<Stats> {
        sum_stats(&self.svc_stats, id, map_name::SVC_STATS)
    }

    pub fn real_stats(&self, id: u32) -> Result<Stats> {
        sum_stats(&self.real_stats, id, map_name::REAL_STATS)
    }

    /// A service's counters on each possible CPU, in CPU order (`/proc/net/ip_vs_stats_percpu`).
    pub fn service_stats_per_cpu(&self, id: u32) -> Result<Vec<Stats>> {
        let vals = self
            .svc_stats
            .get(&id, 0)
            .map_err(|source| map_err(map_name::SVC_STATS, source))?;
        Ok(vals.iter().copied().collect())
    }

    /// `twos`' last draws on each possible CPU, in CPU order (`lb_common::TwosDraw`): what the
    /// tests recompute the choice from.
    pub fn twos_draws(&self) -> Result<Vec<TwosDraw>> {
        let name = map_name::TWOS_DRAW;
        let map = self
            .ebpf
            .map(name)
            .ok_or(DataplaneError::MissingMap(name))?;
        let m: PerCpuArray<&MapData, TwosDraw> =
            PerCpuArray::try_from(map).map_err(|source| map_err(name, source))?;
        let vals = m.get(&0, 0).map_err(|source| map_err(name, source))?;
        Ok(vals.iter().copied().collect())
    }

    /// Zeroes the counters of a service id (when the id is given to a new service).
    pub fn zero_service_stats(&mut self, id: u32) -> Result<()> {
        zero_stats(&mut self.svc_stats, id, map_name::SVC_STATS)
    }

    pub fn zero_real_stats(&mut self, id: u32) -> Result<()> {
        zero_stats(&mut self.real_stats, id, map_name::REAL_STATS)
    }

    /// A real server's active and inactive connection counts (negative transient values, from
    /// concurrent updates, read as they are).
    pub fn real_conns(&self, id: u32) -> Result<RealConns> {
        let [a, i] = self.real_conns.counters(id)?;
        Ok(RealConns {
            active: a.load(Ordering::Relaxed),
            inactive: i.load(Ordering::Relaxed),
        })
    }

    /// Adds to a real server's counts, atomically with the XDP program's own updates.
    pub fn add_real_conns(&self, id: u32, active: i64, inactive: i64) -> Result<()> {
        let [a, i] = self.real_conns.counters(id)?;
        a.fetch_add(active, Ordering::Relaxed);
        i.fetch_add(inactive, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes a connection entry, confirmed or not (expiry); false when it was already gone.
    /// The caller takes a deleted connection out of its real server's counts.
    pub fn delete_conn(&mut self, key: &FlowKey) -> bool {
        let removed = if key.family == FAMILY_V6 {
            self.conns6.remove(key).is_ok()
        } else {
            self.conns.remove(&ConnKey4::of(key)).is_ok()
        };
        if removed {
            self.count_entries(key.family, -1);
            return true;
        }
        self.clear_new_conn(key)
    }

    /// Empties the unconfirmed slot of `key`, unless the XDP program rewrote it meanwhile
    /// (the check word is swapped out atomically); false when no slot holds it. As for a
    /// confirmed entry, the caller takes the connection out of its real server's counts.
    fn clear_new_conn(&mut self, key: &FlowKey) -> bool {
        let Some((i, c)) = self.find_new_conn(key) else {
            return false;
        };
        self.new_conn_check(i)
            .compare_exchange(c.check, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The unconfirmed slot holding `key`, whole (its check word matching its fields).
    fn find_new_conn(&self, key: &FlowKey) -> Option<(u32, NewConn)> {
        let base = new_conn_bucket(key) * NEW_CONN_WAYS;
        (base..base + NEW_CONN_WAYS)
            .filter_map(|i| self.new_conn_at(i).map(|c| (i, c)))
            .find(|(_, c)| c.flow == *key)
    }

    /// Slot `i` of the unconfirmed table, copied out, if it holds an entry written whole.
    fn new_conn_at(&self, i: u32) -> Option<NewConn> {
        if i >= self.new_conns.slots {
            return None;
        }
        // SAFETY: in range; a plain copy of memory the XDP program may be rewriting, which
        // the check word reveals.
        let c = unsafe { (self.new_conns.at(i) as *const NewConn).read_volatile() };
        c.sealed().then_some(c)
    }

    /// The check word of slot `i`, as an atomic shared with the XDP program.
    fn new_conn_check(&self, i: u32) -> &AtomicU32 {
        let off = std::mem::offset_of!(NewConn, check);
        // SAFETY: i is in range (the caller found it); the word is 4-aligned (the stride is a
        // multiple of 8 and the offset of 4).
        unsafe { AtomicU32::from_ptr(self.new_conns.at(i).add(off) as *mut u32) }
    }

    pub(super) fn count_entries(&self, family: u8, n: i64) {
        let i = (family == FAMILY_V6) as u32;
        if let Ok(c) = self.conn_count.counter(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Entries of the confirmed tables, IPv4 and IPv6, as the data plane counts them (no
    /// walk).
    pub fn conn_entries(&self) -> (i64, i64) {
        let get = |i| {
            self.conn_count
                .counter(i)
                .map(|c| c.load(Ordering::Relaxed))
                .unwrap_or(0)
        };
        (get(0), get(1))
    }

    /// Every connection entry, confirmed (both families, from the data plane's counts) and
    /// unconfirmed (slots in use), without walking the confirmed tables.
    pub fn conn_table_entries(&self) -> u64 {
        let (v4, v6) = self.conn_entries();
        let unconfirmed = (0..self.new_conns.slots)
            .filter(|i| self.new_conn_at(*i).is_some())
            .count();
        (v4.max(0) + v6.max(0)) as u64 + unconfirmed as u64
    }

    /// Every table's capacity: both families' connection tables and the unconfirmed slots.
    pub fn conn_table_capacity(&self) -> u32 {
        self.conn_capacity + self.conn6_capacity + self.new_conns.slots
    }

    /// The unconfirmed connections (slots of a flow's first packet, and `nat` reply slots).
    pub fn new_conns(&self) -> Vec<(FlowKey, Conn)> {
        (0..self.new_conns.slots)
            .filter_map(|i| self.new_conn_at(i))
            .map(|c| {
                (
                    c.flow,
                    Conn {
                        real: c.real,
                        last_seen: c.last_seen,
                        state: c.state,
                        flags: c.flags | CONN_F_UNCONFIRMED,
                        _pad: [0; 6],
                    },
                )
            })
            .collect()
    }

    /// The persistence templates (walks the whole map).
    pub fn persist_templates(&self) -> Vec<(PersistKey, Template)> {
        batch::entries(&self.persist)
    }

    pub fn delete_persist(&mut self, key: &PersistKey) -> bool {
        self.persist.remove(key).is_ok()
    }

    /// A real server's connection thresholds and overload state.
    pub fn real_limits(&self, id: u32) -> Result<RealLimits> {
        self.real_limits
            .get(&id, 0)
            .map_err(|source| map_err(map_name::REAL_LIMITS, source))
    }

    pub fn set_real_limits(&mut self, id: u32, l: &RealLimits) -> Result<()> {
        self.real_limits
            .set(id, l, 0)
            .map_err(|source| map_err(map_name::REAL_LIMITS, source))
    }

    /// The `lblc` / `lblcr` locality entries (walks the whole map).
    pub fn locality_entries(&self) -> Vec<(PersistKey, Locality)> {
        batch::entries(&self.locality)
    }

    pub fn locality(&self, key: &PersistKey) -> Option<Locality> {
        self.locality.get(key, 0).ok()
    }

    pub fn set_locality(&mut self, key: &PersistKey, l: &Locality) -> Result<()> {
        self.locality
            .insert(key, l, 0)
            .map_err(|source| map_err(map_name::LOCALITY, source))
    }

    pub fn delete_locality(&mut self, key: &PersistKey) -> bool {
        self.locality.remove(key).is_ok()
    }

    /// One connection entry, if present: confirmed, else unconfirmed (flag
    /// `CONN_F_UNCONFIRMED`).
    pub fn conn(&self, key: &FlowKey) -> Option<Conn> {
        let c = if key.family == FAMILY_V6 {
            self.conns6.get(key, 0).ok()
        } else {
            self.conns.get(&ConnKey4::of(key), 0).ok()
        };
        c.or_else(|| {
            self.find_new_conn(key).map(|(_, c)| Conn {
                real: c.real,
                last_seen: c.last_seen,
                state: c.state,
                flags: c.flags | CONN_F_UNCONFIRMED,
                _pad: [0; 6],
            })
        })
    }

    /// Every connection entry: the confirmed tables' (both families) and the unconfirmed
    /// ones (flag `CONN_F_UNCONFIRMED`), for listings, expiry and tests.
    pub fn connections(&self) -> Vec<(FlowKey, Conn)> {
        let mut v: Vec<(FlowKey, Conn)> = batch::entries(&self.conns)
            .into_iter()
            .map(|(k, c)| (k.flow(), c))
            .collect();
        v.extend(batch::entries(&self.conns6));
        v.extend(self.new_conns());
        v
    }

    /// Capacity of the IPv4 connection table.
    pub fn conn_capacity(&self) -> u32 {
        self.conn_capacity
    }

    /// Capacity of the IPv6 connection table.
    pub fn conn6_capacity(&self) -> u32 {
        self.conn6_capacity
    }

    /// Removes the pins this instance created or adopted (a clean stop), and their directory
    /// when nothing else is left in it.
    pub fn unpin(&mut self) {
        let dir = self
            .pinned
            .first()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        // The links first: unpinned, each detaches the program from its interface.
        for p in self.link_pins.drain(..) {
            let _ = std::fs::remove_file(p);
        }
        if let Some(p) = self.progs_pin.take() {
            let _ = std::fs::remove_file(p);
        }
        for p in self.pinned.drain(..) {
            let _ = std::fs::remove_file(&p);
        }
        if let Some(d) = dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn map_err(name: &'static str, source: aya::maps::MapError) -> DataplaneError {
    DataplaneError::Map { name, source }
}

fn sum_stats(m: &PerCpuArray<MapData, Stats>, id: u32, name: &'static str) -> Result<Stats> {
    let vals = m.get(&id, 0).map_err(|source| map_err(name, source))?;
    let mut s = Stats::default();
    for v in vals.iter() {
        s.add(v);
    }
    Ok(s)
}

fn zero_stats(m: &mut PerCpuArray<MapData, Stats>, id: u32, name: &'static str) -> Result<()> {
    let n =
        aya::util::nr_cpus().map_err(|(_, e)| map_err(name, aya::maps::MapError::IoError(e)))?;
    let zeros = aya::maps::PerCpuValues::try_from(vec![Stats::default(); n])
        .map_err(|e| map_err(name, aya::maps::MapError::IoError(e)))?;
    m.set(id, zeros, 0).map_err(|source| map_err(name, source))
}

/// How many CPUs the kernel's per-CPU maps have a value for (the possible CPUs).
pub fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1)
}

/// Tells a standalone `decap` (from [`attach_standalone`]) to strip GUE sent to `port`.
pub fn set_decap_gue_port(ebpf: &mut Ebpf, port: u16) -> Result<()> {
    let name = map_name::DECAP_CONFIG;
    let mut m: Array<&mut MapData, DecapConfig> =
        Array::try_from(ebpf.map_mut(name).ok_or(DataplaneError::MissingMap(name))?)
            .map_err(|source| map_err(name, source))?;
    let c = DecapConfig {
        gue_port: port.to_be(),
        _pad: [0; 6],
    };
    m.set(0, c, 0).map_err(|source| map_err(name, source))
}

/// Checks that the maps pinned in `dir` (a running data plane's) have the key size, value size
/// and capacity this build's object defines, and this build's layout version (which also
/// catches a change that keeps every size), so that adopting them is safe. The connection
/// table alone may differ in capacity (it is configurable; the pinned size is kept).
fn check_pinned_layout(dir: &Path) -> Result<()> {
    let obj = aya_obj::Object::parse(OBJECT).map_err(|e| DataplaneError::Incompatible {
        name: "(object)",
        pinned: String::new(),
        built: format!("unparsable: {e}"),
        dir: dir.display().to_string(),
    })?;
    for name in map_name::DIRECTOR {
        let path = dir.join(name);
        let Some(def) = obj.maps.get(name) else {
            return Err(DataplaneError::MissingMap(name));
        };
        if !path.exists() {
            // A map new in this build: created and pinned at load.
            continue;
        }
        let info = aya::maps::MapInfo::from_pin(&path).map_err(|source| map_err(name, source))?;
        // The connection tables' capacities are the config's (an adopted table keeps its own).
        let same_capacity = name == map_name::CONNS
            || name == map_name::CONNS6
            || info.max_entries() == def.max_entries();
        if info.key_size() != def.key_size()
            || info.value_size() != def.value_size()
            || !same_capacity
        {
            return Err(DataplaneError::Incompatible {
                name,
                pinned: format!(
                    "key {} bytes, value {} bytes, {} entries",
                    info.key_size(),
                    info.value_size(),
                    info.max_entries()
                ),
                built: format!(
                    "key {} bytes, value {} bytes, {} entries",
                    def.key_size(),
                    def.value_size(),
                    def.max_entries()
                ),
                dir: dir.display().to_string(),
            });
        }
    }
    check_layout_version(dir)
}

/// The layout version and fingerprint of this build, as a person reads them.
fn layout_name(version: u32, fingerprint: u64) -> String {
    format!("version {version} (fingerprint {fingerprint:#018x})")
}

/// Refuses pinned maps of another layout version than this build's (see
/// `lb_common::LAYOUT_VERSION`), even when every size agrees. Maps pinned without
/// `lb_meta` predate versions and have version `LAYOUT_VERSION_UNVERSIONED`'s layout.
fn check_layout_version(dir: &Path) -> Result<()> {
    let name = map_name::META;
    let path = dir.join(name);
    let pinned = if path.exists() {
        let data = MapData::from_pin(&path).map_err(|source| map_err(name, source))?;
        let meta: Array<MapData, LayoutMeta> =
            Array::try_from(Map::Array(data)).map_err(|source| map_err(name, source))?;
        let m = meta.get(&0, 0).map_err(|source| map_err(name, source))?;
        if m.version == LAYOUT_VERSION && m.fingerprint == LAYOUT_FINGERPRINT {
            return Ok(());
        }
        layout_name(m.version, m.fingerprint)
    } else if LAYOUT_VERSION == LAYOUT_VERSION_UNVERSIONED {
        return Ok(());
    } else {
        format!(
            "version {LAYOUT_VERSION_UNVERSIONED} (no {name}: pinned before layout versions were recorded)"
        )
    };
    Err(DataplaneError::LayoutVersion {
        pinned,
        built: layout_name(LAYOUT_VERSION, LAYOUT_FINGERPRINT),
        dir: dir.display().to_string(),
    })
}

/// Records this build's layout version in `lb_meta`.
fn write_layout_meta(ebpf: &mut Ebpf) -> Result<()> {
    let name = map_name::META;
    let mut m: Array<&mut MapData, LayoutMeta> =
        Array::try_from(ebpf.map_mut(name).ok_or(DataplaneError::MissingMap(name))?)
            .map_err(|source| map_err(name, source))?;
    let meta = LayoutMeta {
        version: LAYOUT_VERSION,
        _pad: 0,
        fingerprint: LAYOUT_FINGERPRINT,
    };
    m.set(0, meta, 0).map_err(|source| map_err(name, source))
}

/// The prefix of the pins of `lb`'s tail-call maps, one per lbd instance that attached it
/// ([`Dataplane::pin_progs`]).
const PROGS_PIN_PREFIX: &str = "progs_lb_";

/// The tail-call map pins in `dir`.
fn progs_pins(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(PROGS_PIN_PREFIX)
        })
        .map(|e| e.path())
        .collect()
}

/// Removes a data plane's pins (the link first, which detaches its program; then the maps,
/// which go with their last reference): `lbd flush`.
pub fn flush(dir: &Path) -> std::io::Result<usize> {
    let mut n = links::flush(dir)?;
    for p in progs_pins(dir) {
        std::fs::remove_file(&p)?;
        n += 1;
    }
    for name in map_name::DIRECTOR {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p)?;
            n += 1;
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(n)
}

/// One XDP program of the object, loaded (verified) if it was not yet.
fn xdp_program<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut Xdp> {
    let prog: &mut Xdp = ebpf
        .program_mut(name)
        .ok_or(DataplaneError::MissingProgram(name))?
        .try_into()
        .map_err(|source| DataplaneError::Program { name, source })?;
    if prog.fd().is_err() {
        load_program(prog, name)?;
    }
    Ok(prog)
}

/// Loads (verifies) a program. The kernel abandons a verification with EAGAIN when a signal
/// arrives meanwhile (seen under load with many threads); it asks for a retry, so retry a few
/// times.
fn load_program(prog: &mut Xdp, name: &'static str) -> Result<()> {
    let mut attempt = 0;
    loop {
        match prog.load() {
            Ok(()) => return Ok(()),
            Err(aya::programs::ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(nix::errno::Errno::EAGAIN as i32)
                    && attempt < 4 =>
            {
                attempt += 1;
                tracing::debug!(
                    program = name,
                    attempt,
                    "verifier asked for a retry (EAGAIN)"
                );
            }
            Err(source) => return Err(DataplaneError::Program { name, source }),
        }
    }
}

/// Attaches an XDP program in the given mode.
pub fn attach(prog: &mut Xdp, name: &'static str, iface: &str, mode: XdpMode) -> Result<()> {
    let flags = match mode {
        XdpMode::Native => AyaXdpMode::Driver,
        XdpMode::Generic => AyaXdpMode::Skb,
    };
    prog.attach(iface, flags)
        .map(|_| ())
        .map_err(|source| DataplaneError::Program { name, source })
}

/// Loads one program of the object on its own (with its own maps) and attaches it: `decap` on
/// a real server (lbd `decap`), or `pass` on a veth peer. Dropping the result detaches it.
pub fn attach_standalone(name: &'static str, iface: &str, mode: XdpMode) -> Result<Ebpf> {
    if OBJECT.is_empty() {
        return Err(DataplaneError::NoObject);
    }
    let mut ebpf = EbpfLoader::new().load(OBJECT)?;
    attach(xdp_program(&mut ebpf, name)?, name, iface, mode)?;
    Ok(ebpf)
}

/// Mounts a bpffs at `path` unless one is there already.
pub fn ensure_bpffs(path: &Path) -> std::io::Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")?;
    let target = path.to_string_lossy();
    if mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(&*target) && l.split(' ').nth(2) == Some("bpf"))
    {
        return Ok(());
    }
    std::fs::create_dir_all(path)?;
    nix::mount::mount(
        Some("bpf"),
        path,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(std::io::Error::from)
}
