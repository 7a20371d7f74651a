//! Prometheus metrics (a door on top of the context): the data plane's counters in the text
//! exposition format, served over HTTP (`metrics_listen` in the config; loopback by
//! default). Labels name services and real
//! servers, never clients or flows.

use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{SocketAddr, TcpListener},
    sync::{Arc, Mutex},
    time::Duration,
};

use lb_common::REASON_NAMES;
use lb_model::api::{RateView, ServiceView, StatsView};
use tracing::warn;

use crate::context::Context;

/// Default address of the metrics endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9406";

/// Everything a scrape shows, gathered under the daemon's lock.
pub struct Snapshot {
    pub services: Vec<ServiceView>,
    pub reasons: Vec<u64>,
    pub connections: u64,
    pub capacity: u32,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn traffic(out: &mut String, prefix: &str, labels: &str, s: &StatsView) {
    let _ = writeln!(out, "{prefix}_connections_total{{{labels}}} {}", s.conns);
    let _ = writeln!(
        out,
        "{prefix}_packets_total{{{labels},direction=\"in\"}} {}",
        s.in_pkts
    );
    let _ = writeln!(
        out,
        "{prefix}_packets_total{{{labels},direction=\"out\"}} {}",
        s.out_pkts
    );
    let _ = writeln!(
        out,
        "{prefix}_bytes_total{{{labels},direction=\"in\"}} {}",
        s.in_bytes
    );
    let _ = writeln!(
        out,
        "{prefix}_bytes_total{{{labels},direction=\"out\"}} {}",
        s.out_bytes
    );
}

/// Rates as lbd's estimator has them (ipvsadm `--rate`: 2-second samples, smoothed).
fn rates(out: &mut String, prefix: &str, labels: &str, r: &RateView) {
    let _ = writeln!(out, "{prefix}_connections_per_second{{{labels}}} {}", r.cps);
    for (dir, pps, bps) in [("in", r.in_pps, r.in_bps), ("out", r.out_pps, r.out_bps)] {
        let _ = writeln!(
            out,
            "{prefix}_packets_per_second{{{labels},direction=\"{dir}\"}} {pps}"
        );
        let _ = writeln!(
            out,
            "{prefix}_bytes_per_second{{{labels},direction=\"{dir}\"}} {bps}"
        );
    }
}

/// The text exposition of a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "lb_packets_total",
        "counter",
        "Packets seen by the XDP programs, by verdict or reason.",
    );
    for (name, v) in REASON_NAMES.iter().zip(&s.reasons) {
        let _ = writeln!(out, "lb_packets_total{{reason=\"{name}\"}} {v}");
    }
    header(
        &mut out,
        "lb_connection_table_entries",
        "gauge",
        "Entries in the connection table.",
    );
    let _ = writeln!(out, "lb_connection_table_entries {}", s.connections);
    header(
        &mut out,
        "lb_connection_table_capacity",
        "gauge",
        "Capacity of the connection table.",
    );
    let _ = writeln!(out, "lb_connection_table_capacity {}", s.capacity);
    for (kind, help) in [
        ("connections_total", "Connections scheduled."),
        (
            "packets_total",
            "Packets forwarded (in: toward real servers; out: nat replies).",
        ),
        ("bytes_total", "IP bytes forwarded."),
    ] {
        header(&mut out, &format!("lb_service_{kind}"), "counter", help);
        header(&mut out, &format!("lb_real_server_{kind}"), "counter", help);
    }
    for (kind, help) in [
        (
            "connections_per_second",
            "Connection rate (ipvsadm --rate CPS: 2-second samples, smoothed).",
        ),
        ("packets_per_second", "Packet rate (InPPS, OutPPS)."),
        ("bytes_per_second", "Byte rate (InBPS, OutBPS)."),
    ] {
        header(&mut out, &format!("lb_service_{kind}"), "gauge", help);
        header(&mut out, &format!("lb_real_server_{kind}"), "gauge", help);
    }
    for (name, help) in [
        (
            "lb_real_server_active_connections",
            "Established TCP connections (IPVS ActiveConn).",
        ),
        (
            "lb_real_server_inactive_connections",
            "Other connections (IPVS InActConn).",
        ),
        ("lb_real_server_weight", "Configured weight."),
        (
            "lb_real_server_effective_weight",
            "Weight the scheduler uses: 0 while down or draining.",
        ),
        (
            "lb_real_server_healthy",
            "1 when the real server's health check has it up, 0 when down (checked real servers only).",
        ),
        (
            "lb_real_server_draining",
            "1 while the real server is drained (lbctl drain), until undrained.",
        ),
        (
            "lb_health_check_duration_seconds",
            "How long the last health check took.",
        ),
        (
            "lb_service_up",
            "1 when some real server can take new connections, 0 when none can.",
        ),
        (
            "lb_service_sorry_server_active",
            "1 while the service is down and its sorry server takes its connections.",
        ),
    ] {
        header(&mut out, name, "gauge", help);
    }
    header(
        &mut out,
        "lb_health_checks_total",
        "counter",
        "Health checks run, by result (ok, failed).",
    );
    for svc in &s.services {
        let sl = format!(
            "protocol=\"{}\",vip=\"{}\",port=\"{}\"",
            escape(&svc.protocol),
            svc.vip,
            svc.port
        );
        traffic(&mut out, "lb_service", &sl, &svc.stats);
        rates(&mut out, "lb_service", &sl, &svc.rate);
        if let Some(h) = &svc.health {
            let _ = writeln!(out, "lb_service_up{{{sl}}} {}", h.up as u8);
            let _ = writeln!(
                out,
                "lb_service_sorry_server_active{{{sl}}} {}",
                h.sorry_server_active as u8
            );
        }
        for r in &svc.real_servers {
            let rl = format!("{sl},real=\"{}\",real_port=\"{}\"", r.address, r.port);
            traffic(&mut out, "lb_real_server", &rl, &r.stats);
            rates(&mut out, "lb_real_server", &rl, &r.rate);
            let _ = writeln!(
                out,
                "lb_real_server_active_connections{{{rl}}} {}",
                r.active_conns
            );
            let _ = writeln!(
                out,
                "lb_real_server_inactive_connections{{{rl}}} {}",
                r.inactive_conns
            );
            let _ = writeln!(out, "lb_real_server_weight{{{rl}}} {}", r.weight);
            if let Some(h) = &r.health {
                let _ = writeln!(
                    out,
                    "lb_real_server_effective_weight{{{rl}}} {}",
                    h.effective_weight
                );
                let _ = writeln!(
                    out,
                    "lb_real_server_draining{{{rl}}} {}",
                    h.draining.is_some() as u8
                );
                if let Some(c) = &h.check {
                    let _ = writeln!(
                        out,
                        "lb_real_server_healthy{{{rl}}} {}",
                        (h.state == "up") as u8
                    );
                    let _ = writeln!(
                        out,
                        "lb_health_checks_total{{{rl},result=\"ok\"}} {}",
                        c.checks_ok
                    );
                    let _ = writeln!(
                        out,
                        "lb_health_checks_total{{{rl},result=\"failed\"}} {}",
                        c.checks_failed
                    );
                    if let Some(us) = c.last_duration_us {
                        let _ = writeln!(
                            out,
                            "lb_health_check_duration_seconds{{{rl}}} {}",
                            us as f64 / 1e6
                        );
                    }
                }
            }
        }
    }
    out
}

