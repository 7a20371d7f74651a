//! What the maps hold, as lbd keeps account of it: which ids and table regions each service
//! and real server has; and the compiler that turns a config into the [`Plan`] that makes the
//! maps hold it. A service's table change is always written into a fresh region first and
//! then flipped in with one update of the service's map entry, so the data plane never reads
//! a half-written table.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::Instant,
};

use lb_common::{
    CFG_F_CONN_REUSE, CFG_F_CONN_REUSE_FIN_WAIT, CFG_F_FTP, CFG_F_NAT, CFG_F_SLOPPY_SCTP,
    CFG_F_SLOPPY_TCP, FAMILY_V6, FWD_NAT, GlobalConfig, PROTO_FWMARK, PROTO_ICMP, PROTO_ICMPV6,
    REAL_F_GRE, REAL_F_NAT_DEST, REAL_F_REMOVED, RealServer, SVC_F_ONE_PACKET, SVC_F_VIP_ADDR,
    Service, VipKey,
};
use lb_model::{
    Forwarding, Protocol, Scheduler, TunType,
    addr::{addr_of, addr_words},
    config::{Config, Family, RealServerConfig, ServiceConfig},
};

use super::{
    filter,
    ids::{Ids, NoIdLeft, RemovedReal},
    maglev,
    regions::{Region, RegionAlloc},
    sched,
};
use crate::dataplane::{Plan, Snapshot, Step};

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{path}: {source}")]
    Sched {
        path: String,
        source: sched::SchedError,
    },
    #[error(transparent)]
    Ids(#[from] NoIdLeft),
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

/// A real server as applied.
#[derive(Clone, Debug)]
pub struct RealState {
    pub id: u32,
    pub cfg: RealServerConfig,
    pub port: u16,
    /// Through the FTP helper (its entry keeps every connection's ports).
    pub ftp: bool,
}

/// A service as applied.
#[derive(Debug)]
pub struct ServiceState {
    pub id: u32,
    /// Position in the config: listings follow the order the user wrote.
    pub index: usize,
    pub cfg: ServiceConfig,
    pub reals: Vec<RealState>,
    region: Region,
    /// What the current table was built from (None: unknown, adopted).
    table_input: Option<TableInput>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct TableInput {
    scheduler: Scheduler,
    /// (timeout, prefix): part of the service entry written with the table.
    persistence: (u32, u8),
    size: u32,
    /// (`SVC_F_*`, `SCHED_F_*`): part of the service entry written with the table.
    flags: (u32, u8),
    /// (real id, weight), in configured order.
    reals: Vec<(u32, u32)>,
}

/// The maps' contents as lbd applied them.
#[derive(Debug)]
pub struct Applied {
    pub(super) services: BTreeMap<VipKey, ServiceState>,
    pub(super) ids: Ids,
    regions: RegionAlloc,
    /// The config last applied (the effective one).
    pub(super) config: Option<Config>,
    /// VIP address markers (`SVC_F_VIP_ADDR`) in the services map: the director answers pings
    /// to these addresses.
    markers: BTreeSet<VipKey>,
    /// MTU of the interface lb forwards on (0: unknown, no check in the data plane).
    mtu: u32,
    /// The address filter as last written.
    filter: Vec<u64>,
    /// The firewall-mark classifier as last written.
    marks: BTreeMap<(u32, lb_common::MarkAddr), lb_common::MarkRules>,
}

/// The data plane's entry for a real server of service `service` (VIP `vip`: a `nat` reply's
/// source becomes its address and port; a firewall-mark service's `nat` real server is marked
/// `REAL_F_NAT_DEST` instead). A real server of the FTP helper (`ftp`) keeps every
/// connection's ports (its data connections' are the ones it announces) and names the
/// control port instead.
fn real_entry(
    r: &RealServerConfig,
    port: u16,
    flags: u16,
    service: u32,
    vip: &VipKey,
    ftp: bool,
) -> RealServer {
    let (addr, family) = addr_words(r.address);
    let (port, vport, ftp_port) = if ftp {
        (0, 0, vip.port)
    } else {
        (port.to_be(), vip.port, 0)
    };
    // A firewall-mark service has no VIP: a `nat` reply leaves from the destination its
    // connection was opened to, which `lb` keeps per connection.
    let kept_dest = vip.proto == PROTO_FWMARK && r.forwarding.code() == FWD_NAT;
    let flags = if kept_dest {
        flags | REAL_F_NAT_DEST
    } else {
        flags
    };
    RealServer {
        addr,
        port,
        family,
        method: r.forwarding.code(),
        flags: if r.tun_type == Some(TunType::Gre) {
            flags | REAL_F_GRE
        } else {
            flags
        },
        tun_port: match r.tun_type {
            Some(TunType::Gue) => r.tun_port.unwrap_or(0).to_be(),
            _ => 0,
        },
        service,
        vport,
        ftp_port,
        vaddr: if kept_dest { [0; 4] } else { vip.addr },
    }
}

/// The stable identity of a real server for Maglev's permutation: address and port.
fn maglev_key(r: &RealState) -> Vec<u8> {
    let mut k = match r.cfg.address {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    k.extend_from_slice(&r.port.to_be_bytes());
    k
}

/// Whether an applied real server keeps its id for a configured one: the same address, port
/// and way of forwarding (method, tunnel, tunnel port), so its connections and counters carry
/// on.
fn same_endpoint(o: &RealState, r: &RealServerConfig, port: u16, ftp: bool) -> bool {
    o.cfg.address == r.address
        && o.port == port
        && o.ftp == ftp
        && o.cfg.forwarding == r.forwarding
        && o.cfg.tunnel() == r.tunnel()
        && o.cfg.tun_port == r.tun_port
}

/// The VIP marker of an address: key (address, port 0, ICMP or ICMPv6).
fn marker(vip: IpAddr) -> VipKey {
    let (addr, family) = addr_words(vip);
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
}

impl Applied {
    /// Nothing applied yet: fresh maps (`table_capacity` scheduler-table slots, an empty
    /// address filter). `mtu`: the director interface's MTU (0 when unknown).
    pub fn new(table_capacity: u32, mtu: u32) -> Self {
        Self {
            services: BTreeMap::new(),
            ids: Ids::default(),
            regions: RegionAlloc::new(table_capacity),
            config: None,
            markers: BTreeSet::new(),
            mtu,
            filter: vec![0; 2 * lb_common::ADDR_FILTER_WORDS as usize],
            marks: BTreeMap::new(),
        }
    }

    /// The fallback MTU of tunnels from now on (the next compile writes it): the interfaces
    /// changed.
    pub fn set_mtu(&mut self, mtu: u32) {
        self.mtu = mtu;
    }

    /// The fallback MTU of tunnels.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The bookkeeping of a data plane that is already running (lbd restarted or upgraded):
    /// services, their table regions and real servers with their ids, read back from the
    /// maps, so that the next apply changes only what the config changes, and every
    /// connection keeps its real server. Real-server ids go on from the highest in use
    /// (removed ones included: connections may still name them).
    pub fn adopt(snap: &Snapshot, mtu: u32) -> Self {
        let mut st = Applied::new(snap.table_capacity, mtu);
        st.filter = snap.addr_filter.clone();
        st.marks = snap
            .marks
            .iter()
            .map(|(len, addr, rules)| ((*len, *addr), *rules))
            .collect();
        let reals = &snap.reals;
        let removed = |r: &RealServer| r.flags & REAL_F_REMOVED != 0;
        st.ids.next_real = reals.iter().map(|(id, ..)| id + 1).max().unwrap_or(1);
        // (A removed real server's VIP is not in its entry: after a restart, the connections
        // of a service deleted before it keep flowing only if the VIP is still configured.)
        st.ids.removed = reals
            .iter()
            .filter(|(_, r, _)| removed(r))
            .map(|(id, r, _)| RemovedReal {
                id: *id,
                since: Instant::now(),
                vip: None,
                nat: (r.method == Forwarding::Nat.code()).then(|| addr_of(&r.addr, r.family)),
                service: r.service,
                entry: *r,
            })
            .collect();
        // Ids below the highest that no entry holds were freed before the restart.
        let used: BTreeSet<u32> = reals.iter().map(|(id, ..)| *id).collect();
        st.ids.free_reals = (1..st.ids.next_real)
            .filter(|i| !used.contains(i))
            .rev()
            .collect();
        let mut used_ids = BTreeSet::new();
        for (key, svc) in &snap.services {
            if svc.flags & SVC_F_VIP_ADDR != 0 {
                st.markers.insert(*key);
                continue;
            }
            used_ids.insert(svc.id);
            let region = Region {
                off: svc.table_off,
                len: svc.table_len,
            };
            st.regions.reserve(region);
            // lbd writes only services of its protocols (and firewall-mark services);
            // anything else is left alone.
            let fwmark = key.proto == lb_common::PROTO_FWMARK;
            let Some(protocol) =
                Protocol::from_number(key.proto).or(fwmark.then_some(Protocol::Tcp))
            else {
                continue;
            };
            let members = reals
                .iter()
                .filter(|(_, r, _)| r.service == svc.id && !removed(r))
                .filter_map(|(id, r, limits)| {
                    // lbd writes only entries of its methods; anything else is left alone.
                    let forwarding = Forwarding::from_code(r.method)?;
                    // An FTP helper's real server has port 0 and names the service's port.
                    let ftp = r.ftp_port != 0;
                    let port = u16::from_be(if ftp { r.ftp_port } else { r.port });
                    let threshold = |v: u32| (v != 0).then_some(v);
                    Some(RealState {
                        id: *id,
                        cfg: RealServerConfig {
                            port: Some(port),
                            forwarding,
                            tun_type: if r.tun_port != 0 {
                                Some(TunType::Gue)
                            } else if r.flags & REAL_F_GRE != 0 {
                                Some(TunType::Gre)
                            } else {
                                None
                            },
                            tun_port: (r.tun_port != 0).then(|| u16::from_be(r.tun_port)),
                            upper_threshold: threshold(limits.upper),
                            lower_threshold: threshold(limits.lower),
                            ..RealServerConfig::adopted(addr_of(&r.addr, r.family))
                        },
                        port,
                        ftp,
                    })
                })
                .collect();
            st.services.insert(
                *key,
                ServiceState {
                    id: svc.id,
                    index: usize::MAX,
                    cfg: if fwmark {
                        let family = if key.family == lb_common::FAMILY_V6 {
                            Family::Ipv6
                        } else {
                            Family::Ipv4
                        };
                        ServiceConfig {
                            fwmark: Some(key.addr[0]),
                            family: Some(family),
                            ..ServiceConfig::adopted(protocol, family.unspecified(), 0)
                        }
                    } else {
                        ServiceConfig::adopted(
                            protocol,
                            addr_of(&key.addr, key.family),
                            u16::from_be(key.port),
                        )
                    },
                    reals: members,
                    region,
                    // Unknown: the first apply writes the table again (the same table for
                    // the same real servers and weights; connections do not move either way).
                    table_input: None,
                },
            );
        }
        // Deleted services whose removed real servers still wait keep their ids.
        let held: BTreeSet<u32> = st
            .ids
            .removed
            .iter()
            .map(|r| r.service)
            .filter(|sid| !used_ids.contains(sid))
            .collect();
        st.ids.next_service = used_ids
            .iter()
            .chain(&held)
            .max()
            .map(|m| m + 1)
            .unwrap_or(1);
        st.ids.free_services = (1..st.ids.next_service)
            .filter(|i| !used_ids.contains(i) && !held.contains(i))
            .rev()
            .collect();
        st
    }

    /// The plan that makes the maps hold `cfg` (validated): adds, changes and removes
    /// services, each service's change atomic. The bookkeeping is updated as the plan is
    /// made. On an error the plan holds the steps up to the failing service, which leave the
    /// maps consistent with the bookkeeping once written.
    pub fn compile(&mut self, cfg: &Config) -> (Plan, Result<ApplyReport, CompileError>) {
        let mut plan = Plan::default();
        let r = self.compile_into(&mut plan, cfg);
        (plan, r)
    }

    fn compile_into(&mut self, plan: &mut Plan, cfg: &Config) -> Result<ApplyReport, CompileError> {
        let mut report = ApplyReport::default();
        // The address filter lets packets reach the connection table and the services: new
        // addresses' bits are set before their services exist, stale ones cleared after.
        let want = filter::words_for(cfg, self.ids.removed());
        let both: Vec<u64> = self.filter.iter().zip(&want).map(|(o, n)| o | n).collect();
        filter::write(plan, &self.filter, &both);
        self.filter = both;
        plan.push(Step::Config(GlobalConfig {
            src4: cfg
                .director
                .ipv4
                .map(|a| addr_words(IpAddr::V4(a)).0[0])
                .unwrap_or(0),
            flags: (if cfg.has_nat() { CFG_F_NAT } else { 0 })
                | (if cfg.sloppy_tcp { CFG_F_SLOPPY_TCP } else { 0 })
                | (if cfg.sloppy_sctp {
                    CFG_F_SLOPPY_SCTP
                } else {
                    0
                })
                | (if cfg.conn_reuse_mode() != 0 {
                    CFG_F_CONN_REUSE
                } else {
                    0
                })
                | (if cfg.conn_reuse_mode() & 2 != 0 {
                    CFG_F_CONN_REUSE_FIN_WAIT
                } else {
                    0
                })
                | filter::mark_flags(cfg)
                | (if cfg
                    .services
                    .iter()
                    .any(|s| s.real_servers.iter().any(|r| s.ftp_real(r)))
                {
                    CFG_F_FTP
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
        }));
        // Real servers leaving (alone or with their service): with expire_nodest_conn, their
        // connections go at once, after the new tables are in.
        let mut removed_reals = BTreeSet::new();
        let wanted: BTreeMap<VipKey, (usize, &ServiceConfig)> = cfg
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key().vip_key(), (i, s)))
            .collect();
        let gone: Vec<VipKey> = self
            .services
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        for key in gone {
            let Some(st) = self.services.remove(&key) else {
                continue;
            };
            plan.push(Step::RemoveService(key));
            for r in &st.reals {
                self.remove_real(plan, r, st.id, &st.cfg);
                removed_reals.insert(r.id);
            }
            // Its persistence templates and locality entries must not outlive it: the id may
            // go to another service.
            plan.push(Step::ForgetTemplates { service: st.id });
            plan.push(Step::ForgetLocality { service: st.id });
            self.regions.free(st.region);
            self.ids.free_service(key, st.id);
            report.services_removed += 1;
        }
        for (key, (index, scfg)) in wanted {
            self.compile_service(plan, key, index, scfg, &mut report, &mut removed_reals)?;
        }
        self.sync_markers(plan, cfg);
        self.sync_marks(plan, cfg);
        // Now with the real servers this change removed (their connections go on).
        let want = filter::words_for(cfg, self.ids.removed());
        filter::write(plan, &self.filter, &want);
        self.filter = want;
        if cfg.expire_nodest_conn && !removed_reals.is_empty() {
            plan.push(Step::ExpireConnections(removed_reals));
        }
        self.config = Some(cfg.clone());
        Ok(report)
    }

    /// A real server leaves service `service` (VIP `vip`): flagged as removed in the data plane
    /// (the rest of its entry kept for the connections still draining to it, but persistence
    /// no longer sends it new ones); its id waits.
    fn remove_real(&mut self, plan: &mut Plan, r: &RealState, service: u32, scfg: &ServiceConfig) {
        let vip = scfg.vip;
        let entry = real_entry(
            &r.cfg,
            r.port,
            REAL_F_REMOVED,
            service,
            &scfg.key().vip_key(),
            r.ftp,
        );
        plan.push(Step::SetReal(r.id, entry));
        self.ids.remove_real(RemovedReal {
            id: r.id,
            since: Instant::now(),
            // A firewall-mark service has no VIP.
            vip: (!scfg.is_fwmark()).then_some(vip),
            nat: r.cfg.nat_addr(),
            service,
            entry,
        });
    }

    fn compile_service(
        &mut self,
        plan: &mut Plan,
        key: VipKey,
        index: usize,
        scfg: &ServiceConfig,
        report: &mut ApplyReport,
        removed_reals: &mut BTreeSet<u32>,
    ) -> Result<(), CompileError> {
        let (id, mut old_reals, old_region, old_input) = match self.services.remove(&key) {
            Some(st) => (st.id, st.reals, Some(st.region), st.table_input),
            None => {
                let id = self.ids.alloc_service(&key)?;
                plan.push(Step::ZeroServiceStats(id));
                report.services_added += 1;
                (id, Vec::new(), None, None)
            }
        };
        // Keep the id of every real server whose endpoint is unchanged, so its connections and
        // counters carry on; give new ids to the rest.
        let mut reals = Vec::with_capacity(scfg.real_servers.len());
        for r in &scfg.real_servers {
            let port = scfg.real_port(r);
            let ftp = scfg.ftp_real(r);
            let same = old_reals
                .iter()
                .position(|o| same_endpoint(o, r, port, ftp));
            let (rid, limits) = match same {
                Some(i) => {
                    let o = old_reals.swap_remove(i);
                    (o.id, Some(o.cfg.thresholds()))
                }
                None => {
                    let removed = real_entry(r, port, REAL_F_REMOVED, id, &key, ftp);
                    match self.ids.take_back_real(id, &removed) {
                        // Back from removal: its id, connections and counters again (its
                        // thresholds as they were are unknown: written again).
                        Some(rid) => {
                            plan.push(Step::SetReal(rid, real_entry(r, port, 0, id, &key, ftp)));
                            (rid, None)
                        }
                        None => {
                            let rid = self.ids.alloc_real()?;
                            plan.push(Step::ZeroRealStats(rid));
                            plan.push(Step::SetReal(rid, real_entry(r, port, 0, id, &key, ftp)));
                            (rid, Some((0, 0)))
                        }
                    }
                }
            };
            if limits != Some(r.thresholds()) {
                let (upper, lower) = r.thresholds();
                plan.push(Step::SetLimits {
                    id: rid,
                    upper,
                    lower,
                });
            }
            reals.push(RealState {
                id: rid,
                cfg: r.clone(),
                port,
                ftp,
            });
        }
        // Real servers no longer in the service keep their connections; persistence must stop
        // sending them new ones.
        for gone in &old_reals {
            self.remove_real(plan, gone, id, scfg);
            removed_reals.insert(gone.id);
        }
        let size = scfg.mh_table_size();
        // The table depends on the scheduler, the size (mh) and the real servers with their
        // weights in configured order (rr, wrr, sh and dh follow the order): unchanged, the
        // table stays as it is.
        let input = TableInput {
            scheduler: scfg.scheduler,
            persistence: (scfg.persistent.unwrap_or(0), scfg.persistence_prefix()),
            size,
            flags: (
                if scfg.one_packet && scfg.protocol == Protocol::Udp {
                    SVC_F_ONE_PACKET
                } else {
                    0
                },
                scfg.sched_flag_bits(),
            ),
            reals: reals.iter().map(|r| (r.id, r.cfg.weight)).collect(),
        };
        // Locality entries name the old scheduler's choices (lblc's single real server is not
        // an lblcr set and back). (An adopted service's old input is unknown: its entries are
        // kept.)
        if let Some(old) = &old_input
            && old.scheduler != input.scheduler
        {
            plan.push(Step::ForgetLocality { service: id });
        }
        let made = self.table_region(
            plan,
            key,
            id,
            index,
            scfg,
            &reals,
            old_region.filter(|_| old_input.as_ref() == Some(&input)),
            report,
        );
        // A service whose table could not be made keeps its old one (if any) in the
        // bookkeeping, with its real servers as planned.
        let (region, table_input) = match (&made, old_region) {
            (Ok(r), _) => (*r, Some(input)),
            (Err(_), Some(old)) => (old, old_input),
            (Err(_), None) => return made.map(drop),
        };
        if made.is_ok()
            && let Some(old) = old_region
            && old != region
        {
            self.regions.free(old);
        }
        self.services.insert(
            key,
            ServiceState {
                id,
                index,
                cfg: scfg.clone(),
                reals,
                region,
                table_input,
            },
        );
        made.map(drop)
    }

    /// The region of a service's table: `unchanged` (its table is what the config asks), or a
    /// new one with the table written into it and the service entry pointed at it.
    #[allow(clippy::too_many_arguments)]
    fn table_region(
        &mut self,
        plan: &mut Plan,
        key: VipKey,
        id: u32,
        index: usize,
        scfg: &ServiceConfig,
        reals: &[RealState],
        unchanged: Option<Region>,
        report: &mut ApplyReport,
    ) -> Result<Region, CompileError> {
        if let Some(r) = unchanged {
            return Ok(r);
        }
        let size = scfg.mh_table_size();
        let keys: Vec<Vec<u8>> = reals.iter().map(maglev_key).collect();
        let backends: Vec<maglev::Backend<'_>> = reals
            .iter()
            .zip(&keys)
            .map(|(r, k)| maglev::Backend {
                id: r.id,
                key: k,
                weight: r.cfg.weight,
            })
            .collect();
        let table = sched::cells(scfg.scheduler, size, &backends).map_err(|source| {
            CompileError::Sched {
                path: format!("services[{index}]"),
                source,
            }
        })?;
        let len = table.len() as u32;
        let region = self
            .regions
            .alloc(len.max(1))
            .ok_or(CompileError::TableFull(len))?;
        let table_len = if table.iter().any(|&cell| cell as u32 != 0) {
            len
        } else {
            0
        };
        plan.push(Step::WriteTable {
            off: region.off,
            cells: table,
        });
        plan.push(Step::SetService(
            key,
            Service {
                id,
                flags: if scfg.one_packet && scfg.protocol == Protocol::Udp {
                    SVC_F_ONE_PACKET
                } else {
                    0
                },
                sched: scfg.scheduler.code(),
                persist_prefix: scfg.persistence_prefix(),
                sched_flags: scfg.sched_flag_bits(),
                _pad: 0,
                table_off: region.off,
                table_len,
                persist_timeout: scfg.persistent.unwrap_or(0),
            },
        ));
        report.tables_rewritten += 1;
        Ok(region)
    }

    /// The classifier: new and changed prefixes written (each in one update), gone ones
    /// removed. (Its flag, `CFG_F_MARKS`, went in with the settings.)
    fn sync_marks(&mut self, plan: &mut Plan, cfg: &Config) {
        let wanted = lb_model::config::mark::map_entries(&cfg.marks);
        for (k, v) in &wanted {
            if self.marks.get(k) != Some(v) {
                plan.push(Step::SetMarks(k.0, k.1, Box::new(*v)));
            }
        }
        for k in self.marks.keys() {
            if !wanted.contains_key(k) {
                plan.push(Step::RemoveMarks(k.0, k.1));
            }
        }
        self.marks = wanted;
    }

    /// One marker per distinct VIP address (a firewall-mark service has none).
    fn sync_markers(&mut self, plan: &mut Plan, cfg: &Config) {
        let wanted: BTreeSet<VipKey> = cfg
            .services
            .iter()
            .filter(|s| !s.is_fwmark())
            .map(|s| marker(s.vip))
            .collect();
        for gone in self.markers.difference(&wanted) {
            plan.push(Step::RemoveService(*gone));
        }
        for new in wanted.difference(&self.markers) {
            plan.push(Step::SetService(
                *new,
                Service {
                    flags: SVC_F_VIP_ADDR,
                    ..Service::default()
                },
            ));
        }
        self.markers = wanted;
    }

    /// The plan that frees the removed real servers' ids that have waited `min_age` and that
    /// `referenced` (the ids connections, persistence templates and the like still name) does
    /// not hold: their entries are cleared, and the address filter drops their addresses.
    /// Returns how many were freed.
    pub fn recycle(
        &mut self,
        referenced: &std::collections::HashSet<u32>,
        min_age: std::time::Duration,
    ) -> (Plan, usize) {
        let mut plan = Plan::default();
        let in_use: BTreeSet<u32> = self.services.values().map(|s| s.id).collect();
        let freed = self.ids.recyclable(referenced, min_age, &in_use);
        for id in &freed {
            plan.push(Step::ClearReal(*id));
        }
        if !freed.is_empty()
            && let Some(cfg) = &self.config
        {
            let want = filter::words_for(cfg, self.ids.removed());
            filter::write(&mut plan, &self.filter, &want);
            self.filter = want;
        }
        (plan, freed.len())
    }

    /// The services in the order of the config.
    pub fn ordered(&self) -> Vec<&ServiceState> {
        let mut v: Vec<&ServiceState> = self.services.values().collect();
        v.sort_by_key(|s| s.index);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(services: &str) -> Config {
        Config::parse(
            &format!(r#"{{ "interface": "eth0", "services": [{services}] }}"#),
            "t",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    const ONE: &str = r#"{ "protocol": "tcp", "vip": "10.0.0.1", "port": 80, "scheduler": "rr",
        "real_servers": [ { "address": "10.0.1.1" }, { "address": "10.0.1.2", "weight": 0 } ] }"#;

    /// The kinds of a plan's steps, in order.
    fn kinds(p: &Plan) -> Vec<&'static str> {
        p.steps
            .iter()
            .map(|s| match s {
                Step::FilterWord { .. } => "filter",
                Step::Config(_) => "config",
                Step::RemoveService(_) => "remove-service",
                Step::SetService(_, s) if s.flags & SVC_F_VIP_ADDR != 0 => "marker",
                Step::SetService(..) => "service",
                Step::SetReal(_, r) if r.flags & REAL_F_REMOVED != 0 => "real-removed",
                Step::SetReal(..) => "real",
                Step::ZeroServiceStats(_) => "zero-service",
                Step::ZeroRealStats(_) => "zero-real",
                Step::SetLimits { .. } => "limits",
                Step::WriteTable { .. } => "table",
                Step::ForgetTemplates { .. } => "forget-templates",
                Step::ForgetLocality { .. } => "forget-locality",
                Step::ForgetTemplatesOfReals(_) => "forget-templates-of",
                Step::ExpireConnections(_) => "expire",
                Step::ClearReal(_) => "clear-real",
                Step::SetMarks(..) => "marks",
                Step::RemoveMarks(..) => "remove-marks",
            })
            .collect()
    }

    #[test]
    fn a_new_service_is_written_table_first_then_flipped_and_removed_in_the_other_order() {
        let mut a = Applied::new(1024, 1500);
        let (plan, r) = a.compile(&cfg(ONE));
        assert_eq!(r.unwrap().services_added, 1);
        // The VIP's filter bit first, real servers before the table that names them, the
        // table before the service entry that points at it.
        assert_eq!(
            kinds(&plan),
            [
                "filter",
                "config",
                "zero-service",
                "zero-real",
                "real",
                "zero-real",
                "real",
                "table",
                "service",
                "marker"
            ]
        );
        let Step::WriteTable { cells, .. } = &plan.steps[7] else {
            panic!("{:?}", plan.steps[7]);
        };
        assert_eq!(
            cells.len(),
            1,
            "rr lists the real server of weight > 0 only"
        );
        // The same config again: nothing but the settings.
        let (again, r) = a.compile(&cfg(ONE));
        assert_eq!(r.unwrap().tables_rewritten, 0);
        assert_eq!(kinds(&again), ["config"]);
        // Gone: the entry first, its real servers flagged (their connections go on), its
        // templates and locality forgotten, then the marker and the filter bit.
        let (gone, r) = a.compile(&cfg(""));
        assert_eq!(r.unwrap().services_removed, 1);
        assert_eq!(
            kinds(&gone),
            [
                "config",
                "remove-service",
                "real-removed",
                "real-removed",
                "forget-templates",
                "forget-locality",
                "remove-service"
            ],
            "the removed real servers' addresses keep the VIP's bit while they wait"
        );
        assert_eq!(a.ids.removed().len(), 2);
    }

    #[test]
    fn a_full_table_keeps_the_service_on_its_old_table_and_says_so() {
        let mut a = Applied::new(2, 1500);
        let (_, r) = a.compile(&cfg(ONE));
        r.unwrap();
        let more = ONE.replace(r#""weight": 0"#, r#""weight": 1"#);
        let (plan, r) = a.compile(&cfg(&more));
        assert!(matches!(r, Err(CompileError::TableFull(2))), "{r:?}");
        assert!(
            !kinds(&plan).contains(&"service"),
            "no service entry points at a table that was not written"
        );
        let st = a.ordered()[0];
        assert_eq!(st.reals.len(), 2, "the real servers as planned");
        assert_eq!(st.region, Region { off: 0, len: 1 }, "the old table");
    }
}
