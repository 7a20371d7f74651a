//! What a scrape shows: the data plane's counters and lbd's view of services and real
//! servers, in Prometheus' text format (version 0.0.4), written by the `prometheus-client`
//! crate from one [`Snapshot`] taken under the daemon's lock. Labels name services and real
//! servers, never clients or flows.

use std::fmt;

use lb_common::REASON_NAMES;
use lb_model::api::{LinkView, RealServerView, ServiceView, StatsView};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use crate::context::Context;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Everything a scrape shows, gathered under the daemon's lock.
#[derive(Debug)]
pub struct Snapshot {
    pub services: Vec<ServiceView>,
    pub reasons: Vec<u64>,
    pub connections: u64,
    pub capacity: u32,
    /// The interfaces `lb` is attached to, with their counters.
    pub links: Vec<LinkView>,
}

impl Snapshot {
    /// What the context shows now (None when the data plane cannot be read).
    pub fn of(d: &Context) -> Option<Snapshot> {
        Some(Snapshot {
            services: d.views().ok()?,
            reasons: d.dp.reasons().ok()?,
            connections: d.dp.conn_table_entries(),
            capacity: d.dp.conn_table_capacity(),
            links: d.link_views(),
        })
    }
}

/// A sample's labels, in the order they are written.
type Labels = Vec<(&'static str, String)>;

/// A sample's value: integers are written as integers, durations as decimals.
#[derive(Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
}

fn service_labels(s: &ServiceView) -> Labels {
    let mut l = vec![
        ("protocol", s.protocol.clone()),
        ("vip", s.vip.to_string()),
        ("port", s.port.to_string()),
    ];
    // A firewall-mark service: IPVS's nominal protocol, port 0, its family's unspecified
    // address, and the mark.
    if let Some(m) = s.fwmark {
        l.push(("fwmark", m.to_string()));
    }
    l
}

fn real_labels(s: &ServiceView, r: &RealServerView) -> Labels {
    let mut l = service_labels(s);
    l.push(("real", r.address.to_string()));
    l.push(("real_port", r.port.to_string()));
    l
}

fn with(mut l: Labels, name: &'static str, value: &str) -> Labels {
    l.push((name, value.to_string()));
    l
}

/// One metric family: its HELP and TYPE lines, then every sample. A counter's name is
/// given without `_total`, which the encoder appends.
fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, Value)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in samples {
        // (No labels: written without braces.)
        let sample = m.encode_family(&labels)?;
        match (kind, v) {
            (MetricType::Counter, Value::Int(v)) => ConstCounter::new(v).encode(sample)?,
            (MetricType::Counter, Value::Float(v)) => ConstCounter::new(v).encode(sample)?,
            (_, Value::Int(v)) => ConstGauge::new(v).encode(sample)?,
            (_, Value::Float(v)) => ConstGauge::new(v).encode(sample)?,
        }
    }
    Ok(())
}

/// The samples of a per-service and a per-real-server family.
fn per_service(
    svcs: &[ServiceView],
    f: impl Fn(&ServiceView) -> Vec<(Labels, Value)>,
) -> Vec<(Labels, Value)> {
    svcs.iter().flat_map(f).collect()
}

fn per_real(
    svcs: &[ServiceView],
    f: impl Fn(&ServiceView, &RealServerView) -> Vec<(Labels, Value)>,
) -> Vec<(Labels, Value)> {
    svcs.iter()
        .flat_map(|s| s.real_servers.iter().map(move |r| (s, r)))
        .flat_map(|(s, r)| f(s, r))
        .collect()
}

/// The traffic counters of one service or real server (`labels`), one family at a time.
fn traffic(labels: Labels, st: &StatsView, what: Traffic) -> Vec<(Labels, Value)> {
    match what {
        Traffic::Conns => vec![(labels, Value::Int(st.conns))],
        Traffic::Packets => vec![
            (
                with(labels.clone(), "direction", "in"),
                Value::Int(st.in_pkts),
            ),
            (with(labels, "direction", "out"), Value::Int(st.out_pkts)),
        ],
        Traffic::Bytes => vec![
            (
                with(labels.clone(), "direction", "in"),
                Value::Int(st.in_bytes),
            ),
            (with(labels, "direction", "out"), Value::Int(st.out_bytes)),
        ],
    }
}

#[derive(Clone, Copy)]
enum Traffic {
    Conns,
    Packets,
    Bytes,
}

