//! The director daemon's life: load the config, load and attach the programs, fill the maps,
//! serve the control socket, reload on SIGHUP, and clean up on SIGTERM/SIGINT.

use std::{
    io::{BufRead, BufReader, Write},
    net::IpAddr,
    os::unix::{
        fs::PermissionsExt,
        net::{UnixListener, UnixStream},
    },
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, bail};
use lb_common::api::{API_VERSION, Op, Request, Response, ServiceView};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tracing::{debug, error, info, warn};

use crate::{
    config::{Config, XdpMode},
    conntrack::{Conntrack, monotonic_ns},
    control,
    dataplane::{Dataplane, LoadOptions, ensure_bpffs},
    estimator::{self, Estimator},
    health::Health,
    neigh,
    state::State,
};

pub struct Daemon {
    pub dp: Dataplane,
    pub state: State,
    pub conntrack: Conntrack,
    pub interface: String,
    pub xdp_mode: XdpMode,
    pub config_path: PathBuf,
    /// Where the applied state is persisted (None: not persisted).
    pub state_file: Option<PathBuf>,
    /// The config lbd started with: its daemon settings (interface, XDP mode, pins, table
    /// size, metrics) hold until a restart.
    pub started: Config,
    /// Rates for `--rate`, sampled every 2 seconds.
    pub rates: Estimator,
    /// Health checks and drains; the desired config (see `crate::health`).
    pub health: Health,
}

