//! Fragments and VLAN tags through `lb`: every fragment of a datagram follows its first
//! fragment (tun and nat, both nat directions, IPv6's fragment header too); tagged frames are
//! handled and leave tagged as they came. Exact bytes, checksums recomputed here (over the
//! reassembled datagram where a checksum spans fragments), counters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lb_common::{FAMILY_V4, FlowKey, PROTO_UDP};
use lb_daemon::{config::Protocol, state::vip_key};
use lb_tests::{
    packet::{
        ETH_P_IP, ETH_P_IPV6, Ipv4, Ipv6, csum, eth, icmp4, ipv4_csum_ok, pseudo_sum, tcp, udp,
    },
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, DIRECTOR6, Harness, check, real_mac},
};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);
const REALS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 11),
    Ipv4Addr::new(198, 18, 0, 12),
    Ipv4Addr::new(198, 18, 0, 13),
];
const NAT_REAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 21);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x77);
const NAT_REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x13);

/// udp 53 tunnelled over three real servers (mh); tcp 80 tunnelled; udp 54 nat to 5454;
/// IPv6 udp 53 nat to 5353.
fn harness() -> Harness {
    let config = format!(
        r#"{{
        "interface": "eth0",
        "director": {{ "ipv4": "{DIRECTOR}", "ipv6": "{DIRECTOR6}" }},
        "conn_table_size": 4096,
        "services": [
          {{ "protocol": "udp", "vip": "{VIP}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [
              {{ "address": "{}", "forwarding": "tun" }},
              {{ "address": "{}", "forwarding": "tun" }},
              {{ "address": "{}", "forwarding": "tun" }} ] }},
          {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{}", "forwarding": "tun" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP}", "port": 54, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{NAT_REAL}", "port": 5454, "forwarding": "nat" }} ] }},
          {{ "protocol": "udp", "vip": "{VIP6}", "port": 53, "scheduler": "mh", "mh_table_size": 251,
            "real_servers": [ {{ "address": "{NAT_REAL6}", "port": 5353, "forwarding": "nat" }} ] }}
        ]
    }}"#,
        REALS[0], REALS[1], REALS[2], REALS[0]
    );
    let neighbours: Vec<IpAddr> = vec![
        REALS[0].into(),
        REALS[1].into(),
        REALS[2].into(),
        NAT_REAL.into(),
        CLIENT.into(),
        NAT_REAL6.into(),
        CLIENT6.into(),
    ];
    Harness::new(&config, &neighbours)
}

/// The real server the daemon's table gives a UDP flow to VIP:53.
fn expected_real(h: &Harness, sport: u16) -> Ipv4Addr {
    let flow = FlowKey {
        src: [u32::from_ne_bytes(CLIENT.octets()), 0, 0, 0],
        dst: [u32::from_ne_bytes(VIP.octets()), 0, 0, 0],
        sport: sport.to_be(),
        dport: 53u16.to_be(),
        proto: PROTO_UDP,
        family: FAMILY_V4,
        _pad: [0; 2],
    };
    match h.table_real(&vip_key(Protocol::Udp, VIP.into(), 53), &flow) {
        IpAddr::V4(a) => a,
        _ => unreachable!(),
    }
}

/// IPIP around `inner` (an IPv4 datagram or fragment) to `real`, built field by field.
fn ipip(me: [u8; 6], inner: &[u8], real: Ipv4Addr) -> Vec<u8> {
    let mut outer = vec![0u8; 20];
    outer[0] = 0x45;
    outer[1] = inner[1];
    outer[2..4].copy_from_slice(&((inner.len() + 20) as u16).to_be_bytes());
    outer[6] = inner[6] & 0x40;
    if inner[6] & 0x40 == 0 {
        // May be fragmented: the inner identification (RFC 6864).
        outer[4..6].copy_from_slice(&inner[4..6]);
    }
    outer[8] = 64;
    outer[9] = 4;
    outer[12..16].copy_from_slice(&DIRECTOR.octets());
    outer[16..20].copy_from_slice(&real.octets());
    let c = csum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    outer.extend_from_slice(inner);
    eth(real_mac(real), me, ETH_P_IP, &outer)
}

