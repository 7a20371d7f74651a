//! Network-namespace fixtures: a guard that deletes its namespace on Drop (also when the test
//! panics), a way to run commands in it, and a way for the current thread to enter it.

use std::{
    fs::File,
    os::fd::AsRawFd,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `lbt<pid>x<n><tag>`.
pub fn unique_name(tag: &str) -> String {
    format!(
        "lbt{}x{}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        tag
    )
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace that exists as long as this value.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let name = unique_name(tag);
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A veth pair: `dev` here, its peer `peer_dev` in `peer`.
    pub fn veth_to(&self, dev: &str, peer: &Netns, peer_dev: &str) {
        self.ip(&[
            "link", "add", dev, "type", "veth", "peer", "name", peer_dev, "netns", &peer.name,
        ]);
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Runs a program inside the namespace (`ip netns exec`).
    pub fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Sets a sysctl of this namespace (e.g. `net.ipv4.conf.eth0.forwarding`).
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// Moves the calling thread into the namespace until the returned guard drops.
    pub fn enter(&self) -> Entered {
        let orig = File::open("/proc/thread-self/ns/net").expect("own netns");
        let target = File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        // SAFETY: setns on namespace fds affects only this thread's network namespace.
        let rc = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns {}: {}",
            self.name,
            std::io::Error::last_os_error()
        );
        Entered { orig }
    }

    /// A permanent neighbour entry: `addr` is at `mac` on `dev`.
    pub fn neighbour(&self, dev: &str, addr: std::net::IpAddr, mac: [u8; 6]) {
        let mac = mac.map(|b| format!("{b:02x}")).join(":");
        self.ip(&[
            "neigh",
            "replace",
            &addr.to_string(),
            "lladdr",
            &mac,
            "dev",
            dev,
            "nud",
            "permanent",
        ]);
    }

    pub fn ifindex(&self, dev: &str) -> u32 {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        out.split(':')
            .next()
            .unwrap()
            .trim()
            .parse()
            .expect("ifindex")
    }

    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        let mac = out
            .split("link/ether ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("link/ether in ip link output");
        parse_mac(mac)
    }
}

pub fn parse_mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect();
    v.try_into().expect("6 octets")
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Killing what still runs inside first lets the deletion free the namespace at once.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The calling thread is inside a namespace; dropping this returns it to where it was.
pub struct Entered {
    orig: File,
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: as in Netns::enter.
        unsafe { libc::setns(self.orig.as_raw_fd(), libc::CLONE_NEWNET) };
    }
}
