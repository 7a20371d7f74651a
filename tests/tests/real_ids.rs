//! Real-server ids are recycled: a removed real server's id is given to a new one once nothing
//! in the data plane names it any more (its connections gone), and never before.

use std::{net::Ipv4Addr, time::Duration};

use lb_daemon::{config::Config, daemon::referenced_real_ids, state::vip_key};
use lb_tests::{
    packet::{ETH_P_IP, Ipv4, eth, tcp},
    require_root,
    testrun::{CLIENT_MAC, DIRECTOR, Harness},
};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 7);
const R: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 11),
    Ipv4Addr::new(198, 18, 0, 12),
    Ipv4Addr::new(198, 18, 0, 13),
];
const XDP_TX: u32 = 3;

fn config(reals: &[Ipv4Addr]) -> String {
    let rs: Vec<String> = reals
        .iter()
        .map(|a| format!(r#"{{ "address": "{a}", "forwarding": "tun" }}"#))
        .collect();
    format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 4096,
            "services": [ {{ "protocol": "tcp", "vip": "{VIP}", "port": 80, "scheduler": "mh",
              "sched_flags": ["mh-port"], "mh_table_size": 251, "real_servers": [ {} ] }} ] }}"#,
        rs.join(", ")
    )
}

fn apply(h: &mut Harness, text: &str) {
    let cfg = Config::parse(text, "t").unwrap();
    h.state.apply(&mut h.dp, &cfg).unwrap();
}

/// The id the state gives `addr` in the service.
/// Recycles with the references the data plane holds now.
fn recycle(h: &mut Harness, min_age: Duration) -> usize {
    let referenced = referenced_real_ids(&h.dp);
    h.state
        .recycle_real_ids(&mut h.dp, &referenced, min_age)
        .unwrap()
}

fn id_of(h: &Harness, addr: Ipv4Addr) -> Option<u32> {
    h.state
        .real_ids(&vip_key(lb_daemon::config::Protocol::Tcp, VIP.into(), 80))
        .into_iter()
        .find(|(a, _, _)| *a == std::net::IpAddr::V4(addr))
        .map(|(_, _, id)| id)
}

#[test]
fn a_removed_real_servers_id_is_reused_only_once_nothing_names_it() {
    require_root!();
    let mut h = Harness::new(&config(&R[..2]), &R);
    let old = id_of(&h, R[0]).unwrap();
    // A connection on R[0]: new flows until one lands there.
    let mut held = None;
    for sport in 30000..30200u16 {
        let syn = eth(
            h.if_mac,
            CLIENT_MAC,
            ETH_P_IP,
            &Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, sport, 80, 0x02, b"")),
        );
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
    apply(&mut h, &config(&R[1..2]));
    assert_eq!(
        recycle(&mut h, Duration::ZERO),
        0,
        "a connection still names the id"
    );
    let entry =
        h.dp.reals_all()
            .into_iter()
            .find(|(id, _)| *id == old)
            .unwrap()
            .1;
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
    apply(&mut h, &config(&[R[1], R[2]]));
    assert_eq!(
        id_of(&h, R[2]),
        Some(old),
        "the freed id is given out again"
    );
    let entry =
        h.dp.reals_all()
            .into_iter()
            .find(|(id, _)| *id == old)
            .unwrap()
            .1;
    assert_eq!(entry.addr[0], u32::from_ne_bytes(R[2].octets()));
    assert_eq!(entry.flags, 0);
    let c = h.dp.real_conns(old).unwrap();
    assert_eq!((c.active, c.inactive), (0, 0), "no counts carried over");
}

/// Services on ports `ports`, one real server each (R[i % 3]).
fn services(ports: &[u16]) -> String {
    let svcs: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{ "protocol": "tcp", "vip": "{VIP}", "port": {p}, "scheduler": "mh",
                  "mh_table_size": 251, "real_servers": [ {{ "address": "{}", "forwarding": "tun" }} ] }}"#,
                R[i % 3]
            )
        })
        .collect();
    format!(
        r#"{{ "interface": "eth0", "director": {{ "ipv4": "{DIRECTOR}" }}, "conn_table_size": 4096,
            "services": [ {} ] }}"#,
        svcs.join(", ")
    )
}

fn service_id(h: &Harness, port: u16) -> u32 {
    h.dp.service(&vip_key(lb_daemon::config::Protocol::Tcp, VIP.into(), port))
        .expect("service")
        .id
}

#[test]
fn a_deleted_services_id_waits_for_its_connections() {
    require_root!();
    let mut h = Harness::new(&services(&[80, 81]), &R);
    let deleted = service_id(&h, 81);
    let syn = eth(
        h.if_mac,
        CLIENT_MAC,
        ETH_P_IP,
        &Ipv4::new(CLIENT, VIP, 6).build(&tcp(CLIENT, VIP, 31000, 81, 0x02, b"")),
    );
    assert_eq!(h.run("lb", &syn).action, XDP_TX);
    let conn = h.dp.connections()[0].0;
    // Port 81 goes; its connection still counts on its id, so a new service gets another.
    apply(&mut h, &services(&[80]));
    apply(&mut h, &services(&[80, 82]));
    assert_ne!(
        service_id(&h, 82),
        deleted,
        "held while its connection lives"
    );
    assert_eq!(recycle(&mut h, Duration::ZERO), 0);
    // The connection ends and its real server's id is recycled: the service id is free.
    assert!(h.dp.delete_conn(&conn));
    assert_eq!(recycle(&mut h, Duration::ZERO), 1);
    apply(&mut h, &services(&[80, 82, 83]));
    assert_eq!(
        service_id(&h, 83),
        deleted,
        "free once nothing counts on it"
    );
}