/// Splits an IPv4 datagram's payload after `first_len` bytes (a multiple of 8) into two
/// fragments with the given id.
fn fragments_v4(ip: &Ipv4, payload: &[u8], first_len: usize, id: u16) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(first_len % 8, 0);
    let mut a = ip.clone();
    a.id = id;
    a.frag = 0x2000; // MF, offset 0
    let mut b = ip.clone();
    b.id = id;
    b.frag = (first_len / 8) as u16; // offset, no MF
    (
        a.build(&payload[..first_len]),
        b.build(&payload[first_len..]),
    )
}

fn frame(me: [u8; 6], smac: [u8; 6], ethertype: u16, ip: &[u8]) -> Vec<u8> {
    eth(me, smac, ethertype, ip)
}

#[test]
fn ipv4_fragments_follow_their_first_fragment_through_the_tunnel() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    let payload: Vec<u8> = (0..40u8).collect();
    // Several datagrams, so that more than one real server is exercised.
    for (n, sport) in [41000u16, 41001, 41002, 41003].into_iter().enumerate() {
        let dgram = udp(CLIENT, VIP, sport, 53, &payload);
        let ip = Ipv4::new(CLIENT, VIP, 17);
        let (first, later) = fragments_v4(&ip, &dgram, 24, 0x5000 + n as u16);
        let real = expected_real(&h, sport);
        let f1 = frame(me, CLIENT_MAC, ETH_P_IP, &first);
        check(
            &mut h,
            "first fragment",
            &f1,
            XDP_TX,
            Some(&ipip(me, &first, real)),
            &[("tx", 1), ("conn_new", 1), ("frag_first", 1)],
        );
        let f2 = frame(me, CLIENT_MAC, ETH_P_IP, &later);
        let out = check(
            &mut h,
            "later fragment",
            &f2,
            XDP_TX,
            Some(&ipip(me, &later, real)),
            &[("tx", 1), ("frag_followed", 1)],
        );
        assert!(ipv4_csum_ok(&out[14..]), "outer checksum");
    }
    let key = vip_key(Protocol::Udp, VIP.into(), 53);
    let s = h.service_stats(h.dp.service(&key).unwrap().id);
    assert_eq!((s.conns, s.in_pkts), (4, 8), "each fragment counted once");
}

#[test]
fn fragments_without_a_first_fragment_and_icmp_fragments_go_to_the_host() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    let dgram = udp(CLIENT, VIP, 41010, 53, &[7u8; 40]);
    let (_, later) = fragments_v4(&Ipv4::new(CLIENT, VIP, 17), &dgram, 24, 0x6000);
    let f = frame(me, CLIENT_MAC, ETH_P_IP, &later);
    check(
        &mut h,
        "later fragment, first never seen",
        &f,
        XDP_PASS,
        None,
        &[("pass_fragment", 1)],
    );
    let ping = icmp4(8, 0, [0, 1, 0, 1], &[0u8; 32]);
    let (first, _) = fragments_v4(&Ipv4::new(CLIENT, VIP, 1), &ping, 16, 0x6001);
    let f = frame(me, CLIENT_MAC, ETH_P_IP, &first);
    check(
        &mut h,
        "fragmented echo request",
        &f,
        XDP_PASS,
        None,
        &[("pass_fragment", 1)],
    );
}

/// Reassembles two IPv4 fragments' payloads (the test's own, not the program's, view).
fn reassemble_v4(a: &[u8], b: &[u8]) -> Vec<u8> {
    let hl = |p: &[u8]| ((p[0] & 0x0f) as usize) * 4;
    let mut d = a[hl(a)..].to_vec();
    d.extend_from_slice(&b[hl(b)..]);
    d
}

/// A router's view of a rewritten IPv4 packet: TTL one less, the given addresses.
fn nat_ipv4(ip: &Ipv4, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut ip = ip.clone();
    ip.src = src;
    ip.dst = dst;
    ip.ttl -= 1;
    ip.build(payload)
}

