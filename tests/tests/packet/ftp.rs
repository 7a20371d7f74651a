//! FTP through a `nat` VIP, the data plane's half: a control connection's packets leave,
//! rewritten for their next hop, through the FTP helper's interface; the data connections
//! lbd's helper announces go to the control connection's real server, keeping their ports.

use lb_common::reason;
use lb_tests::{
    config::{config, real, tcp_service},
    consts::{LOCAL_CLIENT, REALS, VIP, XDP_REDIRECT, XDP_TX, real_mac},
    expect::routed4,
    packet::{IPPROTO_TCP, Ipv4, TCP_ACK, TCP_SYN, tcp},
    require_root,
    testrun::Harness,
};

#[test]
fn control_packets_go_to_the_helper_and_announced_data_connections_to_the_control_real() {
    require_root!();
    let cfg = config().service(
        tcp_service(VIP, 21)
            .scheduler("rr")
            .real(real(REALS[2]).nat()),
    );
    let mut h = Harness::new(&cfg, &[REALS[2], LOCAL_CLIENT]);
    let rip = REALS[2];
    let me = h.if_mac;
    let id = h
        .real_id(
            &lb_tests::config::service_key(lb_tests::config::Protocol::Tcp, VIP, 21),
            rip,
        )
        .expect("the real server");
    let entry = h.dp.real(id).unwrap();
    assert_eq!(
        (entry.port, entry.vport, entry.ftp_port),
        (0, 0, 21u16.to_be())
    );
    // No helper interface yet: the control packet leaves as any nat packet.
    let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
    let syn = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40200, 21, TCP_SYN, b"")));
    let out = h.run("lb", &syn);
    assert_eq!(out.action, XDP_TX);
    // With the helper's interface: redirected there, rewritten for its next hop.
    let helper = h.ns.ifindex("peer0");
    h.dp.set_ftp_helper(helper).unwrap();
    let before = h.reasons();
    let ack = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40200, 21, TCP_ACK, b"USER x\r\n")));
    let out = h.run("lb", &ack);
    let mut ip_in = ip.clone();
    ip_in.dst = rip;
    assert_eq!(out.action, XDP_REDIRECT);
    assert_eq!(
        out.data,
        routed4(
            &ip_in,
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, 40200, 21, TCP_ACK, b"USER x\r\n")
        )
    );
    let after = h.reasons();
    assert_eq!(
        after[reason::FTP_HELPER as usize] - before[reason::FTP_HELPER as usize],
        1
    );
    // An announced passive data connection: the client's SYN to VIP:60000 reaches the real
    // server's port 60000.
    h.dp.expect_data(&lb_daemon::dataplane::DataExpect::Passive {
        client: LOCAL_CLIENT.into(),
        vip: VIP.into(),
        port: 60000,
        real: id,
    })
    .unwrap();
    let data = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40201, 60000, TCP_SYN, b"")));
    let out = h.run("lb", &data);
    assert_eq!(out.action, XDP_TX);
    assert_eq!(
        out.data,
        routed4(
            &ip_in,
            real_mac(rip),
            me,
            &tcp(LOCAL_CLIENT, rip, 40201, 60000, TCP_SYN, b"")
        )
    );
    assert!(h.dp.expected_data().is_empty(), "taken by its connection");
    // Not announced: the host stack's.
    let other = h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, 40202, 60001, TCP_SYN, b"")));
    assert_eq!(h.run("lb", &other).action, lb_tests::consts::XDP_PASS);
}
