//! The sync daemon proper (IPVS's `--start-daemon master|backup`): the sender sends, as
//! protocol version 1 messages ([`super::wire`]), the connections that are new or changed
//! since it last sent them (and a refresh of each before a receiver would expire it), batched
//! every [`PERIOD`] and bounded to [`MAX_PER_PASS`] records a pass. It reads the whole table
//! when it starts; after that `lb` reports each change (`lb_sync_events`) and the sender reads
//! only those entries. The receiver applies each record of a good message to the connection
//! table as a synced entry ([`lb_common::CONN_F_SYNCED`]), so that this director forwards a
//! flow another director scheduled to the same real server.
//!
//! A `nat` connection is sent as IPVS sends one (`IP_VS_CONN_F_MASQ`); the receiver inserts
//! its reply entry with it (real server -> client, [`lb_common::CONN_F_REPLY`]), so that the
//! real server's replies through this director are rewritten to the VIP too.
//!
//! Messages go to a multicast group on one interface (IPVS's default, 224.0.0.81:8848, TTL 1;
//! an IPv6 group too, see [`super::socket`]) or to unicast peers of either family. Only
//! confirmed forward entries are sent (a connection is synced once its client's second packet
//! confirmed it, as IPVS syncs once established), never an entry this director learnt by sync;
//! persistence templates too (read whole every pass).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    hash::{Hash, Hasher},
    net::{IpAddr, SocketAddr, UdpSocket},
    sync::Arc,
    time::{Duration, Instant},
};

use lb_common::{
    CONN_F_NOOUTPUT, CONN_F_REPLY, CONN_F_SYNCED, CONN_F_UNCONFIRMED, CONN_F_WATCH_ACK,
    CONN_S_CLOSE, CONN_S_SCTP, CONN_S_SCTP_CLOSED, CONN_S_UDP, Conn, FAMILY_V6, FWD_DR, FWD_NAT,
    FWD_TUN, FlowKey, NatDest, PersistKey, SCTP_STATES, TCP_STATES, TEMPLATE_F_SYNCED, Template,
    conn_active, conn_time, is_sctp_state, reason, reply_ack_moves,
};
use lb_model::{
    Forwarding, Protocol,
    addr::{addr_of, addr_words, vip_key},
    api::{DaemonRole, DaemonView},
    config::{ServiceKey, SyncConfig, Timeouts},
};
use serde::Serialize;
use tracing::info;

pub use super::socket::{RECV_BUFFER, RECV_WAIT, open_recv, set_recv_buffer};
use super::{
    auth::{self, Key, Replay},
    receive::{Receiver, RecvCounters},
    socket::open_send,
    wire::{Addrs, MessageBuilder, SyncConn, flags, tcp_state},
};
use crate::{
    dataplane::{Dataplane, SyncedEntry, SyncedInsert, monotonic_ns},
    plan::Planner,
};

/// How often the sender reads the connection table: the batching delay of a change.
pub const PERIOD: Duration = Duration::from_millis(20);
/// The most records one pass sends (the rest go in the next passes): 250,000 a second.
pub const MAX_PER_PASS: usize = 5000;

/// What the sender has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SendCounters {
    pub messages: u64,
    pub records: u64,
    /// Sends the system refused (the message is lost; its records are sent again later).
    pub errors: u64,
}

/// What the receiver did with the records of good messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyCounters {
    /// New synced entries.
    pub inserted: u64,
    /// Synced entries refreshed.
    pub refreshed: u64,
    /// Flows this director holds itself (its entry kept).
    pub local: u64,
    /// Records of no service or real server this director has (or of another method).
    pub unknown: u64,
    /// Records lb does not apply: other forwarding methods (local node, bypass), other
    /// protocols.
    pub unsupported: u64,
    /// `nat` reply entries inserted or refreshed with their connections (not in `inserted`
    /// or `refreshed`).
    pub replies: u64,
    /// Persistence templates learnt (new) and refreshed.
    pub templates_inserted: u64,
    pub templates_refreshed: u64,
    /// The connection table was full.
    pub table_full: u64,
}

/// The sender's memory of what it sent.
///
/// It reads the whole connection table once when it starts (and again whenever `lb` lost a
/// change report); from then on it reads only the entries `lb` reported changed
/// (`lb_sync_events`) and those due a refresh, so a pass costs what changed, not the table's
/// size (the table is read under lbd's lock).
#[derive(Debug, Default)]
pub struct Tracker {
    sent: HashMap<FlowKey, Sent>,
    /// When each sent connection is due a refresh (ordered; an entry whose connection was sent
    /// again since is stale and skipped).
    refresh: BTreeMap<(Instant, u64), FlowKey>,
    /// Tells the refresh entries apart.
    seq: u64,
    /// Connections `lb` reported changed that a pass has not read yet.
    changed: HashSet<FlowKey>,
    /// The whole table has been read since this sender started and no report was lost since.
    walked: bool,
    /// `sync_event_lost` when the table was last read whole.
    lost: u64,
    /// The persistence templates sent, by key.
    sent_templates: HashMap<PersistKey, Sent>,
    /// The firewall marks of the firewall-mark services by id, read every pass: what their
    /// connections' records carry.
    marks: HashMap<u32, u32>,
    pub counters: SendCounters,
}

