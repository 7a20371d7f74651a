//! Checksums a sender left for the hardware (CHECKSUM_PARTIAL: the TCP/UDP checksum field
//! holds only the pseudo-header's sum, as a veth sender with checksum offload leaves it): lb
//! finishes them before it sends a packet on, by every method and in both `nat` directions,
//! and leaves a `nat` packet it hands to the kernel a pseudo-header sum of its new addresses.
//! Expected frames are built from the same packet with a full checksum (computed by the
//! tests' own RFC 1071 code); the partial field too is computed here, not by lb.

use std::net::{IpAddr, Ipv4Addr};

use lb_tests::{
    config::{ConfigBuilder, config, real, tcp_service, udp_service},
    consts::{CLIENT_MAC, LOCAL_CLIENT, LOCAL_CLIENT6, REALS, VIP, VIP6, real_addr6, real_mac},
    expect::{direct, ipip, routed4, routed6},
    fixture::Fixture,
    packet::{IPPROTO_TCP, IPPROTO_UDP, Ipv4, Ipv6, TCP_ACK, TCP_SYN, csum, eth_ip, tcp, udp},
    require_root,
    testrun::Harness,
};

/// The pseudo-header's sum, folded and not complemented: what a sender that leaves the
/// checksum to the hardware writes into the field (RFC 768, RFC 9293 3.1, RFC 8200 8.1).
fn pseudo_only(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> [u8; 2] {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed families"),
    }
    (!csum(&p)).to_be_bytes()
}

/// `seg` (a TCP or UDP segment with a full checksum) as a sender leaving its checksum to the
/// hardware sends it.
fn partial(src: impl Into<IpAddr>, dst: impl Into<IpAddr>, proto: u8, seg: &[u8]) -> Vec<u8> {
    let mut s = seg.to_vec();
    let at = if proto == IPPROTO_TCP { 16 } else { 6 };
    s[at..at + 2].copy_from_slice(&pseudo_only(src.into(), dst.into(), proto, seg.len()));
    s
}

/// Payloads of every length class the finishing walks: none, odd, a word short of a 4-byte
/// multiple, one chunk and a bit, a full-size segment, and the most a 4 KB page's frame
/// holds (XDP without multi-buffer support sees no more).
const PAYLOADS: [usize; 7] = [0, 1, 3, 6, 513, 1460, 3000];

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

fn services() -> ConfigBuilder {
    config()
        .service(
            tcp_service(VIP, 80)
                .mh(251)
                .real(real(REALS[2]).port(8080).nat()),
        )
        .service(
            udp_service(VIP, 53)
                .mh(251)
                .real(real(REALS[2]).port(5353).nat()),
        )
        .service(tcp_service(VIP, 81).mh(251).real(real(REALS[1]).dr()))
        .service(tcp_service(VIP, 82).mh(251).real(real(REALS[0]).tun()))
        .service(
            tcp_service(VIP6, 80)
                .mh(251)
                .real(real(real_addr6(2)).port(8080).nat()),
        )
}

fn director() -> Harness {
    let h = Harness::new(
        &services(),
        &[
            IpAddr::from(REALS[0]),
            REALS[1].into(),
            REALS[2].into(),
            LOCAL_CLIENT.into(),
            real_addr6(2).into(),
            LOCAL_CLIENT6.into(),
        ],
    );
    // The largest frames' datagrams fit the director's link.
    h.ns.ip(&["link", "set", "eth0", "mtu", "4000"]);
    h.ns.ip(&["link", "set", "peer0", "mtu", "4000"]);
    h
}

#[test]
fn nat_finishes_partial_checksums_in_both_directions_for_tcp_and_udp() {
    require_root!();
    let mut h = director();
    let (rip, me) = (REALS[2], h.if_mac);
    for (k, n) in PAYLOADS.into_iter().enumerate() {
        let data = payload(n);
        let sport = 41000 + k as u16;
        let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
        let seg = tcp(LOCAL_CLIENT, VIP, sport, 80, TCP_SYN, &data);
        let mut ip_in = ip.clone();
        ip_in.dst = rip;
        h.run_fixture(
            Fixture::new(
                format!("nat in, tcp, {n} bytes, partial checksum"),
                h.from_client(&ip.build(&partial(LOCAL_CLIENT, VIP, IPPROTO_TCP, &seg))),
            )
            .tx(routed4(
                &ip_in,
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT, rip, sport, 8080, TCP_SYN, &data),
            ))
            .counters(&[("tx", 1), ("conn_new", 1), ("csum_completed", 1)]),
        );
        let reply_ip = Ipv4::new(rip, LOCAL_CLIENT, IPPROTO_TCP);
        let reply = tcp(rip, LOCAL_CLIENT, 8080, sport, TCP_SYN | TCP_ACK, &data);
        let mut ip_out = reply_ip.clone();
        ip_out.src = VIP;
        h.run_fixture(
            Fixture::new(
                format!("nat out, tcp, {n} bytes, partial checksum"),
                h.from_neighbour(
                    rip,
                    &reply_ip.build(&partial(rip, LOCAL_CLIENT, IPPROTO_TCP, &reply)),
                ),
            )
            .tx(routed4(
                &ip_out,
                real_mac(LOCAL_CLIENT),
                me,
                &tcp(VIP, LOCAL_CLIENT, 80, sport, TCP_SYN | TCP_ACK, &data),
            ))
            .counters(&[("nat_reply", 1), ("csum_completed", 1)]),
        );
        let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_UDP);
        let dgram = udp(LOCAL_CLIENT, VIP, sport, 53, &data);
        let mut ip_in = ip.clone();
        ip_in.dst = rip;
        h.run_fixture(
            Fixture::new(
                format!("nat in, udp, {n} bytes, partial checksum"),
                h.from_client(&ip.build(&partial(LOCAL_CLIENT, VIP, IPPROTO_UDP, &dgram))),
            )
            .tx(routed4(
                &ip_in,
                real_mac(rip),
                me,
                &udp(LOCAL_CLIENT, rip, sport, 5353, &data),
            ))
            .counters(&[("tx", 1), ("conn_new", 1), ("csum_completed", 1)]),
        );
    }
}

