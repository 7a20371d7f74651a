//! The receiving side of the sync daemon: every datagram is decoded, counted by outcome, and
//! the records of a good one are handed to whoever applies them. A bad datagram (garbage, cut
//! short, too long for its header, another version, another syncid) is counted by reason and
//! applies nothing.

use super::wire::{self, MessageError, SyncConn};

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
}

impl RecvCounters {
    /// All refused datagrams.
    pub fn refused(&self) -> u64 {
        self.too_short + self.bad_size + self.wrong_syncid + self.wrong_version + self.malformed
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

/// A receiver of one syncid (0: every syncid, as the kernel's backup with syncid 0).
#[derive(Debug, Default)]
pub struct Receiver {
    syncid: u8,
    counters: RecvCounters,
}

impl Receiver {
    pub fn new(syncid: u8) -> Self {
        Self {
            syncid,
            counters: RecvCounters::default(),
        }
    }

    pub fn counters(&self) -> RecvCounters {
        self.counters
    }

    /// Decodes `datagram` and passes each good record to `apply`; returns how many were
    /// passed, or why the datagram was refused (then `apply` was not called).
    pub fn handle(
        &mut self,
        datagram: &[u8],
        mut apply: impl FnMut(&SyncConn),
    ) -> Result<usize, MessageError> {
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
                Err(e)
            }
        }
    }
}
