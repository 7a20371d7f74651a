//! Real-server ids are recycled: a removed real server's id is given to a new one once nothing
//! in the data plane names it any more (its connections gone), and never before.

use std::{net::Ipv4Addr, time::Duration};

use lb_tests::{
    config::{ConfigBuilder, Protocol, config, real, service_key, tcp_service},
    consts::{REALS, REMOTE_CLIENT, VIP, XDP_TX},
    require_root,
    testrun::Harness,
};

const R: [Ipv4Addr; 3] = REALS;

/// tcp VIP:80 over `reals` (mh-port, tunnelled).
fn services(reals: &[Ipv4Addr]) -> ConfigBuilder {
    config().service(
        tcp_service(VIP, 80)
            .mh(251)
            .flags(&["mh-port"])
            .reals(reals.iter().map(|a| real(*a).tun())),
    )
}

/// Recycles with the references the data plane holds now.
fn recycle(h: &mut Harness, min_age: Duration) -> usize {
    let referenced = h.dp.referenced_real_ids();
    h.state
        .recycle_real_ids(&mut h.dp, &referenced, min_age)
        .unwrap()
}

/// The data plane's entry of real-server id `id`.
fn real_entry(h: &Harness, id: u32) -> lb_common::RealServer {
    h.dp.reals_all()
        .into_iter()
        .find(|(i, _)| *i == id)
        .unwrap_or_else(|| panic!("no real server {id} in the data plane"))
        .1
}

fn id_of(h: &Harness, addr: Ipv4Addr) -> Option<u32> {
    h.real_id(&service_key(Protocol::Tcp, VIP, 80), addr)
}

#[test]
fn a_removed_real_servers_id_is_reused_only_once_nothing_names_it() {
    require_root!();
    let mut h = Harness::new(&services(&R[..2]), &R);
    let old = id_of(&h, R[0]).unwrap();
    // A connection on R[0]: new flows until one lands there.
    let mut held = None;
    for sport in 30000..30200u16 {
        let syn = h.syn(REMOTE_CLIENT, VIP, sport, 80);
        assert_eq!(h.run("lb", &syn).action, XDP_TX);
        let on_old =
            h.dp.connections()
                .into_iter()
                .find(|(k, c)| u16::from_be(k.sport) == sport && c.real == old);
        if let Some((k, _)) = on_old {
            held = Some(k);
            break;
        }
    }
    let held = held.expect("some flow lands on R[0]");

    // R[0] leaves the service: its id waits while the connection names it.
    h.apply(&services(&R[1..2]));
    assert_eq!(
        recycle(&mut h, Duration::ZERO),
        0,
        "a connection still names the id"
    );
    let entry = real_entry(&h, old);
    assert_eq!(
        entry.flags & lb_common::REAL_F_REMOVED,
        lb_common::REAL_F_REMOVED
    );
    // Nor before the quarantine, whatever references there are.
    assert!(h.dp.delete_conn(&held));
    assert_eq!(recycle(&mut h, Duration::from_secs(3600)), 0, "too young");
    // Past both: free, its entry cleared.
    assert_eq!(recycle(&mut h, Duration::ZERO), 1);
    assert!(
        h.dp.reals_all().iter().all(|(id, _)| *id != old),
        "the freed id's entry is cleared"
    );

    // The next real server gets it, and traffic reaches that server.
    h.apply(&services(&[R[1], R[2]]));
    assert_eq!(
        id_of(&h, R[2]),
        Some(old),
        "the freed id is given out again"
    );
    let entry = real_entry(&h, old);
    assert_eq!(entry.addr[0], u32::from_ne_bytes(R[2].octets()));
    assert_eq!(entry.flags, 0);
    let c = h.dp.real_conns(old).unwrap();
    assert_eq!((c.active, c.inactive), (0, 0), "no counts carried over");
}

/// Services on ports `ports`, one real server each (R[i % 3]).
fn per_port(ports: &[u16]) -> ConfigBuilder {
    config().services(
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| tcp_service(VIP, *p).mh(251).real(real(R[i % 3]).tun())),
    )
}

fn service_id(h: &Harness, port: u16) -> u32 {
    h.service_id(&service_key(Protocol::Tcp, VIP, port))
}

