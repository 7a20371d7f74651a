//! Fragments and VLAN tags through `lb`: every fragment of a datagram follows its first
//! fragment (tun and nat, both nat directions, IPv6's fragment header too); tagged frames are
//! handled and leave tagged as they came. Exact bytes, checksums recomputed here (over the
//! reassembled datagram where a checksum spans fragments), counters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service, udp_service},
    consts::{
        CLIENT_MAC, DIRECTOR, LOCAL_CLIENT, LOCAL_CLIENT6, REALS, VIP, VIP6, real_addr, real_addr6,
        real_mac,
    },
    expect::{answer, ipip, routed4},
    fixture::Fixture,
    flow::flow_key,
    packet::{
        ETH_P_8021AD, ETH_P_8021Q, IPPROTO_ICMP, IPPROTO_UDP, Ipv4, Ipv6, TCP_SYN, eth_ip, icmp4,
        ipv4_csum_ok, pseudo_sum, tagged, tcp_ip, udp,
    },
    require_root,
    testrun::Harness,
};

const NAT_REAL: Ipv4Addr = real_addr(10);
const NAT_REAL6: Ipv6Addr = real_addr6(2);

/// udp VIP:53 tunnelled over three real servers (mh); tcp VIP:80 tunnelled; udp VIP:54 nat to
/// 5454; udp [VIP6]:53 nat to 5353.
fn services() -> ConfigBuilder {
    config()
        .service(
            udp_service(VIP, 53)
                .mh(251)
                .reals(REALS.map(|a| real(a).tun())),
        )
        .service(tcp_service(VIP, 80).mh(251).real(real(REALS[0]).tun()))
        .service(
            udp_service(VIP, 54)
                .mh(251)
                .real(real(NAT_REAL).port(5454).nat()),
        )
        .service(
            udp_service(VIP6, 53)
                .mh(251)
                .real(real(NAT_REAL6).port(5353).nat()),
        )
}

fn director() -> Harness {
    let neighbours: [IpAddr; 7] = [
        REALS[0].into(),
        REALS[1].into(),
        REALS[2].into(),
        NAT_REAL.into(),
        LOCAL_CLIENT.into(),
        NAT_REAL6.into(),
        LOCAL_CLIENT6.into(),
    ];
    Harness::new(&services(), &neighbours)
}

/// The real server the daemon's table gives a UDP flow of `client` to VIP:53.
fn scheduled(h: &Harness, client: Ipv4Addr, sport: u16) -> Ipv4Addr {
    let flow = flow_key(client, VIP, sport, 53, IPPROTO_UDP);
    match h.table_real(&service_key(Protocol::Udp, VIP, 53), &flow) {
        IpAddr::V4(a) => a,
        other => panic!("{other}"),
    }
}

/// Splits an IPv4 datagram's payload after `first_len` bytes (a multiple of 8) into two
/// fragments with the given id.
fn fragments_v4(ip: &Ipv4, payload: &[u8], first_len: usize, id: u16) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(first_len % 8, 0);
    let (first, later) = fragment_headers_v4(ip, first_len, id);
    (
        first.build(&payload[..first_len]),
        later.build(&payload[first_len..]),
    )
}

/// The headers of the two fragments of [`fragments_v4`].
fn fragment_headers_v4(ip: &Ipv4, first_len: usize, id: u16) -> (Ipv4, Ipv4) {
    let mut a = ip.clone();
    a.id = id;
    a.frag = 0x2000; // MF, offset 0
    let mut b = ip.clone();
    b.id = id;
    b.frag = (first_len / 8) as u16; // offset, no MF
    (a, b)
}

#[test]
fn ipv4_fragments_follow_their_first_fragment_through_the_tunnel() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let payload: Vec<u8> = (0..40u8).collect();
    // Datagrams of several clients (mh hashes the client address), so that more than one
    // real server is exercised.
    let mut fixtures = Vec::new();
    let mut reals = std::collections::BTreeSet::new();
    for n in 0..6u8 {
        let (client, sport) = (Ipv4Addr::new(198, 18, 5, 1 + n), 41000 + n as u16);
        let dgram = udp(client, VIP, sport, 53, &payload);
        let ip = Ipv4::new(client, VIP, IPPROTO_UDP);
        let (first, later) = fragments_v4(&ip, &dgram, 24, 0x5000 + n as u16);
        let real = scheduled(&h, client, sport);
        reals.insert(real);
        fixtures.push(
            Fixture::new(format!("first fragment of {sport}"), h.from_client(&first))
                .tx(ipip(me, &first, real))
                .counters(&[("tx", 1), ("conn_new", 1), ("frag_first", 1)]),
        );
        fixtures.push(
            Fixture::new(format!("later fragment of {sport}"), h.from_client(&later))
                .tx(ipip(me, &later, real))
                .counters(&[("tx", 1), ("frag_followed", 1)]),
        );
    }
    assert!(reals.len() > 1, "the datagrams go to several real servers");
    let out = h.run_fixtures(&fixtures);
    assert!(
        out.iter().all(|o| ipv4_csum_ok(&o[14..])),
        "outer checksums"
    );
    let s = h.service_stats(h.service_id(&service_key(Protocol::Udp, VIP, 53)));
    assert_eq!((s.conns, s.in_pkts), (6, 12), "each fragment counted once");
}