#[test]
fn nat_over_ipv6_finishes_a_partial_checksum() {
    require_root!();
    let mut h = director();
    let (rip, me) = (real_addr6(2), h.if_mac);
    for (k, n) in PAYLOADS.into_iter().enumerate() {
        let data = payload(n);
        let sport = 42000 + k as u16;
        let ip = Ipv6::new(LOCAL_CLIENT6, VIP6, IPPROTO_TCP);
        let seg = tcp(LOCAL_CLIENT6, VIP6, sport, 80, TCP_SYN, &data);
        let mut ip_in = ip.clone();
        ip_in.dst = rip;
        h.run_fixture(
            Fixture::new(
                format!("nat in, IPv6 tcp, {n} bytes, partial checksum"),
                h.from_client(&ip.build(&partial(LOCAL_CLIENT6, VIP6, IPPROTO_TCP, &seg))),
            )
            .tx(routed6(
                &ip_in,
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT6, rip, sport, 8080, TCP_SYN, &data),
            ))
            .counters(&[("tx", 1), ("conn_new", 1), ("csum_completed", 1)]),
        );
    }
}

#[test]
fn dr_and_tun_finish_a_partial_checksum_and_leave_a_full_one_alone() {
    require_root!();
    let mut h = director();
    let me = h.if_mac;
    for (k, n) in PAYLOADS.into_iter().enumerate() {
        let data = payload(n);
        let sport = 43000 + k as u16;
        for (port, method) in [(81u16, "dr"), (82, "tun")] {
            let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
            let full =
                h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, sport, port, TCP_SYN, &data)));
            let part = h.from_client(&ip.build(&partial(
                LOCAL_CLIENT,
                VIP,
                IPPROTO_TCP,
                &tcp(LOCAL_CLIENT, VIP, sport, port, TCP_SYN, &data),
            )));
            let want = if method == "dr" {
                direct(&full, me, REALS[1])
            } else {
                ipip(me, &full[14..], REALS[0])
            };
            h.run_fixture(
                Fixture::new(format!("{method}, {n} bytes, partial checksum"), part)
                    .tx(want.clone())
                    .counters(&[("tx", 1), ("conn_new", 1), ("csum_completed", 1)]),
            );
            // The same flow's next packet with its checksum done: sent as it is.
            h.run_fixture(
                Fixture::new(format!("{method}, {n} bytes, full checksum"), full)
                    .tx(want)
                    .counters(&[("tx", 1), ("conn_hit", 1)]),
            );
        }
    }
}

#[test]
fn nat_handing_a_partial_checksum_to_the_kernel_keeps_it_partial_for_the_new_addresses() {
    require_root!();
    // No neighbour entry for the nat real server: the rewritten packet goes to the kernel,
    // which still knows the checksum is unfinished and finishes it over the new addresses.
    let mut h = Harness::new(&services(), &[REALS[0], REALS[1]]);
    let (rip, me) = (REALS[2], h.if_mac);
    let data = payload(100);
    let seg = tcp(LOCAL_CLIENT, VIP, 44000, 80, TCP_SYN, &data);
    let want = partial(
        LOCAL_CLIENT,
        rip,
        IPPROTO_TCP,
        &tcp(LOCAL_CLIENT, rip, 44000, 8080, TCP_SYN, &data),
    );
    h.run_fixture(
        Fixture::new(
            "nat in, no neighbour, partial checksum",
            h.from_client(&Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP).build(&partial(
                LOCAL_CLIENT,
                VIP,
                IPPROTO_TCP,
                &seg,
            ))),
        )
        .pass_as(eth_ip(
            me,
            CLIENT_MAC,
            &Ipv4::new(LOCAL_CLIENT, rip, IPPROTO_TCP).build(&want),
        ))
        // Finished first (lb did not know yet that it would not send it), then given back.
        .counters(&[("conn_new", 1), ("pass_no_neigh", 1), ("csum_completed", 1)]),
    );
}

#[test]
fn the_partial_field_is_what_the_kernel_writes() {
    // The tests' own pseudo-header sum against a hand-computed one: 10.0.0.1 -> 10.0.0.2,
    // TCP, 20 bytes: 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0006 + 0x0014 = 0x141d.
    let got = pseudo_only(
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
        IPPROTO_TCP,
        20,
    );
    assert_eq!(got, [0x14, 0x1d]);
}