impl Daemon {
    /// The services as listed: counters from the data plane, configured weights, health.
    /// The services as listed (lbctl, metrics): counters, health and the estimator's rates.
    pub fn views(&self) -> Result<Vec<ServiceView>, crate::dataplane::DataplaneError> {
        let mut v = self.state.views(&self.dp)?;
        self.health.annotate(&mut v);
        for (svc, (sid, rids)) in v.iter_mut().zip(self.state.view_ids()) {
            svc.rate = self.rates.service(sid);
            for (r, rid) in svc.real_servers.iter_mut().zip(rids) {
                r.rate = self.rates.real(rid);
            }
        }
        Ok(v)
    }
}

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
    let mtu = interface_mtu(&cfg.interface)
        .with_context(|| format!("config field interface: {:?}", cfg.interface))?;
    let pin_dir = cfg.pin_dir();
    if pin_dir.starts_with("/sys/fs/bpf") {
        ensure_bpffs(Path::new("/sys/fs/bpf")).context("mounting bpffs at /sys/fs/bpf")?;
    }
    let control = bind_control_socket(socket)?;
    let mut dp = Dataplane::load(&LoadOptions {
        pin_dir: Some(pin_dir.clone()),
        conn_table_size: Some(cfg.conn_table_size()),
        conn_table_size_v6: Some(cfg.conn_table_size_v6()),
        ..Default::default()
    })
    .context("loading the XDP programs")?;
    let adopted = dp.adopted();
    let mut state = if adopted {
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
        State::adopt(&dp, mtu)
    } else {
        State::new(dp.table_capacity(), mtu)
    };
    let (check_results, check_results_rx) = std::sync::mpsc::channel();
    let mut health = Health::new(check_results);
    let started = (|| -> Result<()> {
        let report = crate::health::apply(&mut health, &mut state, &mut dp, &cfg)
            .context("filling the maps")?;
        info!(?report, "config applied");
        enable_forwarding(&cfg)?;
        if cfg.xdp_mode == XdpMode::Generic {
            warn!(
                interface = %cfg.interface,
                "attaching in generic (skb) mode as the config asks: slower than native"
            );
        }
        dp.attach(&cfg.interface, cfg.xdp_mode)
            .with_context(|| format!("attaching XDP ({} mode) to {}", cfg.xdp_mode, cfg.interface))
    })();
    if let Err(e) = started {
        // A fresh start leaves nothing behind: no pins, no socket. A running data plane that
        // was being adopted is left running, not torn down.
        if !adopted {
            dp.unpin();
        }
        let _ = std::fs::remove_file(socket);
        return Err(e);
    }
    info!(interface = %cfg.interface, mode = %cfg.xdp_mode, pin_dir = %pin_dir.display(), "lb attached");

    let daemon = Arc::new(Mutex::new(Daemon {
        dp,
        state,
        conntrack: Conntrack::new(cfg.timeouts),
        interface: cfg.interface.clone(),
        xdp_mode: cfg.xdp_mode,
        config_path: config_path.to_path_buf(),
        state_file: state_file.map(Path::to_path_buf),
        started: cfg.clone(),
        rates: Estimator::default(),
        health,
    }));
    // The estimator's baseline: what the counters hold now (pinned maps lbd adopted may
    // hold counts from before); everything added later counts from zero.
    sample_rates(&mut daemon.lock().unwrap_or_else(|e| e.into_inner()), 0);
    let stop = Arc::new(AtomicBool::new(false));
    neigh::warm_initial(&real_addrs(&cfg));
    {
        let d = daemon.clone();
        let stop = stop.clone();
        std::thread::spawn(move || neigh::keep_warm(d, stop));
    }
    {
        let d = daemon.clone();
        std::thread::spawn(move || serve(control, d));
    }
    {
        let d = daemon.clone();
        let stop = stop.clone();
        std::thread::spawn(move || crate::health::manage(d, check_results_rx, stop));
    }
    {
        let d = daemon.clone();
        let stop = stop.clone();
        std::thread::spawn(move || expire_loop(d, stop));
    }
    {
        let d = daemon.clone();
        let stop = stop.clone();
        std::thread::spawn(move || estimate_loop(d, stop));
    }
    let metrics_addr = cfg.metrics_listen.unwrap_or_else(|| {
        crate::metrics::DEFAULT_LISTEN
            .parse()
            .expect("valid default")
    });
    match crate::metrics::serve(metrics_addr, daemon.clone()) {
        Ok(()) => info!(address = %metrics_addr, "metrics endpoint ready"),
        // Forwarding matters more than metrics: say so and go on.
        Err(e) => warn!(address = %metrics_addr, "metrics endpoint not available: {e}"),
    }
    info!(socket = %socket.display(), "control socket ready");
    notify_systemd("READY=1");

    for sig in signals.forever() {
        if sig == SIGHUP {
            notify_systemd("RELOADING=1");
            reload(&daemon);
            notify_systemd("READY=1");
            continue;
        }
        notify_systemd("STOPPING=1");
        info!(
            signal = sig,
            pin_dir = %pin_dir.display(),
            "stopping; the data plane keeps forwarding with its last state (pinned), and lbd started again takes it over (`lbd flush --pin-dir` removes it)"
        );
        break;
    }
    stop.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_file(socket);
    // Hold the lock while the process ends, so no thread writes a map half-way.
    let _d = daemon.lock().unwrap_or_else(|e| e.into_inner());
    Ok(())
}

/// Tells systemd (Type=notify) about lbd's state, when started by it ($NOTIFY_SOCKET).
/// Failures are logged and otherwise ignored: they must not stop forwarding.
pub fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let r = (|| -> std::io::Result<()> {
        use std::os::{linux::net::SocketAddrExt, unix::net::UnixDatagram};
        let sock = UnixDatagram::unbound()?;
        let bytes = path.as_encoded_bytes();
        // A leading '@' names an abstract socket (sd_notify(3)).
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name)?,
            None => std::os::unix::net::SocketAddr::from_pathname(&path)?,
        };
        sock.send_to_addr(state.as_bytes(), &addr)?;
        Ok(())
    })();
    if let Err(e) = r {
        warn!("telling systemd {state:?}: {e}");
    }
}

