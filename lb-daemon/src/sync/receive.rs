//! The receiving side of the sync daemon: every datagram is decoded, counted by outcome, and
//! the records of a good one are handed to whoever applies them. A bad datagram (garbage, cut
//! short, too long for its header, another version, another syncid) is counted by reason and
//! applies nothing. With a shared key ([`super::auth`]), a datagram without a valid MAC, or
//! replayed, is refused (and counted) before it is decoded.

use std::{net::IpAddr, sync::Arc};

use super::{
    auth::{AuthError, Key, Replay},
    wire::{self, MessageError, SyncConn},
};

/// What the receiver has seen since it started (`lbctl -L --daemon --stats`, metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecvCounters {
    /// Datagrams decoded as a version 1 message of this syncid.
    pub messages: u64,
    /// Records handed on to be applied.
    pub records: u64,
    /// Records of good messages skipped (unknown mandatory option, protocol, state).
    pub records_skipped: u64,
    /// Datagrams refused, by reason.
    pub too_short: u64,
    pub bad_size: u64,
    pub wrong_syncid: u64,
    pub wrong_version: u64,
    pub malformed: u64,
    /// With a key: datagrams without the authentication TLV, with a MAC that does not match,
    /// and with a sequence number not above the sender's last (replays).
    pub unauthenticated: u64,
    pub bad_mac: u64,
    pub replayed: u64,
}

impl RecvCounters {
    /// All refused datagrams.
    pub fn refused(&self) -> u64 {
        self.too_short
            + self.bad_size
            + self.wrong_syncid
            + self.wrong_version
            + self.malformed
            + self.unauthenticated
            + self.bad_mac
            + self.replayed
    }

    fn refuse_auth(&mut self, e: &AuthError) {
        match e {
            AuthError::Unauthenticated => self.unauthenticated += 1,
            AuthError::BadMac => self.bad_mac += 1,
            AuthError::Replayed { .. } => self.replayed += 1,
        }
    }

    fn refuse(&mut self, e: &MessageError) {
        match e {
            MessageError::TooShort(_) => self.too_short += 1,
            MessageError::SizeMismatch { .. } => self.bad_size += 1,
            MessageError::WrongSyncid { .. } => self.wrong_syncid += 1,
            MessageError::NotVersion1 { .. } => self.wrong_version += 1,
            MessageError::Truncated { .. }
            | MessageError::RecordTooShort { .. }
            | MessageError::RecordVersion { .. }
            | MessageError::RecordType { .. }
            | MessageError::BadOption { .. }
            | MessageError::BadOptionData { .. } => self.malformed += 1,
        }
    }
}

/// Why a datagram was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum Refused {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// A receiver of one syncid (0: every syncid, as the kernel's backup with syncid 0), with
/// or without a key.
#[derive(Debug, Default)]
pub struct Receiver {
    syncid: u8,
    key: Option<Arc<Key>>,
    replay: Replay,
    counters: RecvCounters,
}

impl Receiver {
    pub fn new(syncid: u8) -> Self {
        Self::with_key(syncid, None)
    }

    /// A receiver that refuses what `key` did not seal (every datagram is accepted without).
    pub fn with_key(syncid: u8, key: Option<Arc<Key>>) -> Self {
        Self {
            syncid,
            key,
            replay: Replay::default(),
            counters: RecvCounters::default(),
        }
    }

    pub fn counters(&self) -> RecvCounters {
        self.counters
    }

    /// Decodes `datagram` (from `from`) and passes each good record to `apply`; returns how
    /// many were passed, or why the datagram was refused (then `apply` was not called).
    pub fn handle(
        &mut self,
        datagram: &[u8],
        from: IpAddr,
        apply: impl FnMut(&SyncConn),
    ) -> Result<usize, Refused> {
        let mut replay = std::mem::take(&mut self.replay);
        let r = self.handle_in(datagram, from, &mut replay, apply);
        self.replay = replay;
        r
    }

    /// [`Receiver::handle`] with sequence numbers checked against `replay` instead of the
    /// receiver's own memory: a bulk sync stream checks its own order.
    pub fn handle_in(
        &mut self,
        datagram: &[u8],
        from: IpAddr,
        replay: &mut Replay,
        mut apply: impl FnMut(&SyncConn),
    ) -> Result<usize, Refused> {
        if let Some(key) = &self.key {
            let checked = key.open(datagram).and_then(|seq| replay.check(from, seq));
            if let Err(e) = checked {
                self.counters.refuse_auth(&e);
                return Err(e.into());
            }
        }
        match wire::decode(datagram, self.syncid) {
            Ok(m) => {
                self.counters.messages += 1;
                self.counters.records += m.conns.len() as u64;
                self.counters.records_skipped += m.skipped.len() as u64;
                for c in &m.conns {
                    apply(c);
                }
                Ok(m.conns.len())
            }
            Err(e) => {
                self.counters.refuse(&e);
                Err(e.into())
            }
        }
    }
}
