//! SCTP services live, between network namespaces with XDP in native mode, over IPv4 and
//! IPv6: a `nat` VIP whose real server listens on another port, so that the director
//! rewrites ports and CRC32c both ways; `dr` and every tunnel, which carry the packets
//! unchanged.
//!
//! This machine's kernel has no SCTP (`CONFIG_IP_SCTP` is not set, and there is no module to
//! load), so the association is played by raw IP sockets (protocol 132) on both ends: the
//! client sends INIT, COOKIE ECHO, DATA, SHUTDOWN and SHUTDOWN COMPLETE, the real server
//! answers INIT ACK, COOKIE ACK, SACK with DATA and SHUTDOWN ACK, each packet built here with
//! its CRC32c from the `crc` crate and checked on arrival byte for byte (addresses, ports,
//! CRC32c, chunks). Where the kernel has SCTP, a second test runs a real association
//! (python3's `socket.IPPROTO_SCTP`) through the VIP; here it is skipped, and `cargo xtask
//! test` lists it as skipped.

use std::{
    net::IpAddr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    process::Command,
    time::Duration,
};

use lb_tests::{
    config::{config, real, sctp_service},
    consts::{CLIENT, CLIENT6, VIP, VIP6, real_addr, real_addr6},
    netns::Netns,
    packet::{
        IPPROTO_SCTP, SCTP_COOKIE_ACK, SCTP_COOKIE_ECHO, SCTP_DATA, SCTP_INIT_ACK, SCTP_SACK,
        SCTP_SHUTDOWN, SCTP_SHUTDOWN_ACK, SCTP_SHUTDOWN_COMPLETE, sctp, sctp_chunk, sctp_crc_ok,
        sctp_init,
    },
    require_root,
    topo::{Method, Topology},
};
use serde_json::Value;

/// The VIP's port and the real server's (different: `nat` rewrites the port, so the CRC32c).
const VPORT: u16 = 7132;
const RPORT: u16 = 7133;
const CPORT: u16 = 45132;

/// A socket address of `a` (port 0: raw sockets have none) and its length.
fn sockaddr(a: IpAddr) -> (libc::sockaddr_storage, u32) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        IpAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { (&mut ss as *mut _ as *mut libc::sockaddr_in).write(sa) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { (&mut ss as *mut _ as *mut libc::sockaddr_in6).write(sa) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as u32)
}

/// A raw socket of protocol 132 (IPv4 or IPv6) in a namespace: it sends SCTP packets as they
/// are given (the kernel adds the IP header) and receives every SCTP packet to the
/// namespace.
struct Raw {
    fd: OwnedFd,
    v6: bool,
}

impl Raw {
    fn open(ns: &Netns, v6: bool) -> Self {
        let _in = ns.enter();
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain socket(2); the descriptor is owned below.
        let fd = unsafe { libc::socket(family, libc::SOCK_RAW, IPPROTO_SCTP as i32) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: a descriptor just returned to us.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: a valid timeval for SO_RCVTIMEO.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        assert_eq!(r, 0, "SO_RCVTIMEO");
        Raw { fd, v6 }
    }

    /// Sends from `addr` (an address of the namespace: a `dr` / `tun` real server's VIP).
    fn bind(&self, addr: IpAddr) {
        let (sa, len) = sockaddr(addr);
        // SAFETY: a valid address for bind(2).
        let r = unsafe { libc::bind(self.fd.as_raw_fd(), &sa as *const _ as *const _, len) };
        assert_eq!(r, 0, "bind {addr}: {}", std::io::Error::last_os_error());
    }

    fn send(&self, to: IpAddr, seg: &[u8]) {
        let (sa, len) = sockaddr(to);
        // SAFETY: a valid buffer and address for sendto(2).
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                seg.as_ptr() as *const libc::c_void,
                seg.len(),
                0,
                &sa as *const _ as *const libc::sockaddr,
                len,
            )
        };
        assert_eq!(
            n,
            seg.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next SCTP packet to `dport` (others are skipped, at most 100): its IP source, its
    /// IP destination (IPv4: from the header a raw IPv4 socket gets; IPv6, whose raw sockets
    /// get no header: None, the packet having been delivered to this namespace) and the SCTP
    /// packet.
    fn recv(&self, dport: u16) -> (IpAddr, Option<IpAddr>, Vec<u8>) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..100 {
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut flen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            // SAFETY: valid buffers for recvfrom(2).
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut flen,
                )
            };
            assert!(
                n > 0,
                "no SCTP packet came: {}",
                std::io::Error::last_os_error()
            );
            let data = &buf[..n as usize];
            let (src, dst, seg) = if self.v6 {
                // SAFETY: an AF_INET6 socket's peer address.
                let sa = unsafe { *(&from as *const _ as *const libc::sockaddr_in6) };
                (IpAddr::from(sa.sin6_addr.s6_addr), None, data.to_vec())
            } else {
                let a = |o: usize| IpAddr::from([data[o], data[o + 1], data[o + 2], data[o + 3]]);
                let hl = ((data[0] & 0xf) as usize) * 4;
                (a(12), Some(a(16)), data[hl..].to_vec())
            };
            if seg.len() >= 16 && u16::from_be_bytes([seg[2], seg[3]]) == dport {
                return (src, dst, seg);
            }
        }
        panic!("100 SCTP packets to other ports");
    }
}