/// The real servers' addresses (whose neighbour entries the data plane needs), sorry servers
/// included: one must be reachable at once when its service goes down.
pub fn real_addrs(cfg: &Config) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = cfg
        .services
        .iter()
        .flat_map(|s| s.real_servers.iter().chain(s.sorry_server.as_ref()))
        .map(|r| r.address)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// How often lbd walks the connection table to expire idle connections.
const EXPIRY_PERIOD: Duration = Duration::from_secs(2);

fn expire_loop(daemon: Arc<Mutex<Daemon>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(EXPIRY_PERIOD);
        let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
        let Daemon {
            dp,
            state,
            conntrack,
            ..
        } = &mut *d;
        let now = monotonic_ns();
        let templates = crate::conntrack::expire_templates(dp, now, &state.persist_timeouts());
        if templates > 0 {
            debug!(templates, "persistence templates expired");
        }
        let locality = crate::conntrack::expire_locality(dp, now, &state.locality_expirations());
        if locality > 0 {
            debug!(locality, "lblc/lblcr mappings expired");
        }
        let reals = state.all_real_ids();
        match conntrack.pass(dp, now, &reals) {
            Ok(r) if r.expired + r.replies_removed + r.corrected > 0 => {
                debug!(?r, "connection table pass")
            }
            Ok(_) => {}
            Err(e) => warn!("connection table pass: {e}"),
        }
        if state.real_ids_to_recycle(crate::state::REAL_ID_QUARANTINE) {
            let referenced = referenced_real_ids(dp);
            match state.recycle_real_ids(dp, &referenced, crate::state::REAL_ID_QUARANTINE) {
                Ok(0) => {}
                Ok(n) => debug!(ids = n, "removed real servers' ids free again"),
                Err(e) => warn!("recycling real-server ids: {e}"),
            }
        }
        match crate::conntrack::refresh_overload(dp, &state.limited_reals()) {
            Ok(0) => {}
            Ok(n) => debug!(real_servers = n, "below their lower threshold again"),
            Err(e) => warn!("connection thresholds: {e}"),
        }
    }
}

/// The real-server ids the data plane's state still names: connections (both directions),
/// persistence templates and lblc/lblcr sets.
pub fn referenced_real_ids(dp: &crate::dataplane::Dataplane) -> std::collections::HashSet<u32> {
    let mut ids: std::collections::HashSet<u32> =
        dp.connections().into_iter().map(|(_, c)| c.real).collect();
    ids.extend(dp.persist_templates().into_iter().map(|(_, t)| t.real));
    for (_, l) in dp.locality_entries() {
        ids.extend(l.reals.iter().take(l.count as usize).copied());
    }
    ids
}

/// Samples every service's and real server's counters for the rate estimator.
fn estimate_loop(daemon: Arc<Mutex<Daemon>>, stop: Arc<AtomicBool>) {
    let mut last = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(estimator::PERIOD);
        let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = last.elapsed().as_millis() as u64;
        last = std::time::Instant::now();
        sample_rates(&mut d, elapsed);
    }
}

/// One sample of every service's and real server's counters for the rate estimator.
fn sample_rates(d: &mut Daemon, elapsed_ms: u64) {
    let (mut svcs, mut reals) = (Vec::new(), Vec::new());
    for (sid, rids) in d.state.view_ids() {
        if let Ok(s) = d.dp.service_stats(sid) {
            svcs.push((sid, s));
        }
        for rid in rids {
            if let Ok(s) = d.dp.real_stats(rid) {
                reals.push((rid, s));
            }
        }
    }
    d.rates.tick(&svcs, &reals, elapsed_ms);
}

/// SIGHUP: the config file replaces the desired state (and the state file).
fn reload(daemon: &Mutex<Daemon>) {
    let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
    let path = d.config_path.clone();
    match Config::load(&path) {
        Err(e) => error!("SIGHUP: keeping the running config: {e}"),
        Ok(cfg) => {
            let addrs = real_addrs(&cfg);
            match crate::ops::commit(&mut d, cfg, false) {
                Ok(changes) => info!(?changes, "SIGHUP: config re-read and applied"),
                Err(e) => error!(
                    "SIGHUP: keeping the running config: {}",
                    e.describe(&path.display().to_string())
                ),
            }
            drop(d);
            neigh::warm_initial(&addrs);
        }
    }
}

