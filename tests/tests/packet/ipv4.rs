//! IPv4 through `lb` and `decap`: new and established flows tunnelled (IPIP) to their real
//! servers, what is not for a VIP or is malformed left to the host, and the drops with their
//! reasons.

use std::net::{IpAddr, Ipv4Addr};

use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service, udp_service},
    consts::{CLIENT_MAC, DIRECTOR, REALS, REMOTE_CLIENT, VIP, XDP_ABORTED, XDP_DROP, XDP_PASS},
    expect::ipip,
    fixture::Fixture,
    flow::flow_key,
    packet::{
        self, ETH_P_ARP, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_TCP, Ipv4, TCP_SYN, eth, ip,
        ipv4_csum_ok, l4_csum_ok, tcp, udp_ip,
    },
    require_root,
    testrun::{Harness, reason_delta},
};

/// tcp VIP:80 over the three real servers (mh, the given weights), udp VIP:53 to the first,
/// all tunnelled.
pub fn services(weights: [u32; 3]) -> ConfigBuilder {
    config()
        .service(
            tcp_service(VIP, 80).mh(251).reals(
                REALS
                    .iter()
                    .zip(weights)
                    .map(|(a, w)| real(*a).weight(w).tun()),
            ),
        )
        .service(udp_service(VIP, 53).mh(251).real(real(REALS[0]).tun()))
}

fn director() -> Harness {
    Harness::new(&services([1, 1, 1]), &REALS)
}

/// A SYN from the remote client with IPv4 header `ip` and `payload`.
fn syn(h: &Harness, ip: &Ipv4, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    h.from_client(&ip.build(&tcp(ip.src, ip.dst, sport, dport, TCP_SYN, payload)))
}

/// The real server the reference computation gives a flow of the remote client: the shared
/// flow hash into the table lbd wrote.
fn scheduled(h: &Harness, proto: Protocol, sport: u16, dport: u16) -> Ipv4Addr {
    let flow = flow_key(REMOTE_CLIENT, VIP, sport, dport, proto.number());
    match h.table_real(&service_key(proto, VIP, dport), &flow) {
        IpAddr::V4(a) => a,
        other => panic!("an IPv6 real server {other} for an IPv4 service"),
    }
}

#[test]
fn tcp_syn_to_vip_is_tunnelled_to_the_scheduled_real_server() {
    require_root!();
    let mut h = director();
    let mut ip = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP);
    ip.tos = 0x10;
    let frame = syn(&h, &ip, 40000, 80, b"");
    let real = scheduled(&h, Protocol::Tcp, 40000, 80);
    let out = h.run_fixture(
        Fixture::new("a SYN to the VIP: IPIP to its real server", frame.clone())
            .tx(ipip(h.if_mac, &frame[14..], real))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    assert!(ipv4_csum_ok(&out[14..]), "outer IPv4 checksum");
    assert!(ipv4_csum_ok(&out[34..]), "inner IPv4 checksum untouched");
    assert!(l4_csum_ok(&out[34..]), "inner TCP checksum untouched");
    let key = service_key(Protocol::Tcp, VIP, 80);
    let s = h.service_stats(h.service_id(&key));
    assert_eq!((s.conns, s.in_pkts, s.in_bytes), (1, 1, 40));
    let r = h.real_stats(h.real_id(&key, real).unwrap());
    assert_eq!((r.conns, r.in_pkts, r.in_bytes), (1, 1, 40));
    assert_eq!(h.dp.connections().len(), 1, "one connection recorded");
}

#[test]
fn established_flow_keeps_its_real_server_after_the_table_changes() {
    require_root!();
    let mut h = director();
    let frame = syn(
        &h,
        &Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP),
        40001,
        80,
        b"hello",
    );
    let real = scheduled(&h, Protocol::Tcp, 40001, 80);
    let want = ipip(h.if_mac, &frame[14..], real);
    h.run_fixture(
        Fixture::new("the first packet: its real server", frame.clone())
            .tx(want.clone())
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    // Give every other real server all the weight: new flows can no longer go to `real`.
    h.apply(&services(REALS.map(|r| if r == real { 0 } else { 1 })));
    h.run_fixture(
        Fixture::new("the next one: the same real server", frame)
            .tx(want)
            .counters(&[("tx", 1), ("conn_hit", 1)]),
    );
    let key = service_key(Protocol::Tcp, VIP, 80);
    let s = h.service_stats(h.service_id(&key));
    assert_eq!((s.conns, s.in_pkts), (1, 2), "one connection, two packets");
}

