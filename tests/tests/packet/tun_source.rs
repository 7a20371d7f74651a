//! The outer source of `tun` packets when the config names no director address: the one the
//! kernel's route toward the real server gives (its preferred source, as IPVS takes it),
//! followed when the route changes; a configured address overrides it.

use std::net::{IpAddr, Ipv4Addr};

use lb_tests::{
    config::{config, real, tcp_service},
    consts::{DIRECTOR, REMOTE_CLIENT, REMOTE_CLIENT6, VIP, VIP6, real_addr, real_addr6},
    expect::{Encap, fix_ipv4_csum, tunnelled},
    fixture::Fixture,
    flow::flow_key,
    packet::{IPPROTO_TCP, ipv4_csum_ok},
    require_root,
    testrun::Harness,
};

/// Another address of the director's eth0, the preferred source of a route the test adds.
const OTHER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

#[test]
fn without_a_director_address_the_outer_source_is_the_routes_and_follows_it() {
    require_root!();
    let (real4, real6) = (real_addr(0), real_addr6(0));
    let services = config()
        .no_director()
        .service(tcp_service(VIP, 80).mh(251).real(real(real4).tun()))
        .service(tcp_service(VIP6, 80).mh(251).real(real(real6).tun()));
    let neighbours: [IpAddr; 2] = [real4.into(), real6.into()];
    let mut h = Harness::new(&services, &neighbours);
    let me = h.if_mac;
    let syn4 = h.syn(REMOTE_CLIENT, VIP, 40000, 80);
    let syn6 = h.syn(REMOTE_CLIENT6, VIP6, 40000, 80);
    let flow4 = flow_key(REMOTE_CLIENT, VIP, 40000, 80, IPPROTO_TCP);
    let flow6 = flow_key(REMOTE_CLIENT6, VIP6, 40000, 80, IPPROTO_TCP);
    // eth0's addresses (DIRECTOR, DIRECTOR6) are the routes' sources: the frames are those a
    // director configured with them sends.
    h.run_fixtures(&[
        Fixture::new("IPIP, the source from the route", syn4.clone())
            .tx(tunnelled(me, &syn4[14..], real4, Encap::Ip, &flow4))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("IPv6 in IPv6, the source from the route", syn6.clone())
            .tx(tunnelled(me, &syn6[14..], real6, Encap::Ip, &flow6))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
    // The route to the IPv4 real server gets another preferred source: once the cached next
    // hop expires (1 s), the tunnel's source follows it.
    h.ns.ip(&["addr", "add", &format!("{OTHER}/24"), "dev", "eth0"]);
    h.ns.ip(&[
        "route",
        "replace",
        &format!("{real4}/32"),
        "dev",
        "eth0",
        "src",
        &OTHER.to_string(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (syn, flow) = new_flow(&h, 40001);
    let mut want = tunnelled(me, &syn[14..], real4, Encap::Ip, &flow);
    want[26..30].copy_from_slice(&OTHER.octets());
    fix_ipv4_csum(&mut want[14..34]);
    let out = h.run_fixtures(&[Fixture::new("IPIP from the new preferred source", syn)
        .tx(want)
        .counters(&[("tx", 1), ("conn_new", 1)])]);
    assert!(ipv4_csum_ok(&out[0][14..]), "outer checksum");
    // A director address in the config overrides the route's.
    h.apply(
        &config()
            .director(DIRECTOR, lb_tests::consts::DIRECTOR6)
            .service(tcp_service(VIP, 80).mh(251).real(real(real4).tun()))
            .service(tcp_service(VIP6, 80).mh(251).real(real(real6).tun())),
    );
    let (syn, flow) = new_flow(&h, 40002);
    h.run_fixtures(&[
        Fixture::new("IPIP from the configured address", syn.clone())
            .tx(tunnelled(me, &syn[14..], real4, Encap::Ip, &flow))
            .counters(&[("tx", 1), ("conn_new", 1)]),
    ]);
}

/// A new connection's SYN from the remote client to VIP:80, and its flow.
fn new_flow(h: &Harness, sport: u16) -> (Vec<u8>, lb_common::FlowKey) {
    (
        h.syn(REMOTE_CLIENT, VIP, sport, 80),
        flow_key(REMOTE_CLIENT, VIP, sport, 80, IPPROTO_TCP),
    )
}
