//! FTP through a `nat` VIP, the data plane's half: a control connection's packets leave,
//! rewritten for their next hop, through the FTP helper's interface; the data connections
//! lbd's helper announces go to the control connection's real server, keeping their ports.

use lb_daemon::dataplane::DataExpect;
use lb_tests::{
    config::{Protocol, config, real, service_key, tcp_service},
    consts::{LOCAL_CLIENT, REALS, VIP, XDP_REDIRECT, real_mac},
    expect::routed4,
    fixture::Fixture,
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
        .real_id(&service_key(Protocol::Tcp, VIP, 21), rip)
        .expect("the real server");
    let entry = h.dp.real(id).unwrap();
    assert_eq!(
        (entry.port, entry.vport, entry.ftp_port),
        (0, 0, 21u16.to_be()),
        "an FTP real server keeps every connection's ports and names the control port"
    );
    let ip = Ipv4::new(LOCAL_CLIENT, VIP, IPPROTO_TCP);
    let mut ip_in = ip.clone();
    ip_in.dst = rip;
    // Client -> VIP:`dport` and what `lb` makes of it toward the real server, same port.
    let pair = |sport: u16, dport: u16, flags: u8, payload: &[u8]| {
        (
            h.from_client(&ip.build(&tcp(LOCAL_CLIENT, VIP, sport, dport, flags, payload))),
            routed4(
                &ip_in,
                real_mac(rip),
                me,
                &tcp(LOCAL_CLIENT, rip, sport, dport, flags, payload),
            ),
        )
    };
    let (syn, syn_out) = pair(40200, 21, TCP_SYN, b"");
    let (user, user_out) = pair(40200, 21, TCP_ACK, b"USER x\r\n");
    let (data, data_out) = pair(40201, 60000, TCP_SYN, b"");
    let (other, _) = pair(40202, 60001, TCP_SYN, b"");
    h.run_fixtures(&[
        Fixture::new("no helper yet: sent as any nat packet", syn.clone())
            .tx(syn_out.clone())
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
    h.dp.set_ftp_helper(h.ns.ifindex("peer0")).unwrap();
    h.dp.expect_data(&DataExpect::Passive {
        client: LOCAL_CLIENT.into(),
        vip: VIP.into(),
        port: 60000,
        real: id,
    })
    .unwrap();
    let mut to_helper = Fixture::new("a control packet goes to the helper, rewritten", user)
        .tx(user_out)
        .counters(&[("ftp_helper", 1), ("conn_hit", 1), ("conn_promoted", 1)]);
    to_helper.verdict = XDP_REDIRECT;
    h.run_fixtures(&[
        to_helper,
        Fixture::new(
            "an announced data connection: the real server's same port",
            data,
        )
        .tx(data_out)
        .counters(&[("tx", 1), ("conn_new", 1), ("ftp_data", 1)]),
        Fixture::new("a port nobody announced: the host stack's", other)
            .pass()
            .counters(&[("pass_not_vip", 1)]),
    ]);
    assert!(h.dp.expected_data().is_empty(), "taken by its connection");
}
