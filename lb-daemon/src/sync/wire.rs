//! IPVS's connection-synchronisation protocol, version 1, on the wire: the datagrams the
//! kernel's sync daemon (`net/netfilter/ipvs/ip_vs_sync.c`) sends and receives, so that an lb
//! director and a kernel IPVS director can back each other up.
//!
//! A message is an 8-byte header followed by `nr_conns` connection records:
//!
//! ```text
//! header   reserved=0 u8 | syncid u8 | size be16 (whole datagram) | nr_conns u8 | version=1 u8 | spare=0 be16
//! record   type u8 (bit 0: IPv6) | protocol u8 | ver_size be16 (version 4 bits = 0, size 12 bits)
//!          flags be32 | state be16 | cport be16 | vport be16 | dport be16 | fwmark be32 | timeout be32 (s)
//!          caddr | vaddr | daddr (4 bytes each for IPv4: 36-byte record; 16 for IPv6: 72 bytes)
//!          options: type u8 | length u8 | data  (SEQ_DATA 24 bytes, PE_DATA, PE_NAME)
//! ```
//!
//! A record's size counts its options but not the padding to 32 bits that the sender puts
//! *before the next record* (so the last record of a message is not padded). An option type
//! with bit 6 (`IPVS_OPT_F_PARAM`) set is optional: a receiver that does not know it skips it;
//! an unknown option without that bit makes the receiver drop that one record.
//!
//! The receiver here is stricter than the kernel's in one way: a malformed message is refused
//! as a whole (the kernel applies the records before the first malformed one), so a bad
//! datagram changes nothing. The per-record refusals (unknown mandatory option, protocol or
//! state out of range) skip that record only, as the kernel does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The multicast group of IPVS sync messages (`IP_VS_SYNC_GROUP`, 224.0.0.81).
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The UDP port (`IP_VS_SYNC_PORT`).
pub const DEFAULT_PORT: u16 = 8848;
/// The version byte of the header (`SYNC_PROTO_VER`).
pub const VERSION: u8 = 1;
/// The header's length (`sizeof(struct ip_vs_sync_mesg)`).
pub const HEADER_LEN: usize = 8;
/// An IPv4 record without options (`sizeof(struct ip_vs_sync_v4)`).
pub const CONN_V4_LEN: usize = 36;
/// An IPv6 record without options (`sizeof(struct ip_vs_sync_v6)`).
pub const CONN_V6_LEN: usize = 72;
/// The largest message: its size field is 16 bits.
pub const MAX_MESSAGE: usize = u16::MAX as usize;

/// Bit 0 of a record's type: the addresses are IPv6 (`STYPE_F_INET6`).
const TYPE_INET6: u8 = 1;
/// The record-version bits of `ver_size` (`SVER_SHIFT`, `SVER_MASK`).
const SVER_SHIFT: u16 = 12;
const SVER_MASK: u16 = 0x0fff;

/// Option types (`IPVS_OPT_*`).
pub const OPT_SEQ_DATA: u8 = 1;
pub const OPT_PE_DATA: u8 = 2;
pub const OPT_PE_NAME: u8 = 3;
/// Set in an option's type: the option may be ignored by a receiver that does not know it.
pub const OPT_F_PARAM: u8 = 1 << 6;
/// `sizeof(struct ip_vs_sync_conn_options)`: two `struct ip_vs_seq` of three be32.
pub const SEQ_DATA_LEN: usize = 24;
/// `IP_VS_PEDATA_MAXLEN`, `IP_VS_PENAME_MAXLEN`.
pub const PE_DATA_MAX: usize = 255;
pub const PE_NAME_MAX: usize = 16;