#[derive(Clone, Copy, Debug)]
struct Sent {
    real: u32,
    state: u8,
    at: Instant,
    /// The refresh entry of this send.
    seq: u64,
}

/// IPVS's state number of an lb connection state: a TCP state is IPVS's number already;
/// UDP's one state is 0 (`IP_VS_UDP_S_NORMAL`); an SCTP state is lb's less `CONN_S_SCTP`.
fn ipvs_state(state: u8) -> u16 {
    if state < TCP_STATES {
        state as u16
    } else if is_sctp_state(state) {
        (state - CONN_S_SCTP) as u16
    } else {
        tcp_state::NONE
    }
}

/// lb's connection state of an IPVS record (a TCP state IPVS has no number for is taken as
/// CLOSE, the shortest-lived; an SCTP one as CLOSED).
fn lb_state(protocol: u8, state: u16) -> u8 {
    if protocol == Protocol::Udp.number() {
        CONN_S_UDP
    } else if protocol == Protocol::Sctp.number() {
        if state < SCTP_STATES as u16 {
            CONN_S_SCTP + state as u8
        } else {
            CONN_S_SCTP_CLOSED
        }
    } else if state < TCP_STATES as u16 {
        state as u8
    } else {
        CONN_S_CLOSE
    }
}

impl Tracker {
    /// One pass: the records to send now (at most [`MAX_PER_PASS`]), remembered as sent:
    /// connections, then persistence templates.
    pub fn collect(
        &mut self,
        dp: &mut Dataplane,
        timeouts: &Timeouts,
        plan: &Planner,
    ) -> Vec<SyncConn> {
        self.marks = plan.service_marks();
        let mut out = self.collect_conns(dp, timeouts);
        let now = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for (key, t, record) in template_records(dp, plan) {
            seen.insert(key);
            let due = match self.sent_templates.get(&key) {
                None => true,
                Some(s) => {
                    s.real != t.real
                        || now.duration_since(s.at).as_secs() >= record.timeout as u64 / 2
                }
            };
            if !due || out.len() >= MAX_PER_PASS {
                continue;
            }
            out.push(record);
            self.sent_templates.insert(
                key,
                Sent {
                    real: t.real,
                    state: 0,
                    at: now,
                    seq: 0,
                },
            );
        }
        self.sent_templates.retain(|k, _| seen.contains(k));
        out
    }

    /// The connection records due: every changed or unsent entry of the table when it has to
    /// be read whole, else those `lb` reported and those due a refresh.
    fn collect_conns(&mut self, dp: &mut Dataplane, timeouts: &Timeouts) -> Vec<SyncConn> {
        if !dp.sync_events_on() && dp.set_sync_events(true).is_err() {
            // Without reports, every pass reads the whole table.
            self.walked = false;
        }
        let lost = dp.reason(reason::SYNC_EVENT_LOST).unwrap_or(u64::MAX);
        if lost != self.lost {
            self.walked = false;
        }
        // Reports are taken before a whole read, so that none made during it is missed.
        dp.sync_events(usize::MAX, &mut self.changed);
        if !self.walked {
            let out = self.walk(dp, timeouts);
            // A read cut short by the pass's bound is taken up again by the next pass.
            if out.len() < MAX_PER_PASS {
                self.walked = true;
                self.lost = lost;
                self.changed.clear();
            }
            return out;
        }
        let now = Instant::now();
        let mut out = Vec::new();
        let mut reals = HashMap::new();
        let changed: Vec<FlowKey> = self.changed.iter().take(MAX_PER_PASS).copied().collect();
        for key in changed {
            self.changed.remove(&key);
            if let Some(c) = dp.conn(&key) {
                self.offer(dp, &mut reals, timeouts, now, key, &c, &mut out);
            }
        }
        while out.len() < MAX_PER_PASS {
            let Some(entry) = self.refresh.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let ((_, seq), key) = entry.remove_entry();
            if self.sent.get(&key).is_none_or(|s| s.seq != seq) {
                continue;
            }
            match dp.conn(&key) {
                Some(c) => {
                    self.sent.remove(&key);
                    self.offer(dp, &mut reals, timeouts, now, key, &c, &mut out);
                }
                // Gone from the table (expired, reused): forgotten.
                None => {
                    self.sent.remove(&key);
                }
            }
        }
        out
    }

