//! Persistence templates (ipvsadm `-p`, `-M`): the key of a client network's template (also the key
//! of the locality table).

#[cfg(doc)]
use crate::{Conn, map_name};

/// A persistence template's key (value of [`map_name::PERSIST`]: a [`Conn`] whose `real` is
/// the real server the client network sticks to): the service and the client's address
/// masked to the service's persistence prefix.
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
