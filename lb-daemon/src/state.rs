//! The applied state: which ids and table regions each service and real server has, and the
//! one way a config reaches the maps (`State::apply`). A service's table change is always
//! written into a fresh region first and then flipped in with one update of the service's map
//! entry, so the data plane never reads a half-written table.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    time::{Duration, Instant},
};

use lb_common::{
    CFG_F_CONN_REUSE, CFG_F_NAT, CFG_F_SLOPPY_TCP, FAMILY_V4, FAMILY_V6, FWD_DR, FWD_NAT, FWD_TUN,
    GlobalConfig, MAX_REALS, MAX_SERVICES, PROTO_ICMP, PROTO_ICMPV6, RealLimits, RealServer,
    SCHED_MH, SVC_F_ONE_PACKET, SVC_F_VIP_ADDR, Service, VipKey,
    api::{RealServerView, ServiceView},
};

use crate::{
    config::{Config, Protocol, RealServerConfig, ServiceConfig},
    dataplane::{Dataplane, DataplaneError},
    maglev, sched,
};

/// How long a freed table region stays unused: longer than any packet's run through `lb`
/// that could still hold the old service value.
pub const REGION_QUARANTINE: Duration = Duration::from_secs(1);
/// How long a removed real server's id waits before lbd looks whether anything still names it
/// (past the fragment table's 30 s, whose entries lbd cannot cheaply read).
pub const REAL_ID_QUARANTINE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error("{path}: {source}")]
    Sched {
        path: String,
        source: sched::SchedError,
    },
    #[error("no free {0} id left")]
    Ids(&'static str),
    #[error("the scheduler table has no free region of {0} slots")]
    TableFull(u32),
}

/// What an apply changed, for logs and `lbctl apply`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub services_added: usize,
    pub services_removed: usize,
    pub tables_rewritten: usize,
    /// Connections of removed real servers expired (`expire_nodest_conn`).
    pub connections_expired: usize,
}

#[derive(Debug)]
struct RealState {
    id: u32,
    cfg: RealServerConfig,
    port: u16,
}

#[derive(Debug)]
struct ServiceState {
    id: u32,
    /// Position in the config: listings follow the order the user wrote.
    index: usize,
    cfg: ServiceConfig,
    reals: Vec<RealState>,
    region: Region,
    /// What the current table was built from.
    table_input: TableInput,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TableInput {
    scheduler: String,
    /// (timeout, prefix): part of the service entry written with the table.
    persistence: (u32, u8),
    size: u32,
    /// (`SVC_F_*`, `SCHED_F_*`): part of the service entry written with the table.
    flags: (u32, u8),
    /// (real id, weight), in configured order.
    reals: Vec<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    off: u32,
    len: u32,
}

#[derive(Debug)]
pub struct State {
    services: BTreeMap<VipKey, ServiceState>,
    /// Service ids in use are the keys of `services`' values; freed ones are reused.
    free_service_ids: Vec<u32>,
    /// Ids of deleted services whose real servers' ids still wait (their connections may
    /// still flow and count on the service's id): freed with the last of them.
    held_service_ids: Vec<u32>,
    next_service_id: u32,
    /// Real-server ids: an existing connection may still name a removed real server's id (it
    /// keeps flowing there, as in IPVS), so a removed id waits in `removed_real_ids` until
    /// nothing names it any more (see [`State::recycle_real_ids`]), then goes to
    /// `free_real_ids` for the next real server.
    next_real_id: u32,
    removed_real_ids: Vec<(u32, Instant)>,
    /// For each removed real server still waiting: its service's VIP and, for `nat`, its own
    /// address. Their connections still flow, so the address filter keeps both.
    removed_addrs: HashMap<u32, (Option<IpAddr>, Option<IpAddr>)>,
    /// The service each waiting removed real server belonged to.
    removed_service: HashMap<u32, u32>,
    free_real_ids: Vec<u32>,
    regions: RegionAlloc,
    config: Option<Config>,
    /// VIP address markers (`SVC_F_VIP_ADDR`) in the services map: the director answers pings
    /// to these addresses.
    markers: std::collections::BTreeSet<VipKey>,
    /// MTU of the interface lb forwards on (0: unknown, no check in the data plane).
    mtu: u32,
    /// The address filter as last written (None: not read yet; see [`State::apply`]).
    addr_filter: Option<Vec<u64>>,
}

pub fn vip_key(proto: Protocol, addr: IpAddr, port: u16) -> VipKey {
    let (addr, family) = addr_words(addr);
    VipKey {
        addr,
        port: port.to_be(),
        proto: proto.number(),
        family,
    }
}

/// An address as the maps store it: network byte order words, IPv4 in the first.
pub fn addr_words(a: IpAddr) -> ([u32; 4], u8) {
    match a {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    }
}

fn forwarding_name(code: u8) -> &'static str {
    match code {
        FWD_TUN => "tun",
        FWD_NAT => "nat",
        _ => "dr",
    }
}