/// Connection flags (`IP_VS_CONN_F_*`, include/uapi/linux/ip_vs.h).
pub mod flags {
    /// The forwarding method's bits.
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    pub const TUNNEL: u32 = 0x0002;
    pub const DROUTE: u32 = 0x0003;
    pub const BYPASS: u32 = 0x0004;
    /// Set by a receiver on every entry it learnt from a sync message.
    pub const SYNC: u32 = 0x0020;
    /// Never sent (the sender clears it).
    pub const HASHED: u32 = 0x0040;
    pub const NOOUTPUT: u32 = 0x0080;
    /// Not established (counted as inactive).
    pub const INACTIVE: u32 = 0x0100;
    pub const OUT_SEQ: u32 = 0x0200;
    pub const IN_SEQ: u32 = 0x0400;
    pub const SEQ_MASK: u32 = 0x0600;
    pub const NO_CPORT: u32 = 0x0800;
    /// A persistence template, not a connection.
    pub const TEMPLATE: u32 = 0x1000;
    /// Never synced.
    pub const ONE_PACKET: u32 = 0x2000;
    /// The bits a backup keeps from a message (`IP_VS_CONN_F_BACKUP_MASK`).
    pub const BACKUP_MASK: u32 = FWD_MASK | NOOUTPUT | INACTIVE | SEQ_MASK | NO_CPORT | TEMPLATE;
}

/// TCP states as IPVS numbers them (`IP_VS_TCP_S_*`), which are the `state` of a record.
pub mod tcp_state {
    pub const NONE: u16 = 0;
    pub const ESTABLISHED: u16 = 1;
    pub const SYN_SENT: u16 = 2;
    pub const SYN_RECV: u16 = 3;
    pub const FIN_WAIT: u16 = 4;
    pub const TIME_WAIT: u16 = 5;
    pub const CLOSE: u16 = 6;
    pub const CLOSE_WAIT: u16 = 7;
    pub const LAST_ACK: u16 = 8;
    pub const LISTEN: u16 = 9;
    pub const SYNACK: u16 = 10;
    /// `IP_VS_TCP_S_LAST`: states are below it.
    pub const LAST: u16 = 11;
}

/// The IP protocol numbers of records this receiver accepts, with their numbers of states
/// (`pp->num_states`): TCP 11, UDP 1 (`IP_VS_UDP_S_LAST`), SCTP 14 (`IP_VS_SCTP_S_LAST`).
const PROTOCOL_STATES: &[(u8, u16)] = &[
    (6, tcp_state::LAST),
    (17, 1),
    (132, lb_common::SCTP_STATES as u16),
];

/// One `struct ip_vs_seq`: the sequence-number adjustment of an application helper.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seq {
    pub init_seq: u32,
    pub delta: u32,
    pub previous_delta: u32,
}

/// The `IPVS_OPT_SEQ_DATA` option: the incoming and outgoing adjustments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqData {
    pub in_seq: Seq,
    pub out_seq: Seq,
}

/// The three addresses of a record, of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addrs {
    V4 {
        client: Ipv4Addr,
        virt: Ipv4Addr,
        dest: Ipv4Addr,
    },
    V6 {
        client: Ipv6Addr,
        virt: Ipv6Addr,
        dest: Ipv6Addr,
    },
}

impl Addrs {
    /// The client, virtual and destination (real-server) addresses.
    pub fn ips(&self) -> (IpAddr, IpAddr, IpAddr) {
        match *self {
            Self::V4 { client, virt, dest } => (client.into(), virt.into(), dest.into()),
            Self::V6 { client, virt, dest } => (client.into(), virt.into(), dest.into()),
        }
    }

    fn is_v6(&self) -> bool {
        matches!(self, Self::V6 { .. })
    }
}

/// One connection record (`union ip_vs_sync_conn` with its options), in host order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConn {
    /// The IP protocol number (6 TCP, 17 UDP).
    pub protocol: u8,
    /// `IP_VS_CONN_F_*` ([`flags`]).
    pub flags: u32,
    /// The protocol's state in IPVS numbering ([`tcp_state`]; 0 for UDP and templates).
    pub state: u16,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub fwmark: u32,
    /// Seconds the entry lives without traffic (0: the receiver's default for the state).
    pub timeout: u32,
    pub addrs: Addrs,
    pub seq: Option<SeqData>,
    /// The persistence engine's data and name (`--pe sip`), sent together.
    pub pe_data: Option<Vec<u8>>,
    pub pe_name: Option<Vec<u8>>,
}

