//! `cargo xtask`: everything a fresh machine needs, in one place.
//!
//! - `setup`: installs what is missing (Debian packages, the nightly's rust-src, bpf-linker
//!   built against LLVM 22) and mounts bpffs; quick when nothing is missing.
//! - `build`: the eBPF object (through lb-daemon's build script) and every binary.
//! - `demo`: the end-to-end demo in network namespaces (runs setup first).
//! - `test`: setup, build, then the whole test suite.
//! - `docs`: regenerates what docs/ ships from the binaries (man pages, completions, JSON
//!   Schemas of lbctl's outputs and of the config); a test checks that docs/ is current.
//! - `fuzz`: the long fuzz run, separate from CI's: the packet fuzz with 1,000,000 packets
//!   (`--packets`), the config fuzz, and the live socket-framing and state-file fuzzes with
//!   more rounds; it ends with each fuzzer's report (packets, XDP_ABORTED, inputs refused).
//! - `bench`: per-packet costs through BPF_PROG_TEST_RUN, and the control plane's costs
//!   (applying 1,000 services x 100 real servers from one JSON file; one Maglev rebuild of
//!   65537 slots for 1,000 real servers); see tests/src/bin/lb-bench/. `--before BIN`
//!   runs an older build's lb-bench alternately with this one and prints both side by side.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "lb's developer tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what this machine lacks (idempotent).
    Setup,
    /// Build the eBPF object and all binaries.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Run the end-to-end demo (client, director, three real servers), or with `ha` the
    /// high-availability one (two directors behind a router, one killed).
    Demo {
        #[arg(value_parser = ["ha"])]
        which: Option<String>,
    },
    /// Run setup, build, then every test.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The long fuzz run (CI's `test` runs 100,000 packets): packets through `lb`, configs,
    /// and lbd's socket framing and state file.
    Fuzz {
        /// Packets through `lb` (the packet fuzz).
        #[arg(long, default_value_t = 1_000_000)]
        packets: u64,
        /// Requests and state files for the live fuzzes, and configs for the config fuzz.
        #[arg(long, default_value_t = 5_000)]
        rounds: u64,
        /// The generators' seed (hex), for another run than the fixed one.
        #[arg(long)]
        seed: Option<String>,
    },
    /// Regenerate docs/ (man pages, completions, JSON Schemas) from the binaries.
    Docs,
    /// Measure per-packet and control-plane costs (a benchmark, not a test).
    Bench {
        /// Repeats per BPF_PROG_TEST_RUN call.
        #[arg(long, default_value_t = 1_000_000)]
        repeat: u32,
        /// Rounds per case (the median is reported).
        #[arg(long, default_value_t = 7)]
        rounds: u32,
        /// Side by side with an older build: the path of a copy of its lb-bench binary (its
        /// own XDP object embedded); both run alternately, `--runs` times.
        #[arg(long)]
        before: Option<PathBuf>,
        /// With `--before`: how many times each side runs.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Only the cases whose name contains this word (and the baseline).
        #[arg(long)]
        only: Option<String>,
    },
}

