//! Golden messages of IPVS's sync protocol version 1. Each expected datagram is written here
//! field by field in the order and widths of the kernel's structs (`struct ip_vs_sync_mesg`,
//! `struct ip_vs_sync_v4`, `struct ip_vs_sync_v6`, the option TLVs of `ip_vs_sync_conn()` in
//! net/netfilter/ipvs/ip_vs_sync.c), not with the code under test; the codec must produce
//! exactly these bytes and read them back.

use std::net::{Ipv4Addr, Ipv6Addr};

use lb_daemon::sync::wire::{
    Addrs, MessageBuilder, MessageError, RecordSkip, Seq, SeqData, SyncConn, decode, flags,
    tcp_state,
};

/// A byte writer that knows only the C types: `__u8`, `__be16`, `__be32`, addresses.
#[derive(Default)]
struct C(Vec<u8>);

impl C {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn be16(mut self, v: u16) -> Self {
        self.0.push((v >> 8) as u8);
        self.0.push(v as u8);
        self
    }
    fn be32(mut self, v: u32) -> Self {
        for s in [24, 16, 8, 0] {
            self.0.push((v >> s) as u8);
        }
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// `struct ip_vs_sync_mesg`: reserved, syncid, size, nr_conns, version, spare.
    fn header(self, syncid: u8, size: u16, nr_conns: u8) -> Self {
        self.u8(0).u8(syncid).be16(size).u8(nr_conns).u8(1).be16(0)
    }
    /// The fixed part common to `ip_vs_sync_v4` and `_v6`, up to and with `timeout`.
    #[allow(clippy::too_many_arguments)]
    fn conn_head(
        self,
        kind: u8,
        protocol: u8,
        size: u16,
        flags: u32,
        state: u16,
        ports: [u16; 3],
        fwmark: u32,
        timeout: u32,
    ) -> Self {
        self.u8(kind)
            .u8(protocol)
            .be16(size) // version 0 in the top 4 bits
            .be32(flags)
            .be16(state)
            .be16(ports[0])
            .be16(ports[1])
            .be16(ports[2])
            .be32(fwmark)
            .be32(timeout)
    }
}

const CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
const RIP4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 11);

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn one(conn: &SyncConn, syncid: u8) -> Vec<u8> {
    let mut b = MessageBuilder::new(syncid, 1472).unwrap();
    b.push(conn).unwrap();
    b.finish()
}

#[test]
fn ipv4_tcp_direct_routing_established() {
    let golden = C::default()
        .header(5, 8 + 36, 1)
        .conn_head(0, 6, 36, 0x0003, 1, [40001, 80, 80], 0, 900)
        .raw(&CLIENT4.octets())
        .raw(&VIP4.octets())
        .raw(&RIP4.octets())
        .0;
    assert_eq!(golden.len(), 44);
    let conn = SyncConn {
        protocol: 6,
        flags: flags::DROUTE,
        state: tcp_state::ESTABLISHED,
        cport: 40001,
        vport: 80,
        dport: 80,
        fwmark: 0,
        timeout: 900,
        addrs: Addrs::V4 {
            client: CLIENT4,
            virt: VIP4,
            dest: RIP4,
        },
        seq: None,
        pe_data: None,
        pe_name: None,
    };
    assert_eq!(one(&conn, 5), golden);
    let m = decode(&golden, 5).unwrap();
    assert_eq!(m.syncid, 5);
    assert_eq!(m.conns, vec![conn]);
    // A backup of syncid 0 takes every syncid, as the kernel's does.
    assert_eq!(decode(&golden, 0).unwrap().conns.len(), 1);
}

#[test]
fn ipv6_udp_tunnel_with_sequence_option() {
    let (c, v, d) = (v6("2001:db8::7"), v6("2001:db8:1::80"), v6("fd00:1::11"));
    let golden = C::default()
        .header(200, 8 + 72 + 26, 1)
        .conn_head(
            1,
            17,
            72 + 26,
            0x0002 | 0x0600, // tunnel, in and out sequence adjustment
            0,
            [5353, 53, 53],
            0x2a,
            300,
        )
        .raw(&c.octets())
        .raw(&v.octets())
        .raw(&d.octets())
        // IPVS_OPT_SEQ_DATA, sizeof(struct ip_vs_sync_conn_options)
        .u8(1)
        .u8(24)
        // in_seq: init_seq, delta, previous_delta; then out_seq
        .be32(0x11223344)
        .be32(10)
        .be32(4)
        .be32(0xaabbccdd)
        .be32(0xfffffff6)
        .be32(0)
        .0;
    assert_eq!(golden.len(), 106);
    let conn = SyncConn {
        protocol: 17,
        flags: flags::TUNNEL | flags::SEQ_MASK,
        state: 0,
        cport: 5353,
        vport: 53,
        dport: 53,
        fwmark: 0x2a,
        timeout: 300,
        addrs: Addrs::V6 {
            client: c,
            virt: v,
            dest: d,
        },
        seq: Some(SeqData {
            in_seq: Seq {
                init_seq: 0x11223344,
                delta: 10,
                previous_delta: 4,
            },
            out_seq: Seq {
                init_seq: 0xaabbccdd,
                delta: (-10i32) as u32,
                previous_delta: 0,
            },
        }),
        pe_data: None,
        pe_name: None,
    };
    assert_eq!(one(&conn, 200), golden);
    assert_eq!(decode(&golden, 200).unwrap().conns, vec![conn]);
}