#[test]
fn nat_rewrites_fragments_in_both_directions() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    let payload: Vec<u8> = (100..148u8).collect();
    let dgram = udp(CLIENT, VIP, 41020, 54, &payload);
    let ip = Ipv4::new(CLIENT, VIP, 17);
    let (first, later) = fragments_v4(&ip, &dgram, 32, 0x7000);

    // In: the first fragment gets the real server's address and port, and a UDP checksum
    // that is right for the whole datagram; the later one only the address.
    let out1 = check(
        &mut h,
        "nat first fragment in",
        &frame(me, CLIENT_MAC, ETH_P_IP, &first),
        XDP_TX,
        Some(&{
            let mut d = dgram.clone();
            d[2..4].copy_from_slice(&5454u16.to_be_bytes());
            let want_dgram = udp(CLIENT, NAT_REAL, 41020, 5454, &payload);
            d[6..8].copy_from_slice(&want_dgram[6..8]);
            let mut a = ip.clone();
            a.id = 0x7000;
            a.frag = 0x2000;
            eth(
                real_mac(NAT_REAL),
                me,
                ETH_P_IP,
                &nat_ipv4(&a, CLIENT, NAT_REAL, &d[..32]),
            )
        }),
        &[("tx", 1), ("conn_new", 1), ("frag_first", 1)],
    );
    let mut b = ip.clone();
    b.id = 0x7000;
    b.frag = 4;
    let out2 = check(
        &mut h,
        "nat later fragment in",
        &frame(me, CLIENT_MAC, ETH_P_IP, &later),
        XDP_TX,
        Some(&eth(
            real_mac(NAT_REAL),
            me,
            ETH_P_IP,
            &nat_ipv4(&b, CLIENT, NAT_REAL, &dgram[32..]),
        )),
        &[("tx", 1), ("frag_followed", 1)],
    );
    let whole = reassemble_v4(&out1[14..], &out2[14..]);
    assert_eq!(
        pseudo_sum(CLIENT.into(), NAT_REAL.into(), 17, &whole),
        0,
        "UDP checksum of the reassembled datagram"
    );

    // Out: the real server's fragmented reply gets the VIP and port back.
    let reply = udp(NAT_REAL, CLIENT, 5454, 41020, &payload);
    let rip = Ipv4::new(NAT_REAL, CLIENT, 17);
    let (r1, r2) = fragments_v4(&rip, &reply, 32, 0x7100);
    let o1 = check(
        &mut h,
        "nat first fragment out",
        &frame(me, real_mac(NAT_REAL), ETH_P_IP, &r1),
        XDP_TX,
        Some(&{
            let want = udp(VIP, CLIENT, 54, 41020, &payload);
            let mut a = rip.clone();
            a.id = 0x7100;
            a.frag = 0x2000;
            eth(
                real_mac(CLIENT),
                me,
                ETH_P_IP,
                &nat_ipv4(&a, VIP, CLIENT, &want[..32]),
            )
        }),
        &[("nat_reply", 1), ("frag_first", 1)],
    );
    let mut b = rip.clone();
    b.id = 0x7100;
    b.frag = 4;
    let o2 = check(
        &mut h,
        "nat later fragment out",
        &frame(me, real_mac(NAT_REAL), ETH_P_IP, &r2),
        XDP_TX,
        Some(&eth(
            real_mac(CLIENT),
            me,
            ETH_P_IP,
            &nat_ipv4(&b, VIP, CLIENT, &reply[32..]),
        )),
        &[("nat_reply", 1), ("frag_followed", 1)],
    );
    let whole = reassemble_v4(&o1[14..], &o2[14..]);
    assert_eq!(pseudo_sum(VIP.into(), CLIENT.into(), 17, &whole), 0);
    let key = vip_key(Protocol::Udp, VIP.into(), 54);
    let s = h.service_stats(h.dp.service(&key).unwrap().id);
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
    let mut ip = Ipv6::new(src, dst, 17);
    ip.ext = vec![(44, fh)];
    ip.build(part)
}

#[test]
fn ipv6_fragments_follow_their_first_fragment_through_nat() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    let payload: Vec<u8> = (0..56u8).collect();
    let dgram = udp(CLIENT6, VIP6, 41030, 53, &payload);
    let first = fragment_v6(CLIENT6, VIP6, &dgram[..32], 0, true, 0xabcd_0001);
    let later = fragment_v6(CLIENT6, VIP6, &dgram[32..], 32, false, 0xabcd_0001);
    let rewritten = udp(CLIENT6, NAT_REAL6, 41030, 5353, &payload);
    let want = |orig: &[u8], part: &[u8]| {
        let mut v = orig.to_vec();
        v[7] -= 1; // hop limit
        v[24..40].copy_from_slice(&NAT_REAL6.octets());
        v.truncate(48);
        v.extend_from_slice(part);
        eth(real_mac(NAT_REAL6), me, ETH_P_IPV6, &v)
    };
    let w1 = want(&first, &rewritten[..32]);
    let w2 = want(&later, &rewritten[32..]);
    let o1 = check(
        &mut h,
        "ipv6 first fragment",
        &frame(me, CLIENT_MAC, ETH_P_IPV6, &first),
        XDP_TX,
        Some(&w1),
        &[("tx", 1), ("conn_new", 1), ("frag_first", 1)],
    );
    let o2 = check(
        &mut h,
        "ipv6 later fragment",
        &frame(me, CLIENT_MAC, ETH_P_IPV6, &later),
        XDP_TX,
        Some(&w2),
        &[("tx", 1), ("frag_followed", 1)],
    );
    // The checksum, recomputed here over the reassembled datagram.
    let mut whole = o1[14 + 48..].to_vec();
    whole.extend_from_slice(&o2[14 + 48..]);
    assert_eq!(pseudo_sum(CLIENT6.into(), NAT_REAL6.into(), 17, &whole), 0);
}