/// Debian packages the build and the tests need.
const APT_PACKAGES: &[&str] = &[
    // bpf-linker links against LLVM 22 (the nightly's LLVM major).
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    // Tests: network namespaces, veth, bridges, sysctl, checksum offload switches.
    "iproute2",
    "procps",
    "ethtool",
    // Tests of what users script and read, with tools nobody here wrote: man pages
    // (mandoc -Tlint), completions (bash, zsh, fish), JSON outputs against their schemas
    // (python3-jsonschema), the unit's capabilities (setpriv, util-linux).
    "mandoc",
    "bash-completion",
    "zsh",
    "fish",
    "jq",
    "python3",
    "python3-jsonschema",
    "util-linux",
    // The high-availability tests: a router and directors announcing VIPs through BIRD 2.
    "bird2",
    // The benchmark's peer in the veth chain: the kernel's own DNAT (nftables), and
    // conntrack to empty its table between rounds.
    "nftables",
    "conntrack",
    // The FTP tests: a real FTP server (pyftpdlib, run by the system's python3) on the real
    // servers; the client is python3's ftplib.
    "python3-pyftpdlib",
];
const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Setup => setup(),
        Cmd::Build { release } => {
            setup()?;
            build(release)
        }
        Cmd::Demo { which } => {
            setup()?;
            build(false)?;
            let bin = target_dir().join("debug/lb-demo");
            run_cmd("demo", Command::new(bin).args(which))
        }
        Cmd::Test { args } => {
            setup()?;
            build(false)?;
            step("test: cargo test --workspace");
            let mut c = cargo();
            c.args([
                "test",
                "--workspace",
                "--exclude",
                "lb-ebpf",
                "--no-fail-fast",
            ]);
            if !args.is_empty() {
                c.arg("--").args(args);
            }
            run_tests(&mut [c])
        }
        Cmd::Fuzz {
            packets,
            rounds,
            seed,
        } => {
            setup()?;
            build(false)?;
            step(&format!(
                "fuzz: {packets} packets, {rounds} rounds of the config and live fuzzes"
            ));
            // The packet fuzz and the live fuzzes (test names with "fuzz"), then the config
            // fuzz (all of its binary).
            let mut packet_live = cargo();
            packet_live
                .args(["test", "--no-fail-fast", "-p", "lb-tests"])
                .args(["--test", "packet", "--test", "live", "--", "fuzz"]);
            let mut config = cargo();
            config.args([
                "test",
                "--no-fail-fast",
                "-p",
                "lb-daemon",
                "--test",
                "fuzz_config",
            ]);
            let mut cmds = [packet_live, config];
            for c in &mut cmds {
                c.env("LB_FUZZ_PACKETS", packets.to_string())
                    .env("LB_FUZZ_ROUNDS", rounds.to_string());
                if let Some(seed) = &seed {
                    c.env("LB_FUZZ_SEED", seed);
                }
            }
            run_tests(&mut cmds)
        }
        Cmd::Docs => {
            setup()?;
            build(false)?;
            docs()
        }
        Cmd::Bench {
            repeat,
            rounds,
            before,
            runs,
            only,
        } => {
            setup()?;
            step("bench: building lb-bench (release)");
            run_cmd(
                "cargo build --release",
                cargo().args(["build", "--release", "-p", "lb-tests", "--bin", "lb-bench"]),
            )?;
            let out = target_dir().join("bench/bench.json");
            let mut cmd = Command::new(target_dir().join("release/lb-bench"));
            cmd.arg("--out")
                .arg(&out)
                .arg("--repeat")
                .arg(repeat.to_string())
                .arg("--rounds")
                .arg(rounds.to_string());
            if let Some(b) = before {
                cmd.arg("--compare")
                    .arg(b)
                    .arg("--runs")
                    .arg(runs.to_string());
            }
            if let Some(w) = only {
                cmd.arg("--only").arg(w);
            }
            run_cmd("lb-bench", &mut cmd)
        }
    }
}

