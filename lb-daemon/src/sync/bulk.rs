//! Bulk sync: a director that starts asks its peers for their whole connection table before
//! it announces any VIP, so that flows the router moves to it after it joins are already in
//! its table. Over TCP on the sync port: the asking director connects, the answering one
//! writes its confirmed connections (its own and those it learnt by sync) as protocol
//! version 1 messages back to back (each message's header carries its size, so the stream
//! needs no other framing) and closes. Nothing is asked for in the request: connecting is
//! the request.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use lb_common::{CONN_F_REPLY, CONN_F_UNCONFIRMED};
use lb_model::config::Timeouts;

use super::{
    auth::{Key, Replay},
    daemon::{Applier, messages, own_template_records, record_of},
    wire::{HEADER_LEN, SyncConn},
};
use crate::{dataplane::Dataplane, plan::Planner};

/// How long the asking director waits to connect to a peer, and for each read.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a whole bulk transfer may take before the asking director gives up on it.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Every confirmed forward connection of the table and every persistence template as a sync
/// record (own and synced).
pub fn table_records(dp: &Dataplane, timeouts: &Timeouts, plan: &Planner) -> Vec<SyncConn> {
    let marks = plan.service_marks();
    let mut out: Vec<SyncConn> = dp
        .connections()
        .into_iter()
        .filter(|(_, c)| c.flags & (CONN_F_REPLY | CONN_F_UNCONFIRMED) == 0)
        .filter_map(|(k, c)| {
            let real = dp.real(c.real).ok().filter(|r| r.family != 0)?;
            record_of(
                &k,
                &c,
                &real,
                marks.get(&real.service).copied().unwrap_or(0),
                (timeouts.for_state(c.state) / 1_000_000_000) as u32,
            )
        })
        .collect();
    out.extend(
        own_template_records(dp, plan, true)
            .into_iter()
            .map(|(_, _, r)| r),
    );
    out
}

/// The answering side: listens on `port` (TCP, any address of either family).
pub fn listen(port: u16) -> std::io::Result<TcpListener> {
    super::socket::listen_tcp(port)
}

/// Writes `records` to an asking director as messages of `syncid` and at most `maxlen`
/// bytes (sealed with `key` if set), then closes.
pub fn answer(
    mut s: TcpStream,
    syncid: u8,
    maxlen: usize,
    records: &[SyncConn],
    key: Option<&Key>,
) -> std::io::Result<()> {
    s.set_write_timeout(Some(TIMEOUT))?;
    for m in messages(syncid, maxlen, records, key) {
        s.write_all(&m)?;
    }
    s.shutdown(std::net::Shutdown::Write)
}

/// What one bulk sync brought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkReport {
    pub messages: u64,
    /// Records applied (inserted or refreshed).
    pub applied: u64,
}

/// Asks `peer` for its table and applies every message (with `applier`'s syncid and
/// counters); returns what came, or why it stopped (what came before is applied).
pub fn fetch(
    peer: SocketAddr,
    applier: &mut Applier,
    dp: &mut Dataplane,
    plan: &Planner,
) -> std::io::Result<BulkReport> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&peer, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let before = applier.counters.inserted + applier.counters.refreshed;
    let mut report = BulkReport::default();
    // With a key, the stream's messages come in the order of their sequence numbers.
    let mut replay = Replay::default();
    let mut header = [0u8; HEADER_LEN];
    loop {
        if start.elapsed() > DEADLINE {
            return Err(std::io::Error::other(format!(
                "not finished within {DEADLINE:?}"
            )));
        }
        match read_full(&mut s, &mut header)? {
            0 => break,
            n if n < HEADER_LEN => {
                return Err(std::io::Error::other(
                    "the stream ends inside a message header",
                ));
            }
            _ => {}
        }
        let size = u16::from_be_bytes([header[2], header[3]]) as usize;
        if size < HEADER_LEN {
            return Err(std::io::Error::other(format!(
                "a message of {size} bytes, shorter than its header"
            )));
        }
        let mut msg = vec![0u8; size];
        msg[..HEADER_LEN].copy_from_slice(&header);
        if read_full(&mut s, &mut msg[HEADER_LEN..])? < size - HEADER_LEN {
            return Err(std::io::Error::other("the stream ends inside a message"));
        }
        applier.handle_in(&msg, peer.ip().to_canonical(), &mut replay, dp, plan);
        report.messages += 1;
    }
    report.applied = applier.counters.inserted + applier.counters.refreshed - before;
    Ok(report)
}

/// Reads until `buf` is full or the stream ends; how many bytes came.
fn read_full(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