/// The address a map entry's words and family stand for (the inverse of [`addr_words`]).
pub fn addr_of(words: &[u32; 4], family: u8) -> IpAddr {
    if family == FAMILY_V6 {
        let mut o = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            o[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
        IpAddr::from(o)
    } else {
        IpAddr::from(words[0].to_ne_bytes())
    }
}

fn forwarding_code(name: &str) -> u8 {
    match name {
        "tun" => FWD_TUN,
        "nat" => FWD_NAT,
        _ => FWD_DR,
    }
}

impl State {
    /// `mtu`: the director interface's MTU (0 when unknown).
    pub fn new(table_capacity: u32, mtu: u32) -> Self {
        Self {
            services: BTreeMap::new(),
            free_service_ids: Vec::new(),
            held_service_ids: Vec::new(),
            next_service_id: 1,
            next_real_id: 1,
            removed_real_ids: Vec::new(),
            removed_addrs: HashMap::new(),
            removed_service: HashMap::new(),
            free_real_ids: Vec::new(),
            regions: RegionAlloc::new(table_capacity),
            config: None,
            markers: Default::default(),
            mtu,
            addr_filter: None,
        }
    }

    /// The bookkeeping of a data plane that is already running (lbd restarted or upgraded):
    /// services, their table regions and real servers with their ids, read back from the
    /// maps, so that the next [`State::apply`] changes only what the config changes, and
    /// every connection keeps its real server. Real-server ids go on from the highest in use
    /// (removed ones included: connections may still name them).
    pub fn adopt(dp: &Dataplane, mtu: u32) -> Self {
        let mut st = State::new(dp.table_capacity(), mtu);
        let reals = dp.reals_all();
        st.next_real_id = reals.iter().map(|(id, _)| id + 1).max().unwrap_or(1);
        st.removed_real_ids = reals
            .iter()
            .filter(|(_, r)| r.flags & lb_common::REAL_F_REMOVED != 0)
            .map(|(id, _)| (*id, Instant::now()))
            .collect();
        // (A removed real server's VIP is not in its entry: after a restart, the connections
        // of a service deleted before it keep flowing only if the VIP is still configured.)
        st.removed_addrs = reals
            .iter()
            .filter(|(_, r)| r.flags & lb_common::REAL_F_REMOVED != 0)
            .map(|(id, r)| {
                let nat = (r.method == FWD_NAT).then(|| addr_of(&r.addr, r.family));
                (*id, (None, nat))
            })
            .collect();
        // Ids below the highest that no entry holds were freed before the restart.
        let used: std::collections::BTreeSet<u32> = reals.iter().map(|(id, _)| *id).collect();
        st.free_real_ids = (1..st.next_real_id)
            .filter(|i| !used.contains(i))
            .rev()
            .collect();
        let mut used_ids = std::collections::BTreeSet::new();
        for (key, svc) in dp.services_all() {
            if svc.flags & SVC_F_VIP_ADDR != 0 {
                st.markers.insert(key);
                continue;
            }
            used_ids.insert(svc.id);
            let region = Region {
                off: svc.table_off,
                len: svc.table_len,
            };
            st.regions.reserve(region);
            let members = reals
                .iter()
                .filter(|(_, r)| r.service == svc.id && r.flags & lb_common::REAL_F_REMOVED == 0)
                .map(|(id, r)| {
                    let port = u16::from_be(r.port);
                    let limits = dp.real_limits(*id).unwrap_or_default();
                    let threshold = |v: u32| (v != 0).then_some(v);
                    RealState {
                        id: *id,
                        cfg: RealServerConfig {
                            address: addr_of(&r.addr, r.family),
                            port: Some(port),
                            weight: 0,
                            forwarding: forwarding_name(r.method).into(),
                            tun_type: if r.tun_port != 0 {
                                Some("gue".to_string())
                            } else if r.flags & lb_common::REAL_F_GRE != 0 {
                                Some("gre".to_string())
                            } else {
                                None
                            },
                            tun_port: (r.tun_port != 0).then(|| u16::from_be(r.tun_port)),
                            upper_threshold: threshold(limits.upper),
                            lower_threshold: threshold(limits.lower),
                            ..RealServerConfig::adopted()
                        },
                        port,
                    }
                })
                .collect();
            st.services.insert(
                key,
                ServiceState {
                    id: svc.id,
                    index: usize::MAX,
                    cfg: ServiceConfig::adopted(&key),
                    reals: members,
                    region,
                    // Unknown: the first apply writes the table again (the same table for
                    // the same real servers and weights; connections do not move either way).
                    table_input: TableInput::default(),
                },
            );
        }
        // Deleted services whose removed real servers still wait keep their ids.
        st.removed_service = reals
            .iter()
            .filter(|(_, r)| r.flags & lb_common::REAL_F_REMOVED != 0)
            .map(|(id, r)| (*id, r.service))
            .collect();
        let held: std::collections::BTreeSet<u32> = st
            .removed_service
            .values()
            .filter(|sid| !used_ids.contains(sid))
            .copied()
            .collect();
        st.next_service_id = used_ids
            .iter()
            .chain(&held)
            .max()
            .map(|m| m + 1)
            .unwrap_or(1);
        st.free_service_ids = (1..st.next_service_id)
            .filter(|i| !used_ids.contains(i) && !held.contains(i))
            .rev()
            .collect();
        st.held_service_ids = held.into_iter().collect();
        st
    }

    /// Makes the maps match a validated config: adds, changes and removes services, each
    /// service's change atomic.
    pub fn apply(&mut self, dp: &mut Dataplane, cfg: &Config) -> Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport::default();
        // The address filter lets packets reach the connection table and the services: new
        // addresses' bits are set before their services exist, stale ones cleared after.
        let filter = self.addr_filter_for(cfg);
        let old = match self.addr_filter.take() {
            Some(f) => f,
            None => dp.addr_filter()?,
        };
        let both: Vec<u64> = old.iter().zip(&filter).map(|(o, n)| o | n).collect();
        write_filter(dp, &old, &both)?;
        self.addr_filter = Some(both.clone());
        let nat = cfg
            .services
            .iter()
            .flat_map(|s| &s.real_servers)
            .any(|r| r.forwarding == "nat");
        dp.set_config(&GlobalConfig {
            src4: cfg
                .director
                .ipv4
                .map(|a| u32::from_ne_bytes(a.octets()))
                .unwrap_or(0),
            flags: (if nat { CFG_F_NAT } else { 0 })
                | (if cfg.sloppy_tcp { CFG_F_SLOPPY_TCP } else { 0 })
                | (if cfg.conn_reuse_mode() != 0 {
                    CFG_F_CONN_REUSE
                } else {
                    0
                }),
            src6: cfg
                .director
                .ipv6
                .map(|a| addr_words(IpAddr::V6(a)).0)
                .unwrap_or([0; 4]),
            mtu: self.mtu,
            lblcr_expiration_s: cfg.lblcr_expiration(),
            flood_window_max: lb_common::flood_window_max(cfg.flood_rate()),
            _pad: 0,
        })?;
        // Real servers leaving (alone or with their service): with expire_nodest_conn, their
        // connections go at once, after the new tables are in.
        let mut removed_reals = std::collections::HashSet::new();
        let wanted: BTreeMap<VipKey, (usize, &ServiceConfig)> = cfg
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (vip_key(s.protocol, s.vip, s.port), (i, s)))
            .collect();
        let gone: Vec<VipKey> = self
            .services
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        for key in gone {
            let st = self.services.remove(&key).expect("listed above");
            dp.remove_service(&key)?;
            for r in &st.reals {
                mark_removed(dp, r, st.id)?;
                self.removed_real_ids.push((r.id, Instant::now()));
                self.removed_addrs
                    .insert(r.id, (Some(st.cfg.vip), nat_addr(&r.cfg)));
                self.removed_service.insert(r.id, st.id);
                removed_reals.insert(r.id);
            }
            // Its persistence templates and locality entries must not outlive it: the id may
            // go to another service.
            for (k, _) in dp
                .persist_templates()
                .into_iter()
                .filter(|(k, _)| k.service == st.id)
            {
                dp.delete_persist(&k);
            }
            forget_locality(dp, st.id);
            self.regions.free(st.region);
            if st.reals.is_empty() {
                self.free_service_ids.push(st.id);
            } else {
                self.held_service_ids.push(st.id);
            }
            report.services_removed += 1;
        }
        for (key, (index, scfg)) in wanted {
            self.apply_service(dp, key, index, scfg, &mut report, &mut removed_reals)?;
        }
        self.sync_markers(dp, cfg)?;
        // Now with the real servers this change removed (their connections go on).
        let filter = self.addr_filter_for(cfg);
        write_filter(dp, &both, &filter)?;
        self.addr_filter = Some(filter);
        if cfg.expire_nodest_conn && !removed_reals.is_empty() {
            let n = crate::conntrack::expire_reals(dp, &removed_reals)?;
            report.connections_expired += n;
        }
        self.config = Some(cfg.clone());
        Ok(report)
    }

    fn apply_service(
        &mut self,
        dp: &mut Dataplane,
        key: VipKey,
        index: usize,
        scfg: &ServiceConfig,
        report: &mut ApplyReport,
        removed_reals: &mut std::collections::HashSet<u32>,
    ) -> Result<(), ApplyError> {
        let (id, old_reals, old_region, old_input) = match self.services.remove(&key) {
            Some(st) => (st.id, st.reals, Some(st.region), st.table_input),
            None => {
                let id = self.alloc_service_id()?;
                dp.zero_service_stats(id)?;
                report.services_added += 1;
                (id, Vec::new(), None, TableInput::default())
            }
        };
        // Keep the id of every real server whose identity (address, port, method) is unchanged,
        // so its connections and counters carry on; give new ids to the rest.
        let mut reals = Vec::with_capacity(scfg.real_servers.len());
        let mut old_reals = old_reals;
        let service_id = id;
        for r in &scfg.real_servers {
            let port = r.port.unwrap_or(scfg.port);
            let same = old_reals.iter().position(|o| {
                o.cfg.address == r.address
                    && o.port == port
                    && o.cfg.forwarding == r.forwarding
                    && tunnel(&o.cfg) == tunnel(r)
                    && o.cfg.tun_port == r.tun_port
            });
            let (id, limits) = match same {
                Some(i) => {
                    let o = old_reals.swap_remove(i);
                    (o.id, limits_of(&o.cfg))
                }
                None => {
                    let id = self.alloc_real_id()?;
                    dp.zero_real_stats(id)?;
                    dp.set_real(id, &real_entry(r, port, 0, service_id, scfg))?;
                    (id, (0, 0))
                }
            };
            if limits != limits_of(r) {
                set_limits(dp, id, r)?;
            }
            reals.push(RealState {
                id,
                cfg: r.clone(),
                port,
            });
        }
        // Real servers no longer in the service keep their connections; persistence must stop
        // sending them new ones.
        for gone in &old_reals {
            mark_removed(dp, gone, id)?;
            self.removed_real_ids.push((gone.id, Instant::now()));
            self.removed_addrs
                .insert(gone.id, (Some(scfg.vip), nat_addr(&gone.cfg)));
            self.removed_service.insert(gone.id, id);
            removed_reals.insert(gone.id);
        }
        let size = scfg
            .mh_table_size
            .unwrap_or(lb_common::MAGLEV_DEFAULT_TABLE_SIZE);
        // The table depends on the scheduler, the size (mh) and the real servers with their
        // weights in configured order (rr, wrr, sh and dh follow the order): unchanged, the
        // table stays as it is.
        let input = TableInput {
            scheduler: scfg.scheduler.clone(),
            persistence: (
                scfg.persistent.unwrap_or(0),
                scfg.persistent_netmask
                    .unwrap_or(if scfg.vip.is_ipv6() { 128 } else { 32 }),
            ),
            size,
            flags: (
                if scfg.one_packet && scfg.protocol == Protocol::Udp {
                    SVC_F_ONE_PACKET
                } else {
                    0
                },
                sched::flag_bits(&scfg.sched_flags),
            ),
            reals: reals.iter().map(|r| (r.id, r.cfg.weight)).collect(),
        };
        // Locality entries name the old scheduler's choices (lblc's single real server is not
        // an lblcr set and back).
        // (An adopted service's old input is unknown, default: its entries are kept.)
        if input.scheduler != old_input.scheduler
            && old_region.is_some()
            && old_input != TableInput::default()
        {
            forget_locality(dp, id);
        }
        let region = match old_region {
            Some(r) if input == old_input => r,
            _ => {
                let keys: Vec<Vec<u8>> = reals.iter().map(real_key).collect();
                let backends: Vec<maglev::Backend<'_>> = reals
                    .iter()
                    .zip(&keys)
                    .map(|(r, k)| maglev::Backend {
                        id: r.id,
                        key: k,
                        weight: r.cfg.weight,
                    })
                    .collect();
                let table = sched::cells(&scfg.scheduler, size, &backends).map_err(|source| {
                    ApplyError::Sched {
                        path: format!("services[{index}]"),
                        source,
                    }
                })?;
                let len = table.len() as u32;
                let region = self
                    .regions
                    .alloc(len.max(1))
                    .ok_or(ApplyError::TableFull(len))?;
                dp.write_table(region.off, &table)?;
                dp.set_service(
                    &key,
                    &Service {
                        id,
                        flags: input.flags.0,
                        sched: sched::code(&scfg.scheduler).unwrap_or(SCHED_MH),
                        persist_prefix: input.persistence.1,
                        sched_flags: input.flags.1,
                        _pad: 0,
                        table_off: region.off,
                        table_len: if table.iter().any(|&cell| cell as u32 != 0) {
                            len
                        } else {
                            0
                        },
                        persist_timeout: input.persistence.0,
                    },
                )?;
                if let Some(old) = old_region {
                    self.regions.free(old);
                }
                report.tables_rewritten += 1;
                region
            }
        };
        self.services.insert(
            key,
            ServiceState {
                id,
                index,
                cfg: scfg.clone(),
                reals,
                region,
                table_input: input,
            },
        );
        Ok(())
    }

    /// One marker per distinct VIP address: key (address, port 0, ICMP or ICMPv6).
    fn sync_markers(&mut self, dp: &mut Dataplane, cfg: &Config) -> Result<(), ApplyError> {
        let wanted: std::collections::BTreeSet<VipKey> = cfg
            .services
            .iter()
            .map(|s| {
                let (addr, family) = addr_words(s.vip);
                VipKey {
                    addr,
                    port: 0,
                    proto: if family == FAMILY_V6 {
                        PROTO_ICMPV6
                    } else {
                        PROTO_ICMP
                    },
                    family,
                }
            })
            .collect();
        for gone in self.markers.difference(&wanted) {
            dp.remove_service(gone)?;
        }
        for new in wanted.difference(&self.markers) {
            dp.set_service(
                new,
                &Service {
                    flags: SVC_F_VIP_ADDR,
                    ..Service::default()
                },
            )?;
        }
        self.markers = wanted;
        Ok(())
    }

    fn alloc_service_id(&mut self) -> Result<u32, ApplyError> {
        if let Some(id) = self.free_service_ids.pop() {
            return Ok(id);
        }
        if self.next_service_id >= MAX_SERVICES {
            return Err(ApplyError::Ids("service"));
        }
        self.next_service_id += 1;
        Ok(self.next_service_id - 1)
    }

    fn alloc_real_id(&mut self) -> Result<u32, ApplyError> {
        if let Some(id) = self.free_real_ids.pop() {
            return Ok(id);
        }
        if self.next_real_id >= MAX_REALS {
            return Err(ApplyError::Ids("real-server"));
        }
        self.next_real_id += 1;
        Ok(self.next_real_id - 1)
    }

    /// The services as `lbctl -L` shows them, with counters from the data plane.
    pub fn views(&self, dp: &Dataplane) -> Result<Vec<ServiceView>, DataplaneError> {
        let mut out = Vec::with_capacity(self.services.len());
        let mut ordered: Vec<&ServiceState> = self.services.values().collect();
        ordered.sort_by_key(|s| s.index);
        for st in ordered {
            let mut real_servers = Vec::with_capacity(st.reals.len());
            for r in &st.reals {
                let conns = dp.real_conns(r.id)?;
                real_servers.push(RealServerView {
                    address: r.cfg.address,
                    port: r.port,
                    forwarding: r.cfg.forwarding.clone(),
                    weight: r.cfg.weight,
                    active_conns: conns.active.max(0) as u64,
                    inactive_conns: conns.inactive.max(0) as u64,
                    upper_threshold: r.cfg.upper_threshold.unwrap_or(0),
                    lower_threshold: r.cfg.lower_threshold.unwrap_or(0),
                    tun_type: match r.cfg.forwarding.as_str() {
                        "tun" => Some(r.cfg.tun_type.clone().unwrap_or_else(|| "ipip".into())),
                        _ => None,
                    },
                    tun_port: r.cfg.tun_port,
                    tun_csum: r.cfg.tun_csum.clone(),
                    stats: dp.real_stats(r.id)?.into(),
                    ..Default::default()
                });
            }
            let full = if st.cfg.vip.is_ipv6() { 128 } else { 32 };
            out.push(ServiceView {
                protocol: st.cfg.protocol.name().into(),
                vip: st.cfg.vip,
                port: st.cfg.port,
                scheduler: st.cfg.scheduler.clone(),
                sched_flags: st.cfg.sched_flags.clone(),
                persistent: st.cfg.persistent,
                persistent_netmask: st.cfg.persistent_netmask.filter(|m| *m != full),
                one_packet: st.cfg.one_packet,
                mh_table_size: st.cfg.mh_table_size,
                stats: dp.service_stats(st.id)?.into(),
                real_servers,
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// The ids behind [`State::views`], in the same order: each service's id with its real
    /// servers' ids.
    pub fn view_ids(&self) -> Vec<(u32, Vec<u32>)> {
        let mut ordered: Vec<&ServiceState> = self.services.values().collect();
        ordered.sort_by_key(|s| s.index);
        ordered
            .into_iter()
            .map(|s| (s.id, s.reals.iter().map(|r| r.id).collect()))
            .collect()
    }

    /// Every service's id with its VIP, port and protocol (connection listings).
    pub fn service_keys(&self) -> Vec<(u32, Protocol, IpAddr, u16)> {
        self.services
            .values()
            .map(|s| (s.id, s.cfg.protocol, s.cfg.vip, s.cfg.port))
            .collect()
    }

    /// Real-server ids of a service by address and port (tests and benchmarks).
    pub fn real_ids(&self, key: &VipKey) -> Vec<(IpAddr, u16, u32)> {
        self.services
            .get(key)
            .map(|s| {
                s.reals
                    .iter()
                    .map(|r| (r.cfg.address, r.port, r.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every real server's address and port by id (the current ones).
    pub fn real_names(&self) -> std::collections::HashMap<u32, (IpAddr, u16)> {
        self.services
            .values()
            .flat_map(|s| s.reals.iter().map(|r| (r.id, (r.cfg.address, r.port))))
            .collect()
    }

    /// Removed real servers' ids that have waited at least `min_age` may be given out again
    /// unless `referenced` (the ids that connections, persistence templates and the like
    /// still name) holds them; their entries are cleared. Returns how many were freed.
    pub fn recycle_real_ids(
        &mut self,
        dp: &mut Dataplane,
        referenced: &std::collections::HashSet<u32>,
        min_age: Duration,
    ) -> Result<usize, ApplyError> {
        let now = Instant::now();
        let mut freed = 0;
        let mut keep = Vec::with_capacity(self.removed_real_ids.len());
        for (id, since) in std::mem::take(&mut self.removed_real_ids) {
            if now.duration_since(since) < min_age || referenced.contains(&id) {
                keep.push((id, since));
                continue;
            }
            dp.set_real(id, &RealServer::default())?;
            dp.set_real_limits(id, &Default::default())?;
            let c = dp.real_conns(id)?;
            dp.add_real_conns(id, -c.active, -c.inactive)?;
            self.free_real_ids.push(id);
            self.removed_addrs.remove(&id);
            self.removed_service.remove(&id);
            freed += 1;
        }
        self.removed_real_ids = keep;
        // A deleted service's id is free once none of its real servers' ids waits.
        let waiting: std::collections::HashSet<u32> = self
            .removed_real_ids
            .iter()
            .filter_map(|(id, _)| self.removed_service.get(id).copied())
            .collect();
        let (free, held): (Vec<u32>, Vec<u32>) = std::mem::take(&mut self.held_service_ids)
            .into_iter()
            .partition(|sid| !waiting.contains(sid));
        self.free_service_ids.extend(free);
        self.held_service_ids = held;
        if freed > 0
            && let (Some(cfg), Some(had)) = (self.config.clone(), self.addr_filter.take())
        {
            let want = self.addr_filter_for(&cfg);
            write_filter(dp, &had, &want)?;
            self.addr_filter = Some(want);
        }
        Ok(freed)
    }

    /// Whether a removed real server's id has waited `min_age`: the time to look for
    /// references to it ([`State::recycle_real_ids`]).
    pub fn real_ids_to_recycle(&self, min_age: Duration) -> bool {
        let now = Instant::now();
        self.removed_real_ids
            .iter()
            .any(|(_, t)| now.duration_since(*t) >= min_age)
    }

    /// Every real-server id handed out so far (removed real servers keep theirs while their
    /// connections drain).
    pub fn all_real_ids(&self) -> Vec<u32> {
        (1..self.next_real_id).collect()
    }

    pub fn real_count(&self) -> usize {
        self.services.values().map(|s| s.reals.len()).sum()
    }

    /// Persistence timeouts in seconds by service id, for the persistent services.
    pub fn persist_timeouts(&self) -> std::collections::HashMap<u32, u32> {
        self.services
            .values()
            .filter_map(|s| s.cfg.persistent.map(|t| (s.id, t)))
            .collect()
    }

    /// The real servers with an upper connection threshold (those that can be overloaded).
    pub fn limited_reals(&self) -> Vec<u32> {
        self.services
            .values()
            .flat_map(|s| &s.reals)
            .filter(|r| r.cfg.upper_threshold.unwrap_or(0) != 0)
            .map(|r| r.id)
            .collect()
    }

    /// The `lblc` / `lblcr` services' mapping expirations in seconds, by service id.
    pub fn locality_expirations(&self) -> std::collections::HashMap<u32, u32> {
        let (lblc, lblcr) = self
            .config
            .as_ref()
            .map(|c| (c.lblc_expiration(), c.lblcr_expiration()))
            .unwrap_or((
                lb_common::LOCALITY_DEFAULT_EXPIRATION_S,
                lb_common::LOCALITY_DEFAULT_EXPIRATION_S,
            ));
        self.services
            .values()
            .filter_map(|s| match s.cfg.scheduler.as_str() {
                "lblc" => Some((s.id, lblc)),
                "lblcr" => Some((s.id, lblcr)),
                _ => None,
            })
            .collect()
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }
}

/// A real server's tunnel type, `ipip` (the default) as none, so that spelling it out does not
/// change the real server's identity.
fn tunnel(r: &RealServerConfig) -> Option<&str> {
    r.tun_type.as_deref().filter(|t| *t != "ipip")
}

/// A `nat` real server's address (the source of the replies lb rewrites).
fn nat_addr(r: &RealServerConfig) -> Option<IpAddr> {
    (r.forwarding == "nat").then_some(r.address)
}

impl State {
    /// The address filter a config needs: the bit of every VIP in the first bitmap, of every
    /// `nat` real server in the second (`lb_common::ADDR_FILTER_BITS_LOG2`); and those of
    /// removed real servers whose connections may still flow.
    fn addr_filter_for(&self, cfg: &Config) -> Vec<u64> {
        let words = lb_common::ADDR_FILTER_WORDS as usize;
        let mut f = vec![0u64; 2 * words];
        let mut set = |a: IpAddr, base: usize| {
            let bit = lb_common::hash::addr_filter_bit(&addr_words(a).0) as usize;
            f[base + (bit >> 6)] |= 1 << (bit & 63);
        };
        for s in &cfg.services {
            set(s.vip, 0);
            for a in s.real_servers.iter().filter_map(nat_addr) {
                set(a, words);
            }
        }
        for (vip, nat) in self.removed_addrs.values() {
            if let Some(v) = vip {
                set(*v, 0);
            }
            if let Some(a) = nat {
                set(*a, words);
            }
        }
        f
    }
}

/// Writes the words of the address filter that differ from what the map holds.
fn write_filter(dp: &mut Dataplane, had: &[u64], want: &[u64]) -> Result<(), ApplyError> {
    for (i, (h, w)) in had.iter().zip(want).enumerate() {
        if h != w {
            dp.set_addr_filter_word(i as u32, *w)?;
        }
    }
    Ok(())
}

/// The data plane's entry for a real server.
fn real_entry(
    r: &RealServerConfig,
    port: u16,
    flags: u16,
    service: u32,
    scfg: &ServiceConfig,
) -> RealServer {
    let (addr, family) = addr_words(r.address);
    RealServer {
        addr,
        port: port.to_be(),
        family,
        method: forwarding_code(&r.forwarding),
        flags: if r.tun_type.as_deref() == Some("gre") {
            flags | lb_common::REAL_F_GRE
        } else {
            flags
        },
        tun_port: match r.tun_type.as_deref() {
            Some("gue") => r.tun_port.unwrap_or(0).to_be(),
            _ => 0,
        },
        service,
        vport: scfg.port.to_be(),
        _pad: 0,
        vaddr: addr_words(scfg.vip).0,
    }
}

/// A real server's (upper, lower) connection thresholds, 0 for unset.
fn limits_of(r: &RealServerConfig) -> (u32, u32) {
    (
        r.upper_threshold.unwrap_or(0),
        r.lower_threshold.unwrap_or(0),
    )
}

/// Writes a real server's new connection thresholds. Its overload state carries over, except
/// that raising or removing the upper threshold clears it (as IPVS's `__ip_vs_update_dest`
/// does).
fn set_limits(dp: &mut Dataplane, id: u32, r: &RealServerConfig) -> Result<(), ApplyError> {
    let old = dp.real_limits(id)?;
    let (upper, lower) = limits_of(r);
    let keep = upper != 0 && upper <= old.upper;
    dp.set_real_limits(
        id,
        &RealLimits {
            upper,
            lower,
            overloaded: if keep { old.overloaded } else { 0 },
            _pad: 0,
        },
    )?;
    Ok(())
}

/// Removes a service's `lblc` / `lblcr` locality entries.
fn forget_locality(dp: &mut Dataplane, service: u32) {
    for (k, _) in dp
        .locality_entries()
        .into_iter()
        .filter(|(k, _)| k.service == service)
    {
        dp.delete_locality(&k);
    }
}

/// Flags a real server as removed (REAL_F_REMOVED) in the data plane, keeping the rest of
/// its entry as it is for the connections still draining to it.
fn mark_removed(dp: &mut Dataplane, r: &RealState, service: u32) -> Result<(), ApplyError> {
    let mut e = dp.real(r.id)?;
    e.flags |= lb_common::REAL_F_REMOVED;
    e.service = service;
    dp.set_real(r.id, &e)?;
    Ok(())
}

/// The stable identity of a real server for Maglev's permutation: address and port.
fn real_key(r: &RealState) -> Vec<u8> {
    let mut k = match r.cfg.address {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    k.extend_from_slice(&r.port.to_be_bytes());
    k
}

/// First-fit allocator of scheduler-table regions. Freed regions are quarantined for
/// [`REGION_QUARANTINE`] before reuse, so a packet that read the old service value just
/// before a flip still finds the old table intact.
#[derive(Debug)]
struct RegionAlloc {
    /// Free ranges, sorted by offset, never adjacent (merged on free).
    free: Vec<Region>,
    quarantine: Vec<(Instant, Region)>,
}

impl RegionAlloc {
    fn new(capacity: u32) -> Self {
        Self {
            free: vec![Region {
                off: 0,
                len: capacity,
            }],
            quarantine: Vec::new(),
        }
    }

    fn alloc(&mut self, len: u32) -> Option<Region> {
        let now = Instant::now();
        let (ripe, keep): (Vec<_>, Vec<_>) = self
            .quarantine
            .drain(..)
            .partition(|(t, _)| now.duration_since(*t) >= REGION_QUARANTINE);
        self.quarantine = keep;
        for (_, r) in ripe {
            self.release(r);
        }
        let i = self.free.iter().position(|r| r.len >= len)?;
        let r = self.free[i];
        if r.len == len {
            self.free.remove(i);
        } else {
            self.free[i] = Region {
                off: r.off + len,
                len: r.len - len,
            };
        }
        Some(Region { off: r.off, len })
    }

    /// Marks a region in use (one an adopted service's table occupies).
    fn reserve(&mut self, r: Region) {
        if r.len == 0 {
            return;
        }
        let Some(i) = self
            .free
            .iter()
            .position(|f| f.off <= r.off && r.off + r.len <= f.off + f.len)
        else {
            return;
        };
        let f = self.free.remove(i);
        let mut at = i;
        if f.off < r.off {
            self.free.insert(
                at,
                Region {
                    off: f.off,
                    len: r.off - f.off,
                },
            );
            at += 1;
        }
        if r.off + r.len < f.off + f.len {
            self.free.insert(
                at,
                Region {
                    off: r.off + r.len,
                    len: f.off + f.len - (r.off + r.len),
                },
            );
        }
    }

    fn free(&mut self, r: Region) {
        self.quarantine.push((Instant::now(), r));
    }

    fn release(&mut self, r: Region) {
        let i = self.free.partition_point(|f| f.off < r.off);
        self.free.insert(i, r);
        // Merge with the next, then with the previous range.
        if i + 1 < self.free.len() && self.free[i].off + self.free[i].len == self.free[i + 1].off {
            self.free[i].len += self.free[i + 1].len;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].off + self.free[i - 1].len == self.free[i].off {
            self.free[i - 1].len += self.free[i].len;
            self.free.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_quarantined_then_reused_and_merged() {
        let mut a = RegionAlloc::new(100);
        let r1 = a.alloc(40).unwrap();
        let r2 = a.alloc(40).unwrap();
        assert_eq!((r1.off, r2.off), (0, 40));
        assert!(a.alloc(40).is_none(), "only 20 slots left");
        a.free(r1);
        assert!(
            a.alloc(40).is_none(),
            "a freed region is quarantined at first"
        );
        a.quarantine[0].0 -= REGION_QUARANTINE;
        a.free(r2);
        a.quarantine[1].0 -= REGION_QUARANTINE;
        let r = a.alloc(100).expect("all three ranges merged back into one");
        assert_eq!(r, Region { off: 0, len: 100 });
    }

    #[test]
    fn adopted_regions_are_reserved_and_the_rest_allocated_around_them() {
        let mut a = RegionAlloc::new(100);
        a.reserve(Region { off: 30, len: 20 });
        a.reserve(Region { off: 0, len: 10 });
        assert_eq!(
            a.free,
            vec![Region { off: 10, len: 20 }, Region { off: 50, len: 50 }]
        );
        assert_eq!(a.alloc(25), Some(Region { off: 50, len: 25 }), "first fit");
        assert_eq!(a.alloc(20), Some(Region { off: 10, len: 20 }));
        assert_eq!(a.alloc(25), Some(Region { off: 75, len: 25 }));
        assert_eq!(a.alloc(1), None, "everything else is taken");
    }

    #[test]
    fn addresses_read_back_from_map_words() {
        for a in ["198.18.0.11", "2001:2::11"] {
            let a: IpAddr = a.parse().unwrap();
            let (w, f) = addr_words(a);
            assert_eq!(addr_of(&w, f), a);
        }
    }

    #[test]
    fn vip_key_is_network_order() {
        let k = vip_key(Protocol::Tcp, "10.1.2.3".parse().unwrap(), 80);
        let bytes: [u8; 4] = k.addr[0].to_ne_bytes();
        assert_eq!(bytes, [10, 1, 2, 3]);
        assert_eq!(k.port.to_ne_bytes(), [0, 80]);
        assert_eq!((k.proto, k.family), (6, 4));
    }
}