fn snapshot(d: &Context) -> Option<Snapshot> {
    Some(Snapshot {
        services: d.views().ok()?,
        reasons: d.dp.reasons().ok()?,
        connections: d.dp.conn_table_entries(),
        capacity: d.dp.conn_table_capacity(),
    })
}

/// Serves `GET /metrics` (any path, in fact) until the process ends.
pub fn serve(addr: SocketAddr, daemon: Arc<Mutex<Context>>) -> std::io::Result<()> {
    let l = TcpListener::bind(addr)?;
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = {
                let d = daemon.lock().unwrap_or_else(|e| e.into_inner());
                snapshot(&d).map(|snap| render(&snap))
            };
            let resp = match body {
                Some(b) => format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                ),
                None => {
                    warn!("metrics: reading the data plane failed");
                    "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".into()
                }
            };
            let _ = s.write_all(resp.as_bytes());
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use lb_model::api::RealServerView;

    use super::*;

    #[test]
    fn renders_counters_with_service_and_real_server_labels() {
        let stats = StatsView {
            conns: 3,
            in_pkts: 10,
            out_pkts: 4,
            in_bytes: 1000,
            out_bytes: 400,
        };
        let snap = Snapshot {
            services: vec![ServiceView {
                protocol: "tcp".into(),
                vip: "198.18.1.100".parse().unwrap(),
                port: 80,
                scheduler: "wlc".into(),
                sched_flags: vec![],
                persistent: None,
                health: None,
                stats,
                real_servers: vec![RealServerView {
                    address: "198.18.0.11".parse().unwrap(),
                    port: 8080,
                    forwarding: "nat".into(),
                    weight: 2,
                    active_conns: 1,
                    inactive_conns: 2,
                    health: None,
                    stats,
                    rate: RateView {
                        cps: 2,
                        in_pps: 30,
                        out_pps: 20,
                        in_bps: 3000,
                        out_bps: 2000,
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            reasons: (0..REASON_NAMES.len() as u64).collect(),
            connections: 5,
            capacity: 4096,
        };
        let text = render(&snap);
        for line in [
            "lb_packets_total{reason=\"pass_not_ip\"} 0",
            "lb_packets_total{reason=\"tx\"} 7",
            "lb_connection_table_entries 5",
            "lb_service_connections_total{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\"} 3",
            "lb_service_packets_total{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",direction=\"out\"} 4",
            "lb_real_server_active_connections{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",real=\"198.18.0.11\",real_port=\"8080\"} 1",
            "lb_real_server_weight{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",real=\"198.18.0.11\",real_port=\"8080\"} 2",
            "# TYPE lb_service_bytes_total counter",
            "lb_real_server_connections_per_second{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",real=\"198.18.0.11\",real_port=\"8080\"} 2",
            "lb_real_server_bytes_per_second{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",real=\"198.18.0.11\",real_port=\"8080\",direction=\"out\"} 2000",
            "lb_service_packets_per_second{protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\",direction=\"in\"} 0",
            "# TYPE lb_service_connections_per_second gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line is "name{labels} value" or "name value" with a numeric value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let v = l.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }
}

#[cfg(test)]
mod health_tests {
    use lb_model::api::{
        CheckView, DrainView, RealHealthView, RealServerView, ServiceHealthView, StatsView,
    };

    use super::*;

    #[test]
    fn renders_health_drain_and_service_state() {
        let real = |addr: &str, health| RealServerView {
            address: addr.parse().unwrap(),
            port: 80,
            forwarding: "tun".into(),
            weight: 5,
            active_conns: 0,
            inactive_conns: 0,
            stats: StatsView::default(),
            health: Some(health),
            ..Default::default()
        };
        let snap = Snapshot {
            services: vec![ServiceView {
                protocol: "tcp".into(),
                vip: "198.18.1.100".parse().unwrap(),
                port: 80,
                scheduler: "mh".into(),
                sched_flags: vec![],
                persistent: None,
                stats: StatsView::default(),
                health: Some(ServiceHealthView {
                    up: false,
                    sorry_server_active: true,
                    fallback: "sorry_server".into(),
                }),
                real_servers: vec![
                    real(
                        "198.18.0.11",
                        RealHealthView {
                            state: "down".into(),
                            effective_weight: 0,
                            sorry_server: false,
                            check: Some(CheckView {
                                kind: "http".into(),
                                target: "198.18.0.11:80".into(),
                                successes: 0,
                                failures: 3,
                                checks_ok: 10,
                                checks_failed: 3,
                                last_duration_us: Some(1500),
                                last_error: Some("refused".into()),
                                since_secs: 1,
                            }),
                            draining: None,
                        },
                    ),
                    real(
                        "198.18.0.12",
                        RealHealthView {
                            state: "unchecked".into(),
                            effective_weight: 0,
                            sorry_server: false,
                            check: None,
                            draining: Some(DrainView {
                                remaining_secs: 3,
                                expired: false,
                                connections: 2,
                            }),
                        },
                    ),
                ],
                ..Default::default()
            }],
            reasons: vec![0; REASON_NAMES.len()],
            connections: 0,
            capacity: 4096,
        };
        let text = render(&snap);
        let sl = "protocol=\"tcp\",vip=\"198.18.1.100\",port=\"80\"";
        let r1 = format!("{sl},real=\"198.18.0.11\",real_port=\"80\"");
        let r2 = format!("{sl},real=\"198.18.0.12\",real_port=\"80\"");
        for line in [
            format!("lb_service_up{{{sl}}} 0"),
            format!("lb_service_sorry_server_active{{{sl}}} 1"),
            format!("lb_real_server_weight{{{r1}}} 5"),
            format!("lb_real_server_effective_weight{{{r1}}} 0"),
            format!("lb_real_server_healthy{{{r1}}} 0"),
            format!("lb_health_checks_total{{{r1},result=\"ok\"}} 10"),
            format!("lb_health_checks_total{{{r1},result=\"failed\"}} 3"),
            format!("lb_health_check_duration_seconds{{{r1}}} 0.0015"),
            format!("lb_real_server_draining{{{r1}}} 0"),
            format!("lb_real_server_draining{{{r2}}} 1"),
            "# TYPE lb_health_checks_total counter".to_string(),
            "# TYPE lb_service_up gauge".to_string(),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains(&format!("lb_real_server_healthy{{{r2}}}")),
            "an unchecked real server has no health sample"
        );
    }
}