#[test]
fn udp_and_ipv4_options_are_tunnelled_whole() {
    require_root!();
    let mut h = director();
    let dgram = h.from_client(&udp_ip(REMOTE_CLIENT, VIP, 5353, 53, b"q"));
    let mut with_options = Ipv4::new(REMOTE_CLIENT, VIP, IPPROTO_TCP);
    // Record-route style option bytes: if IHL were ignored, the "ports" read would be these.
    with_options.options = vec![0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01];
    let options = syn(&h, &with_options, 40002, 80, b"");
    let options_real = scheduled(&h, Protocol::Tcp, 40002, 80);
    let me = h.if_mac;
    let out = h.run_fixtures(&[
        Fixture::new("UDP to the VIP: IPIP to its one real server", dgram.clone())
            .tx(ipip(me, &dgram[14..], REALS[0]))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("IPv4 options: skipped by IHL, kept inside", options.clone())
            .tx(ipip(me, &options[14..], options_real))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
    assert!(l4_csum_ok(&out[0][34..]), "inner UDP checksum");
    assert!(
        l4_csum_ok(&out[1][34..]),
        "inner TCP checksum behind options"
    );
}

#[test]
fn packets_not_for_a_vip_pass_untouched() {
    require_root!();
    let mut h = director();
    let other = Ipv4Addr::new(198, 18, 0, 99);
    let tcp_to = |h: &Harness, dst, dport| syn(h, &Ipv4::new(REMOTE_CLIENT, dst, 6), 1, dport, b"");
    let fixtures = [
        Fixture::new("other address", tcp_to(&h, other, 80)).counters(&[("pass_not_vip", 1)]),
        Fixture::new("VIP, other port", tcp_to(&h, VIP, 81)).counters(&[("pass_not_vip", 1)]),
        Fixture::new("VIP, port of the UDP service over TCP", tcp_to(&h, VIP, 53))
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new("ARP", eth([0xff; 6], CLIENT_MAC, ETH_P_ARP, &[0u8; 28]))
            .counters(&[("pass_not_ip", 1)]),
        Fixture::new(
            "GRE to the VIP",
            h.from_client(&ip(
                REMOTE_CLIENT,
                VIP,
                IPPROTO_GRE,
                &[0, 0, 0x08, 0, 0, 0, 0, 0],
            )),
        )
        .counters(&[("pass_not_l4", 1)]),
        Fixture::new(
            "ICMP redirect to the VIP",
            h.from_client(&ip(
                REMOTE_CLIENT,
                VIP,
                IPPROTO_ICMP,
                &packet::icmp4(5, 1, [0; 4], &[0; 28]),
            )),
        )
        .counters(&[("pass_icmp", 1)]),
    ];
    h.run_fixtures(&fixtures);
    assert!(h.dp.connections().is_empty());
}

#[test]
fn truncated_and_malformed_packets_never_abort() {
    require_root!();
    let mut h = director();
    let frame = syn(&h, &Ipv4::new(REMOTE_CLIENT, VIP, 6), 40004, 80, b"");
    // Every truncation from a bare Ethernet header (BPF_PROG_TEST_RUN's minimum) upwards:
    // whatever the cut, the packet passes or drops with exactly one pass_ / drop_ reason.
    for len in 14..frame.len() {
        let mut cut = frame[..len].to_vec();
        // Keep tot_len consistent with what is left, so the cut is seen at the L4 boundary too.
        if len >= 18 {
            let ip_len = (len - 14) as u16;
            cut[16..18].copy_from_slice(&ip_len.to_be_bytes());
        }
        let before = h.reasons();
        let out = h.run("lb", &cut);
        assert_ne!(out.action, XDP_ABORTED, "len {len}");
        assert!(
            out.action == XDP_PASS || out.action == XDP_DROP,
            "len {len}: {}",
            out.action
        );
        let d = reason_delta(&before, &h.reasons());
        assert_eq!(d.len(), 1, "len {len}: exactly one reason counted: {d:?}");
        assert!(
            d[0].0.starts_with("pass_") || d[0].0.starts_with("drop_"),
            "len {len}: {d:?}"
        );
        if out.action == XDP_PASS {
            assert_eq!(out.data, cut, "len {len}: passed untouched");
        }
    }
    let mut bad_ihl = frame.clone();
    bad_ihl[14] = 0x44; // IHL 4 < 5
    let mut long = frame.clone();
    long[16..18].copy_from_slice(&1500u16.to_be_bytes()); // tot_len beyond the packet
    let mut bad_csum = frame.clone();
    bad_csum[24] ^= 0xff; // header checksum
    let mut v6 = frame.clone();
    v6[14] = 0x65; // version 6 in an IPv4 ethertype
    // Not for a VIP (no VIP destination, no nat real-server source): the address filter runs
    // as soon as the addresses are read, so the same defects count as the host's traffic.
    let mut other = frame.clone();
    other[30..34].copy_from_slice(&DIRECTOR.octets());
    let fix = |mut f: Vec<u8>| {
        f[24..26].copy_from_slice(&[0, 0]);
        let sum = packet::csum(&f[14..34]);
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        f
    };
    let other = fix(other);
    let mut other_bad_csum = other.clone();
    other_bad_csum[24] ^= 0xff;
    let mut other_short = other[..14 + 20 + 8].to_vec();
    other_short[16..18].copy_from_slice(&28u16.to_be_bytes());
    let other_short = fix(other_short);
    // A later fragment (offset 128 bytes) of a flow for no VIP: the filter stops it before
    // the fragment table is looked at (a VIP's later fragment with no first one there is
    // `pass_fragment`).
    let mut other_later = other.clone();
    other_later[20..22].copy_from_slice(&16u16.to_be_bytes());
    let other_later = fix(other_later);
    h.run_fixtures(&[
        Fixture::new("not for a VIP", other.clone())
            .pass_as(other)
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new("not for a VIP, bad header checksum", other_bad_csum.clone())
            .pass_as(other_bad_csum)
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new("not for a VIP, TCP header cut short", other_short.clone())
            .pass_as(other_short)
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new("not for a VIP, a later fragment", other_later.clone())
            .pass_as(other_later)
            .counters(&[("pass_not_vip", 1)]),
        Fixture::new("IHL below 5", bad_ihl).counters(&[("pass_bad_ip_header", 1)]),
        Fixture::new("total length beyond the frame", long).counters(&[("pass_bad_ip_header", 1)]),
        Fixture::new("bad IPv4 header checksum", bad_csum).counters(&[("pass_bad_ip_checksum", 1)]),
        Fixture::new("version 6 behind the IPv4 ethertype", v6)
            .counters(&[("pass_bad_ip_header", 1)]),
    ]);
    assert!(h.dp.connections().is_empty());
}

#[test]
fn tun_without_a_neighbour_entry_hands_the_tunnelled_packet_to_the_kernel() {
    require_root!();
    // No neighbour entries: the FIB lookup answers NO_NEIGH. The packet is encapsulated as
    // usual and handed to the kernel, which resolves the real server and forwards it: its
    // Ethernet header the one it came with (to this interface), of the outer family.
    let mut h = Harness::new::<Ipv4Addr>(&services([1, 1, 1]), &[]);
    let frame = syn(&h, &Ipv4::new(REMOTE_CLIENT, VIP, 6), 40005, 80, b"");
    let real = scheduled(&h, Protocol::Tcp, 40005, 80);
    let mut want = ipip(h.if_mac, &frame[14..], real);
    want[..12].copy_from_slice(&frame[..12]);
    h.run_fixture(
        Fixture::new("tun, no neighbour entry: to the kernel, tunnelled", frame)
            .pass_as(want)
            .counters(&[("pass_no_neigh", 1), ("conn_new", 1)]),
    );
}

#[test]
fn drops_leave_the_packet_as_it_came_and_name_their_reason() {
    require_root!();
    let mut h = Harness::new(&services([0, 0, 0]), &REALS);
    let frame = syn(&h, &Ipv4::new(REMOTE_CLIENT, VIP, 6), 40006, 80, b"");
    h.run_fixture(
        Fixture::new("every real server of weight 0", frame)
            .dropped()
            .counters(&[("drop_no_real", 1)]),
    );
}

#[test]
fn decap_strips_ipip_and_passes_everything_else_untouched() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let frame = syn(&h, &Ipv4::new(REMOTE_CLIENT, VIP, 6), 40007, 80, b"payload");
    let real = scheduled(&h, Protocol::Tcp, 40007, 80);
    let enc = ipip(me, &frame[14..], real);
    // The frame `lb` makes is the one `decap` strips.
    h.run_fixture(
        Fixture::new("lb tunnels it", frame.clone())
            .tx(enc.clone())
            .counters(&[("tx", 1), ("conn_new", 1)]),
    );
    let mut stripped = enc[..14].to_vec();
    stripped.extend_from_slice(&frame[14..]);
    // IPIP whose inner header is cut short, in a consistent outer header: passed untouched,
    // counted as bad.
    let mut cut = enc[..14 + 20 + 10].to_vec();
    cut[16..18].copy_from_slice(&30u16.to_be_bytes());
    cut[24..26].copy_from_slice(&[0, 0]);
    let c = packet::csum(&cut[14..34]);
    cut[24..26].copy_from_slice(&c.to_be_bytes());
    h.run_fixtures(&[
        Fixture::new("IPIP: the outer header stripped", enc)
            .program("decap")
            .pass_as(stripped)
            .counters(&[("decap_stripped", 1)]),
        Fixture::new("not encapsulated: untouched", frame)
            .program("decap")
            .counters(&[("decap_pass", 1)]),
        Fixture::new("IPIP with a cut inner header: untouched", cut)
            .program("decap")
            .counters(&[("decap_bad", 1)]),
    ]);
}
