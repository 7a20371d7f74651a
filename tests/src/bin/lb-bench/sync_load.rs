//! The sync load figure: a stream of connection updates at a fixed rate ([`RATE`] records a
//! second for [`SECS`] s) from one director's sender to another director's receiver, over UDP
//! between two network namespaces joined by a veth pair, each update applied by lbd's own
//! receiver ([`Applier`]: decode, look up the service and real server, insert or refresh the
//! synced entry) into the real connection table of the bench's data plane. The messages are
//! lbd's own encoding (`messages`, `sync_maxlen` 1472 with the authentication TLV: 39 records a message), with a sync key
//! (sealed and checked, as a deployment with `auth_key_file` does). [`FLOWS`] connections are
//! updated round after round (their state alternating), so each record changes an entry.
//! The receiver is lbd's own: its socket (`open_recv`, with lbd's receive buffer), its reads
//! (a [`Burst`] of the datagrams queued) and its applier, in one thread as in lbd.
//! Reports what was applied per second, the lag (records sent and not yet applied: its
//! largest value, in records and in milliseconds of the stream) and what was lost.
//!
//! The regime is checked, and the bench fails when it is not the one named: the sender kept
//! [`RATE`] (its last record went out within 5 % of [`SECS`]), no datagram was refused, every
//! record was of a service and real server the data plane has and the table had room, each
//! of the [`FLOWS`] connections was created once (by its first record) and every later
//! record refreshed it; and the table holds the flows as synced entries afterwards.

use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use lb_common::{CONN_F_SYNCED, FlowKey};
use lb_daemon::sync::{
    auth::{self, Key},
    daemon::{Applier, Burst, RECV_BUFFER, messages, open_recv},
    wire::{Addrs, SyncConn, flags, tcp_state},
};
use lb_model::addr::addr_words;
use lb_tests::{consts::VIP, netns::Netns, testrun::Harness};

/// The records a second the sender sends, and for how long.
pub const RATE: u64 = 100_000;
pub const SECS: u64 = 3;
/// The connections the stream updates, round after round.
const FLOWS: u32 = 50_000;
/// The service the records are of (the bench config's `wlc` `tun` service on VIP:83, whose
/// real servers are `real_addr(0..16)`).
const PORT: u16 = 83;
const REALS: u32 = 16;
const SENDER: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 1);
const RECEIVER: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 2);
const SYNC_PORT: u16 = 8848;

fn record(i: u32, round: u32, real: fn(usize) -> Ipv4Addr) -> SyncConn {
    SyncConn {
        protocol: 6,
        flags: flags::TUNNEL,
        state: if round.is_multiple_of(2) {
            tcp_state::ESTABLISHED
        } else {
            tcp_state::FIN_WAIT
        },
        cport: 1024 + (i % 60_000) as u16,
        vport: PORT,
        dport: PORT,
        fwmark: 0,
        timeout: 900,
        addrs: Addrs::V4 {
            client: Ipv4Addr::new(198, 19, 100 + (i >> 16) as u8, (i >> 8) as u8),
            virt: VIP,
            dest: real((i % REALS) as usize),
        },
        seq: None,
        pe_data: None,
        pe_name: None,
    }
}