    /// The whole table read: every entry that is new or changed since it was sent, or due a
    /// refresh.
    fn walk(&mut self, dp: &Dataplane, timeouts: &Timeouts) -> Vec<SyncConn> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut reals = HashMap::new();
        for (key, c) in dp.connections() {
            seen.insert(key);
            self.offer(dp, &mut reals, timeouts, now, key, &c, &mut out);
        }
        self.sent.retain(|k, _| seen.contains(k));
        out
    }

    /// Adds `key`'s record to `out` when it is one to sync and new, changed or due a refresh
    /// (and `out` has room), remembered as sent.
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &mut self,
        dp: &Dataplane,
        reals: &mut HashMap<u32, Option<lb_common::RealServer>>,
        timeouts: &Timeouts,
        now: Instant,
        key: FlowKey,
        c: &Conn,
        out: &mut Vec<SyncConn>,
    ) {
        if c.flags & (CONN_F_REPLY | CONN_F_UNCONFIRMED | CONN_F_SYNCED) != 0 {
            return;
        }
        let timeout = timeouts.for_state(c.state) / 1_000_000_000;
        let due = match self.sent.get(&key) {
            None => true,
            Some(s) => {
                s.real != c.real
                    || s.state != c.state
                    // A refresh before the receiver's copy would expire.
                    || now.duration_since(s.at).as_secs() >= timeout / 2
            }
        };
        if !due || out.len() >= MAX_PER_PASS {
            return;
        }
        let Some(real) = *reals.entry(c.real).or_insert_with(|| dp.real(c.real).ok()) else {
            return;
        };
        if real.family == 0 {
            return;
        }
        let fwmark = self.marks.get(&real.service).copied().unwrap_or(0);
        let Some(record) = record_of(&key, c, &real, fwmark, timeout as u32) else {
            return;
        };
        out.push(record);
        self.seq += 1;
        self.refresh.insert(
            (now + Duration::from_secs((timeout / 2).max(1)), self.seq),
            key,
        );
        self.sent.insert(
            key,
            Sent {
                real: c.real,
                state: c.state,
                at: now,
                seq: self.seq,
            },
        );
    }
}

/// The sync record of a connection (None for what is not synced: one family's VIP with the
/// other's real server, a method sync has no bits for). `fwmark`: its service's firewall
/// mark, 0 for a VIP's service; a marked connection's record names the address and port the
/// client sent to, as IPVS's does (`cp->vaddr`, `cp->fwmark`).
pub(super) fn record_of(
    key: &FlowKey,
    c: &Conn,
    real: &lb_common::RealServer,
    fwmark: u32,
    timeout: u32,
) -> Option<SyncConn> {
    let fwd = match real.method {
        FWD_TUN => flags::TUNNEL,
        FWD_DR => flags::DROUTE,
        // Its reply entry is the receiver's to make.
        FWD_NAT => flags::MASQ,
        _ => return None,
    };
    let vport = u16::from_be(key.dport);
    let port = u16::from_be(real.port);
    let client = addr_of(&key.src, key.family);
    let virt = addr_of(&key.dst, key.family);
    let dest = addr_of(&real.addr, real.family);
    let addrs = match (client, virt, dest) {
        (IpAddr::V4(client), IpAddr::V4(virt), IpAddr::V4(dest)) => {
            Addrs::V4 { client, virt, dest }
        }
        (IpAddr::V6(client), IpAddr::V6(virt), IpAddr::V6(dest)) => {
            Addrs::V6 { client, virt, dest }
        }
        _ => return None,
    };
    let inactive = if conn_active(c.state) {
        0
    } else {
        flags::INACTIVE
    };
    Some(SyncConn {
        protocol: key.proto,
        flags: fwd | inactive,
        state: if key.proto == Protocol::Udp.number() {
            0
        } else {
            ipvs_state(c.state)
        },
        cport: u16::from_be(key.sport),
        vport,
        dport: if port == 0 { vport } else { port },
        fwmark,
        timeout,
        addrs,
        seq: None,
        pe_data: None,
        pe_name: None,
    })
}

/// This director's own persistence templates (not those learnt by sync) with their sync
/// records: one of a service this director has, whose real server it has.
pub(super) fn template_records(
    dp: &Dataplane,
    plan: &Planner,
) -> Vec<(PersistKey, Template, SyncConn)> {
    own_template_records(dp, plan, false)
}

/// Every persistence template with its record; `synced_too`: those learnt by sync as well
/// (a bulk sync sends the whole table).
pub(super) fn own_template_records(
    dp: &Dataplane,
    plan: &Planner,
    synced_too: bool,
) -> Vec<(PersistKey, Template, SyncConn)> {
    let templates = dp.persist_templates();
    if templates.is_empty() {
        return Vec::new();
    }
    let services = plan.service_keys();
    let timeouts = plan.persist_timeouts();
    let mut reals: HashMap<u32, Option<lb_common::RealServer>> = HashMap::new();
    let mut out = Vec::new();
    for (k, t) in templates {
        if !synced_too && t.flags & TEMPLATE_F_SYNCED != 0 {
            continue;
        }
        let (Some(svc), Some(timeout)) = (services.get(&k.service), timeouts.get(&k.service))
        else {
            continue;
        };
        let Some(real) = *reals.entry(t.real).or_insert_with(|| dp.real(t.real).ok()) else {
            continue;
        };
        if real.family == 0 {
            continue;
        }
        if let Some(r) = template_record_of(&k, svc, &real, *timeout) {
            out.push((k, t, r));
        }
    }
    out
}

