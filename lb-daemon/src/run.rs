//! The director daemon's life (the top layer: it wires the others): load the config, load and
//! attach the programs, fill the maps, start the threads (control socket, health, expiry,
//! rates, neighbours, metrics), reload on SIGHUP, and stop on SIGTERM/SIGINT leaving the data
//! plane forwarding.

use std::{
    path::Path,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError},
    },
    time::Duration,
};

use anyhow::{Context as _, Result};
use lb_model::config::{Config, XdpMode};
use sd_notify::NotifyState;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tracing::{error, info, warn};

use crate::{
    bgp::{self, Announcer},
    context::Context,
    control,
    dataplane::{Dataplane, LoadOptions, ensure_bpffs},
    estimator::{self, Estimator},
    expiry::{self, Conntrack},
    ftp,
    health::{self, CheckResult, Health},
    host,
    plan::Planner,
    sync,
};

/// Runs lbd until SIGTERM or SIGINT. With a `state_file` that exists, lbd serves the state
/// it records (the last one applied) instead of the config file's services.
pub fn run(config_path: &Path, socket: &Path, state_file: Option<&Path>) -> Result<()> {
    // Handlers first: a reload or stop as soon as the socket answers (or systemd hears
    // "ready") must not meet the signals' default action, which kills lbd without cleaning up.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let file_cfg = Config::load(config_path)?;
    let cfg = match state_file {
        Some(p) => match control::restore(&file_cfg, p)? {
            Some(restored) => {
                info!(
                    state_file = %p.display(),
                    services = restored.services.len(),
                    "restoring the applied state"
                );
                restored
            }
            None => file_cfg,
        },
        None => file_cfg,
    };
    // Everything that can be checked before touching the kernel's BPF state is checked first.
    // Tunnels are sized for the smallest MTU of the interfaces (any may be the egress).
    let interfaces = cfg.interfaces();
    let mtu = host::mtu::smallest(&cfg).map_err(|e| anyhow::anyhow!("config field {e}"))?;
    // Sync messages go by default on the first interface.
    let sync_daemons = sync::daemon::SyncDaemons::from_config(
        cfg.sync.as_ref(),
        interfaces.first().map(String::as_str).unwrap_or(""),
    )
    .context("config field sync")?;
    // The shared key of sync messages (bulk sync streams too), read once.
    let sync_key = match &cfg.sync {
        Some(s) => sync::auth::load(s)
            .map_err(|e| anyhow::anyhow!("config field sync.auth_key_file: {e}"))?,
        None => None,
    };
    // The bulk sync's answering side, on the sync port (TCP).
    let bulk_listener = match &cfg.sync {
        Some(s) => Some(sync::bulk::listen(s.port()).with_context(|| {
            format!(
                "config field sync: listening for bulk sync requests on TCP port {}",
                s.port()
            )
        })?),
        None => None,
    };
    let pin_dir = cfg.pin_dir();
    if pin_dir.starts_with("/sys/fs/bpf") {
        ensure_bpffs(Path::new("/sys/fs/bpf")).context("mounting bpffs at /sys/fs/bpf")?;
    }
    let listener = control::server::bind(socket)?;
    let dp = Dataplane::load(&LoadOptions {
        pin_dir: Some(pin_dir.clone()),
        conn_table_size: Some(cfg.conn_table_size()),
        conn_table_size_v6: Some(cfg.conn_table_size_v6()),
        ..Default::default()
    })
    .context("loading the XDP programs")?;
    let adopted = dp.adopted();
    let plan = if adopted {
        info!(
            pin_dir = %pin_dir.display(),
            "a data plane is running: adopting its maps, connections and real-server ids"
        );
        if dp.conn_capacity() != cfg.conn_table_size() {
            warn!(
                running = dp.conn_capacity(),
                configured = cfg.conn_table_size(),
                "the running connection table keeps its size (resizing drops every connection; `lbd flush` first to resize)"
            );
        }
        Planner::adopt(
            &dp.snapshot().context("reading the running data plane")?,
            mtu,
        )
    } else {
        Planner::new(dp.table_capacity(), mtu)
    };
    let (check_results, check_results_rx) = std::sync::mpsc::channel();
    let mut ctx = Context {
        dp,
        plan,
        health: Health::new(check_results),
        conntrack: Conntrack::new(cfg.timeouts),
        rates: Estimator::default(),
        announcer: Announcer::new(cfg.announce.clone()),
        sync: sync_daemons,
        interfaces: interfaces.clone(),
        xdp_mode: cfg.xdp_mode,
        config_path: config_path.to_path_buf(),
        state_file: state_file.map(Path::to_path_buf),
        started: cfg.clone(),
    };
    // What an lbd that died left announced leads the router to a director that holds no
    // connection yet: withdrawn before anything else.
    if !adopted {
        ctx.announcer.withdraw_stale();
    }
    let (mut ftp_early, mut ftp_warned) = (None, false);
    let started = (|| -> Result<()> {
        let report = ctx.set_desired(&cfg).context("filling the maps")?;
        info!(?report, "config applied");
        host::forwarding::enable(&cfg)?;
        // The FTP helper is in place before `lb` meets a control connection.
        ftp_early = open_ftp(&mut ctx, &mut ftp_warned);
        if cfg.xdp_mode == XdpMode::Generic {
            warn!(
                interfaces = %interfaces.join(", "),
                "attaching in generic (skb) mode as the config asks: slower than native"
            );
        }
        for (i, iface) in interfaces.iter().enumerate() {
            ctx.dp
                .attach(iface, cfg.xdp_mode, i == 0)
                .with_context(|| format!("attaching XDP ({} mode) to {iface}", cfg.xdp_mode))?;
        }
        // A running data plane attached to interfaces the config no longer names: detached.
        for gone in ctx.dp.detach_others(&interfaces)? {
            info!(interface = %gone, "lb detached: the config no longer names the interface");
        }
        // Every link runs this build's `lb` now: the old one's tail-call map can go.
        ctx.dp.release_others()?;
        Ok(())
    })();
    if let Err(e) = started {
        // A fresh start leaves nothing behind: no pins, no socket. A running data plane that
        // was being adopted is left running, not torn down.
        if !adopted {
            ctx.dp.unpin();
        }
        let _ = std::fs::remove_file(socket);
        return Err(e);
    }
    info!(interfaces = %interfaces.join(", "), mode = %cfg.xdp_mode, pin_dir = %pin_dir.display(), "lb attached");
    // Before any VIP is announced (the announcing thread starts below): the peers' tables.
    if let Some(s) = cfg.sync.as_ref().filter(|s| !s.bulk_from.is_empty()) {
        bulk_sync(&mut ctx, s, sync_key.clone());
    }
    ctx.announcer.set_attached(true);

    // The estimator's baseline: what the counters hold now (pinned maps lbd adopted may
    // hold counts from before); everything added later counts from zero.
    ctx.sample_rates(0);
    let ctx = Arc::new(Mutex::new(ctx));
    let stop = Arc::new(AtomicBool::new(false));
    host::neigh::warm_initial(&cfg.real_addrs());
    spawn_loops(&ctx, &stop, check_results_rx);
    spawn_sync(&ctx, &stop);
    spawn_ftp(&ctx, &stop, ftp_early, ftp_warned);
    if let (Some(l), Some(s)) = (bulk_listener, cfg.sync.clone()) {
        spawn_bulk_answers(&ctx, l, s, sync_key);
    }
    // The metrics endpoint is bound before the control socket answers: a client that got an
    // answer from lbd can scrape it.
    let metrics_addr = cfg.metrics_listen.unwrap_or_else(|| {
        crate::metrics::DEFAULT_LISTEN
            .parse()
            .expect("valid default")
    });
    match crate::metrics::serve(metrics_addr, ctx.clone()) {
        Ok(_) => info!(address = %metrics_addr, "metrics endpoint ready"),
        // Forwarding matters more than metrics: say so and go on.
        Err(e) => warn!(address = %metrics_addr, "metrics endpoint not available: {e}"),
    }
    {
        let c = ctx.clone();
        std::thread::spawn(move || control::server::serve(listener, c));
    }
    info!(socket = %socket.display(), "control socket ready");
    notify_systemd(&[NotifyState::Ready]);

    for sig in signals.forever() {
        if sig == SIGHUP {
            notify_systemd(&[NotifyState::Reloading]);
            reload(&ctx);
            notify_systemd(&[NotifyState::Ready]);
            continue;
        }
        notify_systemd(&[NotifyState::Stopping]);
        info!(
            signal = sig,
            pin_dir = %pin_dir.display(),
            "stopping; the data plane keeps forwarding with its last state (pinned), and lbd started again takes it over (`lbd flush --pin-dir` removes it)"
        );
        break;
    }
    stop.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_file(socket);
    {
        // Withdrawn before lbd goes: the routers stop sending new traffic here.
        let mut d = lock(&ctx);
        let Context {
            announcer, plan, ..
        } = &mut *d;
        if cfg.announce.is_some() {
            match announcer.withdraw_all(plan) {
                Ok(()) => info!("every VIP withdrawn from BIRD"),
                Err(e) => error!("withdrawing the VIPs before stopping: {e}"),
            }
        }
    }
    // Hold the lock while the process ends, so no thread writes a map half-way.
    let _d = lock(&ctx);
    Ok(())
}

