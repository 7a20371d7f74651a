//! Fuzzing lbctl's parsers and formatters from a fixed seed (reproducible; set LB_FUZZ_SEED
//! to explore others): command lines built from ipvsadm's options with random and mangled
//! values, restore files, lbd answers as JSON, and listings of random tables with odd names.
//! Nothing may panic; an accepted command line must resolve to a command, a rejected one must
//! say why in a single line.

use std::net::IpAddr;

use lb_common::api::{ConnView, RateView, RealServerView, Response, ServiceView, StatsView};
use lb_ctl::{
    cli::Cli,
    format::{self, ListFormat, Resolve},
    ipvsadm::{self, NoLookup},
};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let seed = std::env::var("LB_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1bc7_2026_u64);
        eprintln!("fuzz seed {seed} (set LB_FUZZ_SEED to change)");
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

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

fn garbage(r: &mut Rng) -> String {
    let len = r.below(12);
    (0..len)
        .map(|_| {
            let c = r.pick(b"0123456789abcdef:.[]-,/ \x7fz");
            *c as char
        })
        .collect()
}

fn argv(r: &mut Rng) -> Vec<String> {
    let n = r.below(9);
    (0..n)
        .map(|_| {
            if r.chance(55) {
                r.pick(FLAGS).to_string()
            } else if r.chance(80) {
                r.pick(VALUES).to_string()
            } else {
                garbage(r)
            }
        })
        .collect()
}

#[test]
fn command_lines_never_panic() {
    let mut r = Rng::seeded();
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
    let mut r = Rng::seeded();
    for _ in 0..500 {
        let text: Vec<String> = (0..r.below(6))
            .map(|_| {
                let mut a = argv(&mut r);
                if r.chance(30) {
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
    let mut r = Rng::seeded();
    let good = serde_json::to_string(&Response::Services {
        conn_table_size: 1,
        services: vec![ServiceView::default()],
    })
    .unwrap();
    for _ in 0..20_000 {
        let mut bytes = good.clone().into_bytes();
        for _ in 0..1 + r.below(4) {
            let i = r.below(bytes.len());
            match r.below(3) {
                0 => bytes[i] = r.next() as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, *r.pick(b"{}[]\",:0-9e")),
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

fn random_addr(r: &mut Rng) -> IpAddr {
    if r.chance(50) {
        IpAddr::from((r.next() as u32).to_be_bytes())
    } else {
        IpAddr::from(((r.next() as u128) << 64 | r.next() as u128).to_be_bytes())
    }
}

#[test]
fn listings_of_random_tables_never_panic() {
    let mut r = Rng::seeded();
    for _ in 0..2_000 {
        let n = r.below(4);
        let services: Vec<ServiceView> = (0..n)
            .map(|_| ServiceView {
                protocol: r.pick(&["tcp", "udp", "sctp", "?"]).to_string(),
                vip: random_addr(&mut r),
                port: r.next() as u16,
                fwmark: r.chance(10).then(|| r.next() as u32),
                scheduler: r.pick(&["rr", "mh", "", "é"]).to_string(),
                sched_flags: vec![r.pick(&["sh-port", "", "x"]).to_string()],
                persistent: r.chance(30).then(|| r.next() as u32),
                persistent_netmask: r.chance(30).then(|| r.next() as u8),
                pe_name: r.chance(5).then(|| "sip".into()),
                one_packet: r.chance(10),
                mh_table_size: r.chance(10).then(|| r.next() as u32),
                stats: StatsView {
                    conns: r.next(),
                    ..Default::default()
                },
                rate: RateView {
                    in_bps: r.next(),
                    ..Default::default()
                },
                real_servers: (0..r.below(4))
                    .map(|_| RealServerView {
                        address: random_addr(&mut r),
                        port: r.next() as u16,
                        forwarding: r.pick(&["tun", "dr", "nat", "local", "??"]).to_string(),
                        weight: r.next() as u32,
                        tun_type: r
                            .chance(30)
                            .then(|| r.pick(&["ipip", "gue", "gre", "x"]).to_string()),
                        tun_port: r.chance(30).then(|| r.next() as u16),
                        tun_csum: r
                            .chance(30)
                            .then(|| r.pick(&["csum", "remcsum", "y"]).to_string()),
                        ..Default::default()
                    })
                    .collect(),
                health: None,
            })
            .collect();
        let names = OddNames(r.next());
        let fmt = ListFormat {
            stats: r.chance(20),
            rate: r.chance(20),
            thresholds: r.chance(20),
            persistent_conn: r.chance(20),
            tun_info: r.chance(20),
            exact: r.chance(50),
            nosort: r.chance(50),
        };
        let _ = format::list_all(&services, r.next() as u32, fmt, &names);
        let _ = format::rules(&services, fmt.nosort, &names);
        let conns: Vec<ConnView> = (0..r.below(3))
            .map(|_| ConnView {
                protocol: "tcp".into(),
                state: "ESTABLISHED".into(),
                expires: r.next(),
                client: random_addr(&mut r),
                client_port: r.next() as u16,
                vip: random_addr(&mut r),
                vport: r.next() as u16,
                real: random_addr(&mut r),
                real_port: r.next() as u16,
                template: false,
            })
            .collect();
        let _ = format::connections(&conns, r.chance(50), &names);
    }
}