/// The interface's MTU, asked of the current network namespace (an ioctl: /sys would show the
/// namespace it was mounted in, which with --netns is the host's).
fn interface_mtu(iface: &str) -> Result<u32> {
    // SAFETY: SIOCGIFMTU on a throwaway datagram socket with a NUL-terminated name that fits.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(iface.bytes().take(15)) {
            *d = s as libc::c_char;
        }
        let rc = libc::ioctl(fd, libc::SIOCGIFMTU, &mut req);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(err).with_context(|| format!("interface {iface}: reading its MTU"));
        }
        Ok(req.ifr_ifru.ifru_mtu as u32)
    }
}

/// Forwarding must be on for the interface: the kernel's FIB lookup from XDP refuses to
/// answer otherwise (BPF_FIB_LKUP_RET_FWD_DISABLED). IPv4 always; IPv6 when the config has
/// IPv6 addresses.
pub(crate) fn enable_forwarding(cfg: &Config) -> Result<()> {
    let iface = &cfg.interface;
    let v6 = cfg
        .services
        .iter()
        .any(|s| s.vip.is_ipv6() || s.real_servers.iter().any(|r| r.address.is_ipv6()));
    let mut paths = vec![(
        "IPv4",
        format!("/proc/sys/net/ipv4/conf/{iface}/forwarding"),
    )];
    if v6 {
        paths.push((
            "IPv6",
            format!("/proc/sys/net/ipv6/conf/{iface}/forwarding"),
        ));
    }
    for (family, p) in paths {
        let cur = std::fs::read_to_string(&p).with_context(|| format!("interface {iface}: {p}"))?;
        if cur.trim() != "1" {
            std::fs::write(&p, "1").with_context(|| format!("enabling forwarding: {p}"))?;
            info!(
                interface = %iface,
                "enabled {family} forwarding on the interface (needed for the XDP FIB lookup)"
            );
        }
    }
    Ok(())
}

fn bind_control_socket(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!(
                "another lbd is serving {} (stop it, or use --socket)",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let l = UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

fn serve(l: UnixListener, daemon: Arc<Mutex<Daemon>>) {
    for conn in l.incoming() {
        match conn {
            Ok(s) => {
                let d = daemon.clone();
                std::thread::spawn(move || {
                    if let Err(e) = handle_client(s, &d) {
                        warn!("control client: {e:#}");
                    }
                });
            }
            Err(e) => warn!("control socket: {e}"),
        }
    }
}

fn handle_client(s: UnixStream, daemon: &Mutex<Daemon>) -> Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    for line in BufReader::new(s).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let resp = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
                edit: None,
            },
            Ok(req) if req.v != API_VERSION => Response::Error {
                message: format!(
                    "request is API version {}, this lbd speaks version {API_VERSION}",
                    req.v
                ),
                edit: None,
            },
            Ok(req) if matches!(req.op, Op::Trace { .. }) => {
                // A trace takes the connection until the client closes it.
                return crate::trace::stream(&req.op, &mut w, daemon);
            }
            Ok(req) => {
                let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
                let before = real_addrs(&crate::ops::desired(&d));
                let resp = crate::ops::answer(&mut d, &req.op);
                let mut added = real_addrs(&crate::ops::desired(&d));
                drop(d);
                // New real servers need their neighbour entries before traffic reaches them.
                added.retain(|a| before.binary_search(a).is_err());
                if !added.is_empty() {
                    std::thread::spawn(move || neigh::warm_initial(&added));
                }
                resp
            }
        };
        let mut out = serde_json::to_string(&resp)?;
        out.push('\n');
        w.write_all(out.as_bytes())?;
    }
    Ok(())
}