impl SyncConn {
    /// The record's size on the wire (its `ver_size`), options included, padding excluded.
    pub fn wire_len(&self) -> usize {
        let mut n = if self.addrs.is_v6() {
            CONN_V6_LEN
        } else {
            CONN_V4_LEN
        };
        if self.seq.is_some() {
            n += 2 + SEQ_DATA_LEN;
        }
        if let Some(d) = &self.pe_data {
            n += 2 + d.len();
        }
        if let Some(d) = &self.pe_name {
            n += 2 + d.len();
        }
        n
    }

    /// Whether this record is a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("the message is full ({used} of {max} bytes; the record needs {need})")]
    Full {
        used: usize,
        max: usize,
        need: usize,
    },
    #[error("a message holds at most 255 connections")]
    TooManyConns,
    #[error("the persistence engine's data is {0} bytes, more than {PE_DATA_MAX}")]
    PeDataTooLong(usize),
    #[error("the persistence engine's name is {0} bytes, more than {PE_NAME_MAX}")]
    PeNameTooLong(usize),
    #[error("a persistence engine's data is sent with its name (and a name with data)")]
    PeDataWithoutName,
    #[error("the option data is empty (a zero length is refused by every receiver)")]
    EmptyOption,
    #[error("the largest message is {MAX_MESSAGE} bytes, and {0} were asked for")]
    MaxLen(usize),
}

/// A message being built: records are appended while they fit in `max_len` bytes.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    max_len: usize,
    nr_conns: u8,
}

impl MessageBuilder {
    /// An empty message of `syncid` that will not grow beyond `max_len` bytes (the
    /// daemon's `--sync-maxlen`, the UDP payload).
    pub fn new(syncid: u8, max_len: usize) -> Result<Self, EncodeError> {
        if !(HEADER_LEN + CONN_V4_LEN..=MAX_MESSAGE).contains(&max_len) {
            return Err(EncodeError::MaxLen(max_len));
        }
        let mut buf = Vec::with_capacity(max_len);
        buf.extend_from_slice(&[0, syncid, 0, HEADER_LEN as u8, 0, VERSION, 0, 0]);
        Ok(Self {
            buf,
            max_len,
            nr_conns: 0,
        })
    }

    pub fn nr_conns(&self) -> u8 {
        self.nr_conns
    }

