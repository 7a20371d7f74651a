//! Virtual services: the key and value of `lb_services` (a VIP's address, port and protocol -> its
//! service) and the service flags.

#[cfg(doc)]
use crate::{FAMILY_V4, FAMILY_V6, PROTO_TCP, PROTO_UDP, map_name};

/// Capacities. Service and real-server ids index arrays of these sizes; id 0 is reserved as
/// "unset" so that an unfilled table slot is detectable.
pub const MAX_SERVICES: u32 = 4096;
/// [`Service::flags`]: not a service but a VIP address marker (key: the address, port 0,
/// protocol ICMP/ICMPv6), so that `lb` answers pings to every VIP. Written by lbd.
pub const SVC_F_VIP_ADDR: u32 = 1 << 0;
/// [`Service::flags`]: one-packet scheduling (ipvsadm `-o`, UDP): every datagram is scheduled
/// on its own, no connection entry is made, and each counts as a connection. Written by lbd.
pub const SVC_F_ONE_PACKET: u32 = 1 << 1;
/// A VIP: the key of [`map_name::SERVICES`]. Written by lbd, read by `lb` per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipKey {
    /// Network byte order. IPv4 uses `addr[0]`; the rest is zero.
    pub addr: [u32; 4],
    /// Network byte order.
    pub port: u16,
    /// IP protocol number ([`PROTO_TCP`], [`PROTO_UDP`]).
    pub proto: u8,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
}
const _: () = assert!(core::mem::size_of::<VipKey>() == 20);
/// A virtual service: the value of [`map_name::SERVICES`]. lbd replaces the whole value in
/// one map update (hash-map updates are atomic to readers), which is how a change of
/// scheduler table is flipped: the new table is written into a region no reader uses yet, and
/// then the service is pointed at it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Index into [`map_name::SVC_STATS`]; 1..[`MAX_SERVICES`].
    pub id: u32,
    /// `SVC_F_*` flags.
    pub flags: u32,
    /// `SCHED_*`.
    pub sched: u8,
    /// Persistence (ipvsadm `-M`): prefix length of the client network a persistence template
    /// covers (32 / 128 = one address).
    pub persist_prefix: u8,
    /// `SCHED_F_*` (ipvsadm `-b`).
    pub sched_flags: u8,
    pub _pad: u8,
    /// First slot of this service's current table in [`map_name::SCHED_TABLE`].
    pub table_off: u32,
    /// Number of slots; 0 means the service has no real server to schedule to.
    pub table_len: u32,
    /// Persistence timeout in seconds (ipvsadm `-p`); 0: not persistent.
    pub persist_timeout: u32,
}
const _: () = assert!(core::mem::size_of::<Service>() == 24);
