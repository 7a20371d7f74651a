//! Packet fixtures as Katran's tester reads them: each one a record of what it shows, the
//! input frame (built with [`crate::packet`]), the expected verdict, the expected output
//! bytes and the expected reason-counter changes. [`Harness::run_fixtures`] runs a table of
//! them in order through one harness and asserts everything together: it goes through the
//! whole table, then fails naming every fixture that did not hold, with both frames in hex,
//! and writes them to a pcap file under the target directory for a human with Wireshark.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf, time::Duration};

use crate::{
    consts::{XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX},
    packet::hex,
    testrun::{Harness, reason_delta},
};

/// One fixture.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// What it shows, in a few words.
    pub what: String,
    /// The program it runs through: `lb` or `decap`.
    pub program: &'static str,
    pub input: Vec<u8>,
    /// The XDP action the program must return.
    pub verdict: u32,
    /// The frame it must leave; `None`: the input, unchanged.
    pub output: Option<Vec<u8>>,
    /// The reason counters that must change, and by how much; every other one must not.
    pub counters: Vec<(&'static str, u64)>,
}

impl Fixture {
    /// A fixture for `lb`, expecting the input to pass untouched with no counter changed
    /// until told otherwise.
    pub fn new(what: impl Into<String>, input: Vec<u8>) -> Self {
        Fixture {
            what: what.into(),
            program: "lb",
            input,
            verdict: XDP_PASS,
            output: None,
            counters: Vec::new(),
        }
    }

    /// Runs through `program` instead of `lb`.
    pub fn program(mut self, program: &'static str) -> Self {
        self.program = program;
        self
    }

    /// Transmitted (`XDP_TX`) as `output`.
    pub fn tx(mut self, output: Vec<u8>) -> Self {
        self.verdict = XDP_TX;
        self.output = Some(output);
        self
    }

    /// Passed to the host stack as `output`.
    pub fn pass_as(mut self, output: Vec<u8>) -> Self {
        self.verdict = XDP_PASS;
        self.output = Some(output);
        self
    }

    /// Passed to the host stack unchanged.
    pub fn pass(mut self) -> Self {
        self.verdict = XDP_PASS;
        self.output = None;
        self
    }

    /// Dropped, the frame left as it came.
    pub fn dropped(mut self) -> Self {
        self.verdict = XDP_DROP;
        self.output = None;
        self
    }

