//! The fixture runner itself: a table with a fixture that does not hold fails, naming that
//! fixture and everything about it that differs, with the frames in hex and in a pcap file.

use lb_tests::{
    consts::{REALS, REMOTE_CLIENT, VIP},
    expect::ipip,
    fixture::Fixture,
    require_root,
    testrun::Harness,
};

#[test]
fn a_fixture_that_does_not_hold_fails_naming_what_differs_and_keeps_its_frames() {
    require_root!();
    let mut h = Harness::new(&super::ipv4::services([1, 0, 0]), &REALS);
    let me = h.if_mac;
    let first = h.syn(REMOTE_CLIENT, VIP, 40000, 80);
    let second = h.syn(REMOTE_CLIENT, VIP, 40001, 80);
    // Only REALS[0] has weight: both flows go there.
    let right = |f: &[u8]| ipip(me, &f[14..], REALS[0]);
    let mut wrong = right(&second);
    let last = wrong.len() - 1;
    wrong[last] ^= 0xff;
    let fixtures = [
        Fixture::new("holds", first.clone())
            .tx(right(&first))
            .counters(&[("tx", 1), ("conn_new", 1)]),
        Fixture::new("does not hold", second.clone())
            .tx(wrong)
            .counters(&[("tx", 1)]),
    ];
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.run_fixtures(&fixtures);
    }))
    .expect_err("a wrong fixture must fail the table");
    let message = failed.downcast_ref::<String>().cloned().expect("a message");
    for part in [
        "1 of 2 fixtures failed",
        "=== fixture 1 (lb): does not hold",
        "counters: got [(\"tx\", 1), (\"conn_new\", 1)], want [(\"tx\", 1)]",
        &format!("output differs from byte {last}"),
        "--- in (",
        "--- got (",
        "--- want (",
    ] {
        assert!(message.contains(part), "{part:?} missing in:\n{message}");
    }
    assert!(
        !message.contains("fixture 0"),
        "the fixture that held is not reported:\n{message}"
    );
    // The pcap file: a 24-byte header, then input, output and expected output of the failed
    // fixture, each a 16-byte record header and the frame.
    let path = message
        .rsplit("for each) in ")
        .next()
        .map(std::path::PathBuf::from)
        .expect("the pcap's path");
    let pcap = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    assert_eq!(&pcap[..4], &0xa1b2c3d4u32.to_le_bytes(), "pcap magic");
    let frame = second.len();
    let out = right(&second).len();
    assert_eq!(pcap.len(), 24 + (16 + frame) + 2 * (16 + out));
    assert_eq!(&pcap[24 + 16..24 + 16 + frame], &second[..]);
}