#[test]
fn fragments_without_a_first_fragment_and_icmp_fragments_go_to_the_host() {
    require_root!();
    let mut h = director();
    let dgram = udp(LOCAL_CLIENT, VIP, 41010, 53, &[7u8; 40]);
    let (_, later) = fragments_v4(
        &Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP),
        &dgram,
        24,
        0x6000,
    );
    let ping = icmp4(8, 0, [0, 1, 0, 1], &[0u8; 32]);
    let (first, _) = fragments_v4(
        &Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_ICMP),
        &ping,
        16,
        0x6001,
    );
    h.run_fixtures(&[
        Fixture::new("later fragment, first never seen", h.from_client(&later))
            .counters(&[("pass_fragment", 1)]),
        Fixture::new("fragmented echo request", h.from_client(&first))
            .counters(&[("pass_fragment", 1)]),
    ]);
}

/// Reassembles two IPv4 fragments' payloads (the test's own, not the program's, view).
fn reassemble_v4(a: &[u8], b: &[u8]) -> Vec<u8> {
    let hl = |p: &[u8]| ((p[0] & 0x0f) as usize) * 4;
    let mut d = a[hl(a)..].to_vec();
    d.extend_from_slice(&b[hl(b)..]);
    d
}

#[test]
fn nat_rewrites_fragments_in_both_directions() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let payload: Vec<u8> = (100..148u8).collect();
    let dgram = udp(LOCAL_CLIENT, VIP, 41020, 54, &payload);
    let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP);
    let (first, later) = fragments_v4(&ip, &dgram, 32, 0x7000);
    let (first_h, later_h) = fragment_headers_v4(&ip, 32, 0x7000);
    let to_real = |mut hdr: Ipv4| {
        hdr.dst = NAT_REAL;
        hdr
    };
    // In: the first fragment gets the real server's address and port, and a UDP checksum
    // that is right for the whole datagram; the later one only the address.
    let rewritten = udp(LOCAL_CLIENT, NAT_REAL, 41020, 5454, &payload);
    let mut first_l4 = dgram[..32].to_vec();
    first_l4[2..4].copy_from_slice(&5454u16.to_be_bytes());
    first_l4[6..8].copy_from_slice(&rewritten[6..8]);

    // Out: the real server's fragmented reply gets the VIP and port back.
    let reply = udp(NAT_REAL, LOCAL_CLIENT, 5454, 41020, &payload);
    let rip = Ipv4::new(NAT_REAL, LOCAL_CLIENT, IPPROTO_UDP);
    let (r1, r2) = fragments_v4(&rip, &reply, 32, 0x7100);
    let (r1_h, r2_h) = fragment_headers_v4(&rip, 32, 0x7100);
    let from_vip = |mut hdr: Ipv4| {
        hdr.src = VIP;
        hdr
    };
    let want_reply = udp(VIP, LOCAL_CLIENT, 54, 41020, &payload);
    let out = h.run_fixtures(&[
        Fixture::new("nat first fragment in", h.from_client(&first))
            .tx(routed4(
                &to_real(first_h),
                real_mac(NAT_REAL),
                me,
                &first_l4,
            ))
            .counters(&[("tx", 1), ("conn_new", 1), ("frag_first", 1)]),
        Fixture::new("nat later fragment in", h.from_client(&later))
            .tx(routed4(
                &to_real(later_h),
                real_mac(NAT_REAL),
                me,
                &dgram[32..],
            ))
            .counters(&[("tx", 1), ("frag_followed", 1)]),
        Fixture::new("nat first fragment out", h.from_neighbour(NAT_REAL, &r1))
            .tx(routed4(
                &from_vip(r1_h),
                real_mac(LOCAL_CLIENT),
                me,
                &want_reply[..32],
            ))
            .counters(&[("nat_reply", 1), ("frag_first", 1)]),
        Fixture::new("nat later fragment out", h.from_neighbour(NAT_REAL, &r2))
            .tx(routed4(
                &from_vip(r2_h),
                real_mac(LOCAL_CLIENT),
                me,
                &reply[32..],
            ))
            .counters(&[("nat_reply", 1), ("frag_followed", 1)]),
    ]);
    let whole = reassemble_v4(&out[0][14..], &out[1][14..]);
    assert_eq!(
        pseudo_sum(LOCAL_CLIENT.into(), NAT_REAL.into(), IPPROTO_UDP, &whole),
        0,
        "UDP checksum of the reassembled datagram"
    );
    let whole = reassemble_v4(&out[2][14..], &out[3][14..]);
    assert_eq!(
        pseudo_sum(VIP.into(), LOCAL_CLIENT.into(), IPPROTO_UDP, &whole),
        0
    );
    let s = h.service_stats(h.service_id(&service_key(Protocol::Udp, VIP, 54)));
    assert_eq!(
        (s.conns, s.in_pkts, s.out_pkts),
        (1, 2, 2),
        "ipvsadm --stats: Conns InPkts OutPkts"
    );
}

