//! IPVS's connection states through a VIP, as `lbctl -L -c` and `lbctl proc ip_vs_conn` list
//! them, per forwarding method: real TCP connections from the client's namespace to a line
//! server, one held open (ESTABLISHED), one closed the ordinary way by the client, one reset
//! by the client. `nat` sees both directions, so the ordinary close ends in TIME_WAIT (the
//! client's FIN, then the real server's); `dr` and `tun` see only the client's packets, so
//! it ends in FIN_WAIT; a reset connection is CLOSE in every method, and goes after IPVS's
//! 10 s while the others stay.

use std::{
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use lb_tests::{
    consts::VIP,
    listing::{real, service},
    require_root,
    servers::exchange,
    topo::{Method, Topology, socket2_connect},
};
use serde_json::Value;

/// The line service's port.
const PORT: u16 = 7000;

/// The listed connections of the client to the line service: (client port, state, seconds
/// left).
fn conns(t: &Topology) -> Vec<(u16, String, u64)> {
    let v: Value = serde_json::from_str(&t.lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
    let mut out: Vec<(u16, String, u64)> = v["connections"]
        .as_array()
        .expect("a list of connections")
        .iter()
        .filter(|c| c["template"] != true && c["vport"] == PORT)
        .map(|c| {
            (
                c["client_port"].as_u64().unwrap() as u16,
                c["state"].as_str().unwrap().to_string(),
                c["expires"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn state_of(t: &Topology, port: u16) -> Option<(String, u64)> {
    conns(t)
        .into_iter()
        .find(|c| c.0 == port)
        .map(|(_, s, e)| (s, e))
}

fn line(s: &mut TcpStream) {
    let a = exchange(s, "hello").unwrap();
    assert_eq!(a, "rs0 hello");
}

#[test]
fn connections_are_listed_in_ipvs_s_states_per_forwarding_method() {
    require_root!();
    for (method, closed) in [
        (Method::Nat, "TIME_WAIT"),
        (Method::Dr, "FIN_WAIT"),
        (Method::Tun, "FIN_WAIT"),
    ] {
        let mut t = Topology::new(1, method);
        let _servers = t.line_servers(PORT);
        t.start_lbd(&t.config_on_port(&[1], PORT));
        let vip = SocketAddr::from((VIP, PORT));
        let (open, open_port, closed_port, reset_port);
        {
            let _in = t.client.enter();
            // Held open, a line answered.
            let mut o = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap();
            open_port = o.local_addr().unwrap().port();
            line(&mut o);
            open = o;
            // Closed the ordinary way: the client's FIN, then the real server's.
            let mut c = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap();
            closed_port = c.local_addr().unwrap().port();
            line(&mut c);
            drop(c);
            // Reset: SO_LINGER 0, so the client's close is a RST.
            let mut r = socket2_connect(vip, None).unwrap();
            reset_port = r.local_addr().unwrap().port();
            line(&mut r);
            drop(r);
        }
        let what = format!("{method:?}");
        let want = |port: u16, state: &str| -> bool {
            state_of(&t, port).is_some_and(|(s, _)| s == state)
        };
        let mut last = Vec::new();
        let ok = (0..40).any(|_| {
            last = conns(&t);
            let found = |port: u16, state: &str| last.iter().any(|c| c.0 == port && c.1 == state);
            let all = found(open_port, "ESTABLISHED")
                && found(closed_port, closed)
                && found(reset_port, "CLOSE");
            if !all {
                std::thread::sleep(Duration::from_millis(250));
            }
            all
        });
        assert!(
            ok,
            "{what}: ports {open_port} ESTABLISHED, {closed_port} {closed}, {reset_port} CLOSE; \
             listed {last:?}"
        );
        let (_, left) = state_of(&t, reset_port).unwrap();
        assert!(left <= 10, "{what}: CLOSE lasts 10 s, {left} left");
        let (_, left) = state_of(&t, closed_port).unwrap();
        assert!(
            (100..=120).contains(&left),
            "{what}: {closed} lasts 120 s, {left} left"
        );
        // /proc/net/ip_vs_conn's text names the same states.
        let proc = t.lbctl(&["proc", "ip_vs_conn"]);
        for (port, state) in [
            (open_port, "ESTABLISHED"),
            (closed_port, closed),
            (reset_port, "CLOSE"),
        ] {
            let hex = format!(" {port:04X} ");
            assert!(
                proc.lines()
                    .any(|l| l.contains(&hex) && l.split_whitespace().nth(7) == Some(state)),
                "{what}: port {port} in {state}:\n{proc}"
            );
        }
        // Active: the established one; inactive: the two closing ones.
        let v = t.listing();
        let r = real(service(&v, VIP, PORT), lb_tests::consts::real_addr(0));
        assert_eq!(
            (r["active_conns"].as_u64(), r["inactive_conns"].as_u64()),
            (Some(1), Some(2)),
            "{what}: {v}"
        );
        // The reset one goes after its 10 s (lbd's pass every 2 s); the others stay.
        lb_tests::wait_until(Duration::from_secs(20), &what, || {
            state_of(&t, reset_port).is_none()
        });
        assert!(want(open_port, "ESTABLISHED"), "{what}");
        assert!(want(closed_port, closed), "{what}");
        drop(open);
    }
}
