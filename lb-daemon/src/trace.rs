//! `lbctl trace` (a door on top of the context): streams the data plane's decisions for the packets a client asks about. The
//! control connection that asked gets one JSON line per event until it closes; the data plane
//! writes events only while a trace runs (see lb-ebpf `trace.rs`).

use std::{
    collections::HashMap,
    io::Write,
    net::{IpAddr, SocketAddr},
    os::{fd::AsFd, unix::net::UnixStream},
    sync::Mutex,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Result, bail};
use lb_common::{
    PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, REASON_NAMES, TRACE_F_PARSED, TraceEvent,
    TraceFilter,
};
use lb_model::api::{Op, Response, TraceView};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use lb_model::addr::{addr_of, addr_words};

use crate::{context::Context, dataplane::monotonic_ns};

/// Events per second and CPU when the client does not say.
const DEFAULT_MAX_PER_SEC: u32 = 1000;

/// Runs one trace on connection `w` until the client closes it (or a write fails).
pub fn stream(op: &Op, w: &mut UnixStream, daemon: &Mutex<Context>) -> Result<()> {
    let Op::Trace {
        vip,
        client,
        real,
        max_per_sec,
    } = op
    else {
        bail!("not a trace request");
    };
    let (mut ring, mut names, real_ids) = {
        let mut d = daemon.lock().unwrap_or_else(|e| e.into_inner());
        let names = d.plan.real_names();
        let real_ids: Vec<u32> = match real {
            Some(a) => names
                .iter()
                .filter(|(_, (addr, _))| addr == a)
                .map(|(id, _)| *id)
                .collect(),
            None => Vec::new(),
        };
        if real.is_some() && real_ids.is_empty() {
            drop(d);
            return send(
                w,
                &Response::Error {
                    message: format!("no real server has address {}", real.unwrap()),
                    edit: None,
                },
            );
        }
        let mut f = TraceFilter {
            max_per_sec: max_per_sec.unwrap_or(DEFAULT_MAX_PER_SEC),
            ..Default::default()
        };
        if let Some(a) = vip {
            (f.vip, f.vip_family) = addr_words(*a);
        }
        if let Some(a) = client {
            (f.client, f.client_family) = addr_words(*a);
        }
        // One id: the data plane filters; several (the address serves several services):
        // filtered here.
        if let [id] = real_ids[..] {
            f.real = id;
        }
        match d.dp.start_trace(&f)? {
            Some(ring) => (ring, names, real_ids),
            None => {
                drop(d);
                return send(
                    w,
                    &Response::Error {
                        message: "a trace is already running (one at a time)".into(),
                        edit: None,
                    },
                );
            }
        }
    };
    let r = (|| -> Result<()> {
        send(w, &Response::TraceStarted)?;
        // CLOCK_MONOTONIC (the events' clock) to wall-clock time.
        let wall0 = SystemTime::now();
        let mono0 = monotonic_ns();
        let mut refreshed = Instant::now();
        loop {
            // Wait for events, or for the client to go away (readable: EOF).
            let client_gone = {
                let mut fds = [
                    PollFd::new(ring.as_fd(), PollFlags::POLLIN),
                    PollFd::new(
                        w.as_fd(),
                        PollFlags::POLLIN | PollFlags::from_bits_retain(libc::POLLRDHUP),
                    ),
                ];
                // A failed or interrupted poll is a round without events.
                let _ = poll(&mut fds, PollTimeout::from(250u16));
                // Any event on the client's side (POLLRDHUP is a bit nix has no name for, so
                // the flags read as None then) means it went away.
                !fds[1].revents().is_some_and(|r| r.is_empty())
            };
            if client_gone {
                return Ok(());
            }
            if refreshed.elapsed() > Duration::from_secs(1) {
                names = daemon
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .plan
                    .real_names();
                refreshed = Instant::now();
            }
            while let Some(item) = ring.next() {
                if item.len() < std::mem::size_of::<TraceEvent>() {
                    continue;
                }
                // SAFETY: the record is a TraceEvent written by `lb` (size checked above).
                let e: TraceEvent =
                    unsafe { (item.as_ptr() as *const TraceEvent).read_unaligned() };
                drop(item);
                if !real_ids.is_empty() && !real_ids.contains(&e.real) {
                    continue;
                }
                let time = wall0 + Duration::from_nanos(e.ts_ns.saturating_sub(mono0))
                    - Duration::from_nanos(mono0.saturating_sub(e.ts_ns));
                send(w, &Response::Trace(view(&e, time, &names)))?;
            }
        }
    })();
    daemon
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .dp
        .stop_trace(ring);
    r
}

fn send(w: &mut UnixStream, r: &Response) -> Result<()> {
    let mut out = serde_json::to_string(r)?;
    out.push('\n');
    w.write_all(out.as_bytes())?;
    Ok(())
}

/// The XDP action's name.
fn verdict_name(action: u32) -> &'static str {
    match action {
        1 => "drop",
        2 => "pass",
        3 => "tx",
        4 => "redirect",
        _ => "aborted",
    }
}

/// An event as `lbctl trace` shows it.
pub fn view(e: &TraceEvent, time: SystemTime, names: &HashMap<u32, (IpAddr, u16)>) -> TraceView {
    let parsed = e.flags & TRACE_F_PARSED != 0;
    let f = &e.flow;
    let addr = |w: &[u32; 4]| addr_of(w, f.family);
    TraceView {
        time: humantime::format_rfc3339_micros(time).to_string(),
        verdict: verdict_name(e.action).into(),
        reason: REASON_NAMES
            .get(e.reason as usize)
            .map(|n| n.to_string())
            .unwrap_or_else(|| format!("reason {}", e.reason)),
        protocol: parsed.then(|| {
            match f.proto {
                PROTO_TCP => "tcp",
                PROTO_UDP => "udp",
                PROTO_ICMP => "icmp",
                PROTO_ICMPV6 => "icmpv6",
                _ => "ip",
            }
            .to_string()
        }),
        source: parsed.then(|| SocketAddr::new(addr(&f.src), u16::from_be(f.sport)).to_string()),
        destination: parsed
            .then(|| SocketAddr::new(addr(&f.dst), u16::from_be(f.dport)).to_string()),
        real: names
            .get(&e.real)
            .map(|(a, p)| SocketAddr::new(*a, *p).to_string()),
    }
}