/// The context, also after a thread panicked while holding it.
fn lock(ctx: &Mutex<Context>) -> MutexGuard<'_, Context> {
    ctx.lock().unwrap_or_else(|e| e.into_inner())
}

/// The periodic threads: neighbour entries, health results, connection expiry, rates, the
/// VIPs' announcement.
fn spawn_loops(ctx: &Arc<Mutex<Context>>, stop: &Arc<AtomicBool>, results: Receiver<CheckResult>) {
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Follows every change of the effective config (edits, SIGHUP, health, drains)
            // within a period; BIRD is told only when the VIPs to announce change.
            while !stop.load(Ordering::SeqCst) {
                {
                    let mut d = lock(&c);
                    let Context {
                        announcer, plan, ..
                    } = &mut *d;
                    if !stop.load(Ordering::SeqCst) {
                        announcer.step(plan, false);
                    }
                }
                std::thread::sleep(bgp::PERIOD);
            }
        });
    }
    if let Some(ring) = lock(ctx).dp.take_neigh_miss() {
        let stop = stop.clone();
        std::thread::spawn(move || host::neigh::resolve_misses(ring, stop));
    }
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            host::neigh::keep_warm(
                || {
                    let d = lock(&c);
                    d.plan.desired().map(Config::real_addrs).unwrap_or_default()
                },
                stop,
            )
        });
    }
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let first = match results.recv_timeout(health::TICK) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(health::TICK);
                        None
                    }
                };
                let mut d = lock(&c);
                let Context {
                    dp, plan, health, ..
                } = &mut *d;
                health.step(plan, dp, first.into_iter().chain(results.try_iter()));
            }
        });
    }
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(expiry::PERIOD);
                let mut d = lock(&c);
                let Context {
                    dp,
                    plan,
                    conntrack,
                    ..
                } = &mut *d;
                expiry::tick(dp, plan, conntrack);
            }
        });
    }
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(estimator::PERIOD);
                let mut d = lock(&c);
                let elapsed = last.elapsed().as_millis() as u64;
                last = std::time::Instant::now();
                d.sample_rates(elapsed);
            }
        });
    }
}

