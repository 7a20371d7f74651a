//! Fuzzing lbctl's parsers and formatters from a fixed seed (reproducible; set LB_FUZZ_SEED
//! to explore others): command lines built from ipvsadm's options with random and mangled
//! values, restore files, lbd answers as JSON, and listings of random tables with odd names.
//! Nothing may panic; an accepted command line must resolve to a command, a rejected one must
//! say why in a single line.

use std::net::IpAddr;

use lb_ctl::{
    cli::Cli,
    format::{self, ListFormat, Resolve},
    ipvsadm::{self, NoLookup},
};
use lb_model::api::{ConnView, RateView, RealServerView, Response, ServiceView, StatsView};

const FLAGS: &[&str] = &[
    "-A",
    "-E",
    "-D",
    "-C",
    "-R",
    "-S",
    "-a",
    "-e",
    "-d",
    "-L",
    "-l",
    "-Z",
    "--set",
    "--start-daemon",
    "--stop-daemon",
    "-t",
    "-u",
    "--sctp-service",
    "-f",
    "-s",
    "-p",
    "-M",
    "--pe",
    "-b",
    "-o",
    "-6",
    "--mh-table-size",
    "-r",
    "-g",
    "-i",
    "-m",
    "--tun-type",
    "--tun-port",
    "--tun-nocsum",
    "--tun-csum",
    "--tun-remcsum",
    "-w",
    "-x",
    "-y",
    "-n",
    "-c",
    "--timeout",
    "--daemon",
    "--stats",
    "--rate",
    "--thresholds",
    "--persistent-conn",
    "--tun-info",
    "--sort",
    "--nosort",
    "-X",
    "--exact",
    "--mcast-interface",
    "--syncid",
    "--mcast-group",
    "--mcast-port",
    "--mcast-ttl",
    "--sync-maxlen",
    "--json",
    "--socket",
    "status",
    "apply",
    "get",
    "config",
    "completions",
    "man",
    "-Ln",
    "-ln",
    "-LnX",
];

const VALUES: &[&str] = &[
    "192.168.0.1:80",
    "192.168.0.1",
    "10.0.0.1:0",
    "10.0.0.1:65535",
    "10.0.0.1:65536",
    "[2001:db8::1]:443",
    "[2001:db8::1]",
    "2001:db8::1",
    "[::]:1",
    "[",
    "]",
    "[:]:",
    ":",
    ":80",
    "1.2.3.4:http",
    "localhost:80",
    "256.1.1.1:1",
    "1.2.3",
    "-1",
    "0",
    "1",
    "300",
    "2147483647",
    "2147483648",
    "4294967296",
    "99999999999999999999",
    "rr",
    "wlc",
    "mh",
    "sh",
    "fastest",
    "sh-port,flag-1",
    ",,",
    "mh-port,mh-fallback",
    "255.255.255.0",
    "255.0.255.0",
    "64",
    "129",
    "gue",
    "ipip",
    "gre",
    "master",
    "backup",
    "",
    " ",
    "é",
    "💥",
    "\u{0}",
    "--",
    "-",
    "-w",
    "x",
    "6080",
    "a:b:c:d",
    "10.0.0.1:80:90",
];

fn garbage(r: &mut fastrand::Rng) -> String {
    let len = r.usize(..12);
    (0..len)
        .map(|_| {
            let c = r
                .choice(b"0123456789abcdef:.[]-,/ \x7fz")
                .expect("a non-empty choice");
            *c as char
        })
        .collect()
}

fn argv(r: &mut fastrand::Rng) -> Vec<String> {
    let n = r.usize(..9);
    (0..n)
        .map(|_| {
            if r.u64(..100) < 55 {
                r.choice(FLAGS).expect("a non-empty choice").to_string()
            } else if r.u64(..100) < 80 {
                r.choice(VALUES).expect("a non-empty choice").to_string()
            } else {
                garbage(r)
            }
        })
        .collect()
}

