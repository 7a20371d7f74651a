//! Persistence templates (ipvsadm `-p`, `-M`): the key of a client network's template (also the key
//! of the locality table).

#[cfg(doc)]
use crate::map_name;

/// A persistence template's key (value of [`map_name::PERSIST`]: a [`Template`]): the service
/// and the client's address masked to the service's persistence prefix.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PersistKey {
    pub service: u32,
    pub family: u8,
    pub _pad: [u8; 3],
    /// Network byte order, masked.
    pub addr: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<PersistKey>() == 24);

/// A persistence template: the value of [`map_name::PERSIST`]. Inserted and refreshed by `lb`
/// when a persistent service gets a new connection; expired by lbd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Template {
    /// The real server the client network's new connections go to.
    pub real: u32,
    /// The service (the key's, repeated for lbd's accounting).
    pub service: u32,
    /// CLOCK_MONOTONIC (coarse) when it was last used.
    pub last_seen_ns: u64,
    /// `TEMPLATE_F_*`: 0 for a template `lb` created.
    pub flags: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<Template>() == 24);

/// [`Template::flags`]: learnt from another director's sync message (IPVS's
/// `IP_VS_CONN_F_SYNC`), inserted and refreshed by lbd, never sent on; cleared by `lb` when it
/// gives a new connection its real server (the template is this director's from then on).
pub const TEMPLATE_F_SYNCED: u32 = 1;
