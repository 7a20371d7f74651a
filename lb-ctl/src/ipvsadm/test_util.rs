//! What the tests of ipvsadm's processing share: a name table and the way to run a command
//! line.

use std::net::Ipv4Addr;

use lb_common::api::{RealSpec, ServiceKey, ServiceSpec};

use super::{lookup::Lookup, process::resolve_with};
use crate::{cli::Cli, command::Command};

/// Looks up names from a fixed table: tests never ask the network.
pub(super) struct Table;

impl Lookup for Table {
    fn host(&self, name: &str) -> Option<Ipv4Addr> {
        (name == "www.example.test").then(|| Ipv4Addr::new(192, 0, 2, 80))
    }
    fn service(&self, name: &str, _: &str) -> Option<u16> {
        match name {
            "http" => Some(80),
            "domain" => Some(53),
            _ => None,
        }
    }
}

pub(super) fn run(args: &[&str]) -> Result<Command, String> {
    let cli = Cli::parse_args(args).map_err(|e| format!("clap: {e}"))?;
    resolve_with(&cli, &Table).map_err(|e| e.0)
}

pub(super) fn key(p: &str, vip: &str, port: u16) -> ServiceKey {
    ServiceKey {
        protocol: p.into(),
        vip: vip.parse().unwrap(),
        port,
    }
}

pub(super) fn spec(p: &str, vip: &str, port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key: key(p, vip, port),
        scheduler: sched.into(),
        persistent: None,
        persistent_netmask: None,
        sched_flags: vec![],
        one_packet: false,
        mh_table_size: None,
    }
}

pub(super) fn real(addr: &str, port: u16, fwd: &str, weight: u32) -> RealSpec {
    RealSpec {
        address: addr.parse().unwrap(),
        port,
        weight,
        forwarding: fwd.into(),
        tun_type: None,
        tun_port: None,
        tun_csum: None,
        upper_threshold: None,
        lower_threshold: None,
    }
}