/// The association's state as `lbctl -L -c --json` lists it (the one to `vip`).
fn state(t: &Topology, vip: IpAddr) -> String {
    let v: Value = serde_json::from_str(&t.lbctl(&["-L", "-c", "-n", "--json"])).unwrap();
    let c = v["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["client_port"] == CPORT && c["vport"] == VPORT && c["vip"] == vip.to_string())
        .unwrap_or_else(|| panic!("the association is listed: {v}"))
        .clone();
    assert_eq!(c["protocol"], "sctp", "{c}");
    c["state"].as_str().unwrap().to_string()
}

/// Plays one association of the client through the VIP to the real server of `method`:
/// `nat` to another port (the director rewrites both ways), `dr` and `tun` (IPIP, GUE, GRE)
/// to the VIP's port, the real server answering from the VIP straight to the client.
fn association(method: Method, v6: bool) {
    let mut t = Topology::new(1, method);
    let (vip, rip, client_addr): (IpAddr, IpAddr, IpAddr) = if v6 {
        (VIP6.into(), real_addr6(0).into(), CLIENT6.into())
    } else {
        (VIP.into(), real_addr(0).into(), CLIENT.into())
    };
    let nat = method == Method::Nat;
    let rport = if nat { RPORT } else { VPORT };
    // The config names the real server by one family's address: the one to resolve.
    t.start_lbd_resolving(
        &config().pin_dir(&t.pin_dir).service(
            sctp_service(vip, VPORT)
                .scheduler("rr")
                .real(t.real_server(rip).port(rport)),
        ),
        &[rip],
    );
    let client = Raw::open(&t.client, v6);
    let server = Raw::open(&t.reals[0], v6);
    // The real server gets the packets to its address (`nat`) or to the VIP (on its
    // loopback), and then answers from the VIP.
    let server_dst = if nat { rip } else { vip };
    if !nat {
        server.bind(vip);
    }
    let v = if v6 { "IPv6" } else { "IPv4" };
    let (vtag_c, vtag_s) = (0x0c11_ee47_u32, 0x005e_4be4_u32);
    // One step each way: what the sender sends is what the receiver must get, with the
    // addresses and ports the director gives it and a CRC32c that verifies.
    let to_server = |chunks: &[u8], what: &str| {
        client.send(vip, &sctp(CPORT, VPORT, vtag_s, chunks));
        let (src, dst, seg) = server.recv(rport);
        let what = format!("{v} {method:?} {what}");
        assert_eq!(src, client_addr, "{what}: source");
        assert!(dst.is_none_or(|d| d == server_dst), "{what}: {dst:?}");
        assert_eq!(seg, sctp(CPORT, rport, vtag_s, chunks), "{what}: the bytes");
        assert!(sctp_crc_ok(&seg), "{what}: CRC32c");
    };
    let to_client = |chunks: &[u8], what: &str| {
        server.send(client_addr, &sctp(rport, CPORT, vtag_c, chunks));
        let (src, dst, seg) = client.recv(CPORT);
        let what = format!("{v} {method:?} {what}");
        assert_eq!(src, vip, "{what}: source");
        assert!(dst.is_none_or(|d| d == client_addr), "{what}: {dst:?}");
        assert_eq!(seg, sctp(VPORT, CPORT, vtag_c, chunks), "{what}: the bytes");
        assert!(sctp_crc_ok(&seg), "{what}: CRC32c");
    };
    // The state lb lists: `nat` sees both directions (IPVS's input and output tables),
    // `dr` and `tun` the client's packets alone (the input-only table).
    let expect = |nat_state: &str, client_only: &str| {
        let want = if nat { nat_state } else { client_only };
        assert_eq!(state(&t, vip), want, "{v} {method:?}");
    };
    // INIT carries the client's tag; its common header's tag is 0 (RFC 9260 8.5.1).
    client.send(vip, &sctp(CPORT, VPORT, 0, &sctp_init(vtag_c)));
    let (src, _, seg) = server.recv(rport);
    assert_eq!(src, client_addr, "{v} {method:?} INIT: source");
    assert_eq!(
        seg,
        sctp(CPORT, rport, 0, &sctp_init(vtag_c)),
        "{v} {method:?} INIT"
    );
    expect("INIT1", "INIT1");
    to_client(&sctp_chunk(SCTP_INIT_ACK, 0, &[0x1a; 40]), "INIT ACK");
    expect("C-SENT", "INIT1");
    to_server(&sctp_chunk(SCTP_COOKIE_ECHO, 0, &[0xc0; 24]), "COOKIE ECHO");
    expect("C-REPLIED", "ESTABLISHED");
    to_client(&sctp_chunk(SCTP_COOKIE_ACK, 0, &[]), "COOKIE ACK");
    expect("ESTABLISHED", "ESTABLISHED");
    let listing = t.lbctl(&["-L", "-c", "-n"]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("SCTP") && l.contains("ESTABLISHED")),
        "{listing}"
    );
    // Data both ways, of lengths that take the CRC32c update over many bytes.
    let up: Vec<u8> = (0..1200u32).map(|i| (i * 31 + 7) as u8).collect();
    let down: Vec<u8> = (0..999u32).map(|i| (i * 17 + 3) as u8).collect();
    to_server(&sctp_chunk(SCTP_DATA, 3, &up), "DATA up");
    let mut sack_data = sctp_chunk(SCTP_SACK, 0, &[0; 12]);
    sack_data.extend(sctp_chunk(SCTP_DATA, 3, &down));
    to_client(&sack_data, "SACK + DATA down");
    to_server(&sctp_chunk(SCTP_SACK, 0, &[0; 12]), "SACK up");
    expect("ESTABLISHED", "ESTABLISHED");
    // The client closes.
    to_server(&sctp_chunk(SCTP_SHUTDOWN, 0, &[0; 4]), "SHUTDOWN");
    expect("S-RECEIVED", "S-RECEIVED");
    to_client(&sctp_chunk(SCTP_SHUTDOWN_ACK, 0, &[]), "SHUTDOWN ACK");
    expect("S-ACK-SENT", "S-RECEIVED");
    to_server(
        &sctp_chunk(SCTP_SHUTDOWN_COMPLETE, 0, &[]),
        "SHUTDOWN COMPLETE",
    );
    expect("CLOSED", "CLOSED");
    // ipvsadm's listings of the service.
    let list = t.lbctl(&["-L", "-n"]);
    assert!(
        list.lines().any(|l| l.starts_with("SCTP ")
            && l.contains(&format!("{}:{VPORT}", bracket(vip)))
            && l.trim_end().ends_with("rr")),
        "{list}"
    );
    let save = t.lbctl(&["-S", "-n"]);
    assert!(
        save.contains(&format!("-A --sctp-service {}:{VPORT} -s rr", bracket(vip)))
            && save.contains(&format!(
                "-a --sctp-service {}:{VPORT} -r {}:{rport}",
                bracket(vip),
                bracket(rip)
            )),
        "{save}"
    );
}