/// The sync record of a persistence template (IPVS's: `IP_VS_CONN_F_TEMPLATE`, client port
/// 0, the client network's address, the service's VIP and port, the real server's address and
/// port, the persistence timeout). A firewall-mark service's is IPVS's too
/// (`ip_vs_sched_persist`): protocol `IPPROTO_IP`, the mark as the virtual address, port 0,
/// and the mark.
pub(super) fn template_record_of(
    key: &PersistKey,
    svc: &ServiceKey,
    real: &lb_common::RealServer,
    timeout: u32,
) -> Option<SyncConn> {
    let (protocol, vip, vport, fwmark) = match svc.fwmark {
        Some(m) => (0, mark_addr(m, svc.vip), 0, m),
        None => (svc.protocol.number(), svc.vip, svc.port, 0),
    };
    let fwd = match real.method {
        FWD_TUN => flags::TUNNEL,
        FWD_DR => flags::DROUTE,
        FWD_NAT => flags::MASQ,
        _ => return None,
    };
    let client = addr_of(&key.addr, key.family);
    let dest = addr_of(&real.addr, real.family);
    let addrs = match (client, vip, dest) {
        (IpAddr::V4(client), IpAddr::V4(virt), IpAddr::V4(dest)) => {
            Addrs::V4 { client, virt, dest }
        }
        (IpAddr::V6(client), IpAddr::V6(virt), IpAddr::V6(dest)) => {
            Addrs::V6 { client, virt, dest }
        }
        _ => return None,
    };
    Some(SyncConn {
        protocol,
        flags: flags::TEMPLATE | fwd,
        state: 0,
        cport: 0,
        vport,
        dport: match u16::from_be(real.port) {
            0 => vport,
            p => p,
        },
        fwmark,
        timeout,
        addrs,
        seq: None,
        pe_data: None,
        pe_name: None,
    })
}

/// A firewall mark as IPVS writes it in a template's virtual address (`union nf_inet_addr`'s
/// first word, network byte order), in the family of `family` (an address of it).
fn mark_addr(mark: u32, family: IpAddr) -> IpAddr {
    match family {
        IpAddr::V4(_) => IpAddr::V4(mark.into()),
        IpAddr::V6(_) => IpAddr::V6(((mark as u128) << 96).into()),
    }
}

/// The service a record names on this director: its firewall mark's when it has one
/// (IPVS's `ip_vs_find_dest` looks a marked record's service up by the mark), else its VIP,
/// port and protocol's; None for a protocol lb has no services of.
fn record_service(c: &SyncConn) -> Option<lb_common::VipKey> {
    let (_, virt, _) = c.addrs.ips();
    if c.fwmark != 0 {
        return Some(lb_common::fwmark_key(c.fwmark, addr_words(virt).1));
    }
    Protocol::from_number(c.protocol).map(|p| vip_key(p, virt, c.vport))
}

/// `records` as messages of at most `maxlen` bytes, each sealed with `key` if there is one
/// (its records then leave room for the TLV).
pub fn messages(
    syncid: u8,
    maxlen: usize,
    records: &[SyncConn],
    key: Option<&Key>,
) -> Vec<Vec<u8>> {
    let Some(key) = key else {
        return plain_messages(syncid, maxlen, records);
    };
    plain_messages(syncid, maxlen - auth::OVERHEAD, records)
        .into_iter()
        .map(|m| key.seal(m))
        .collect()
}

fn plain_messages(syncid: u8, maxlen: usize, records: &[SyncConn]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(mut m) = MessageBuilder::new(syncid, maxlen) else {
        return out;
    };
    for r in records {
        if m.push(r).is_err() {
            if !m.is_empty() {
                out.push(
                    std::mem::replace(
                        &mut m,
                        MessageBuilder::new(syncid, maxlen).expect("checked"),
                    )
                    .finish(),
                );
            }
            // A record that does not fit an empty message is not sent.
            let _ = m.push(r);
        }
    }
    if !m.is_empty() {
        out.push(m.finish());
    }
    out
}

/// The receiving side: decodes datagrams and applies their records.
#[derive(Debug, Default)]
pub struct Applier {
    receiver: Receiver,
    pub counters: ApplyCounters,
    /// Hashes of the flows this applier found or put in the connection table: a record of
    /// one of them is looked up before it is written, any other is created at once (one
    /// system call; `BPF_NOEXIST` keeps an entry of this director's own). A hint only: a
    /// wrong one costs a system call, never a wrong entry. Forgotten at [`KNOWN_MAX`].
    known: HashSet<u64>,
}

/// The most flows [`Applier`] remembers (8 bytes each, about 16 MiB in a hash set).
pub const KNOWN_MAX: usize = 1 << 20;

