//! Fuzzing the sync receiver from a fixed seed (reproducible; LB_FUZZ_SEED explores others):
//! garbage, every truncation of good messages, oversized datagrams, other versions, other
//! syncids and random corruption. Nothing may panic; every datagram is counted exactly once,
//! as applied or refused by reason; a refused datagram applies nothing. With a key: plain
//! messages, bad MACs (another key, any bit flipped), replays and every truncation of sealed
//! messages are refused and counted by reason.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use lb_daemon::sync::{
    auth::Key,
    receive::Receiver,
    wire::{Addrs, MessageBuilder, Seq, SeqData, SyncConn, flags, tcp_state},
};

const SEED: u64 = 0x5eed_0014;
const SYNCID: u8 = 42;

fn seeded_rng() -> fastrand::Rng {
    let seed = std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED);
    eprintln!("fuzz seed {seed} (set LB_FUZZ_SEED to change)");
    fastrand::Rng::with_seed(seed)
}

fn random_conn(r: &mut fastrand::Rng) -> SyncConn {
    let addrs = if r.bool() {
        Addrs::V4 {
            client: Ipv4Addr::from(r.u32(..)),
            virt: Ipv4Addr::from(r.u32(..)),
            dest: Ipv4Addr::from(r.u32(..)),
        }
    } else {
        Addrs::V6 {
            client: Ipv6Addr::from(r.u128(..)),
            virt: Ipv6Addr::from(r.u128(..)),
            dest: Ipv6Addr::from(r.u128(..)),
        }
    };
    let tcp = r.bool();
    let seq = |r: &mut fastrand::Rng| Seq {
        init_seq: r.u32(..),
        delta: r.u32(..),
        previous_delta: r.u32(..),
    };
    let pe = r.u8(..4) == 0;
    SyncConn {
        protocol: if tcp { 6 } else { 17 },
        flags: r.u32(..) & (flags::FWD_MASK | flags::INACTIVE),
        state: if tcp { r.u16(..tcp_state::LAST) } else { 0 },
        cport: r.u16(..),
        vport: r.u16(..),
        dport: r.u16(..),
        fwmark: r.u32(..),
        timeout: r.u32(..),
        addrs,
        seq: r.bool().then(|| SeqData {
            in_seq: seq(r),
            out_seq: seq(r),
        }),
        pe_data: pe.then(|| (0..r.usize(1..40)).map(|_| r.u8(..)).collect()),
        pe_name: pe.then(|| (0..r.usize(1..=16)).map(|_| r.u8(b'a'..=b'z')).collect()),
    }
}

/// A good message of 1 to 20 records and the records in it.
fn good(r: &mut fastrand::Rng, syncid: u8) -> (Vec<u8>, Vec<SyncConn>) {
    let mut b = MessageBuilder::new(syncid, 1472).unwrap();
    let mut conns = Vec::new();
    for _ in 0..r.usize(1..=20) {
        let c = random_conn(r);
        if b.push(&c).is_err() {
            break;
        }
        conns.push(c);
    }
    (b.finish(), conns)
}

/// The sender of the fuzzed datagrams.
const FROM: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));

/// Feeds `datagram` and checks the accounting: counted once, applied all or nothing.
fn feed(rx: &mut Receiver, datagram: &[u8]) -> Option<Vec<SyncConn>> {
    feed_from(rx, datagram, FROM)
}

