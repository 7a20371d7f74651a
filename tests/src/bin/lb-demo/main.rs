//! `cargo xtask demo`: the whole path for real. A client, a director running lbd, and three
//! real servers (each with `lbd decap` and an HTTP server that names itself), as network
//! namespaces on one bridge; 30 HTTP requests to the VIP over new TCP connections; which real
//! server answered each; then `lbctl -L -n --stats`. Everything is removed at the end, also on
//! Ctrl-C (the guards run when the interrupted main thread unwinds).
//!
//! `cargo xtask demo ha` ([`ha`]): two directors behind a router's ECMP, one killed while
//! clients keep their connections.

mod ha;

use std::{
    net::SocketAddr,
    sync::atomic::{AtomicBool, Ordering},
};

use lb_tests::{
    consts::{VIP, VIP_PORT},
    topo::{self, Method, Topology},
};

pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn main() {
    if !lb_tests::is_root() {
        eprintln!("lb-demo: needs root (XDP and network namespaces)");
        std::process::exit(1);
    }
    // SAFETY: installing an async-signal-safe handler that only sets an atomic flag.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let demo: fn() -> bool = match std::env::args().nth(1).as_deref() {
        None => run,
        Some("ha") => ha::run,
        Some(other) => {
            eprintln!("lb-demo: no demo {other:?} (the demos: none named, or ha)");
            std::process::exit(2);
        }
    };
    let code = match std::panic::catch_unwind(demo) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(_) => 1,
    };
    std::process::exit(code);
}

fn run() -> bool {
    println!("== building the topology: client, director, rs0..rs2 on one bridge");
    let mut t = Topology::new(3, Method::Tun);
    let cfg = t.config(&[1, 1, 1]);
    println!("== lbd config:\n{}", cfg.json());
    t.start_lbd(&cfg);
    println!("== lbd is up");
    println!("== 30 HTTP requests from the client to {VIP}:{VIP_PORT}, one TCP connection each");
    let _in_client = t.client.enter();
    let vip: SocketAddr = (VIP, VIP_PORT).into();
    let mut ok = true;
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    for i in 1..=30 {
        if INTERRUPTED.load(Ordering::SeqCst) {
            println!("interrupted: cleaning up");
            return false;
        }
        match topo::http_get(vip, None) {
            Ok((status, body)) => {
                let who = body.trim().to_string();
                println!("request {i:2}: HTTP {status} answered by {who}");
                *seen.entry(who).or_default() += 1;
                ok &= status == 200;
            }
            Err(e) => {
                println!("request {i:2}: failed: {e}");
                ok = false;
                if i == 1 {
                    println!(
                        "== lbctl status after the first failure\n{}",
                        t.lbctl(&["status"])
                    );
                    if let Some(secs) = std::env::var("LB_DEMO_HOLD")
                        .ok()
                        .and_then(|s| s.parse().ok())
                    {
                        println!("LB_DEMO_HOLD: keeping the topology for {secs} s");
                        std::thread::sleep(std::time::Duration::from_secs(secs));
                    }
                }
            }
        }
    }
    drop(_in_client);
    println!("== answers per real server: {seen:?}");
    println!(
        "== lbctl -L -n --stats\n{}",
        t.lbctl(&["-L", "-n", "--stats"])
    );
    println!("== lbctl -L -n\n{}", t.lbctl(&["-L", "-n"]));
    if seen.len() != 3 {
        println!("demo: expected all three real servers to answer");
        ok = false;
    }
    println!(
        "== lbd's log\n{}",
        std::fs::read_to_string(t.log_path()).unwrap_or_default()
    );
    println!("== removing namespaces, processes and pins");
    ok
}