/// A flow's hash for [`Applier`]'s memory.
fn flow_hash(key: &FlowKey) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl Applier {
    /// An applier of `syncid`'s messages, refusing those `key` did not seal if set.
    pub fn new(syncid: u8, key: Option<Arc<Key>>) -> Self {
        Self {
            receiver: Receiver::with_key(syncid, key),
            counters: ApplyCounters::default(),
            known: HashSet::new(),
        }
    }

    pub fn recv_counters(&self) -> RecvCounters {
        self.receiver.counters()
    }

    /// Applies the records of one datagram from `from` (a bad datagram is counted and
    /// changes nothing).
    pub fn handle(&mut self, datagram: &[u8], from: IpAddr, dp: &mut Dataplane, plan: &Planner) {
        self.handle_burst([(datagram, from)], dp, plan);
    }

    /// Applies the records of several datagrams (a [`Burst`]) in one pass over the
    /// connection table: a record that follows another of its flow wins, as if applied one
    /// by one.
    pub fn handle_burst<'a>(
        &mut self,
        datagrams: impl IntoIterator<Item = (&'a [u8], IpAddr)>,
        dp: &mut Dataplane,
        plan: &Planner,
    ) {
        let mut out = Resolved::default();
        let mut reals = RealCache::default();
        for (datagram, from) in datagrams {
            let (receiver, counters, known) = (&mut self.receiver, &mut self.counters, &self.known);
            let _ = receiver.handle(datagram, from, |c| {
                resolve(c, plan, &mut reals, counters, known, &mut out)
            });
        }
        self.apply(&out, dp);
    }

    /// [`Applier::handle`] for one message of a bulk sync stream, whose sequence numbers are
    /// checked against `replay` (the stream's own).
    pub fn handle_in(
        &mut self,
        message: &[u8],
        from: IpAddr,
        replay: &mut Replay,
        dp: &mut Dataplane,
        plan: &Planner,
    ) {
        let mut out = Resolved::default();
        let mut reals = RealCache::default();
        let (receiver, counters, known) = (&mut self.receiver, &mut self.counters, &self.known);
        let _ = receiver.handle_in(message, from, replay, |c| {
            resolve(c, plan, &mut reals, counters, known, &mut out)
        });
        self.apply(&out, dp);
    }

    fn apply(&mut self, resolved: &Resolved, dp: &mut Dataplane) {
        let Resolved {
            entries,
            templates,
            nat_dests,
        } = resolved;
        // Before the reply entries that need them (a reply of such a connection without its
        // destination is dropped, `drop_nat_no_dest`).
        for (reply, d) in nat_dests {
            if dp.insert_nat_dest(reply, d).is_err() {
                self.counters.table_full += 1;
            }
        }
        for (k, t) in templates {
            let n = &mut self.counters;
            match dp.insert_synced_template(k, t) {
                SyncedInsert::New => n.templates_inserted += 1,
                SyncedInsert::Refreshed => n.templates_refreshed += 1,
                SyncedInsert::Local => n.local += 1,
                SyncedInsert::Full => n.table_full += 1,
            }
        }
        if entries.is_empty() {
            return;
        }
        if self.known.len() + entries.len() > KNOWN_MAX {
            self.known.clear();
        }
        let n = &mut self.counters;
        for (e, r) in entries.iter().zip(dp.insert_synced_conns(entries)) {
            let reply = e.conn.flags & CONN_F_REPLY != 0;
            match r {
                SyncedInsert::New | SyncedInsert::Refreshed if reply => n.replies += 1,
                SyncedInsert::New => n.inserted += 1,
                SyncedInsert::Refreshed => n.refreshed += 1,
                SyncedInsert::Local => n.local += 1,
                SyncedInsert::Full => n.table_full += 1,
            }
            if r != SyncedInsert::Full {
                self.known.insert(flow_hash(&e.key));
            }
        }
    }
}

/// What the records of a burst become.
#[derive(Debug, Default)]
struct Resolved {
    /// Connection-table entries (a `nat` connection's reply entry after its own).
    entries: Vec<SyncedEntry>,
    templates: Vec<(PersistKey, Template)>,
    /// The kept destinations of firewall-mark `nat` connections, by reply direction.
    nat_dests: Vec<(FlowKey, NatDest)>,
}

/// Real-server ids and forwarding methods by service (VIP key), address and port, looked up
/// once a burst.
type RealCache = HashMap<(lb_common::VipKey, IpAddr, u16), Option<(u32, Forwarding)>>;

/// The real server of `vip` at `dest`:`dport` (through `reals`).
fn find_real(
    plan: &Planner,
    reals: &mut RealCache,
    vip: lb_common::VipKey,
    dest: IpAddr,
    dport: u16,
) -> Option<(u32, Forwarding)> {
    *reals.entry((vip, dest, dport)).or_insert_with(|| {
        plan.real_methods(&vip)
            .into_iter()
            .find(|(a, p, _, _)| *a == dest && *p == dport)
            .map(|(_, _, id, f)| (id, f))
    })
}