/// A snapshot as a collector the registry asks for its metrics at encoding time.
#[derive(Debug)]
struct Scrape(Snapshot);

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &self.0;
        let svcs = &s.services[..];
        let e = &mut enc;
        family(
            e,
            "lb_packets",
            "Packets seen by the XDP programs, by verdict or reason.",
            MetricType::Counter,
            REASON_NAMES
                .iter()
                .zip(&s.reasons)
                .map(|(n, v)| (vec![("reason", n.to_string())], Value::Int(*v))),
        )?;
        let per_link = |f: &dyn Fn(&LinkView) -> Vec<(Labels, Value)>| -> Vec<(Labels, Value)> {
            s.links.iter().flat_map(f).collect()
        };
        let link = |l: &LinkView| vec![("interface", l.name.clone())];
        family(
            e,
            "lb_interface_packets",
            "Packets that arrived on an interface lb is attached to (since lbd started).",
            MetricType::Counter,
            per_link(&|l| vec![(link(l), Value::Int(l.counters.packets))]),
        )?;
        family(
            e,
            "lb_interface_bytes",
            "Bytes of the frames that arrived on the interface, Ethernet headers included.",
            MetricType::Counter,
            per_link(&|l| vec![(link(l), Value::Int(l.counters.bytes))]),
        )?;
        family(
            e,
            "lb_interface_verdicts",
            "What lb did with the packets that arrived on the interface, by XDP action.",
            MetricType::Counter,
            per_link(&|l| {
                let c = &l.counters;
                [
                    ("tx", c.tx),
                    ("redirect", c.redirect),
                    ("pass", c.pass),
                    ("drop", c.drop),
                    ("aborted", c.aborted),
                ]
                .into_iter()
                .map(|(a, v)| (with(link(l), "action", a), Value::Int(v)))
                .collect()
            }),
        )?;
        family(
            e,
            "lb_connection_table_entries",
            "Entries in the connection table.",
            MetricType::Gauge,
            [(Labels::new(), Value::Int(s.connections))],
        )?;
        family(
            e,
            "lb_connection_table_capacity",
            "Capacity of the connection table.",
            MetricType::Gauge,
            [(Labels::new(), Value::Int(s.capacity.into()))],
        )?;
        for (kind, what, help) in [
            ("connections", Traffic::Conns, "Connections scheduled."),
            (
                "packets",
                Traffic::Packets,
                "Packets forwarded (in: toward real servers; out: nat replies).",
            ),
            ("bytes", Traffic::Bytes, "IP bytes forwarded."),
        ] {
            family(
                e,
                &format!("lb_service_{kind}"),
                help,
                MetricType::Counter,
                per_service(svcs, |sv| traffic(service_labels(sv), &sv.stats, what)),
            )?;
            family(
                e,
                &format!("lb_real_server_{kind}"),
                help,
                MetricType::Counter,
                per_real(svcs, |sv, r| traffic(real_labels(sv, r), &r.stats, what)),
            )?;
        }
        let rate = |labels: Labels, r: &lb_model::api::RateView, what: Traffic| match what {
            Traffic::Conns => vec![(labels, Value::Int(r.cps))],
            Traffic::Packets => vec![
                (
                    with(labels.clone(), "direction", "in"),
                    Value::Int(r.in_pps),
                ),
                (with(labels, "direction", "out"), Value::Int(r.out_pps)),
            ],
            Traffic::Bytes => vec![
                (
                    with(labels.clone(), "direction", "in"),
                    Value::Int(r.in_bps),
                ),
                (with(labels, "direction", "out"), Value::Int(r.out_bps)),
            ],
        };
        for (kind, what, help) in [
            (
                "connections_per_second",
                Traffic::Conns,
                "Connection rate (ipvsadm --rate CPS: 2-second samples, smoothed).",
            ),
            (
                "packets_per_second",
                Traffic::Packets,
                "Packet rate (InPPS, OutPPS).",
            ),
            (
                "bytes_per_second",
                Traffic::Bytes,
                "Byte rate (InBPS, OutBPS).",
            ),
        ] {
            family(
                e,
                &format!("lb_service_{kind}"),
                help,
                MetricType::Gauge,
                per_service(svcs, |sv| rate(service_labels(sv), &sv.rate, what)),
            )?;
            family(
                e,
                &format!("lb_real_server_{kind}"),
                help,
                MetricType::Gauge,
                per_real(svcs, |sv, r| rate(real_labels(sv, r), &r.rate, what)),
            )?;
        }
        let real_gauge = |e: &mut DescriptorEncoder,
                          name: &str,
                          help: &str,
                          v: &dyn Fn(&RealServerView) -> Option<Value>| {
            family(
                e,
                name,
                help,
                MetricType::Gauge,
                per_real(svcs, |sv, r| {
                    v(r).map(|v| (real_labels(sv, r), v)).into_iter().collect()
                }),
            )
        };
        real_gauge(
            e,
            "lb_real_server_active_connections",
            "Established TCP connections (IPVS ActiveConn).",
            &|r| Some(Value::Int(r.active_conns)),
        )?;
        real_gauge(
            e,
            "lb_real_server_inactive_connections",
            "Other connections (IPVS InActConn).",
            &|r| Some(Value::Int(r.inactive_conns)),
        )?;
        real_gauge(e, "lb_real_server_weight", "Configured weight.", &|r| {
            Some(Value::Int(r.weight.into()))
        })?;
        real_gauge(
            e,
            "lb_real_server_effective_weight",
            "Weight the scheduler uses: 0 while down or draining.",
            &|r| Some(Value::Int(r.health.as_ref()?.effective_weight.into())),
        )?;
        real_gauge(
            e,
            "lb_real_server_healthy",
            "1 when the real server's health check has it up, 0 when down (checked real servers only).",
            &|r| {
                let h = r.health.as_ref()?;
                h.check.as_ref()?;
                Some(Value::Int((h.state == "up").into()))
            },
        )?;
        real_gauge(
            e,
            "lb_real_server_draining",
            "1 while the real server is drained (lbctl drain), until undrained.",
            &|r| Some(Value::Int(r.health.as_ref()?.draining.is_some().into())),
        )?;
        real_gauge(
            e,
            "lb_health_check_duration_seconds",
            "How long the last health check took.",
            &|r| {
                let us = r.health.as_ref()?.check.as_ref()?.last_duration_us?;
                Some(Value::Float(us as f64 / 1e6))
            },
        )?;
        family(
            e,
            "lb_service_up",
            "1 when some real server can take new connections, 0 when none can.",
            MetricType::Gauge,
            per_service(svcs, |sv| {
                sv.health
                    .as_ref()
                    .map(|h| (service_labels(sv), Value::Int(h.up.into())))
                    .into_iter()
                    .collect()
            }),
        )?;
        family(
            e,
            "lb_service_sorry_server_active",
            "1 while the service is down and its sorry server takes its connections.",
            MetricType::Gauge,
            per_service(svcs, |sv| {
                sv.health
                    .as_ref()
                    .map(|h| (service_labels(sv), Value::Int(h.sorry_server_active.into())))
                    .into_iter()
                    .collect()
            }),
        )?;
        family(
            e,
            "lb_health_checks",
            "Health checks run, by result (ok, failed).",
            MetricType::Counter,
            per_real(svcs, |sv, r| {
                let Some(c) = r.health.as_ref().and_then(|h| h.check.as_ref()) else {
                    return Vec::new();
                };
                let l = real_labels(sv, r);
                vec![
                    (with(l.clone(), "result", "ok"), Value::Int(c.checks_ok)),
                    (with(l, "result", "failed"), Value::Int(c.checks_failed)),
                ]
            }),
        )
    }
}

/// The text exposition of a snapshot.
pub fn render(s: Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(s)));
    let mut out = String::new();
    // Writing into a String does not fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use lb_model::api::{RateView, RealServerView};

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
            links: vec![LinkView {
                name: "eth1".into(),
                index: 3,
                up: true,
                mtu: 1500,
                xdp_mode: "native".into(),
                program_id: 7,
                counters: lb_model::api::InterfaceCounters {
                    packets: 12,
                    bytes: 1200,
                    tx: 5,
                    redirect: 4,
                    pass: 2,
                    drop: 1,
                    aborted: 0,
                },
            }],
        };
        let text = render(snap);
        for line in [
            "lb_packets_total{reason=\"pass_not_ip\"} 0",
            "lb_packets_total{reason=\"tx\"} 7",
            "lb_connection_table_entries 5",
            "lb_interface_packets_total{interface=\"eth1\"} 12",
            "lb_interface_bytes_total{interface=\"eth1\"} 1200",
            "lb_interface_verdicts_total{interface=\"eth1\",action=\"redirect\"} 4",
            "lb_interface_verdicts_total{interface=\"eth1\",action=\"aborted\"} 0",
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
            links: vec![],
        };
        let text = render(snap);
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