#[test]
fn a_deleted_services_id_waits_for_its_connections() {
    require_root!();
    let mut h = Harness::new(&per_port(&[80, 81]), &R);
    let deleted = service_id(&h, 81);
    let syn = h.syn(REMOTE_CLIENT, VIP, 31000, 81);
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    let conn = h.dp.connections()[0].0;
    // Port 81 goes; its connection still counts on its id, so a new service gets another.
    h.apply(&per_port(&[80]));
    h.apply(&per_port(&[80, 82]));
    assert_ne!(
        service_id(&h, 82),
        deleted,
        "held while its connection lives"
    );
    assert_eq!(recycle(&mut h, Duration::ZERO), 0);
    // The connection ends and its real server's id is recycled: the service id is free.
    assert!(h.dp.delete_conn(&conn));
    assert_eq!(recycle(&mut h, Duration::ZERO), 1);
    h.apply(&per_port(&[80, 82, 83]));
    assert_eq!(
        service_id(&h, 83),
        deleted,
        "free once nothing counts on it"
    );
}

/// A flow of `sport` from the remote client to VIP:`port`, run through `lb`: the real-server
/// id it was given.
fn connect(h: &mut Harness, sport: u16, port: u16) -> u32 {
    let syn = h.syn(REMOTE_CLIENT, VIP, sport, port);
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    h.dp.connections()
        .into_iter()
        .find(|(k, _)| u16::from_be(k.sport) == sport && u16::from_be(k.dport) == port)
        .map(|(_, c)| c.real)
        .expect("the flow has a connection entry")
}

#[test]
fn what_comes_back_while_its_id_waits_takes_the_id_back_like_ipvss_trash() {
    require_root!();
    let mut h = Harness::new(&services(&R[..2]), &R);
    let ids: Vec<u32> = R[..2].iter().map(|a| id_of(&h, *a).unwrap()).collect();
    // A connection on each real server.
    let mut sport = 32000;
    let mut on = [0u32; 2];
    while on.contains(&0) {
        let rid = connect(&mut h, sport, 80);
        let i = ids.iter().position(|x| *x == rid).unwrap();
        on[i] += 1;
        sport += 1;
        assert!(sport < 32400, "flows land on both real servers");
    }
    let counts = |h: &Harness, id: u32| {
        let c = h.dp.real_conns(id).unwrap();
        c.active + c.inactive
    };
    let before = counts(&h, ids[0]);
    assert_eq!(before, on[0] as i64);
    // R[0] leaves, then comes back (the same address, port and forwarding): its own id, its
    // entry no longer flagged removed, its connections still counted.
    h.apply(&services(&R[1..2]));
    assert_ne!(real_entry(&h, ids[0]).flags & lb_common::REAL_F_REMOVED, 0);
    h.apply(&services(&R[..2]));
    assert_eq!(id_of(&h, R[0]), Some(ids[0]), "its id again");
    assert_eq!(real_entry(&h, ids[0]).flags, 0);
    assert_eq!(counts(&h, ids[0]), before, "its connections carry on");
    assert_eq!(recycle(&mut h, Duration::ZERO), 0, "no id waits any more");

    // Back with another forwarding method, it is another real server: a new id.
    h.apply(&services(&R[1..2]));
    h.apply(
        &config().service(
            tcp_service(VIP, 80)
                .mh(251)
                .flags(&["mh-port"])
                .reals([real(R[0]).dr(), real(R[1]).tun()]),
        ),
    );
    assert_ne!(id_of(&h, R[0]), Some(ids[0]));

    // A deleted service that comes back while its id waits gets that id, and its real server
    // its own.
    let mut h = Harness::new(&per_port(&[80, 81]), &R);
    let svc = service_id(&h, 81);
    let rid = connect(&mut h, 33000, 81);
    h.apply(&per_port(&[80]));
    h.apply(&per_port(&[80, 81]));
    assert_eq!(service_id(&h, 81), svc, "the held id again");
    assert_eq!(
        h.real_id(&service_key(Protocol::Tcp, VIP, 81), R[1]),
        Some(rid)
    );
    assert_eq!(counts(&h, rid), 1, "its connection carries on");
}