/// The connection-table entries or persistence template of one record, into `out`; nothing
/// (counted) when this director does not apply it.
fn resolve(
    c: &SyncConn,
    plan: &Planner,
    reals: &mut RealCache,
    n: &mut ApplyCounters,
    known: &HashSet<u64>,
    out: &mut Resolved,
) {
    let Some(service) = record_service(c) else {
        n.unsupported += 1;
        return;
    };
    let fwd = c.flags & flags::FWD_MASK;
    if c.is_template() {
        match resolve_template(c, service, plan, reals) {
            Some(t) => out.templates.push(t),
            None => n.unknown += 1,
        }
        return;
    }
    // A marked record's protocol is its connection's (a template's alone may be IP's).
    if c.fwmark != 0 && Protocol::from_number(c.protocol).is_none() {
        n.unsupported += 1;
        return;
    }
    let method = match fwd {
        flags::TUNNEL => Forwarding::Tun,
        flags::DROUTE => Forwarding::Dr,
        flags::MASQ => Forwarding::Nat,
        _ => {
            n.unsupported += 1;
            return;
        }
    };
    let (client, virt, dest) = c.addrs.ips();
    let found = if c.fwmark != 0 {
        // A firewall-mark service's real servers (port 0) take the client's port.
        (c.dport == c.vport)
            .then(|| find_real(plan, reals, service, dest, 0))
            .flatten()
    } else {
        let mut find = |vport: u16, dport: u16| {
            find_real(
                plan,
                reals,
                lb_common::VipKey {
                    port: vport.to_be(),
                    ..service
                },
                dest,
                dport,
            )
        };
        // Else the VIP's port-0 service, whose real servers (port 0) take the client's port.
        find(c.vport, c.dport).or_else(|| if c.dport == c.vport { find(0, 0) } else { None })
    };
    // The record's method must be the real server's here: it says how replies go.
    let Some((real, _)) = found.filter(|(_, m)| *m == method) else {
        n.unknown += 1;
        return;
    };
    let (src, family) = addr_words(client);
    let (dst, _) = addr_words(virt);
    let key = FlowKey {
        src,
        dst,
        sport: c.cport.to_be(),
        dport: c.vport.to_be(),
        proto: c.protocol,
        family,
        _pad: [0; 2],
    };
    debug_assert!(family == FAMILY_V6 || src[1..] == [0, 0, 0]);
    let nat = method == Forwarding::Nat;
    let state = lb_state(c.protocol, c.state);
    let now = conn_time(monotonic_ns());
    let conn = Conn {
        real,
        last_seen: now,
        state,
        // The replies of a `dr` or `tun` connection do not pass the director.
        flags: CONN_F_SYNCED | if nat { 0 } else { CONN_F_NOOUTPUT },
        _pad: [0; 6],
    };
    let hint = known.contains(&flow_hash(&key));
    out.entries.push(SyncedEntry {
        key,
        conn,
        known: hint,
    });
    if nat {
        let (key, conn) = nat_reply_entry(c, real, state, now);
        if c.fwmark != 0 {
            // Its replies leave from the address the client sent to (the real server has none
            // of its own to take it from).
            let dest = NatDest {
                addr: dst,
                since: now,
                _pad: 0,
            };
            out.nat_dests.push((key, dest));
        }
        let known = known.contains(&flow_hash(&key));
        out.entries.push(SyncedEntry { key, conn, known });
    }
}

/// The reply entry of a `nat` connection's record (of real server `real`, in lb's `state`),
/// as `lb` makes it when it confirms a connection of its own: keyed real server -> client
/// (the real server's port: the record's `dport`, which a port-0 service's is the client's
/// destination port), marked [`CONN_F_WATCH_ACK`] while a plain ACK of the real server's
/// moves the connection. Marked synced too: this director's own reply entry of the flow is
/// kept ([`Dataplane::insert_synced_conns`]).
fn nat_reply_entry(c: &SyncConn, real: u32, state: u8, now: u32) -> (FlowKey, Conn) {
    let (client, _, dest) = c.addrs.ips();
    let (src, family) = addr_words(dest);
    let (dst, _) = addr_words(client);
    let key = FlowKey {
        src,
        dst,
        sport: c.dport.to_be(),
        dport: c.cport.to_be(),
        proto: c.protocol,
        family,
        _pad: [0; 2],
    };
    let watch = if reply_ack_moves(state) {
        CONN_F_WATCH_ACK
    } else {
        0
    };
    let conn = Conn {
        real,
        last_seen: now,
        state: 0,
        flags: CONN_F_REPLY | CONN_F_SYNCED | watch,
        _pad: [0; 6],
    };
    (key, conn)
}

/// The persistence template of a template record: of a persistent service this director has
/// (`vip`: the record's VIP and port, or its mark) and one of its real servers (address and
/// port), keyed by the client network the record names; None when there is no such service or
/// real server.
fn resolve_template(
    c: &SyncConn,
    vip: lb_common::VipKey,
    plan: &Planner,
    reals: &mut RealCache,
) -> Option<(PersistKey, Template)> {
    let (client, _, dest) = c.addrs.ips();
    let service = plan.persistent_service_id(&vip)?;
    let (real, _) = find_real(plan, reals, vip, dest, c.dport)?;
    let (addr, family) = addr_words(client);
    Some((
        PersistKey {
            service,
            family,
            _pad: [0; 3],
            addr,
        },
        Template {
            real,
            service,
            last_seen_ns: monotonic_ns(),
            flags: TEMPLATE_F_SYNCED,
            _pad: 0,
        },
    ))
}

/// The most datagrams the receiver reads before it applies them (and takes the data plane's
/// lock once for them all): 64 messages of 40 records at the default `sync_maxlen`.
pub const BURST_DATAGRAMS: usize = 64;

/// Datagrams read from a socket in one go ([`Burst::recv`]), for [`Applier::handle_burst`].
pub struct Burst {
    buf: Vec<u8>,
    /// Each datagram's end in `buf` and sender.
    ends: Vec<(usize, IpAddr)>,
}

impl Default for Burst {
    fn default() -> Self {
        Self {
            buf: vec![0u8; BURST_DATAGRAMS * MAX_DATAGRAM],
            ends: Vec::with_capacity(BURST_DATAGRAMS),
        }
    }
}

/// The largest UDP payload a datagram can carry (a message's size field is 16 bits).
const MAX_DATAGRAM: usize = u16::MAX as usize;

