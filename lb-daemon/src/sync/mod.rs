//! Connection synchronisation between directors (IPVS's sync daemon): the version 1 wire
//! codec ([`wire`]), the receiver's accounting ([`receive`]), and the daemon that sends this
//! director's connections and applies the others' ([`daemon`]), and the bulk sync of a
//! director that starts ([`bulk`]), and the optional authentication of messages ([`auth`]).
//!
//! Every director may send and receive (active/active as well as master/backup). A received
//! record becomes an entry of the connection table marked as synced; a datagram that is not a
//! well-formed message of this director's syncid is counted and changes nothing.

pub mod auth;
pub mod bulk;
pub mod daemon;
pub mod receive;
pub mod socket;
pub mod wire;