fn feed_from(rx: &mut Receiver, datagram: &[u8], from: IpAddr) -> Option<Vec<SyncConn>> {
    let before = rx.counters();
    let mut applied = Vec::new();
    let out = rx.handle(datagram, from, |c: &SyncConn| applied.push(c.clone()));
    let after = rx.counters();
    let counted = (after.messages + after.refused()) - (before.messages + before.refused());
    assert_eq!(counted, 1, "every datagram is counted once");
    match out {
        Ok(n) => {
            assert_eq!(n, applied.len());
            assert_eq!(after.records - before.records, n as u64);
            Some(applied)
        }
        Err(e) => {
            assert!(
                applied.is_empty(),
                "a refused datagram ({e}) applied records"
            );
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

#[test]
fn good_messages_apply_every_record() {
    let mut r = seeded_rng();
    let mut rx = Receiver::new(SYNCID);
    for _ in 0..500 {
        let (m, conns) = good(&mut r, SYNCID);
        assert_eq!(feed(&mut rx, &m), Some(conns));
    }
    assert_eq!(rx.counters().refused(), 0);
}

#[test]
fn garbage_is_counted_and_ignored() {
    let mut r = seeded_rng();
    let mut rx = Receiver::new(SYNCID);
    for _ in 0..20_000 {
        let len = r.usize(..200);
        let junk: Vec<u8> = (0..len).map(|_| r.u8(..)).collect();
        feed(&mut rx, &junk);
    }
    let c = rx.counters();
    assert!(c.refused() > 19_000, "{c:?}");
}

#[test]
fn every_truncation_is_refused() {
    let mut r = seeded_rng();
    let mut rx = Receiver::new(SYNCID);
    for _ in 0..50 {
        let (m, _) = good(&mut r, SYNCID);
        for cut in 0..m.len() {
            // As sent (size field says the full length) and with the size patched to the
            // cut length, so that the record walk itself meets the end.
            assert_eq!(feed(&mut rx, &m[..cut]), None, "cut at {cut}");
            if cut >= 4 {
                let mut p = m[..cut].to_vec();
                p[2..4].copy_from_slice(&(cut as u16).to_be_bytes());
                if let Some(applied) = feed(&mut rx, &p) {
                    // Only whole records can survive a cut: the cut fell after the last
                    // record's end (in its trailing options it is refused).
                    panic!("cut at {cut} of {} applied {}", m.len(), applied.len());
                }
            }
        }
    }
    assert_eq!(rx.counters().messages, 0);
}

#[test]
fn oversized_other_versions_and_other_syncids_are_refused() {
    let mut r = seeded_rng();
    let mut rx = Receiver::new(SYNCID);
    for _ in 0..200 {
        let (m, _) = good(&mut r, SYNCID);
        let mut long = m.clone();
        long.extend((0..r.usize(1..2000)).map(|_| r.u8(..)));
        assert_eq!(feed(&mut rx, &long), None);
        let mut v = m.clone();
        v[5] = loop {
            let x = r.u8(..);
            if x != 1 {
                break x;
            }
        };
        assert_eq!(feed(&mut rx, &v), None);
        let mut reserved = m.clone();
        reserved[0] = r.u8(1..);
        assert_eq!(feed(&mut rx, &reserved), None);
        let other_id = SYNCID + 1 + r.u8(..200);
        let (other, _) = good(&mut r, other_id);
        assert_eq!(feed(&mut rx, &other), None);
    }
    let c = rx.counters();
    assert_eq!(c.bad_size, 200);
    assert_eq!(c.wrong_version, 400);
    assert_eq!(c.wrong_syncid, 200);
    assert_eq!(c.messages, 0);
    // A full-size datagram: 65,535 bytes whose header claims 8.
    let (m, _) = good(&mut r, SYNCID);
    let mut huge = m[..8].to_vec();
    huge[2..4].copy_from_slice(&8u16.to_be_bytes());
    huge.resize(65_535, 0xff);
    assert_eq!(feed(&mut rx, &huge), None);
}

#[test]
fn random_corruption_never_panics_and_is_all_or_nothing() {
    let mut r = seeded_rng();
    let mut rx = Receiver::new(0);
    for _ in 0..20_000 {
        let id = r.u8(..);
        let (mut m, _) = good(&mut r, id);
        for _ in 0..r.usize(1..6) {
            let i = r.usize(..m.len());
            m[i] ^= 1 << r.u8(..8);
        }
        feed(&mut rx, &m);
    }
    let c = rx.counters();
    assert_eq!(c.messages + c.refused(), 20_000);
    // Corruption in addresses and ports decodes fine; in lengths it does not: both occur.
    assert!(c.messages > 0 && c.refused() > 0, "{c:?}");
}

/// The directors' key in these tests, and another one.
const KEY: &[u8] = b"sixteen byte key and more";
const OTHER_KEY: &[u8] = b"another key of the same length";

#[test]
fn with_a_key_only_sealed_fresh_messages_are_applied() {
    let mut r = seeded_rng();
    let sender = Key::new(KEY, 1000).unwrap();
    let mut rx = Receiver::with_key(SYNCID, Some(Arc::new(Key::new(KEY, 0).unwrap())));
    let stranger = Key::new(OTHER_KEY, 5000).unwrap();
    let mut sealed: Vec<Vec<u8>> = Vec::new();
    for _ in 0..300 {
        let (m, conns) = good(&mut r, SYNCID);
        // Plain (ipvsadm's format): refused while a key is set.
        assert_eq!(feed(&mut rx, &m), None);
        // Another key's seal: a bad MAC.
        assert_eq!(feed(&mut rx, &stranger.seal(m.clone())), None);
        let s = sender.seal(m);
        assert_eq!(feed(&mut rx, &s), Some(conns));
        // The same message again, and any earlier one: replays.
        assert_eq!(feed(&mut rx, &s), None);
        if let Some(old) = sealed.get(r.usize(..sealed.len().max(1))) {
            assert_eq!(feed(&mut rx, old), None);
        }
        // Any one bit flipped anywhere (header, records, TLV, MAC): refused.
        let mut flipped = s.clone();
        let i = r.usize(..flipped.len());
        flipped[i] ^= 1 << r.u8(..8);
        assert_eq!(feed(&mut rx, &flipped), None, "bit flipped at byte {i}");
        sealed.push(s);
    }
    let c = rx.counters();
    assert_eq!(c.messages, 300, "{c:?}");
    assert_eq!(c.replayed, 300 + 299, "{c:?}");
    // A flipped bit is a bad MAC, or (in the TLV's type, length or reserved bytes) no TLV.
    assert_eq!(c.unauthenticated + c.bad_mac, 300 * 3, "{c:?}");
    assert!(c.unauthenticated >= 300 && c.bad_mac >= 300, "{c:?}");
    assert_eq!(c.messages + c.refused(), 300 * 5 + 299, "{c:?}");
    // Another sender's sequence is its own: a message sealed under a lower number than the
    // first sender's last one is fresh from there.
    let (m, conns) = good(&mut r, SYNCID);
    let second = Key::new(KEY, 1).unwrap();
    let other_director = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 3));
    assert_eq!(
        feed_from(&mut rx, &second.seal(m), other_director),
        Some(conns)
    );
}

#[test]
fn with_a_key_every_truncation_and_garbage_is_refused() {
    let mut r = seeded_rng();
    let sender = Key::new(KEY, 1).unwrap();
    let mut rx = Receiver::with_key(SYNCID, Some(Arc::new(Key::new(KEY, 0).unwrap())));
    for _ in 0..50 {
        let (m, _) = good(&mut r, SYNCID);
        let s = sender.seal(m);
        for cut in 0..s.len() {
            let mut p = s[..cut].to_vec();
            if cut >= 4 {
                p[2..4].copy_from_slice(&(cut as u16).to_be_bytes());
            }
            assert_eq!(feed(&mut rx, &p), None, "cut at {cut}");
        }
    }
    for _ in 0..20_000 {
        let junk: Vec<u8> = (0..r.usize(..200)).map(|_| r.u8(..)).collect();
        assert_eq!(feed(&mut rx, &junk), None);
    }
    let c = rx.counters();
    assert_eq!(c.messages, 0, "{c:?}");
    // A sealed message of another syncid has a good MAC: refused for its syncid, counted so.
    let (m, _) = good(&mut r, SYNCID + 1);
    assert_eq!(feed(&mut rx, &sender.seal(m)), None);
    assert_eq!(rx.counters().wrong_syncid, c.wrong_syncid + 1);
}

#[test]
fn without_a_key_sealed_messages_are_accepted_as_plain_ones() {
    let mut r = seeded_rng();
    let sender = Key::new(KEY, 1).unwrap();
    let mut rx = Receiver::new(SYNCID);
    for _ in 0..100 {
        let (m, conns) = good(&mut r, SYNCID);
        assert_eq!(feed(&mut rx, &sender.seal(m)), Some(conns));
    }
}
