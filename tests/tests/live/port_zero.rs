//! A persistent port-0 service, made with ipvsadm's own words (`-A -t VIP -p`, no port):
//! HTTP and a second TCP port of one client reach one real server, over `nat` (which keeps
//! each connection's port both ways) and `dr`.

use std::net::{IpAddr, SocketAddr};

use lb_tests::{
    config::config,
    consts::{NAT_PORT, VIP, VIP_PORT, real_addr},
    require_root,
    topo::{Method, Topology},
};

const LINE_PORT: u16 = 7000;

fn http_and_a_second_port_reach_one_real_server(method: Method, flag: &str) {
    let mut t = Topology::new(2, method);
    let lines = t.line_servers(LINE_PORT);
    t.start_lbd_resolving(&config().conn_table_size(65536).pin_dir(&t.pin_dir), &[]);
    let vip = VIP.to_string();
    // rr alone would alternate between the two real servers; -t without a port is port 0.
    t.lbctl(&["-A", "-t", &vip, "-s", "rr", "-p", "300"]);
    for i in 0..2 {
        t.lbctl(&["-a", "-t", &vip, "-r", &real_addr(i).to_string(), flag]);
    }
    t.wait_neighbours(&[real_addr(0).into(), real_addr(1).into()]);
    let listing = t.lbctl(&["-L", "-n"]);
    assert!(
        listing.contains(&format!("TCP  {vip}:0 rr persistent 300\n")),
        "{listing}"
    );
    let saved = t.lbctl(&["-S", "-n"]);
    assert!(
        saved.contains(&format!("-A -t {vip}:0 -s rr -p 300\n"))
            && saved.contains(&format!("-a -t {vip}:0 -r {}:0 ", real_addr(0))),
        "{saved}"
    );
    let http_port = if method == Method::Nat {
        NAT_PORT
    } else {
        VIP_PORT
    };
    let http = SocketAddr::new(IpAddr::V4(VIP), http_port);
    let line = SocketAddr::new(IpAddr::V4(VIP), LINE_PORT);
    t.assert_one_real_server_for_http_and_lines(http, line, &lines);
}

#[test]
fn a_persistent_port_zero_nat_service_keeps_every_port_of_a_client_on_one_real_server() {
    require_root!();
    http_and_a_second_port_reach_one_real_server(Method::Nat, "-m");
}

#[test]
fn a_persistent_port_zero_dr_service_keeps_every_port_of_a_client_on_one_real_server() {
    require_root!();
    http_and_a_second_port_reach_one_real_server(Method::Dr, "-g");
}