    pub fn is_empty(&self) -> bool {
        self.nr_conns == 0
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes `conn` adds to this message: the padding of the previous record, then
    /// the record.
    pub fn cost(&self, conn: &SyncConn) -> usize {
        (4 - self.buf.len() % 4) % 4 + conn.wire_len()
    }

    /// Appends `conn`; [`EncodeError::Full`] (the message unchanged) when it does not fit.
    pub fn push(&mut self, conn: &SyncConn) -> Result<(), EncodeError> {
        check_options(conn)?;
        if self.nr_conns == u8::MAX {
            return Err(EncodeError::TooManyConns);
        }
        let need = self.cost(conn);
        if self.buf.len() + need > self.max_len {
            return Err(EncodeError::Full {
                used: self.buf.len(),
                max: self.max_len,
                need,
            });
        }
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
        let b = &mut self.buf;
        b.push(if conn.addrs.is_v6() { TYPE_INET6 } else { 0 });
        b.push(conn.protocol);
        // Record version 0 in the top 4 bits; the size in the low 12 (a record is at most
        // 72 + 26 + 257 + 18 bytes, well below 4096).
        b.extend_from_slice(&(conn.wire_len() as u16 & SVER_MASK).to_be_bytes());
        // The kernel never sends HASHED: it is the sender's own bookkeeping.
        b.extend_from_slice(&(conn.flags & !flags::HASHED).to_be_bytes());
        b.extend_from_slice(&conn.state.to_be_bytes());
        b.extend_from_slice(&conn.cport.to_be_bytes());
        b.extend_from_slice(&conn.vport.to_be_bytes());
        b.extend_from_slice(&conn.dport.to_be_bytes());
        b.extend_from_slice(&conn.fwmark.to_be_bytes());
        b.extend_from_slice(&conn.timeout.to_be_bytes());
        match conn.addrs {
            Addrs::V4 { client, virt, dest } => {
                for a in [client, virt, dest] {
                    b.extend_from_slice(&a.octets());
                }
            }
            Addrs::V6 { client, virt, dest } => {
                for a in [client, virt, dest] {
                    b.extend_from_slice(&a.octets());
                }
            }
        }
        if let Some(s) = &conn.seq {
            b.push(OPT_SEQ_DATA);
            b.push(SEQ_DATA_LEN as u8);
            for q in [s.in_seq, s.out_seq] {
                for v in [q.init_seq, q.delta, q.previous_delta] {
                    b.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
        if let (Some(data), Some(name)) = (&conn.pe_data, &conn.pe_name) {
            b.push(OPT_PE_DATA);
            b.push(data.len() as u8);
            b.extend_from_slice(data);
            b.push(OPT_PE_NAME);
            b.push(name.len() as u8);
            b.extend_from_slice(name);
        }
        self.nr_conns += 1;
        let size = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&size.to_be_bytes());
        self.buf[4] = self.nr_conns;
        Ok(())
    }

    /// The datagram.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

fn check_options(conn: &SyncConn) -> Result<(), EncodeError> {
    match (&conn.pe_data, &conn.pe_name) {
        (None, None) => Ok(()),
        (Some(d), Some(n)) => {
            if d.is_empty() || n.is_empty() {
                Err(EncodeError::EmptyOption)
            } else if d.len() > PE_DATA_MAX {
                Err(EncodeError::PeDataTooLong(d.len()))
            } else if n.len() > PE_NAME_MAX {
                Err(EncodeError::PeNameTooLong(n.len()))
            } else {
                Ok(())
            }
        }
        _ => Err(EncodeError::PeDataWithoutName),
    }
}

/// Why a whole datagram was refused (nothing in it is applied).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum MessageError {
    #[error("{0} bytes: shorter than the {HEADER_LEN}-byte header")]
    TooShort(usize),
    #[error("the header says {header} bytes and the datagram has {datagram}")]
    SizeMismatch { header: usize, datagram: usize },
    #[error("syncid {got}, and this director's is {want}")]
    WrongSyncid { got: u8, want: u8 },
    #[error("not a version 1 message (version {version}, reserved {reserved}, spare {spare})")]
    NotVersion1 {
        version: u8,
        reserved: u8,
        spare: u16,
    },
    #[error("record {index} runs past the end of the message")]
    Truncated { index: usize },
    #[error("record {index} is {size} bytes, shorter than its fixed part")]
    RecordTooShort { index: usize, size: usize },
    #[error("record {index} has version {version} (only 0 is defined)")]
    RecordVersion { index: usize, version: u16 },
    #[error("record {index} has type {kind:#04x} (0: IPv4, 1: IPv6)")]
    RecordType { index: usize, kind: u8 },
    #[error("record {index}: an option runs past the record or has length 0")]
    BadOption { index: usize },
    #[error("record {index}: option {kind} has the wrong length or appears twice")]
    BadOptionData { index: usize, kind: u8 },
}

/// Why one record of a good message was skipped (the others are applied).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum RecordSkip {
    #[error("unknown mandatory option {0}")]
    UnknownOption(u8),
    #[error("protocol {0} is not synced")]
    Protocol(u8),
    #[error("state {state} is out of range for protocol {protocol}")]
    State { protocol: u8, state: u16 },
    #[error("persistence-engine data without its name")]
    PeDataWithoutName,
}

/// A received message: its syncid, the records to apply and those skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub syncid: u8,
    pub conns: Vec<SyncConn>,
    pub skipped: Vec<(usize, RecordSkip)>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn v4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Parses a datagram as the kernel's backup does (`ip_vs_process_message`); `syncid` 0
/// accepts every syncid, as the kernel's backup with syncid 0 does.
pub fn decode(buf: &[u8], syncid: u8) -> Result<Message, MessageError> {
    if buf.len() < HEADER_LEN {
        return Err(MessageError::TooShort(buf.len()));
    }
    let size = be16(buf, 2) as usize;
    if size != buf.len() {
        return Err(MessageError::SizeMismatch {
            header: size,
            datagram: buf.len(),
        });
    }
    if syncid != 0 && buf[1] != syncid {
        return Err(MessageError::WrongSyncid {
            got: buf[1],
            want: syncid,
        });
    }
    let (reserved, version, spare) = (buf[0], buf[5], be16(buf, 6));
    if version != VERSION || reserved != 0 || spare != 0 {
        // The kernel would read it as a version 0 message; lb speaks version 1 only.
        return Err(MessageError::NotVersion1 {
            version,
            reserved,
            spare,
        });
    }
    let mut msg = Message {
        syncid: buf[1],
        ..Default::default()
    };
    let mut at = HEADER_LEN;
    for index in 0..buf[4] as usize {
        if at + CONN_V4_LEN > buf.len() {
            return Err(MessageError::Truncated { index });
        }
        let ver_size = be16(buf, at + 2);
        let size = (ver_size & SVER_MASK) as usize;
        if at + size > buf.len() {
            return Err(MessageError::Truncated { index });
        }
        if ver_size >> SVER_SHIFT != 0 {
            return Err(MessageError::RecordVersion {
                index,
                version: ver_size >> SVER_SHIFT,
            });
        }
        match record(&buf[at..at + size], index)? {
            Ok(c) => msg.conns.push(c),
            Err(skip) => msg.skipped.push((index, skip)),
        }
        // The next record starts at a 32-bit boundary of the record's own start.
        at += (size + 3) & !3;
    }
    Ok(msg)
}

/// One record (`ip_vs_proc_sync_conn`): `Err` refuses the message, `Ok(Err)` skips the record.
fn record(r: &[u8], index: usize) -> Result<Result<SyncConn, RecordSkip>, MessageError> {
    let kind = r.first().copied().unwrap_or(0);
    let fixed = match kind {
        0 => CONN_V4_LEN,
        TYPE_INET6 => CONN_V6_LEN,
        _ => return Err(MessageError::RecordType { index, kind }),
    };
    if r.len() < fixed {
        return Err(MessageError::RecordTooShort {
            index,
            size: r.len(),
        });
    }
    let addrs = if kind == TYPE_INET6 {
        Addrs::V6 {
            client: v6(r, 24),
            virt: v6(r, 40),
            dest: v6(r, 56),
        }
    } else {
        Addrs::V4 {
            client: v4(r, 24),
            virt: v4(r, 28),
            dest: v4(r, 32),
        }
    };
    let mut conn = SyncConn {
        protocol: r[1],
        flags: be32(r, 4),
        state: be16(r, 8),
        cport: be16(r, 10),
        vport: be16(r, 12),
        dport: be16(r, 14),
        fwmark: be32(r, 16),
        timeout: be32(r, 20),
        addrs,
        seq: None,
        pe_data: None,
        pe_name: None,
    };
    let mut skip = None;
    let mut p = fixed;
    while p < r.len() {
        if p + 2 > r.len() {
            return Err(MessageError::BadOption { index });
        }
        let (ptype, plen) = (r[p], r[p + 1] as usize);
        p += 2;
        if plen == 0 || p + plen > r.len() {
            return Err(MessageError::BadOption { index });
        }
        let data = &r[p..p + plen];
        let bad = MessageError::BadOptionData { index, kind: ptype };
        match ptype & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                if plen != SEQ_DATA_LEN || conn.seq.is_some() {
                    return Err(bad);
                }
                let seq = |o: usize| Seq {
                    init_seq: be32(data, o),
                    delta: be32(data, o + 4),
                    previous_delta: be32(data, o + 8),
                };
                conn.seq = Some(SeqData {
                    in_seq: seq(0),
                    out_seq: seq(12),
                });
            }
            OPT_PE_DATA => {
                if conn.pe_data.is_some() {
                    return Err(bad);
                }
                conn.pe_data = Some(data.to_vec());
            }
            OPT_PE_NAME => {
                if plen > PE_NAME_MAX || conn.pe_name.is_some() {
                    return Err(bad);
                }
                conn.pe_name = Some(data.to_vec());
            }
            _ if ptype & OPT_F_PARAM == 0 => {
                skip.get_or_insert(RecordSkip::UnknownOption(ptype));
            }
            // An optional parameter this receiver does not know.
            _ => {}
        }
        p += plen;
    }
    if let Some(s) = skip {
        return Ok(Err(s));
    }
    if conn.pe_data.is_some() && conn.pe_name.is_none() {
        return Ok(Err(RecordSkip::PeDataWithoutName));
    }
    if conn.is_template() {
        // Newer kernels (since 4.x) force a template's state to 0 rather than refuse it.
        conn.state = 0;
    } else {
        let Some(&(_, states)) = PROTOCOL_STATES.iter().find(|(p, _)| *p == conn.protocol) else {
            return Ok(Err(RecordSkip::Protocol(conn.protocol)));
        };
        if conn.state >= states {
            return Ok(Err(RecordSkip::State {
                protocol: conn.protocol,
                state: conn.state,
            }));
        }
    }
    Ok(Ok(conn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp4() -> SyncConn {
        SyncConn {
            protocol: 6,
            flags: flags::DROUTE,
            state: tcp_state::ESTABLISHED,
            cport: 40000,
            vport: 80,
            dport: 8080,
            fwmark: 0,
            timeout: 900,
            addrs: Addrs::V4 {
                client: Ipv4Addr::new(10, 0, 0, 1),
                virt: Ipv4Addr::new(10, 0, 0, 100),
                dest: Ipv4Addr::new(10, 0, 1, 2),
            },
            seq: None,
            pe_data: None,
            pe_name: None,
        }
    }

    #[test]
    fn a_message_round_trips_and_fills_up_to_its_maxlen() {
        let mut b = MessageBuilder::new(7, 8 + 36 * 3).unwrap();
        for _ in 0..3 {
            b.push(&tcp4()).unwrap();
        }
        assert!(matches!(b.push(&tcp4()), Err(EncodeError::Full { .. })));
        let m = b.finish();
        assert_eq!(m.len(), 8 + 36 * 3);
        let d = decode(&m, 7).unwrap();
        assert_eq!(d.conns, vec![tcp4(), tcp4(), tcp4()]);
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn hashed_is_never_sent_and_a_template_state_is_forced_to_zero() {
        let mut c = tcp4();
        c.flags |= flags::HASHED | flags::TEMPLATE;
        c.state = 3;
        let mut b = MessageBuilder::new(0, 1500).unwrap();
        b.push(&c).unwrap();
        let d = decode(&b.finish(), 0).unwrap();
        assert_eq!(d.conns[0].flags, flags::DROUTE | flags::TEMPLATE);
        assert_eq!(d.conns[0].state, 0);
    }

    #[test]
    fn persistence_engine_data_goes_with_its_name() {
        let mut c = tcp4();
        c.pe_data = Some(b"call-id".to_vec());
        assert_eq!(
            MessageBuilder::new(0, 1500).unwrap().push(&c),
            Err(EncodeError::PeDataWithoutName)
        );
        c.pe_name = Some(vec![b's'; 17]);
        assert_eq!(
            MessageBuilder::new(0, 1500).unwrap().push(&c),
            Err(EncodeError::PeNameTooLong(17))
        );
    }
}
