//! What the tests of ipvsadm's processing share: a name table and the way to run a command
//! line.

use std::net::Ipv4Addr;

use lb_model::{
    api::{RealSpec, ServiceKey, ServiceSpec},
    config::{RealServerConfig, ServiceConfig},
};

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
        fwmark: None,
    }
}

pub(super) fn spec(p: &str, vip: &str, port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        scheduler: sched.into(),
        ..ServiceConfig::adopted(p.parse().unwrap(), vip.parse().unwrap(), port).raw()
    }
}

pub(super) fn real(addr: &str, port: u16, fwd: &str, weight: u32) -> RealSpec {
    RealSpec {
        port: Some(port),
        weight,
        forwarding: fwd.into(),
        ..RealServerConfig::adopted(addr.parse().unwrap()).raw()
    }
}
