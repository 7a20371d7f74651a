//! Reused tuples (issue 11, IPVS's `conn_reuse_mode`): a client whose ten source ports come
//! round again while lb still holds the closing entries of their earlier connections opens
//! them one after another through a `nat` VIP; each SYN on a closing entry ends it and starts
//! a new connection, scheduled and counted: lb counts exactly the connections the client
//! opened.

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use lb_tests::{
    consts::{VIP, VIP_PORT},
    listing::{real_servers_conns, service},
    require_root,
    topo::{Method, Topology},
};

/// The client's source ports: ten.
const PORTS: (u16, u16) = (40000, 40009);
const CONNECTIONS: usize = 200;

/// One HTTP GET over a new connection closed the ordinary way (FIN, no reset: the real server,
/// which closes first, keeps the tuple in TIME_WAIT, and lb the entry in its closing state).
/// Waits (up to 10 s) while all ten ports are still taken by connections closing. Returns the
/// source port and the body.
fn get(vip: SocketAddr) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect_timeout(&vip, Duration::from_secs(5)) {
            Ok(s) => break s,
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                assert!(Instant::now() < deadline, "no source port free: {e}");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("connect {vip}: {e}"),
        }
    };
    let port = s.local_addr().unwrap().port();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: lb\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .unwrap_or_else(|e| panic!("from port {port}: {e}"));
    assert!(resp.starts_with("HTTP/1.0 200"), "from port {port}: {resp}");
    (
        port,
        resp.split("\r\n\r\n").nth(1).unwrap_or("").trim().into(),
    )
}

#[test]
fn two_hundred_connections_from_ten_ports_are_each_counted_once() {
    require_root!();
    let mut t = Topology::new(3, Method::Nat);
    t.client.sysctl(
        "net.ipv4.ip_local_port_range",
        &format!("{} {}", PORTS.0, PORTS.1),
    );
    // wlc: a reused tuple's new connection may go to another real server than its last one.
    let cfg = t.config_sched(&[1, 1, 1], "wlc").first_services(1);
    t.start_lbd(&cfg);
    let vip = SocketAddr::from((VIP, VIP_PORT));
    let mut ports = BTreeSet::new();
    {
        let _in = t.client.enter();
        for i in 0..CONNECTIONS {
            let (port, body) = get(vip);
            assert!(
                (PORTS.0..=PORTS.1).contains(&port),
                "connection {i} from port {port}"
            );
            assert!(body.starts_with("rs"), "connection {i}: {body:?}");
            ports.insert(port);
        }
    }
    // Every SYN was counted before its real server answered: no waiting needed.
    let v = t.stats_listing();
    let svc = service(&v, VIP, VIP_PORT);
    assert_eq!(svc["stats"]["conns"], CONNECTIONS, "{v}");
    assert_eq!(real_servers_conns(svc), CONNECTIONS as u64, "{v}");
    let served: u64 = t.http.iter().map(|h| h.served.load(Ordering::SeqCst)).sum();
    assert_eq!(served, CONNECTIONS as u64);
    // Each port's first connection was new; every later one reused a closing entry.
    assert!(ports.len() <= 10, "{ports:?}");
    assert_eq!(
        t.reason("conn_reused"),
        (CONNECTIONS - ports.len()) as u64,
        "ports used: {ports:?}"
    );
    assert_eq!(t.reason("conn_new"), CONNECTIONS as u64);
}
