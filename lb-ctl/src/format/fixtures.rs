//! The tables the golden tests of the formats print.

use std::net::IpAddr;

use lb_model::api::{ConnView, RateView, RealServerView, ServiceView, StatsView};

use super::lookup::Resolve;

pub(super) fn stats(
    conns: u64,
    in_pkts: u64,
    out_pkts: u64,
    in_bytes: u64,
    out_bytes: u64,
) -> StatsView {
    StatsView {
        conns,
        in_pkts,
        out_pkts,
        in_bytes,
        out_bytes,
    }
}

pub(super) fn rs(
    addr: &str,
    port: u16,
    fwd: &str,
    weight: u32,
    active: u64,
    inactive: u64,
    st: StatsView,
) -> RealServerView {
    RealServerView {
        address: addr.parse().unwrap(),
        port,
        forwarding: fwd.into(),
        weight,
        active_conns: active,
        inactive_conns: inactive,
        stats: st,
        ..Default::default()
    }
}

/// Four services in an order ipvsadm would not print them in, with real servers likewise
/// out of order. The real servers of TCP 10.0.0.1:80 are 10.1.0.5, 127.0.0.1 and
/// 192.168.1.x: ipvs_cmp_dests' wrapped `int` difference puts 10.1.0.5 after
/// 192.168.1.x (they are more than 2^31 apart) but before 127.0.0.1, and glibc's merge
/// sort of the order given makes 192.168.1.10, 192.168.1.20, 10.1.0.5, 127.0.0.1 of it.
pub(super) fn fixture() -> Vec<ServiceView> {
    vec![
        ServiceView {
            protocol: "tcp".into(),
            vip: "2001:db8::1".parse().unwrap(),
            port: 443,
            scheduler: "wlc".into(),
            sched_flags: vec![],
            persistent: Some(300),
            stats: stats(42, 1_000, 0, 65_536, 0),
            real_servers: vec![
                rs(
                    "2001:db8::20",
                    443,
                    "dr",
                    5,
                    3,
                    17,
                    stats(20, 500, 0, 32_000, 0),
                ),
                rs(
                    "2001:db8::10",
                    443,
                    "tun",
                    10,
                    4,
                    9,
                    stats(22, 500, 0, 33_536, 0),
                ),
            ],
            ..Default::default()
        },
        ServiceView {
            protocol: "udp".into(),
            vip: "10.0.0.53".parse().unwrap(),
            port: 53,
            scheduler: "rr".into(),
            sched_flags: vec![],
            persistent: None,
            stats: stats(123_456_789, 999_999_999, 0, 99_999_999, 0),
            real_servers: vec![
                rs(
                    "192.168.1.11",
                    53,
                    "dr",
                    1,
                    0,
                    1234,
                    stats(61_728_394, 0, 0, 0, 0),
                ),
                rs(
                    "192.168.1.10",
                    53,
                    "dr",
                    1,
                    0,
                    1233,
                    stats(61_728_395, 0, 0, 0, 0),
                ),
            ],
            ..Default::default()
        },
        ServiceView {
            protocol: "tcp".into(),
            vip: "10.0.0.1".parse().unwrap(),
            port: 443,
            scheduler: "wlc".into(),
            sched_flags: vec![],
            persistent: Some(300),
            stats: stats(0, 0, 0, 0, 0),
            real_servers: vec![],
            ..Default::default()
        },
        ServiceView {
            protocol: "tcp".into(),
            vip: "10.0.0.1".parse().unwrap(),
            port: 80,
            scheduler: "mh".into(),
            sched_flags: vec!["mh-port".into(), "mh-fallback".into()],
            persistent: None,
            stats: stats(
                1_234_567,
                100_000_000,
                1_000_000_000,
                123_456_789_012,
                200_000_000_000_000,
            ),
            real_servers: vec![
                rs(
                    "192.168.1.20",
                    80,
                    "tun",
                    100,
                    12,
                    3456,
                    stats(1_000_000, 99_999_999, 0, 5_000_000_000, 0),
                ),
                rs(
                    "192.168.1.10",
                    8080,
                    "nat",
                    0,
                    0,
                    0,
                    stats(234_567, 1, 0, 2, 0),
                ),
                rs("10.1.0.5", 80, "dr", 1, 7, 0, stats(0, 0, 0, 0, 0)),
                rs("127.0.0.1", 80, "local", 1, 0, 0, stats(0, 0, 0, 0, 0)),
            ],
            ..Default::default()
        },
    ]
}

pub(super) fn rate(cps: u64, in_pps: u64, out_pps: u64, in_bps: u64, out_bps: u64) -> RateView {
    RateView {
        cps,
        in_pps,
        out_pps,
        in_bps,
        out_bps,
    }
}

