//! lb's authentication of sync messages (an option of its own: IPVS has none). With a shared
//! key (`sync.auth_key_file`), every message a director sends ends in an lb TLV carrying a
//! sequence number and a MAC, and a receiver refuses (and counts) a message without a valid
//! one, or whose sequence number is not above the last it accepted from that sender (a
//! replay). Without a key nothing is added, and ipvsadm's plain messages are accepted as ever.
//!
//! The TLV follows the last record, at a 32-bit boundary, and is counted in the header's
//! size; the kernel's receiver reads `nr_conns` records and ignores what follows, so a kernel
//! IPVS backup still applies an authenticated message (without checking it):
//!
//! ```text
//! type = 0xa1 u8 | length = 28 u8 | reserved = 0 be16 | sequence be64 | MAC 16 bytes
//! MAC = the first 16 bytes of HMAC-SHA256(key, every byte of the message before the MAC)
//! ```
//!
//! The MAC covers the header (syncid, size, count) and every record. A sender's sequence
//! starts at the Unix time in nanoseconds when its lbd started and grows by one per message,
//! so a restarted sender's messages stay above those it sent before.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::wire::HEADER_LEN;

/// The TLV's type (an lb option, outside IPVS's `IPVS_OPT_*` numbers).
pub const TLV_TYPE: u8 = 0xa1;
/// The TLV's whole length: type, length, reserved, sequence, MAC.
pub const TLV_LEN: usize = 28;
/// The MAC's length (HMAC-SHA256 truncated to 128 bits).
pub const MAC_LEN: usize = 16;
/// The most bytes sealing adds to a message: padding to 32 bits, then the TLV.
pub const OVERHEAD: usize = 3 + TLV_LEN;
/// The shortest key accepted.
pub const MIN_KEY: usize = 16;

/// Why a message was refused by a receiver with a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum AuthError {
    #[error("no authentication TLV (a key is set: plain messages are refused)")]
    Unauthenticated,
    #[error("the MAC does not match (another key, or the message was changed)")]
    BadMac,
    #[error("sequence {got} is not above {last}, the last accepted from this sender (a replay)")]
    Replayed { got: u64, last: u64 },
}

/// A shared key and this director's sequence of sent messages.
pub struct Key {
    mac: Hmac<Sha256>,
    next: AtomicU64,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Key").finish_non_exhaustive()
    }
}

impl Key {
    /// A key of `bytes` (at least [`MIN_KEY`]); the first sequence number is `first`.
    pub fn new(bytes: &[u8], first: u64) -> Result<Self, String> {
        if bytes.len() < MIN_KEY {
            return Err(format!(
                "the key is {} bytes; at least {MIN_KEY} are needed",
                bytes.len()
            ));
        }
        let mac = Hmac::<Sha256>::new_from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(Self {
            mac,
            next: AtomicU64::new(first),
        })
    }

    /// The key in file `path` (one trailing newline is not part of it), the sequence starting
    /// at the Unix time in nanoseconds.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let mut bytes =
            std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        if bytes.ends_with(b"\n") {
            bytes.pop();
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Self::new(&bytes, now).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn tag(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.mac.clone();
        m.update(bytes);
        let full = m.finalize().into_bytes();
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&full[..MAC_LEN]);
        tag
    }

    /// `message` (a whole version 1 message) with the TLV appended under the next sequence
    /// number, its size field grown to match.
    pub fn seal(&self, mut message: Vec<u8>) -> Vec<u8> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        while !message.len().is_multiple_of(4) {
            message.push(0);
        }
        message.extend_from_slice(&[TLV_TYPE, TLV_LEN as u8, 0, 0]);
        message.extend_from_slice(&seq.to_be_bytes());
        let size = (message.len() + MAC_LEN) as u16;
        message[2..4].copy_from_slice(&size.to_be_bytes());
        let tag = self.tag(&message);
        message.extend_from_slice(&tag);
        message
    }

    /// The sequence number of an authentic `message` (its TLV at the end and its MAC
    /// right); the receiver then decodes the message as a plain one.
    pub fn open(&self, message: &[u8]) -> Result<u64, AuthError> {
        let n = message.len();
        if n < HEADER_LEN + TLV_LEN {
            return Err(AuthError::Unauthenticated);
        }
        let t = &message[n - TLV_LEN..];
        if t[0] != TLV_TYPE || t[1] != TLV_LEN as u8 || t[2..4] != [0, 0] {
            return Err(AuthError::Unauthenticated);
        }
        let mut m = self.mac.clone();
        m.update(&message[..n - MAC_LEN]);
        m.verify_truncated_left(&message[n - MAC_LEN..])
            .map_err(|_| AuthError::BadMac)?;
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&t[4..12]);
        Ok(u64::from_be_bytes(seq))
    }
}

/// The key of a `sync` section (`auth_key_file`), if it names one.
pub fn load(cfg: &lb_model::config::SyncConfig) -> Result<Option<std::sync::Arc<Key>>, String> {
    cfg.auth_key_file
        .as_deref()
        .map(|p| Key::from_file(p).map(std::sync::Arc::new))
        .transpose()
}

/// The last sequence number accepted from each sender (by address). Only senders holding the
/// key have entries, so the map grows with the directors, not with what an attacker sends.
#[derive(Debug, Default)]
pub struct Replay {
    last: HashMap<IpAddr, u64>,
}

impl Replay {
    /// Accepts `seq` from `from` if it is above the last one accepted from there.
    pub fn check(&mut self, from: IpAddr, seq: u64) -> Result<(), AuthError> {
        match self.last.get(&from) {
            Some(&last) if seq <= last => Err(AuthError::Replayed { got: seq, last }),
            _ => {
                self.last.insert(from, seq);
                Ok(())
            }
        }
    }
}
