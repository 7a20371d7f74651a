//! Per-interface counters (`lb_if_stats`): every packet that arrives on an interface lbd made
//! counters for is counted once with its bytes, and once by the XDP action it ends with, in
//! `lb` or in `lb_icmp` (which `lb` hands ICMP to); an interface without counters is not
//! counted.

use lb_common::IfStats;
use lb_tests::{
    config::{real, tcp_service},
    consts::{REALS, REMOTE_CLIENT, VIP, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX},
    packet::{ETH_P_ARP, IPPROTO_ICMP, eth, icmp4, ip},
    require_root,
    testrun::Harness,
};

use crate::ipv4::services;

#[test]
fn each_packet_is_counted_once_on_its_interface_with_its_bytes_and_its_verdict() {
    require_root!();
    // VIP:81's only real server has weight 0: its SYNs find no real server and are dropped.
    let cfg = services([1, 1, 1]).service(
        tcp_service(VIP, 81)
            .mh(251)
            .real(real(REALS[0]).weight(0).tun()),
    );
    let mut h = Harness::new(&cfg, &REALS);
    assert_eq!(
        h.dp.interface_stats(h.ifindex),
        None,
        "no counters until lbd makes them"
    );
    h.dp.count_interface(h.ifindex).expect("counters for eth0");
    assert_eq!(h.dp.interface_stats(h.ifindex), Some(IfStats::default()));
    let ping = |seq: u8| {
        h.from_client(&ip(
            REMOTE_CLIENT,
            VIP,
            IPPROTO_ICMP,
            &icmp4(8, 0, [0, 7, 0, seq], b"ping!"),
        ))
    };
    let mut frames = Vec::new();
    for sport in 0..5u16 {
        frames.push(h.syn(REMOTE_CLIENT, VIP, 41000 + sport, 80));
    }
    for sport in 0..2u16 {
        frames.push(h.syn(REMOTE_CLIENT, VIP, 42000 + sport, 81));
    }
    for seq in 0..3 {
        frames.push(ping(seq));
    }
    for _ in 0..4 {
        frames.push(eth(h.if_mac, [2, 0, 0, 0, 0, 9], ETH_P_ARP, &[0u8; 28]));
    }
    // The same frames, counted independently from what each run returned.
    let mut want = IfStats::default();
    for f in &frames {
        let out = h.run("lb", f);
        want.packets += 1;
        want.bytes += f.len() as u64;
        match out.action {
            XDP_ABORTED => want.aborted += 1,
            XDP_DROP => want.drop += 1,
            XDP_PASS => want.pass += 1,
            XDP_TX => want.tx += 1,
            _ => want.redirect += 1,
        }
    }
    // 5 SYNs tunnelled and 3 pings answered (by lb_icmp) go back out; 2 SYNs to VIP:81
    // dropped; 4 ARP frames passed.
    assert_eq!(
        (want.tx, want.drop, want.pass, want.redirect, want.aborted),
        (8, 2, 4, 0, 0)
    );
    assert_eq!(h.dp.interface_stats(h.ifindex), Some(want));
    // A frame arriving on another interface (the veth's peer, which has no counters) is not
    // counted on eth0.
    let peer = h.ns.ifindex("peer0");
    let eth0 = std::mem::replace(&mut h.ifindex, peer);
    let f = frames[0].clone();
    h.run("lb", &f);
    h.ifindex = eth0;
    assert_eq!(h.dp.interface_stats(peer), None);
    assert_eq!(h.dp.interface_stats(h.ifindex), Some(want));
}