/// Asks each of `sync.bulk_from` for its connection table and applies it (with the backup
/// daemon's counters when one runs). A peer that does not answer is logged and skipped: a
/// director alone must still start.
fn bulk_sync(
    ctx: &mut Context,
    s: &lb_model::config::SyncConfig,
    key: Option<Arc<sync::auth::Key>>,
) {
    let Context { dp, plan, sync, .. } = ctx;
    let mut own = sync::daemon::Applier::new(s.syncid, key);
    let applier = match sync.backup.as_mut() {
        Some(b) => &mut b.applier,
        None => &mut own,
    };
    for peer in &s.bulk_from {
        match sync::bulk::fetch(*peer, applier, dp, plan) {
            Ok(r) => info!(
                %peer,
                messages = r.messages,
                connections = r.applied,
                "bulk sync done"
            ),
            Err(e) => warn!(%peer, "bulk sync: {e} (going on without it)"),
        }
    }
}

/// Answers bulk sync requests, one at a time: the table read under the lock, written after.
fn spawn_bulk_answers(
    ctx: &Arc<Mutex<Context>>,
    listener: std::net::TcpListener,
    s: lb_model::config::SyncConfig,
    key: Option<Arc<sync::auth::Key>>,
) {
    let c = ctx.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let peer = stream.peer_addr().ok();
            let records = {
                let d = lock(&c);
                sync::bulk::table_records(&d.dp, &d.conntrack.timeouts, &d.plan)
            };
            match sync::bulk::answer(
                stream,
                s.syncid,
                s.maxlen() as usize,
                &records,
                key.as_deref(),
            ) {
                Ok(()) => info!(?peer, connections = records.len(), "bulk sync answered"),
                Err(e) => warn!(?peer, "answering a bulk sync: {e}"),
            }
        }
    });
}

