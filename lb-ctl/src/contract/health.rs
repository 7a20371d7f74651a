//! `lbctl health --json`: every real server's health check, state and drain.

use std::net::IpAddr;

use lb_model::api::ServiceView;
use schemars::JsonSchema;
use serde::Serialize;

use super::{
    services::{RealHealth, ServiceHealth, protocol},
    types::ip,
    version::Version,
};

/// `lbctl health --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl health --json")]
pub struct Health {
    pub version: Version,
    pub services: Vec<ServiceHealthEntry>,
}

/// A service's health and its real servers'.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceHealthEntry {
    #[schemars(schema_with = "protocol")]
    pub protocol: String,
    #[schemars(schema_with = "ip")]
    pub vip: IpAddr,
    pub port: u16,
    pub health: Option<ServiceHealth>,
    pub real_servers: Vec<RealHealthEntry>,
}

/// A real server's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RealHealthEntry {
    #[schemars(schema_with = "ip")]
    pub address: IpAddr,
    pub port: u16,
    /// The configured weight.
    pub weight: u32,
    pub health: Option<RealHealth>,
}

impl Health {
    pub fn new(services: &[ServiceView]) -> Self {
        Self {
            version: Version,
            services: services
                .iter()
                .map(|s| ServiceHealthEntry {
                    protocol: s.protocol.clone(),
                    vip: s.vip,
                    port: s.port,
                    health: s.health.as_ref().map(ServiceHealth::from),
                    real_servers: s
                        .real_servers
                        .iter()
                        .map(|r| RealHealthEntry {
                            address: r.address,
                            port: r.port,
                            weight: r.weight,
                            health: r.health.as_ref().map(RealHealth::from),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