/// Two records, the first with persistence-engine options of odd length: the kernel pads
/// it to 32 bits *before* the second record (the padding is in the message size, not in the
/// record's), and a persistence template travels like a connection with `TEMPLATE` set.
#[test]
fn padding_between_records_and_a_persistence_template() {
    let first_len = 36 + (2 + 3) + (2 + 3);
    let golden = C::default()
        .header(1, (8 + first_len + 2 + 36) as u16, 2)
        .conn_head(
            0,
            17,
            first_len as u16,
            0x1000 | 0x0003, // template, direct routing
            0,
            [0, 5060, 5060],
            0,
            360,
        )
        .raw(&CLIENT4.octets())
        .raw(&VIP4.octets())
        .raw(&RIP4.octets())
        .u8(2) // IPVS_OPT_PE_DATA
        .u8(3)
        .raw(b"c1d")
        .u8(3) // IPVS_OPT_PE_NAME
        .u8(3)
        .raw(b"sip")
        .raw(&[0, 0]) // to the next 32-bit boundary
        .conn_head(
            0,
            6,
            36,
            0x0100, // masquerading, inactive (not yet established)
            3,      // SYN_RECV
            [40002, 443, 8443],
            0,
            60,
        )
        .raw(&CLIENT4.octets())
        .raw(&VIP4.octets())
        .raw(&RIP4.octets())
        .0;
    let template = SyncConn {
        protocol: 17,
        flags: flags::TEMPLATE | flags::DROUTE,
        state: 0,
        cport: 0,
        vport: 5060,
        dport: 5060,
        fwmark: 0,
        timeout: 360,
        addrs: Addrs::V4 {
            client: CLIENT4,
            virt: VIP4,
            dest: RIP4,
        },
        seq: None,
        pe_data: Some(b"c1d".to_vec()),
        pe_name: Some(b"sip".to_vec()),
    };
    let syn = SyncConn {
        protocol: 6,
        flags: flags::MASQ | flags::INACTIVE,
        state: tcp_state::SYN_RECV,
        cport: 40002,
        vport: 443,
        dport: 8443,
        fwmark: 0,
        timeout: 60,
        addrs: Addrs::V4 {
            client: CLIENT4,
            virt: VIP4,
            dest: RIP4,
        },
        seq: None,
        pe_data: None,
        pe_name: None,
    };
    let mut b = MessageBuilder::new(1, 1472).unwrap();
    b.push(&template).unwrap();
    b.push(&syn).unwrap();
    assert_eq!(b.finish(), golden);
    assert_eq!(decode(&golden, 1).unwrap().conns, vec![template, syn]);
}

/// What a receiver does with options it does not know: an optional one (bit 6 set) is
/// skipped and the record applied; a mandatory one drops that record only.
#[test]
fn unknown_options_optional_and_mandatory() {
    let rec = |opt_type: u8, cport: u16| {
        C::default()
            .conn_head(0, 6, 36 + 4, 0x0003, 1, [cport, 80, 80], 0, 900)
            .raw(&CLIENT4.octets())
            .raw(&VIP4.octets())
            .raw(&RIP4.octets())
            .u8(opt_type)
            .u8(2)
            .raw(&[0xde, 0xad])
            .0
    };
    let golden = C::default()
        .header(9, 8 + 40 + 40, 2)
        .raw(&rec(0x40 | 9, 1000))
        .raw(&rec(9, 1001))
        .0;
    let m = decode(&golden, 9).unwrap();
    assert_eq!(m.conns.len(), 1);
    assert_eq!(m.conns[0].cport, 1000);
    assert_eq!(m.skipped, vec![(1, RecordSkip::UnknownOption(9))]);
}