/// The FTP helper's thread (`ftp`): once the maps hold a real server of the helper, it opens
/// the helper's interface, points `lb` at it, and then takes each control frame: handled
/// under the lock (it reads the connection table and writes expectations), sent on outside
/// it.
fn spawn_ftp(
    ctx: &Arc<Mutex<Context>>,
    stop: &Arc<AtomicBool>,
    mut port: Option<ftp::link::Port>,
    mut warned: bool,
) {
    let (ctx, stop) = (ctx.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut helper = ftp::Helper::default();
        let mut buf = Vec::with_capacity(65_536);
        while !stop.load(Ordering::SeqCst) {
            let Some(p) = port.as_mut() else {
                std::thread::sleep(Duration::from_secs(1));
                port = open_ftp(&mut lock(&ctx), &mut warned);
                continue;
            };
            match p.recv(&mut buf) {
                Ok(Some(())) => {
                    helper.handle(&mut buf, &mut lock(&ctx).dp);
                    if let Err(e) = p.send_on(&buf) {
                        warn!("FTP helper: a control frame could not be sent on: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    warn!("FTP helper: reading {}: {e}", ftp::link::READ);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    });
}

/// The FTP helper's interface, once the maps hold a real server of the helper: opened, and
/// `lb` pointed at it. None while no config needs it or it cannot be opened (said once).
fn open_ftp(c: &mut Context, warned: &mut bool) -> Option<ftp::link::Port> {
    let wanted =
        c.dp.config()
            .is_ok_and(|g| g.flags & lb_common::CFG_F_FTP != 0);
    if !wanted {
        return None;
    }
    let r = ftp::link::Port::open(&c.interfaces).and_then(|p| {
        c.dp.set_ftp_helper(p.into)
            .map(|()| p)
            .map_err(|e| e.to_string())
    });
    match r {
        Ok(p) => {
            info!(interface = ftp::link::INTO, "FTP helper ready");
            Some(p)
        }
        Err(e) => {
            if !*warned {
                warn!("FTP helper not available (FTP control connections pass unchanged): {e}");
                *warned = true;
            }
            None
        }
    }
}

/// The sync daemons' threads, running whether a daemon runs or not (`lbctl --start-daemon`
/// starts one at any time): the sender (a pass every `sync::daemon::PERIOD` over the
/// connections `lb` reported changed and those due a refresh, its messages sent outside the
/// lock) and the receiver.
fn spawn_sync(ctx: &Arc<Mutex<Context>>, stop: &Arc<AtomicBool>) {
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(sync::daemon::PERIOD);
                let (socket, dests, syncid, maxlen, records, key) = {
                    let mut d = lock(&c);
                    let Context {
                        dp,
                        plan,
                        sync,
                        conntrack,
                        ..
                    } = &mut *d;
                    let Some(m) = sync.master.as_mut() else {
                        // No sender: `lb` stops reporting changes.
                        if dp.sync_events_on()
                            && let Err(e) = dp.set_sync_events(false)
                        {
                            warn!("stopping the data plane's sync reports: {e:#}");
                        }
                        continue;
                    };
                    let records = m.tracker.collect(dp, &conntrack.timeouts, plan);
                    (
                        m.socket.clone(),
                        m.dests.clone(),
                        m.cfg.syncid,
                        m.cfg.maxlen() as usize,
                        records,
                        m.key.clone(),
                    )
                };
                if records.is_empty() {
                    continue;
                }
                let msgs = sync::daemon::messages(syncid, maxlen, &records, key.as_deref());
                let (mut sent, mut errors) = (0u64, 0u64);
                for m in &msgs {
                    for dest in &dests {
                        match socket.send_to(m, dest) {
                            Ok(_) => sent += 1,
                            Err(e) => {
                                errors += 1;
                                warn!(%dest, "sending a sync message: {e}");
                            }
                        }
                    }
                }
                let mut d = lock(&c);
                if let Some(m) = d.sync.master.as_mut()
                    && Arc::ptr_eq(&m.socket, &socket)
                {
                    m.tracker.counters.messages += sent;
                    m.tracker.counters.records += records.len() as u64;
                    m.tracker.counters.errors += errors;
                }
            }
        });
    }
    {
        let c = ctx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut burst = sync::daemon::Burst::default();
            while !stop.load(Ordering::SeqCst) {
                let socket = lock(&c).sync.backup.as_ref().map(|b| b.socket.clone());
                let Some(socket) = socket else {
                    std::thread::sleep(sync::daemon::RECV_WAIT);
                    continue;
                };
                match burst.recv(&socket) {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        warn!("receiving sync messages: {e}");
                        std::thread::sleep(sync::daemon::RECV_WAIT);
                        continue;
                    }
                };
                let mut d = lock(&c);
                let Context { dp, plan, sync, .. } = &mut *d;
                // A daemon stopped (or started again) meanwhile: not its datagrams.
                if let Some(b) = sync.backup.as_mut()
                    && Arc::ptr_eq(&b.socket, &socket)
                {
                    b.applier.handle_burst(burst.datagrams(), dp, plan);
                }
            }
        });
    }
}

/// Tells systemd (Type=notify) about lbd's state, when started by it ($NOTIFY_SOCKET).
/// Failures are logged and otherwise ignored: they must not stop forwarding.
fn notify_systemd(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        warn!("telling systemd {state:?}: {e}");
    }
}

/// SIGHUP: the config file replaces the desired state (and the state file).
fn reload(ctx: &Mutex<Context>) {
    let mut d = lock(ctx);
    let path = d.config_path.clone();
    match Config::load(&path) {
        Err(e) => error!("SIGHUP: keeping the running config: {e}"),
        Ok(cfg) => {
            let addrs = cfg.real_addrs();
            match control::commit(&mut d, cfg, false) {
                Ok(changes) => info!(?changes, "SIGHUP: config re-read and applied"),
                Err(e) => error!(
                    "SIGHUP: keeping the running config: {}",
                    e.describe(&path.display().to_string())
                ),
            }
            drop(d);
            host::neigh::warm_initial(&addrs);
        }
    }
}