impl Burst {
    /// Waits (the socket's read timeout) for a datagram, then takes the ones already queued
    /// behind it without waiting, up to [`BURST_DATAGRAMS`]. Returns how many it holds; the
    /// error of the first read (a timeout: none came).
    pub fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        self.ends.clear();
        // An IPv4 sender of a socket of both families comes as its IPv4-mapped address.
        let (n, from) = socket.recv_from(&mut self.buf[..MAX_DATAGRAM])?;
        self.ends.push((n, from.ip().to_canonical()));
        // Without waiting from here (a socket that cannot be switched gives its one datagram).
        if socket.set_nonblocking(true).is_ok() {
            while self.ends.len() < BURST_DATAGRAMS {
                let at = self.ends.len() * MAX_DATAGRAM;
                match socket.recv_from(&mut self.buf[at..at + MAX_DATAGRAM]) {
                    Ok((n, from)) => self.ends.push((at + n, from.ip().to_canonical())),
                    Err(_) => break,
                }
            }
            socket.set_nonblocking(false)?;
        }
        Ok(self.ends.len())
    }

    /// The datagrams held, with their senders.
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], IpAddr)> {
        self.ends
            .iter()
            .enumerate()
            .map(|(i, (end, from))| (&self.buf[i * MAX_DATAGRAM..*end], *from))
    }
}

/// A master daemon: sends this director's connections.
#[derive(Debug)]
pub struct Master {
    pub cfg: SyncConfig,
    pub interface: String,
    pub socket: Arc<UdpSocket>,
    pub dests: Vec<SocketAddr>,
    pub tracker: Tracker,
    /// The key its messages are sealed with (`sync.auth_key_file`).
    pub key: Option<Arc<Key>>,
}

/// A backup daemon: applies the connections other directors send.
#[derive(Debug)]
pub struct Backup {
    pub cfg: SyncConfig,
    pub interface: String,
    pub socket: Arc<UdpSocket>,
    pub applier: Applier,
}

/// The running sync daemons (at most one of each role, as in IPVS).
#[derive(Debug, Default)]
pub struct SyncDaemons {
    pub master: Option<Master>,
    pub backup: Option<Backup>,
}

/// Why a daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// ipvsadm's words for the kernel's EEXIST.
    #[error("Daemon has already run")]
    Running,
    #[error("sync.auth_key_file: {0}")]
    Key(String),
    #[error(
        "opening the {role} sync daemon's socket (interface {interface}, port {port}): {source}"
    )]
    Socket {
        role: &'static str,
        interface: String,
        port: u16,
        source: std::io::Error,
    },
}

impl SyncDaemons {
    /// The daemons the config's `sync` section asks for (`interface`: the config's).
    pub fn from_config(cfg: Option<&SyncConfig>, interface: &str) -> Result<Self, StartError> {
        let mut d = Self::default();
        if let Some(c) = cfg {
            if c.send {
                d.start(DaemonRole::Master, c, interface)?;
            }
            if c.receive {
                d.start(DaemonRole::Backup, c, interface)?;
            }
        }
        Ok(d)
    }

    /// Starts the `role` daemon with `cfg`'s options.
    pub fn start(
        &mut self,
        role: DaemonRole,
        cfg: &SyncConfig,
        interface: &str,
    ) -> Result<(), StartError> {
        let iface = cfg.interface(interface).to_string();
        let err = |source| StartError::Socket {
            role: role.name(),
            interface: iface.clone(),
            port: cfg.port(),
            source,
        };
        let key = || auth::load(cfg).map_err(StartError::Key);
        match role {
            DaemonRole::Master => {
                if self.master.is_some() {
                    return Err(StartError::Running);
                }
                let (socket, dests) = open_send(cfg, &iface).map_err(err)?;
                self.master = Some(Master {
                    cfg: cfg.clone(),
                    interface: iface.clone(),
                    socket: Arc::new(socket),
                    dests,
                    tracker: Tracker::default(),
                    key: key()?,
                });
            }
            DaemonRole::Backup => {
                if self.backup.is_some() {
                    return Err(StartError::Running);
                }
                let key = key()?;
                let socket = open_recv(cfg, &iface).map_err(err)?;
                self.backup = Some(Backup {
                    cfg: cfg.clone(),
                    interface: iface.clone(),
                    socket: Arc::new(socket),
                    applier: Applier::new(cfg.syncid, key),
                });
            }
        }
        info!(role = role.name(), interface = %iface, syncid = cfg.syncid, "sync daemon started");
        Ok(())
    }

    /// Stops the `role` daemon; false when none runs.
    pub fn stop(&mut self, role: DaemonRole) -> bool {
        let was = match role {
            DaemonRole::Master => self.master.take().is_some(),
            DaemonRole::Backup => self.backup.take().is_some(),
        };
        if was {
            info!(role = role.name(), "sync daemon stopped");
        }
        was
    }

