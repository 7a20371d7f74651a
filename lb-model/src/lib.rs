//! lb's typed model, shared by lbd and lbctl: the names of schedulers, forwarding methods,
//! protocols and tunnels as enums with their kernel codes ([`scheduler`], [`forwarding`],
//! [`protocol`], [`names`]), address conversions ([`addr`]), and the config with its parse,
//! validation, diff and JSON Schema ([`config`]). User space only: the kernel side reads
//! lb-common's plain integers.

pub mod addr;
pub mod api;
pub mod config;
pub mod forwarding;
pub mod names;
pub mod protocol;
pub mod scheduler;
pub mod sysctl;

pub use crate::{
    forwarding::{Forwarding, TunCsum, TunType},
    names::{Named, UnknownName},
    protocol::Protocol,
    scheduler::{SchedFlag, Scheduler},
};