/// An address as ipvsadm prints it before a port (IPv6 in brackets).
fn bracket(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

#[test]
fn an_sctp_association_through_a_nat_vip_carries_data_both_ways_with_new_crc32c() {
    require_root!();
    association(Method::Nat, false);
    association(Method::Nat, true);
}

#[test]
fn an_sctp_association_by_dr_and_every_tunnel_reaches_the_real_server_unchanged() {
    require_root!();
    for m in [Method::Dr, Method::Tun, Method::Gue, Method::Gre] {
        association(m, false);
    }
    for m in [Method::Dr, Method::Tun] {
        association(m, true);
    }
}

#[test]
fn lbctl_adds_an_sctp_service_as_ipvsadm_does() {
    require_root!();
    let mut t = Topology::new(1, Method::Nat);
    // No service yet: no real server to resolve.
    t.start_lbd_resolving(&config().pin_dir(&t.pin_dir), &[]);
    let rip = real_addr(0);
    t.lbctl_line(&format!("ipvsadm -A --sctp-service {VIP}:{VPORT} -s sh"));
    t.lbctl_line(&format!(
        "ipvsadm -a --sctp-service {VIP}:{VPORT} -r {rip}:{RPORT} -m -w 3"
    ));
    t.wait_neighbours(&[rip.into()]);
    let save = t.lbctl(&["-S", "-n"]);
    assert!(
        save.contains(&format!("-A --sctp-service {VIP}:{VPORT} -s sh"))
            && save.contains(&format!(
                "-a --sctp-service {VIP}:{VPORT} -r {rip}:{RPORT} -m -w 3"
            )),
        "{save}"
    );
    // It forwards: an INIT reaches the real server on its port.
    let client = Raw::open(&t.client, false);
    let server = Raw::open(&t.reals[0], false);
    client.send(VIP.into(), &sctp(CPORT, VPORT, 0, &sctp_init(7)));
    let (_, dst, seg) = server.recv(RPORT);
    assert_eq!(
        (dst, seg),
        (Some(rip.into()), sctp(CPORT, RPORT, 0, &sctp_init(7)))
    );
    t.lbctl_line(&format!("ipvsadm -D --sctp-service {VIP}:{VPORT}"));
    assert!(!t.lbctl(&["-S", "-n"]).contains("sctp"));
}

/// Whether this kernel opens SCTP sockets (after `modprobe sctp`, where there is one).
fn kernel_has_sctp() -> bool {
    let _ = Command::new("modprobe").arg("sctp").output();
    // SAFETY: plain socket(2), closed at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, IPPROTO_SCTP as i32) };
    if fd < 0 {
        return false;
    }
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    true
}

#[test]
fn a_kernel_sctp_association_through_a_nat_vip_echoes_its_data() {
    require_root!();
    if !kernel_has_sctp() {
        lb_tests::skip!(
            "live-sctp-kernel-association",
            "this kernel has no SCTP (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails, \
             modprobe sctp did not help: CONFIG_IP_SCTP)"
        );
    }
    let mut t = Topology::new(1, Method::Nat);
    let rip = real_addr(0);
    t.start_lbd(
        &config().pin_dir(&t.pin_dir).service(
            sctp_service(VIP, VPORT)
                .scheduler("rr")
                .real(real(rip).port(RPORT).nat()),
        ),
    );
    // The veths offer SCTP CRC offload: a sender would leave its CRC32c to "hardware",
    // which lb does not finish (see the README's SCTP section).
    t.client
        .exec(&["ethtool", "-K", "eth0", "tx-checksum-sctp", "off"]);
    t.reals[0].exec(&["ethtool", "-K", "eth0", "tx-checksum-sctp", "off"]);
    let server = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)\n\
         s.bind(('0.0.0.0', {RPORT})); s.listen(1); s.settimeout(10)\n\
         c, _ = s.accept(); c.settimeout(10)\n\
         got = b''\n\
         while len(got) < 100000:\n\
         \x20   b = c.recv(65536)\n\
         \x20   if not b: break\n\
         \x20   got += b\n\
         c.sendall(bytes(reversed(got))); c.close()\n"
    );
    let mut srv = Command::new("ip")
        .args(["netns", "exec", &t.reals[0].name, "python3", "-c", &server])
        .spawn()
        .expect("python3 SCTP server");
    std::thread::sleep(Duration::from_millis(500));
    let client = format!(
        "import socket, sys\n\
         data = bytes((i * 7 + 1) % 251 for i in range(100000))\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)\n\
         s.settimeout(10); s.connect(('{VIP}', {VPORT})); s.sendall(data)\n\
         got = b''\n\
         while len(got) < len(data):\n\
         \x20   b = s.recv(65536)\n\
         \x20   if not b: break\n\
         \x20   got += b\n\
         sys.exit(0 if got == bytes(reversed(data)) else 1)\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &t.client.name, "python3", "-c", &client])
        .output()
        .expect("python3 SCTP client");
    let _ = srv.kill();
    let _ = srv.wait();
    assert!(
        out.status.success(),
        "the echo through the VIP differs: {out:?}"
    );
}
