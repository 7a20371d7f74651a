//! FTP through a VIP, as IPVS's `ip_vs_ftp` carries it: a real FTP server (pyftpdlib) on two
//! real servers, python's ftplib on the client, 5 MB files downloaded and uploaded byte for
//! byte in passive (`PASV`, `EPSV`) and active (`PORT`, `EPRT`) mode. Each real server's
//! welcome names it and each has a file of its own, so a data connection that reached the
//! other real server would fail the byte check (and pyftpdlib refuses a data connection from
//! another address than its control connection's).

use std::collections::BTreeMap;

use lb_tests::{
    config::{config, real, tcp_service},
    consts::{VIP, real_addr},
    ftp::FtpServers,
    require_root,
    topo::{Method, Topology},
};

/// Two control connections per mode, each with five downloads and five uploads: 20
/// transfers a mode.
const CONNS: u32 = 2;
const PER: u32 = 5;

#[test]
fn ftp_through_a_nat_vip_in_passive_and_active_mode_reaches_the_control_connections_real_server() {
    require_root!();
    let mut t = Topology::new(2, Method::Nat);
    let servers = FtpServers::start(&t.reals);
    // rr alternates the control connections between the two real servers; port 21 has the
    // FTP helper by default (IPVS's ports=21).
    let cfg = config().conn_table_size(65536).pin_dir(&t.pin_dir).service(
        tcp_service(VIP, 21)
            .scheduler("rr")
            .reals((0..2).map(|i| real(real_addr(i)).nat())),
    );
    t.start_lbd(&cfg);
    let mut data = 0;
    for mode in ["pasv", "epsv", "port", "eprt"] {
        let (by_server, transfers) = servers.run_client(&t.client, VIP, mode, CONNS, PER);
        assert_eq!(transfers, 2 * (CONNS * PER) as u64, "{mode}");
        assert_eq!(
            by_server,
            BTreeMap::from([("rs0".to_string(), 1), ("rs1".to_string(), 1)]),
            "{mode}: rr gives each real server one control connection"
        );
        data += transfers;
    }
    // ftplib opens one data connection per transfer; each was one lbd's helper announced.
    assert_eq!(t.reason("ftp_data"), data, "{}", t.lbctl(&["status"]));
    assert!(t.reason("ftp_helper") > 0);
}

#[test]
fn ftp_through_dr_with_a_persistent_port_zero_service_keeps_every_connection_on_one_real_server() {
    require_root!();
    let mut t = Topology::new(2, Method::Dr);
    let servers = FtpServers::start(&t.reals);
    // The LVS idiom for FTP in dr and tun: the real servers hold the VIP, so their replies
    // name it; persistence across every port keeps a client's data connections on its
    // control connection's real server. No helper (port 0 has none).
    let cfg = config().conn_table_size(65536).pin_dir(&t.pin_dir).service(
        tcp_service(VIP, 0)
            .scheduler("rr")
            .persistent(300)
            .reals((0..2).map(|i| real(real_addr(i)).dr())),
    );
    t.start_lbd(&cfg);
    let mut reached = BTreeMap::new();
    for mode in ["pasv", "epsv", "port", "eprt"] {
        let (by_server, transfers) = servers.run_client(&t.client, VIP, mode, CONNS, PER);
        assert_eq!(transfers, 2 * (CONNS * PER) as u64, "{mode}");
        for (s, n) in by_server {
            *reached.entry(s).or_insert(0) += n;
        }
    }
    assert_eq!(
        reached.len(),
        1,
        "one real server for all of the client's connections: {reached:?}"
    );
    assert_eq!(t.reason("ftp_helper") + t.reason("ftp_data"), 0);
    assert!(t.reason("persist_hit") > 0);
}