#[test]
fn command_lines_never_panic() {
    let mut r = seeded_rng();
    let (mut accepted, mut refused) = (0u32, 0u32);
    // clap builds its parser per call (about half a millisecond in a debug build).
    for _ in 0..4_000 {
        let args = argv(&mut r);
        let full: Vec<String> = std::iter::once("lbctl".to_string())
            .chain(args.clone())
            .collect();
        let cli = match Cli::parse_words(&full) {
            Ok(cli) => cli,
            Err(e) => {
                // ipvsadm's (popt's) words for what clap refused: one line, a known status.
                if let Some((message, status)) = ipvsadm::clap_error(&full, &e) {
                    assert!(
                        !message.is_empty() && !message.contains('\n'),
                        "{args:?}: {message:?}"
                    );
                    assert!(status == 2 || status == 255, "{args:?}: {status}");
                }
                continue;
            }
        };
        match cli.resolve_with_lookup(&NoLookup) {
            Ok(_) => accepted += 1,
            Err(e) => {
                refused += 1;
                // One line (ipvsadm's "-6 used before -f\n" ends in an empty one).
                let text = e.0.strip_suffix('\n').unwrap_or(&e.0);
                assert!(!text.is_empty() && !text.contains('\n'), "{args:?}: {e:?}");
            }
        }
    }
    // The vocabulary reaches both sides.
    assert!(
        accepted > 100 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn restore_files_never_panic() {
    let mut r = seeded_rng();
    for _ in 0..500 {
        let text: Vec<String> = (0..r.usize(..6))
            .map(|_| {
                let mut a = argv(&mut r);
                if r.u64(..100) < 30 {
                    a.insert(0, "#".into());
                }
                a.join(" ")
            })
            .collect();
        let text = text.join("\n");
        if let Err(e) = ipvsadm::parse_restore(&text, &NoLookup) {
            assert!(e.message.starts_with("line "), "{text:?}: {e:?}");
            assert!(!e.message.contains('\n'), "{text:?}: {e:?}");
        }
    }
}

/// Random JSON-ish answers from "lbd": decoding must fail cleanly or give a response.
#[test]
fn daemon_answers_never_panic() {
    let mut r = seeded_rng();
    let good = serde_json::to_string(&Response::Services {
        conn_table_size: 1,
        services: vec![ServiceView::default()],
    })
    .unwrap();
    for _ in 0..20_000 {
        let mut bytes = good.clone().into_bytes();
        for _ in 0..1 + r.usize(..4) {
            let i = r.usize(..bytes.len());
            match r.usize(..3) {
                0 => bytes[i] = r.u64(..) as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, *r.choice(b"{}[]\",:0-9e").expect("a non-empty choice")),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = serde_json::from_str::<Response>(&text);
    }
}

/// Names as odd as a resolver might give: long, empty, multi-byte.
struct OddNames(u64);
impl Resolve for OddNames {
    fn host(&self, a: IpAddr) -> Option<String> {
        let n = match a {
            IpAddr::V4(v) => u32::from(v) as u64,
            IpAddr::V6(v) => u128::from(v) as u64,
        } ^ self.0;
        match n % 4 {
            0 => None,
            1 => Some(String::new()),
            2 => Some("é".repeat((n % 40) as usize)),
            _ => Some("💥x".repeat((n % 17) as usize)),
        }
    }
    fn service(&self, port: u16, _: &str) -> Option<String> {
        port.is_multiple_of(3)
            .then(|| "ß".repeat((port % 23) as usize))
    }
}

fn random_addr(r: &mut fastrand::Rng) -> IpAddr {
    if r.u64(..100) < 50 {
        IpAddr::from((r.u64(..) as u32).to_be_bytes())
    } else {
        IpAddr::from(((r.u64(..) as u128) << 64 | r.u64(..) as u128).to_be_bytes())
    }
}

#[test]
fn listings_of_random_tables_never_panic() {
    let mut r = seeded_rng();
    for _ in 0..2_000 {
        let n = r.usize(..4);
        let services: Vec<ServiceView> = (0..n)
            .map(|_| ServiceView {
                protocol: r
                    .choice(&["tcp", "udp", "sctp", "?"])
                    .expect("a non-empty choice")
                    .to_string(),
                vip: random_addr(&mut r),
                port: r.u64(..) as u16,
                fwmark: (r.u64(..100) < 10).then(|| r.u64(..) as u32),
                scheduler: r
                    .choice(&["rr", "mh", "", "é"])
                    .expect("a non-empty choice")
                    .to_string(),
                sched_flags: vec![
                    r.choice(&["sh-port", "", "x"])
                        .expect("a non-empty choice")
                        .to_string(),
                ],
                persistent: (r.u64(..100) < 30).then(|| r.u64(..) as u32),
                persistent_netmask: (r.u64(..100) < 30).then(|| r.u64(..) as u8),
                pe_name: (r.u64(..100) < 5).then(|| "sip".into()),
                one_packet: r.u64(..100) < 10,
                mh_table_size: (r.u64(..100) < 10).then(|| r.u64(..) as u32),
                stats: StatsView {
                    conns: r.u64(..),
                    ..Default::default()
                },
                rate: RateView {
                    in_bps: r.u64(..),
                    ..Default::default()
                },
                real_servers: (0..r.usize(..4))
                    .map(|_| RealServerView {
                        address: random_addr(&mut r),
                        port: r.u64(..) as u16,
                        forwarding: r
                            .choice(&["tun", "dr", "nat", "local", "??"])
                            .expect("a non-empty choice")
                            .to_string(),
                        weight: r.u64(..) as u32,
                        tun_type: (r.u64(..100) < 30).then(|| {
                            r.choice(&["ipip", "gue", "gre", "x"])
                                .expect("a non-empty choice")
                                .to_string()
                        }),
                        tun_port: (r.u64(..100) < 30).then(|| r.u64(..) as u16),
                        tun_csum: (r.u64(..100) < 30).then(|| {
                            r.choice(&["csum", "remcsum", "y"])
                                .expect("a non-empty choice")
                                .to_string()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                health: None,
            })
            .collect();
        let names = OddNames(r.u64(..));
        let fmt = ListFormat {
            stats: r.u64(..100) < 20,
            rate: r.u64(..100) < 20,
            thresholds: r.u64(..100) < 20,
            persistent_conn: r.u64(..100) < 20,
            tun_info: r.u64(..100) < 20,
            exact: r.u64(..100) < 50,
            nosort: r.u64(..100) < 50,
        };
        let _ = format::list_all(&services, r.u64(..) as u32, fmt, &names);
        let _ = format::rules(&services, fmt.nosort, &names);
        let conns: Vec<ConnView> = (0..r.usize(..3))
            .map(|_| ConnView {
                protocol: "tcp".into(),
                state: "ESTABLISHED".into(),
                expires: r.u64(..),
                client: random_addr(&mut r),
                client_port: r.u64(..) as u16,
                vip: random_addr(&mut r),
                vport: r.u64(..) as u16,
                real: random_addr(&mut r),
                real_port: r.u64(..) as u16,
                template: false,
            })
            .collect();
        let _ = format::connections(&conns, r.u64(..100) < 50, &names);
    }
}

const SEED: u64 = 0x5eed_1bc7_2026;

/// The fuzzer's generator, seeded from `LB_FUZZ_SEED` or a fixed seed (reproducible).
fn seeded_rng() -> fastrand::Rng {
    let seed = std::env::var("LB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED);
    eprintln!("fuzz seed {seed} (set LB_FUZZ_SEED to change)");
    fastrand::Rng::with_seed(seed)
}