    /// The running daemons as `-L --daemon` lists them (master first, as the kernel does).
    pub fn views(&self) -> Vec<DaemonView> {
        let view = |role, cfg: &SyncConfig, iface: &str, (messages, records, refused)| DaemonView {
            role,
            mcast_interface: iface.to_string(),
            syncid: cfg.syncid,
            sync_maxlen: cfg.maxlen(),
            mcast_group: cfg.peers.is_empty().then(|| cfg.group()),
            mcast_port: cfg.port(),
            mcast_ttl: cfg.ttl(),
            peers: cfg.peers.clone(),
            messages,
            records,
            refused,
        };
        let mut out = Vec::new();
        if let Some(m) = &self.master {
            let c = m.tracker.counters;
            out.push(view(
                DaemonRole::Master,
                &m.cfg,
                &m.interface,
                (c.messages, c.records, c.errors),
            ));
        }
        if let Some(b) = &self.backup {
            let r = b.applier.recv_counters();
            let a = b.applier.counters;
            out.push(view(
                DaemonRole::Backup,
                &b.cfg,
                &b.interface,
                (
                    r.messages,
                    a.inserted + a.refreshed + a.templates_inserted + a.templates_refreshed,
                    r.refused() + r.records_skipped + a.unknown + a.unsupported + a.table_full,
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::sync::wire::decode;

    fn conn(i: u16) -> SyncConn {
        SyncConn {
            protocol: 6,
            flags: flags::DROUTE,
            state: tcp_state::ESTABLISHED,
            cport: 40000 + i,
            vport: 80,
            dport: 80,
            fwmark: 0,
            timeout: 900,
            addrs: Addrs::V4 {
                client: Ipv4Addr::new(198, 19, 0, 10),
                virt: Ipv4Addr::new(198, 18, 1, 100),
                dest: Ipv4Addr::new(198, 18, 0, 11),
            },
            seq: None,
            pe_data: None,
            pe_name: None,
        }
    }

    #[test]
    fn records_are_split_into_messages_of_at_most_maxlen_bytes_none_lost() {
        let records: Vec<SyncConn> = (0..100).map(conn).collect();
        let msgs = messages(7, 8 + 36 * 10, &records, None);
        assert_eq!(msgs.len(), 10);
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= 8 + 36 * 10);
            back.extend(decode(m, 7).expect("a good message").conns);
        }
        assert_eq!(back, records);
        assert!(messages(7, 1472, &[], None).is_empty());
    }

    /// A nat record's reply entry is keyed as `lb` keys its own (real server:port ->
    /// client:port), marked while a plain ACK of the real server's moves the connection.
    #[test]
    fn a_nat_records_reply_entry_is_the_data_planes_own() {
        let mut c = conn(7);
        c.flags = flags::MASQ;
        c.dport = 8080;
        let (key, e) = nat_reply_entry(&c, 42, lb_common::CONN_S_ESTABLISHED, 99);
        let words = |a: [u8; 4]| [u32::from_ne_bytes(a), 0, 0, 0];
        assert_eq!(key.src, words([198, 18, 0, 11]));
        assert_eq!(key.dst, words([198, 19, 0, 10]));
        assert_eq!(
            (u16::from_be(key.sport), u16::from_be(key.dport)),
            (8080, 40007)
        );
        assert_eq!((key.proto, key.family), (6, lb_common::FAMILY_V4));
        assert_eq!((e.real, e.last_seen, e.state), (42, 99, 0));
        assert_eq!(e.flags, CONN_F_REPLY | CONN_F_SYNCED);
        let (_, e) = nat_reply_entry(&c, 42, lb_common::CONN_S_SYN_RECV, 99);
        assert_eq!(e.flags, CONN_F_REPLY | CONN_F_SYNCED | CONN_F_WATCH_ACK);
    }

    /// A marked record names its service by the mark (a template's protocol is IP's then);
    /// an unmarked one by its VIP, port and protocol.
    #[test]
    fn a_marked_records_service_is_its_marks() {
        let mut c = conn(1);
        assert_eq!(
            record_service(&c),
            Some(vip_key(
                Protocol::Tcp,
                Ipv4Addr::new(198, 18, 1, 100).into(),
                80
            ))
        );
        c.fwmark = 7;
        c.protocol = 0;
        c.flags |= flags::TEMPLATE;
        assert_eq!(
            record_service(&c),
            Some(lb_common::fwmark_key(7, lb_common::FAMILY_V4))
        );
        c.fwmark = 0;
        assert_eq!(record_service(&c), None, "no service of protocol 0");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        c.fwmark = 7;
        c.addrs = Addrs::V6 {
            client: "2001:db8::2".parse().unwrap(),
            virt: "::".parse().unwrap(),
            dest: "2001:db8::3".parse().unwrap(),
        };
        assert_eq!(
            record_service(&c),
            Some(lb_common::fwmark_key(7, FAMILY_V6))
        );
        // IPVS's template address of a mark: the mark in the first word.
        assert_eq!(
            mark_addr(0x0102_0304, Ipv4Addr::UNSPECIFIED.into()),
            IpAddr::from([1, 2, 3, 4])
        );
        assert_eq!(mark_addr(7, v6), "0:7::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn states_map_both_ways() {
        for s in 0..TCP_STATES {
            assert_eq!(lb_state(6, ipvs_state(s)), s);
        }
        assert_eq!(
            ipvs_state(lb_common::CONN_S_TIME_WAIT),
            tcp_state::TIME_WAIT
        );
        assert_eq!(ipvs_state(lb_common::CONN_S_SYN_RECV), tcp_state::SYN_RECV);
        assert_eq!(ipvs_state(CONN_S_UDP), 0);
        assert_eq!(lb_state(17, 0), CONN_S_UDP);
        assert_eq!(lb_state(6, 11), CONN_S_CLOSE);
        for s in 0..SCTP_STATES {
            assert_eq!(ipvs_state(CONN_S_SCTP + s), s as u16);
            assert_eq!(lb_state(132, s as u16), CONN_S_SCTP + s);
        }
        assert_eq!(lb_state(132, 14), CONN_S_SCTP_CLOSED);
    }
}
