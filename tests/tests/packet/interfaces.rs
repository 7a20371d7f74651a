//! Per-interface counters (`lb_if_stats`): every packet that arrives on an interface lbd made
//! counters for is counted once with its bytes, and once by the XDP action it ends with, in
//! `lb` or in `lb_icmp` (which `lb` hands ICMP to); an interface without counters is not
//! counted.

use lb_common::{IF_STATS_DIRECT, IfStats};
use lb_tests::{
    config::{real, tcp_service},
    consts::{DIRECTOR, REALS, REMOTE_CLIENT, VIP, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX},
    fixture::Fixture,
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
    h.dp.count_interface(h.ifindex, h.if_mac)
        .expect("counters for eth0");
    let zero = IfStats {
        mac: h.if_mac,
        counted: 1,
        ..IfStats::default()
    };
    assert_eq!(h.dp.interface_stats(h.ifindex), Some(zero));
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
    let mut want = zero;
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

#[test]
fn an_interface_of_a_large_index_has_its_counters_in_the_hash() {
    require_root!();
    let mut h = Harness::new(&services([1, 1, 1]), &REALS);
    assert!(h.ifindex < IF_STATS_DIRECT, "eth0 is in the direct array");
    // A device whose index the direct array has no slot for (indices are the namespace's).
    let far = IF_STATS_DIRECT + 1000;
    h.ns.ip(&[
        "link",
        "add",
        "far0",
        "index",
        &far.to_string(),
        "type",
        "veth",
        "peer",
        "name",
        "far1",
    ]);
    h.ns.ip(&["link", "set", "far0", "up"]);
    assert_eq!(h.ns.ifindex("far0"), far);
    let mac = h.ns.mac("far0");
    assert_eq!(
        h.dp.interface_stats(far),
        None,
        "no counters until lbd makes them"
    );
    h.dp.count_interface(far, mac).expect("counters for far0");
    let eth0 = std::mem::replace(&mut h.ifindex, far);
    // The host's own traffic (to the director's address), a frame for another host, ARP.
    let mut mine = h.syn(REMOTE_CLIENT, DIRECTOR, 44000, 22);
    mine[..6].copy_from_slice(&mac);
    let mut other = h.syn(REMOTE_CLIENT, VIP, 44001, 80);
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x42]);
    let arp = eth(mac, [2, 0, 0, 0, 0, 9], ETH_P_ARP, &[0u8; 28]);
    h.run_fixture(
        Fixture::new("not for a VIP, on far0", mine.clone())
            .pass_as(mine.clone())
            .counters(&[("pass_not_vip", 1)]),
    );
    // The MAC address lbd wrote with the hash's entry is checked as the array's is.
    h.run_fixture(
        Fixture::new("unicast to another MAC, on far0", other.clone())
            .pass_as(other.clone())
            .counters(&[("pass_other_host", 1)]),
    );
    assert_eq!(h.run("lb", &arp).action, XDP_PASS);
    h.ifindex = eth0;
    let want = IfStats {
        mac,
        counted: 1,
        packets: 3,
        bytes: (mine.len() + other.len() + arp.len()) as u64,
        pass: 3,
        ..IfStats::default()
    };
    assert_eq!(h.dp.interface_stats(far), Some(want));
    // eth0's slot, which lbd never marked, still reads as no counters after a packet.
    assert_eq!(h.run("lb", &mine).action, XDP_PASS);
    assert_eq!(h.dp.interface_stats(h.ifindex), None);
}

#[test]
fn a_unicast_frame_to_another_mac_is_not_for_this_host() {
    require_root!();
    let mut h = Harness::new(&services([1, 1, 1]), &REALS);
    let syn = h.syn(REMOTE_CLIENT, VIP, 43000, 80);
    // Without the interface's address lb does not check (as before lbd made counters).
    let mut other = syn.clone();
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x42]);
    assert_eq!(h.run("lb", &other).action, XDP_TX);
    h.dp.count_interface(h.ifindex, h.if_mac)
        .expect("counters for eth0");
    let mut other = h.syn(REMOTE_CLIENT, VIP, 43001, 80);
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x42]);
    let mut broadcast = h.syn(REMOTE_CLIENT, VIP, 43002, 80);
    broadcast[..6].copy_from_slice(&[0xff; 6]);
    // A switch flooding a frame meant for another host (another director): the kernel
    // drops it, as it would before IPVS saw it.
    h.run_fixture(
        Fixture::new("unicast to another MAC", other.clone())
            .pass_as(other)
            .counters(&[("pass_other_host", 1)]),
    );
    // To this interface's address, and broadcast (every host's): lb's as before.
    for f in [h.syn(REMOTE_CLIENT, VIP, 43003, 80), broadcast] {
        let before = h.reasons();
        assert_eq!(h.run("lb", &f).action, XDP_TX);
        let delta = lb_tests::testrun::reason_delta(&before, &h.reasons());
        assert!(delta.contains(&("conn_new", 1)), "{delta:?}");
        assert!(
            !delta.iter().any(|(n, _)| *n == "pass_other_host"),
            "{delta:?}"
        );
    }
}