/// A second state with everything the formats show: rates, thresholds, persistence
/// templates, scheduler flags, netmasks, one-packet scheduling, Maglev table size, GUE
/// and IPIP tunnels (one across families), IPv6, and firewall-mark services (which lbd
/// never has, but ipvsadm prints).
pub(super) fn fixture2() -> Vec<ServiceView> {
    let real = |addr: &str, port: u16, fwd: &str, weight: u32| RealServerView {
        address: addr.parse().unwrap(),
        port,
        forwarding: fwd.into(),
        weight,
        ..Default::default()
    };
    vec![
        ServiceView {
            fwmark: Some(8),
            vip: "::".parse().unwrap(),
            scheduler: "wlc".into(),
            persistent: Some(300),
            pe_name: Some("sip".into()),
            real_servers: vec![real("2001:db8::20", 80, "dr", 1)],
            ..Default::default()
        },
        ServiceView {
            fwmark: Some(7),
            scheduler: "wlc".into(),
            persistent: Some(300),
            persistent_netmask: Some(16),
            real_servers: vec![real("10.2.0.1", 80, "dr", 1)],
            ..Default::default()
        },
        ServiceView {
            vip: "2001:db8::1".parse().unwrap(),
            port: 443,
            scheduler: "mh".into(),
            mh_table_size: Some(251),
            rate: rate(5, 100, 0, 150_000_000, 0),
            real_servers: vec![
                RealServerView {
                    tun_type: Some("gue".into()),
                    tun_port: Some(6080),
                    rate: rate(2, 40, 0, 60_000, 0),
                    ..real("198.18.0.11", 443, "tun", 2)
                },
                RealServerView {
                    tun_type: Some("ipip".into()),
                    active_conns: 4,
                    rate: rate(3, 60, 0, 90_000, 0),
                    ..real("2001:db8::10", 443, "tun", 3)
                },
            ],
            ..Default::default()
        },
        ServiceView {
            protocol: "udp".into(),
            vip: "10.0.0.53".parse().unwrap(),
            port: 53,
            scheduler: "sh".into(),
            sched_flags: vec!["sh-port".into()],
            persistent: Some(600),
            persistent_netmask: Some(24),
            one_packet: true,
            real_servers: vec![RealServerView {
                upper_threshold: 100,
                lower_threshold: 50,
                inactive_conns: 12,
                persist_conns: 3,
                ..real("10.1.0.1", 53, "dr", 2)
            }],
            ..Default::default()
        },
        ServiceView {
            vip: "192.168.0.1".parse().unwrap(),
            port: 80,
            scheduler: "rr".into(),
            rate: rate(1234, 123_456_789, 99_999_999, 1_000_000_000, 7),
            real_servers: vec![
                RealServerView {
                    active_conns: 7,
                    inactive_conns: 2,
                    rate: rate(617, 61_728_394, 50_000_000, 500_000_000, 3),
                    ..real("172.16.0.2", 80, "nat", 1)
                },
                RealServerView {
                    active_conns: 6,
                    inactive_conns: 1,
                    rate: rate(617, 61_728_395, 49_999_999, 500_000_000, 4),
                    ..real("172.16.0.1", 80, "nat", 1)
                },
            ],
            ..Default::default()
        },
    ]
}

/// Names as a resolver would give them, from a fixed table.
pub(super) struct Names;

impl Resolve for Names {
    fn host(&self, addr: IpAddr) -> Option<String> {
        match addr.to_string().as_str() {
            "192.168.0.1" => Some("www.example.test".into()),
            "172.16.0.1" => Some("web1.example.test".into()),
            "2001:db8::10" => Some("v6.example.test".into()),
            "10.1.0.1" => Some("a-very-long-host-name.example.test".into()),
            _ => None,
        }
    }
    fn service(&self, port: u16, protocol: &str) -> Option<String> {
        match (port, protocol) {
            (80, "tcp") => Some("http".into()),
            (443, "tcp") => Some("https".into()),
            (53, "udp") => Some("domain".into()),
            _ => None,
        }
    }
}

/// A connection entry: (address, port) of the client, the VIP and the real server; a
/// template when its state is `NONE`.
pub(super) fn conn(
    proto: &str,
    state: &str,
    expires: u64,
    client: (&str, u16),
    vip: (&str, u16),
    real: (&str, u16),
) -> ConnView {
    ConnView {
        protocol: proto.into(),
        state: state.into(),
        expires,
        client: client.0.parse().unwrap(),
        client_port: client.1,
        vip: vip.0.parse().unwrap(),
        vport: vip.1,
        real: real.0.parse().unwrap(),
        real_port: real.1,
        template: state == "NONE",
    }
}

/// A port-0 service (ipvsadm `-A -t 10.0.0.2:0 -p`) with a `dr` real server of port 0.
pub(super) fn port_zero_service() -> ServiceView {
    ServiceView {
        protocol: "tcp".into(),
        vip: "10.0.0.2".parse().unwrap(),
        port: 0,
        scheduler: "wlc".into(),
        persistent: Some(300),
        real_servers: vec![RealServerView {
            address: "10.1.0.5".parse().unwrap(),
            port: 0,
            forwarding: "dr".into(),
            weight: 1,
            ..Default::default()
        }],
        ..Default::default()
    }
}
