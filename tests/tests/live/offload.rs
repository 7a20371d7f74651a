//! A director on veths behind bridges, as on a container host: every sender leaves its TCP
//! checksums to the "hardware" (a veth's default checksum offload) and GRO is on on every veth
//! and bridge port, so what reaches `lb` carries half-done checksums, from the senders and
//! from the segmenting of the bridges' aggregates. `lb` finishes them before it sends a packet
//! on (`csum_completed`). Before it did, a client's SYN reached the real server with a bad
//! checksum and was dropped (with the senders' offload turned off, the bridges' GSO still
//! made a download stall after about a megabyte).

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use lb_tests::{
    netns::Netns,
    require_root,
    servers::{BulkServer, bulk_matches, bulk_pattern},
    topo::{Method, Topology},
    two_armed::{VIP, VIP6, real, real6},
};

/// The download's service port and size (the size of the download that crawled at 50 KB/s).
const PORT: u16 = 9000;
const SIZE: u64 = 150_000_000;

/// TCP segments a namespace's stack dropped for a bad checksum (`/proc/net/snmp`, Tcp:
/// InCsumErrors).
fn csum_errors(ns: &Netns) -> u64 {
    let snmp = ns.exec(&["cat", "/proc/net/snmp"]);
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (
        tcp.next().expect("Tcp header"),
        tcp.next().expect("Tcp values"),
    );
    let at = names
        .split_whitespace()
        .position(|n| n == "InCsumErrors")
        .expect("InCsumErrors");
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

/// Checksum offload and GRO on every interface of the path, as veths and bridges come on a
/// container host (the topology turns the senders' offload off for the other tests).
fn offloads_on(t: &Topology) {
    let mut ends: Vec<(&Netns, &str)> = vec![
        (&t.client, "eth0"),
        (&t.director, "eth0"),
        (&t.director, "eth1"),
    ];
    ends.extend(t.reals.iter().map(|r| (r, "eth0")));
    for port in ["p-client", "p-dir0", "p-dir1", "p-rs0"] {
        ends.push((&t.switch, port));
    }
    for (ns, dev) in ends {
        ns.exec(&["ethtool", "-K", dev, "tx", "on", "gro", "on"]);
    }
}

/// Downloads `SIZE` bytes from `vip`:[`PORT`] in the client's namespace; returns how many
/// arrived before the server closed, whether each was the byte it should be, and the time.
fn download(t: &Topology, vip: IpAddr) -> (u64, bool, Duration) {
    let _in = t.client.enter();
    let mut s =
        std::net::TcpStream::connect_timeout(&SocketAddr::new(vip, PORT), Duration::from_secs(5))
            .expect("connect through the director");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let start = Instant::now();
    s.write_all(format!("{SIZE}\n").as_bytes()).unwrap();
    let pattern = bulk_pattern();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut got, mut whole) = (0u64, true);
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                whole &= bulk_matches(&pattern, got, &buf[..n]);
                got += n as u64;
            }
            Err(e) => panic!("download stalled after {got} bytes: {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "download still running after 120 s ({got} bytes)"
        );
    }
    (got, whole, start.elapsed())
}

#[test]
fn a_150_mb_download_through_veths_and_bridges_with_offloads_on_arrives_whole() {
    require_root!();
    let mut t = Topology::two_armed(1, Method::Nat);
    offloads_on(&t);
    let cfg = t.two_armed_config();
    t.start_two_armed(&cfg);
    for (vip, rs) in [
        (
            SocketAddr::new(VIP.into(), PORT),
            SocketAddr::new(real(0).into(), PORT),
        ),
        (
            SocketAddr::new(VIP6.into(), PORT),
            SocketAddr::new(real6(0).into(), PORT),
        ),
    ] {
        t.lbctl(&["-A", "-t", &vip.to_string(), "-s", "rr"]);
        t.lbctl(&["-a", "-t", &vip.to_string(), "-r", &rs.to_string(), "-m"]);
    }
    let _bulk = BulkServer::start(&t.reals[0], PORT);
    let before = (csum_errors(&t.client), csum_errors(&t.reals[0]));
    for vip in [IpAddr::from(VIP), IpAddr::from(VIP6)] {
        let completed = t.reason("csum_completed");
        let (got, whole, took) = download(&t, vip);
        eprintln!("{vip}: {got} bytes in {took:?}");
        assert_eq!(got, SIZE, "{vip}: the whole download arrived");
        assert!(whole, "{vip}: every byte as sent");
        // The regime: the packets lb forwarded really carried half-done checksums.
        assert!(
            t.reason("csum_completed") > completed + 1000,
            "{vip}: lb finished the senders' checksums: {}",
            t.lbctl(&["status"])
        );
    }
    assert_eq!(
        (csum_errors(&t.client), csum_errors(&t.reals[0])),
        before,
        "no segment arrived with a bad checksum at the client or the real server"
    );
}