/// The bench's figures, and why its regime failed if it did.
pub fn bench(h: &mut Harness, real: fn(usize) -> Ipv4Addr) -> (serde_json::Value, Option<String>) {
    // The new-flow cases before this one leave the connection table full (the bench runs no
    // expiry), and a synced record needs room as any connection: start from an empty table,
    // as lbd's expiry keeps one.
    for (key, _) in h.dp.connections() {
        h.dp.delete_conn(&key);
    }
    // Two directors' namespaces, a veth between them.
    let tx_ns = Netns::new("synctx");
    let rx_ns = Netns::new("syncrx");
    tx_ns.veth_to("eth0", &rx_ns, "eth0");
    for (ns, a) in [(&tx_ns, SENDER), (&rx_ns, RECEIVER)] {
        ns.ip(&["addr", "add", &format!("{a}/30"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    }
    // lbd's receiving socket for unicast peers (the port of any address).
    let cfg: lb_model::config::SyncConfig = serde_json::from_value(serde_json::json!({
        "peers": [format!("{SENDER}:{SYNC_PORT}")],
        "mcast_port": SYNC_PORT,
    }))
    .expect("a sync config");
    let rx = {
        let _in = rx_ns.enter();
        open_recv(&cfg, "eth0").expect("receiver socket")
    };
    let tx = {
        let _in = tx_ns.enter();
        UdpSocket::bind((SENDER, 0)).expect("sender socket")
    };
    let key = b"the bench's sync key, both sides";
    // Every round's messages, built before the clock starts.
    let rounds: Vec<Vec<Vec<u8>>> = (0..2)
        .map(|round| {
            let records: Vec<SyncConn> = (0..FLOWS).map(|i| record(i, round, real)).collect();
            // Room for the authentication TLV, as lbd's sender leaves it (`messages` with a
            // key): a sealed message is then at most 1,472 bytes, one unfragmented datagram.
            messages(0, 1472 - auth::OVERHEAD, &records, None)
        })
        .collect();
    let per_message = (FLOWS as usize).div_ceil(rounds[0].len()) as u64;
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sent, done) = (sent.clone(), done.clone());
        let sealer = Key::new(key, 1).unwrap();
        std::thread::spawn(move || {
            // The other director is another machine: its sender gets the other CPU (the
            // bench's thread, the receiver here, is pinned to CPU 0).
            lb_tests::pin_to_cpu(1);
            let total = RATE * SECS;
            let start = Instant::now();
            let mut n = 0u64;
            'out: for round in 0.. {
                for m in &rounds[round % 2] {
                    if n >= total {
                        break 'out;
                    }
                    // Paced: the n-th record is due at n / RATE seconds.
                    let due = Duration::from_secs_f64(n as f64 / RATE as f64);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let records = m[4] as u64;
                    tx.send_to(
                        &sealer.seal(m.clone()),
                        SocketAddr::from((RECEIVER, SYNC_PORT)),
                    )
                    .expect("send");
                    n += records;
                    sent.store(n, Ordering::SeqCst);
                }
            }
            done.store(true, Ordering::SeqCst);
            start.elapsed()
        })
    };
    // The receiver: lbd's applier on this (the bench's) data plane, on this thread.
    let mut applier = Applier::new(0, Some(Arc::new(Key::new(key, 0).unwrap())));
    let mut burst = Burst::default();
    let applied = |a: &Applier| a.counters.inserted + a.counters.refreshed;
    let (mut max_lag, mut first, mut last) = (0u64, None, Instant::now());
    let mut drained_at = None;
    // Time spent in the applier itself: what the receiver could apply on a CPU of its own.
    let mut busy = Duration::ZERO;
    let (mut bursts, mut datagrams) = (0u64, 0u64);
    loop {
        match burst.recv(&rx) {
            Ok(n) => {
                let t = Instant::now();
                applier.handle_burst(burst.datagrams(), &mut h.dp, &h.state);
                busy += t.elapsed();
                bursts += 1;
                datagrams += n as u64;
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
                let lag = sent
                    .load(Ordering::SeqCst)
                    .saturating_sub(applied(&applier));
                max_lag = max_lag.max(lag);
            }
            Err(_) if done.load(Ordering::SeqCst) => break,
            Err(_) => {}
        }
        if done.load(Ordering::SeqCst) && drained_at.is_none() {
            drained_at = Some(Instant::now());
        }
    }
    let send_time = sender.join().expect("sender");
    let total_sent = sent.load(Ordering::SeqCst);
    let got = applied(&applier);
    let span = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
    let per_s = if span > 0.0 { got as f64 / span } else { 0.0 };
    let drain_ms = drained_at.map_or(0.0, |d| {
        last.saturating_duration_since(d).as_secs_f64() * 1e3
    });
    let rc = applier.recv_counters();
    let max_lag_ms = max_lag as f64 / RATE as f64 * 1e3;
    let apply_us = busy.as_secs_f64() * 1e6 / got.max(1) as f64;
    let a = applier.counters;
    // The flows as the table holds them now: synced, in the state of their last record.
    let last_round = (total_sent / FLOWS as u64).saturating_sub(1) as u32;
    let (mut held, mut in_last_state) = (0u32, 0u32);
    for i in 0..FLOWS {
        let r = record(i, last_round, real);
        let (client, virt, _) = r.addrs.ips();
        let (src, family) = addr_words(client);
        let key = FlowKey {
            src,
            dst: addr_words(virt).0,
            sport: r.cport.to_be(),
            dport: r.vport.to_be(),
            proto: r.protocol,
            family,
            _pad: [0; 2],
        };
        if let Some(c) = h.dp.conn(&key).filter(|c| c.flags & CONN_F_SYNCED != 0) {
            held += 1;
            in_last_state += (c.state as u16 == r.state) as u32;
        }
    }
    let mut failure = Vec::new();
    let slack = Duration::from_secs(SECS).mul_f64(1.05);
    if send_time > slack {
        failure.push(format!(
            "the sender took {:.2} s for {SECS} s of stream: below {RATE}/s",
            send_time.as_secs_f64()
        ));
    }
    if total_sent != RATE * SECS || !total_sent.is_multiple_of(FLOWS as u64) {
        failure.push(format!(
            "{total_sent} records sent, not {} whole rounds",
            RATE * SECS / FLOWS as u64
        ));
    }
    if rc.refused() != 0 {
        failure.push(format!("{} datagrams refused", rc.refused()));
    }
    if a.local + a.unknown + a.unsupported + a.table_full != 0 {
        failure.push(format!("records not applied as synced entries: {a:?}"));
    }
    if a.inserted != FLOWS as u64 {
        failure.push(format!("{} flows created, not {FLOWS}", a.inserted));
    }
    if held != FLOWS {
        failure.push(format!(
            "{held} of {FLOWS} flows in the table as synced entries"
        ));
    }
    println!(
        "sync load: {total_sent} updates sent at {RATE}/s for {:.2} s ({per_message} a message, sealed), \
         {got} applied ({:.0}/s), {} lost, largest lag {max_lag} records ({max_lag_ms:.1} ms of the stream), \
         last applied {drain_ms:.1} ms after the sender stopped; refused {}; \
         {apply_us:.2} us of applier time a record ({:.0}/s on a CPU of its own); \
         {datagrams} datagrams in {bursts} bursts; {in_last_state} of {FLOWS} flows in their last record's state",
        send_time.as_secs_f64(),
        per_s,
        total_sent.saturating_sub(got),
        rc.refused(),
        1e6 / apply_us
    );
    let failure = (!failure.is_empty()).then(|| format!("sync_load: {}", failure.join("; ")));
    let doc = serde_json::json!({
        "rate_sent_per_s": RATE,
        "seconds": send_time.as_secs_f64(),
        "records_per_message": per_message,
        "authenticated": true,
        "sent": total_sent,
        "applied": got,
        "applied_per_s": per_s,
        "lost": total_sent.saturating_sub(got),
        "refused_datagrams": rc.refused(),
        "max_lag_records": max_lag,
        "max_lag_ms": max_lag_ms,
        "drain_after_stop_ms": drain_ms,
        "applier_us_per_record": apply_us,
        "applier_capacity_per_s": 1e6 / apply_us,
        "receive_buffer_bytes": RECV_BUFFER,
        "datagrams": datagrams,
        "bursts": bursts,
        "inserted": a.inserted,
        "refreshed": a.refreshed,
        "flows_held": held,
        "flows_in_last_state": in_last_state,
        "regime_ok": failure.is_none(),
    });
    (doc, failure)
}
