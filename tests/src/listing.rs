//! Reading what lbd tells about itself in the live tests: `lbctl --json` listings and status,
//! and the Prometheus endpoint, with the lookups the tests make in them.

use std::{
    collections::BTreeMap,
    fmt::Display,
    io::{Read, Write},
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    netns::Netns,
    topo::{Topology, http_get},
};

/// The service `vip`:`port` in a `lbctl -L --json` listing.
pub fn service(listing: &Value, vip: impl Display, port: u16) -> &Value {
    let vip = vip.to_string();
    listing["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["vip"] == vip.as_str() && s["port"] == port)
        .unwrap_or_else(|| panic!("no service {vip}:{port} in {listing}"))
}

/// The real server at `address` of a service of a listing.
pub fn real(svc: &Value, address: impl Display) -> &Value {
    let address = address.to_string();
    svc["real_servers"]
        .as_array()
        .expect("real_servers")
        .iter()
        .find(|r| r["address"] == address.as_str())
        .unwrap_or_else(|| panic!("no real server {address} in {svc}"))
}

/// The connections of a listed service's real servers (`--stats`), summed.
pub fn real_servers_conns(svc: &Value) -> u64 {
    svc["real_servers"]
        .as_array()
        .expect("real_servers")
        .iter()
        .map(|r| r["stats"]["conns"].as_u64().expect("stats.conns"))
        .sum()
}

/// The sum of the metric samples whose line starts with `prefix` (a name and labels).
pub fn sample_sum(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// The value of the one sample line starting with `prefix` (name and labels).
pub fn sample(metrics: &str, prefix: &str) -> f64 {
    let v: Vec<f64> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(v.len(), 1, "one sample {prefix}... wanted in\n{metrics}");
    v[0]
}

impl Topology {
    /// `lbctl -L -n --json`.
    pub fn listing(&self) -> Value {
        serde_json::from_str(&self.lbctl(&["-L", "-n", "--json"])).expect("listing is JSON")
    }

    /// `lbctl -L -n --stats --json`.
    pub fn stats_listing(&self) -> Value {
        serde_json::from_str(&self.lbctl(&["-L", "-n", "--stats", "--json"]))
            .expect("listing is JSON")
    }

    /// Reason counter `name` from `lbctl status --json`.
    pub fn reason(&self, name: &str) -> u64 {
        let s: Value = serde_json::from_str(&self.lbctl(&["status", "--json"])).unwrap();
        s["reasons"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no reason {name} in {s}"))
    }

    /// Polls the listing every 50 ms until `cond` holds; panics after `limit` with the last
    /// listing. Returns how long it took.
    pub fn wait_listing(
        &self,
        limit: Duration,
        what: &str,
        mut cond: impl FnMut(&Value) -> bool,
    ) -> Duration {
        let t0 = Instant::now();
        loop {
            let v = self.listing();
            if cond(&v) {
                return t0.elapsed();
            }
            assert!(t0.elapsed() < limit, "{what}: not within {limit:?}:\n{v:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET /metrics` from lbd's Prometheus endpoint (loopback of the director's namespace).
    pub fn scrape(&self) -> String {
        let _in = self.director.enter();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", 9406)).expect("metrics endpoint");
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.0 200"), "{resp}");
        resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
    }

    /// `n` HTTP GETs from the client to `vip` over new connections: every one must succeed;
    /// returns how many each real server answered (by the name in its answer).
    pub fn requests(&self, vip: SocketAddr, n: u32) -> BTreeMap<String, u32> {
        requests_from(&self.client, vip, n)
    }
}

/// `n` HTTP GETs from `client`'s namespace to `vip` over new connections: every one must
/// succeed; returns how many each real server answered (by the name in its answer).
pub fn requests_from(client: &Netns, vip: SocketAddr, n: u32) -> BTreeMap<String, u32> {
    let _in = client.enter();
    let mut answers = BTreeMap::new();
    for i in 0..n {
        let (status, body) =
            http_get(vip, None).unwrap_or_else(|e| panic!("{vip}: connection {i} failed: {e}"));
        assert_eq!(status, 200, "{vip}: connection {i}: {body}");
        *answers.entry(body.trim().to_string()).or_default() += 1;
    }
    answers
}