/// `frame` with VLAN tags (TPID, VID) inserted after its MAC addresses.
fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
    f
}

#[test]
fn vlan_tagged_frames_are_handled_and_leave_with_their_tags() {
    require_root!();
    let mut h = harness();
    let me = h.if_mac;
    for (sport, tags) in [
        (41040u16, vec![(0x8100u16, 100u16)]),
        (41050, vec![(0x88a8, 10), (0x8100, 20)]),
    ] {
        // A TCP SYN to the VIP: tunnelled, with the tags after the new MAC addresses.
        let ip = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, sport, 80, 0x02, b"x"));
        let plain = frame(me, CLIENT_MAC, ETH_P_IP, &ip);
        let out = check(
            &mut h,
            "tagged syn",
            &tagged(&plain, &tags),
            XDP_TX,
            Some(&tagged(&ipip(me, &ip, REALS[0]), &tags)),
            &[("tx", 1), ("conn_new", 1)],
        );
        assert!(ipv4_csum_ok(&out[14 + 4 * tags.len()..]));

        // Not for a VIP: the host gets it exactly as it came, tags included.
        let other =
            Ipv4::new(CLIENT, DIRECTOR, 6).build(&tcp(CLIENT, DIRECTOR, 41041, 22, 0x02, b""));
        let f = tagged(&frame(me, CLIENT_MAC, ETH_P_IP, &other), &tags);
        check(
            &mut h,
            "tagged, not a VIP",
            &f,
            XDP_PASS,
            None,
            &[("pass_not_vip", 1)],
        );

        // An echo request to the VIP is answered on its VLAN (through the ICMP program).
        let ping = Ipv4::new(CLIENT, VIP, 1).build(&icmp4(8, 0, [0, 9, 0, 1], b"ping"));
        let mut rip = Ipv4::new(VIP, CLIENT, 1);
        rip.ttl = 64;
        let pong = eth(
            CLIENT_MAC,
            me,
            ETH_P_IP,
            &rip.build(&icmp4(0, 0, [0, 9, 0, 1], b"ping")),
        );
        let out = h.run(
            "lb",
            &tagged(&frame(me, CLIENT_MAC, ETH_P_IP, &ping), &tags),
        );
        assert_eq!(out.action, XDP_TX, "echo reply verdict");
        assert_eq!(
            &out.data[12..12 + 4 * tags.len()],
            &tagged(&pong, &tags)[12..12 + 4 * tags.len()],
            "echo reply tags"
        );
        let off = 12 + 4 * tags.len();
        assert_eq!(&out.data[..12], &pong[..12], "echo reply MACs");
        assert_eq!(
            &out.data[off..off + 2],
            &ETH_P_IP.to_be_bytes(),
            "echo reply ethertype"
        );
        let reply_ip = &out.data[off + 2..];
        assert!(ipv4_csum_ok(reply_ip), "echo reply IP checksum");
        assert_eq!(&reply_ip[12..16], &VIP.octets());
        assert_eq!(&reply_ip[16..20], &CLIENT.octets());
        assert_eq!(reply_ip[20], 0, "echo reply type");
        assert_eq!(csum(&reply_ip[20..]), 0, "ICMP checksum");
    }
    // Three tags: not ours.
    let ip = Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 41042, 80, 0x02, b""));
    let f = tagged(
        &frame(me, CLIENT_MAC, ETH_P_IP, &ip),
        &[(0x88a8, 1), (0x8100, 2), (0x8100, 3)],
    );
    check(
        &mut h,
        "three tags",
        &f,
        XDP_PASS,
        None,
        &[("pass_vlan_depth", 1)],
    );
}