#[test]
fn refusals_name_the_reason() {
    let good = C::default()
        .header(3, 44, 1)
        .conn_head(0, 6, 36, 0x0003, 1, [1, 80, 80], 0, 900)
        .raw(&[0; 12])
        .0;
    assert_eq!(
        decode(&good, 4),
        Err(MessageError::WrongSyncid { got: 3, want: 4 })
    );
    let mut v0 = good.clone();
    v0[5] = 0;
    assert!(matches!(
        decode(&v0, 3),
        Err(MessageError::NotVersion1 { version: 0, .. })
    ));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        decode(&long, 3),
        Err(MessageError::SizeMismatch {
            header: 44,
            datagram: 45
        })
    );
    let mut bad_state = good.clone();
    bad_state[8 + 9] = 11; // IP_VS_TCP_S_LAST
    assert_eq!(
        decode(&bad_state, 3).unwrap().skipped,
        vec![(
            0,
            RecordSkip::State {
                protocol: 6,
                state: 11
            }
        )]
    );
    let mut rec_version = good.clone();
    rec_version[8 + 2] |= 0x10;
    assert!(matches!(
        decode(&rec_version, 3),
        Err(MessageError::RecordVersion { version: 1, .. })
    ));
}

/// HMAC-SHA256 written out (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m))), independent of the
/// `hmac` crate lbd uses; checked against RFC 4231's first test case.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    assert!(
        key.len() <= 64,
        "a longer key is hashed first; not needed here"
    );
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer.finalize());
    out
}

#[test]
fn the_hmac_of_these_tests_is_rfc_4231s() {
    let mac = hmac_sha256(&[0x0b; 20], b"Hi There");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

#[test]
fn an_authenticated_message_ends_in_lbs_tlv_with_its_sequence_and_mac() {
    use lb_daemon::sync::auth::{AuthError, Key};
    let key = b"the directors' shared key";
    let seq = 0x0102_0304_0506_0708u64;
    let conn = SyncConn {
        protocol: 6,
        flags: flags::DROUTE,
        state: tcp_state::ESTABLISHED,
        cport: 40001,
        vport: 80,
        dport: 80,
        fwmark: 0,
        timeout: 900,
        addrs: Addrs::V4 {
            client: CLIENT4,
            virt: VIP4,
            dest: RIP4,
        },
        seq: None,
        pe_data: None,
        pe_name: None,
    };
    // One 36-byte record (ends at a 32-bit boundary), then the TLV: type 0xa1, length 28,
    // reserved 0, the sequence (be64), and the MAC of every byte before it, truncated to 16.
    let head = C::default()
        .header(5, 8 + 36 + 28, 1)
        .conn_head(0, 6, 36, 0x0003, 1, [40001, 80, 80], 0, 900)
        .raw(&CLIENT4.octets())
        .raw(&VIP4.octets())
        .raw(&RIP4.octets())
        .u8(0xa1)
        .u8(28)
        .be16(0)
        .be32((seq >> 32) as u32)
        .be32(seq as u32)
        .0;
    let mut golden = head.clone();
    golden.extend_from_slice(&hmac_sha256(key, &head)[..16]);
    assert_eq!(golden.len(), 72);
    let sender = Key::new(key, seq).unwrap();
    assert_eq!(sender.seal(one(&conn, 5)), golden);
    // The next message takes the next number.
    let next = sender.seal(one(&conn, 5));
    assert_eq!(next[52..56], [0x05, 0x06, 0x07, 0x09]);
    let receiver = Key::new(key, 0).unwrap();
    assert_eq!(receiver.open(&golden), Ok(seq));
    // A receiver that checks nothing (the kernel's, or lb's without a key) reads the record.
    assert_eq!(decode(&golden, 5).unwrap().conns, vec![conn.clone()]);
    assert_eq!(
        Key::new(b"another key, also long", 0)
            .unwrap()
            .open(&golden),
        Err(AuthError::BadMac)
    );
    assert_eq!(
        receiver.open(&one(&conn, 5)),
        Err(AuthError::Unauthenticated)
    );

    // A record that does not end at a 32-bit boundary (persistence-engine options of 3 and
    // 2 bytes: 36 + 5 + 4 = 45 bytes): three zero bytes of padding before the TLV.
    let padded = SyncConn {
        pe_data: Some(vec![1, 2, 3]),
        pe_name: Some(b"ab".to_vec()),
        ..conn
    };
    let head = C::default()
        .header(5, 8 + 45 + 3 + 28, 1)
        .conn_head(0, 6, 45, 0x0003, 1, [40001, 80, 80], 0, 900)
        .raw(&CLIENT4.octets())
        .raw(&VIP4.octets())
        .raw(&RIP4.octets())
        .u8(2)
        .u8(3)
        .raw(&[1, 2, 3])
        .u8(3)
        .u8(2)
        .raw(b"ab")
        .raw(&[0, 0, 0])
        .u8(0xa1)
        .u8(28)
        .be16(0)
        .be32(0)
        .be32(7)
        .0;
    let mut golden = head.clone();
    golden.extend_from_slice(&hmac_sha256(key, &head)[..16]);
    assert_eq!(Key::new(key, 7).unwrap().seal(one(&padded, 5)), golden);
    assert_eq!(decode(&golden, 5).unwrap().conns, vec![padded]);
}