/// An IPv6 fragment: the fragment header (next header, offset, M flag, id) then `part`.
fn fragment_v6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    part: &[u8],
    offset: usize,
    more: bool,
    id: u32,
) -> Vec<u8> {
    let mut fh = vec![0u8; 8];
    fh[2..4].copy_from_slice(&(((offset / 8) as u16) << 3 | more as u16).to_be_bytes());
    fh[4..8].copy_from_slice(&id.to_be_bytes());
    let mut ip = Ipv6::new(src, dst, IPPROTO_UDP);
    ip.ext = vec![(44, fh)];
    ip.build(part)
}

#[test]
fn ipv6_fragments_follow_their_first_fragment_through_nat() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let payload: Vec<u8> = (0..56u8).collect();
    let dgram = udp(LOCAL_CLIENT6, VIP6, 41030, 53, &payload);
    let first = fragment_v6(LOCAL_CLIENT6, VIP6, &dgram[..32], 0, true, 0xabcd_0001);
    let later = fragment_v6(LOCAL_CLIENT6, VIP6, &dgram[32..], 32, false, 0xabcd_0001);
    let rewritten = udp(LOCAL_CLIENT6, NAT_REAL6, 41030, 5353, &payload);
    let want = |part: &[u8], offset, more| {
        let mut ip = fragment_v6(LOCAL_CLIENT6, NAT_REAL6, part, offset, more, 0xabcd_0001);
        ip[7] -= 1; // hop limit
        eth_ip(real_mac(NAT_REAL6), me, &ip)
    };
    let out = h.run_fixtures(&[
        Fixture::new("ipv6 first fragment", h.from_client(&first))
            .tx(want(&rewritten[..32], 0, true))
            .counters(&[("tx", 1), ("conn_new", 1), ("frag_first", 1)]),
        Fixture::new("ipv6 later fragment", h.from_client(&later))
            .tx(want(&rewritten[32..], 32, false))
            .counters(&[("tx", 1), ("frag_followed", 1)]),
    ]);
    // The checksum, recomputed here over the reassembled datagram.
    let mut whole = out[0][14 + 48..].to_vec();
    whole.extend_from_slice(&out[1][14 + 48..]);
    assert_eq!(
        pseudo_sum(LOCAL_CLIENT6.into(), NAT_REAL6.into(), IPPROTO_UDP, &whole),
        0
    );
}

#[test]
fn vlan_tagged_frames_are_handled_and_leave_with_their_tags() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    let mut fixtures = Vec::new();
    for (sport, tags) in [
        (41040u16, vec![(ETH_P_8021Q, 100u16)]),
        (41050, vec![(ETH_P_8021AD, 10), (ETH_P_8021Q, 20)]),
    ] {
        // A TCP SYN to the VIP: tunnelled, with the tags after the new MAC addresses.
        let ip = tcp_ip(LOCAL_CLIENT, VIP, sport, 80, TCP_SYN, b"x");
        fixtures.push(
            Fixture::new(
                format!("{tags:?}: a SYN"),
                tagged(&h.from_client(&ip), &tags),
            )
            .tx(tagged(&ipip(me, &ip, REALS[0]), &tags))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        );
        // Not for a VIP: the host gets it exactly as it came, tags included.
        let other = tcp_ip(LOCAL_CLIENT, DIRECTOR, 41041, 22, TCP_SYN, b"");
        fixtures.push(
            Fixture::new(
                format!("{tags:?}: not for a VIP"),
                tagged(&h.from_client(&other), &tags),
            )
            .counters(&[("pass_not_vip", 1)]),
        );
        // An echo request to the VIP is answered on its VLAN (through the ICMP program).
        let ping =
            Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_ICMP).build(&icmp4(8, 0, [0, 9, 0, 1], b"ping"));
        let pong =
            Ipv4::new(VIP, LOCAL_CLIENT, IPPROTO_ICMP).build(&icmp4(0, 0, [0, 9, 0, 1], b"ping"));
        fixtures.push(
            Fixture::new(
                format!("{tags:?}: an echo request"),
                tagged(&h.from_client(&ping), &tags),
            )
            .tx(tagged(&answer(me, CLIENT_MAC, &pong), &tags))
            .counters(&[("icmp_echo_reply", 1)]),
        );
    }
    // Three tags: not ours.
    let ip = tcp_ip(LOCAL_CLIENT, VIP, 41042, 80, TCP_SYN, b"");
    fixtures.push(
        Fixture::new(
            "three tags",
            tagged(
                &h.from_client(&ip),
                &[(ETH_P_8021AD, 1), (ETH_P_8021Q, 2), (ETH_P_8021Q, 3)],
            ),
        )
        .counters(&[("pass_vlan_depth", 1)]),
    );
    h.run_fixtures(&fixtures);
}