/// Writes docs/ as the binaries generate it, generated folders emptied first so that a page
/// nothing generates any more goes.
fn docs() -> Result<()> {
    let dir = workspace_root().join("docs");
    for sub in ["man", "completions", "json"] {
        let d = dir.join(sub);
        if d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    for program in ["lbctl", "lbd"] {
        step(&format!("docs: {program} generate-docs docs/"));
        run_cmd(
            &format!("{program} generate-docs"),
            Command::new(target_dir().join("debug").join(program))
                .arg("generate-docs")
                .arg(&dir),
        )?;
    }
    Ok(())
}

fn step(msg: &str) {
    println!("xtask: {msg}");
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn run_cmd(what: &str, cmd: &mut Command) -> Result<()> {
    let st = cmd
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("{what}: cannot start"))?;
    if !st.success() {
        bail!("{what} failed ({st})");
    }
    Ok(())
}

/// Runs `cargo test`, streaming its output, and ends with one summary line over every test
/// binary ("xtask: N passed, M failed"), so the last line speaks for the whole suite rather
/// than for the last (often empty) doc-test run.
fn run_tests(cmds: &mut [Command]) -> Result<()> {
    use std::io::{BufRead, BufReader};
    // The fuzzers write one report line each here (tests' CARGO_TARGET_TMPDIR); a report
    // left from an earlier run is not this run's.
    let reports = target_dir().join("tmp");
    for e in std::fs::read_dir(&reports).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("fuzz-report-") || name.starts_with("skip-report-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for cmd in cmds.iter_mut() {
        let mut child = cmd
            .current_dir(workspace_root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cargo test: cannot start")?;
        let stdout = child.stdout.take().expect("piped");
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                for part in rest.split(';') {
                    let mut w = part.split_whitespace().rev();
                    let (Some(what), Some(n)) = (w.next(), w.next()) else {
                        continue;
                    };
                    let n: u64 = n.parse().unwrap_or(0);
                    match what {
                        "passed" => passed += n,
                        "failed" => failed += n,
                        "ignored" => ignored += n,
                        _ => {}
                    }
                }
            }
        }
        let st = child.wait().context("cargo test")?;
        if !st.success() {
            failures.push(st);
        }
    }
    let mut found: Vec<(String, String)> = std::fs::read_dir(&reports)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let what = name
                .strip_prefix("fuzz-report-")?
                .strip_suffix(".txt")?
                .to_string();
            Some((what, std::fs::read_to_string(e.path()).ok()?))
        })
        .collect();
    found.sort();
    for (what, line) in found {
        println!("xtask: fuzz {what}: {}", line.trim());
    }
    // Tests that returned early for what this machine lacks (`lb_tests::skip!`): cargo
    // counts them as passed.
    let mut skipped: Vec<(String, String)> = std::fs::read_dir(&reports)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let what = name
                .strip_prefix("skip-report-")?
                .strip_suffix(".txt")?
                .to_string();
            Some((what, std::fs::read_to_string(e.path()).ok()?))
        })
        .collect();
    skipped.sort();
    for (what, why) in &skipped {
        println!("xtask: skipped {what}: {}", why.trim());
    }
    println!(
        "xtask: {passed} passed ({} of them skipped by this machine, above), {failed} failed, \
         {ignored} skipped",
        skipped.len()
    );
    if let Some(st) = failures.first() {
        bail!("cargo test failed ({st})");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn build(release: bool) -> Result<()> {
    step(&format!(
        "build: eBPF object and all binaries ({})",
        if release { "release" } else { "debug" }
    ));
    let mut c = cargo();
    c.args(["build", "--workspace", "--exclude", "lb-ebpf", "--bins"]);
    if release {
        c.arg("--release");
    }
    run_cmd("cargo build", &mut c)
}

/// Each step says what it checks, and either finds it done or does it; a failure names the
/// step.
fn setup() -> Result<()> {
    setup_apt().context("setup step 'Debian packages'")?;
    setup_nightly().context("setup step 'nightly toolchain with rust-src'")?;
    setup_bpf_linker().context("setup step 'bpf-linker'")?;
    setup_bpffs().context("setup step 'bpffs'")?;
    Ok(())
}

fn setup_apt() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .map(|s| !s.contains("install ok installed"))
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        step("setup: Debian packages: all present");
        return Ok(());
    }
    step(&format!(
        "setup: Debian packages: installing {}",
        missing.join(" ")
    ));
    run_cmd(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
    )?;
    run_cmd(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn setup_nightly() -> Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))
        .context("rustup is not available")?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        step("setup: nightly toolchain: installing (the eBPF crate needs -Z build-std)");
        run_cmd(
            "rustup toolchain install nightly",
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
        )?;
    }
    let comps = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))
    .unwrap_or_default();
    if comps.lines().any(|l| l.starts_with("rust-src")) {
        step("setup: nightly rust-src: present");
        return Ok(());
    }
    step("setup: nightly rust-src: installing");
    run_cmd(
        "rustup component add rust-src",
        Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
    )
}

fn setup_bpf_linker() -> Result<()> {
    let have = output(Command::new("bpf-linker").arg("--version")).unwrap_or_default();
    if have.contains(BPF_LINKER_VERSION) {
        step(&format!("setup: bpf-linker {BPF_LINKER_VERSION}: present"));
        return Ok(());
    }
    step(&format!(
        "setup: bpf-linker {BPF_LINKER_VERSION}: building against LLVM 22 (about a minute)"
    ));
    let path = format!(
        "{LLVM_PREFIX}/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    run_cmd(
        "cargo install bpf-linker",
        cargo()
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--no-default-features",
                "--features",
                "llvm-22",
            ])
            .env("LLVM_PREFIX", LLVM_PREFIX)
            .env("PATH", path),
    )
}

fn setup_bpffs() -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").context("reading mounts")?;
    if mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some("/sys/fs/bpf") && l.split(' ').nth(2) == Some("bpf"))
    {
        step("setup: bpffs at /sys/fs/bpf: mounted");
        return Ok(());
    }
    step("setup: bpffs at /sys/fs/bpf: mounting");
    run_cmd(
        "mount -t bpf",
        Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]),
    )
}