    /// The reason counters that change.
    pub fn counters(mut self, counters: &[(&'static str, u64)]) -> Self {
        self.counters = counters.to_vec();
        self
    }
}

fn action_name(a: u32) -> String {
    match a {
        XDP_ABORTED => "XDP_ABORTED".into(),
        XDP_DROP => "XDP_DROP".into(),
        XDP_PASS => "XDP_PASS".into(),
        XDP_TX => "XDP_TX".into(),
        XDP_REDIRECT => "XDP_REDIRECT".into(),
        other => format!("action {other}"),
    }
}

/// A fixture that did not hold: what came out.
struct Failure {
    index: usize,
    got_verdict: u32,
    got: Vec<u8>,
    got_counters: Vec<(&'static str, u64)>,
}

impl Harness {
    /// Runs `fixtures` in order (each sees the state the previous ones left), then asserts
    /// all of them: verdict, output bytes and counters. Returns each fixture's output.
    pub fn run_fixtures(&mut self, fixtures: &[Fixture]) -> Vec<Vec<u8>> {
        run(self, fixtures)
    }

    /// [`Harness::run_fixtures`] for one fixture; returns its output.
    pub fn run_fixture(&mut self, fixture: Fixture) -> Vec<u8> {
        run(self, std::slice::from_ref(&fixture)).remove(0)
    }
}

fn run(h: &mut Harness, fixtures: &[Fixture]) -> Vec<Vec<u8>> {
    let mut outputs = Vec::with_capacity(fixtures.len());
    let mut failures = Vec::new();
    for (index, f) in fixtures.iter().enumerate() {
        let before = h.reasons();
        let out = h.run(f.program, &f.input);
        let got_counters = reason_delta(&before, &h.reasons());
        let want = f.output.as_deref().unwrap_or(&f.input);
        let counted = |c: &[(&'static str, u64)]| c.iter().copied().collect::<BTreeMap<_, _>>();
        if out.action != f.verdict
            || out.data != want
            || counted(&got_counters) != counted(&f.counters)
        {
            failures.push(Failure {
                index,
                got_verdict: out.action,
                got: out.data.clone(),
                got_counters,
            });
        }
        outputs.push(out.data);
    }
    if !failures.is_empty() {
        panic!("{}", report(fixtures, &failures));
    }
    outputs
}

/// Asserts two frames are equal, dumping both in hex when they are not.
pub fn assert_frame(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}: output differs{}\n--- got ({} bytes)\n{}\n--- want ({} bytes)\n{}",
        first_difference(got, want),
        got.len(),
        hex(got),
        want.len(),
        hex(want)
    );
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    match got.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => format!(" from byte {i} ({i:#x})"),
        None => format!(" in length ({} vs {})", got.len(), want.len()),
    }
}

/// The failure message: every fixture that did not hold, and where its frames were written.
fn report(fixtures: &[Fixture], failures: &[Failure]) -> String {
    let mut m = format!(
        "{} of {} fixtures failed:\n",
        failures.len(),
        fixtures.len()
    );
    for fl in failures {
        let f = &fixtures[fl.index];
        let want = f.output.as_deref().unwrap_or(&f.input);
        let _ = writeln!(m, "\n=== fixture {} ({}): {}", fl.index, f.program, f.what);
        if fl.got_verdict != f.verdict {
            let _ = writeln!(
                m,
                "verdict: got {}, want {}",
                action_name(fl.got_verdict),
                action_name(f.verdict)
            );
        }
        let counted = |c: &[(&'static str, u64)]| c.iter().copied().collect::<BTreeMap<_, _>>();
        if counted(&fl.got_counters) != counted(&f.counters) {
            let _ = writeln!(
                m,
                "counters: got {:?}, want {:?}",
                fl.got_counters, f.counters
            );
        }
        if fl.got != want {
            let _ = writeln!(
                m,
                "output differs{}\n--- in ({} bytes)\n{}\n--- got ({} bytes)\n{}\n--- want ({} bytes)\n{}",
                first_difference(&fl.got, want),
                f.input.len(),
                hex(&f.input),
                fl.got.len(),
                hex(&fl.got),
                want.len(),
                hex(want)
            );
        }
    }
    match write_pcap(fixtures, failures) {
        Ok(path) => {
            let _ = write!(
                m,
                "\nframes of the failed fixtures (in, got, want for each) in {}",
                path.display()
            );
        }
        Err(e) => {
            let _ = write!(m, "\n(no pcap written: {e})");
        }
    }
    m
}

/// Where failed fixtures' frames go: `<target dir>/fixtures/<test name>.pcap`.
fn pcap_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    // The test thread is named after the test.
    let name = std::thread::current()
        .name()
        .unwrap_or("fixtures")
        .replace("::", "-");
    dir.join("fixtures").join(format!("{name}.pcap"))
}

/// Writes input, output and expected output of every failed fixture, in that order; the
/// timestamps' seconds are the fixture's index.
fn write_pcap(fixtures: &[Fixture], failures: &[Failure]) -> Result<PathBuf, String> {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let path = pcap_path();
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
    let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let mut w = PcapWriter::new(file).map_err(|e| e.to_string())?;
    for fl in failures {
        let f = &fixtures[fl.index];
        let want = f.output.as_deref().unwrap_or(&f.input);
        for (k, frame) in [&f.input[..], &fl.got, want].into_iter().enumerate() {
            let ts = Duration::from_secs(fl.index as u64) + Duration::from_micros(k as u64);
            w.write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(path)
}
