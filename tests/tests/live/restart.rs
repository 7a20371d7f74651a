//! Hitless restart and upgrade: the data plane outlives lbd (pinned maps and XDP link); lbd
//! started again takes it over, swaps its own build of the program in atomically and keeps
//! every connection; a data plane whose map layout this build cannot read is left alone with
//! a clear error.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use lb_tests::{
    consts::{VIP, real_addr},
    require_root,
    servers::exchange,
    topo::{Method, Topology, bin, socket2_connect},
    wait_until,
};

const PORT: u16 = 9000;

/// The id of the XDP program on the director's eth0, if any (`ip link` shows `prog/xdp id N`).
fn xdp_prog_id(t: &Topology) -> Option<u32> {
    let out = t.director.ip(&["link", "show", "dev", "eth0"]);
    let rest = out.split("prog/xdp id ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Waits until `f` holds (polling), or panics with `what` after `secs`.
fn wait_for(secs: u64, what: &str, f: impl FnMut() -> bool) {
    wait_until(Duration::from_secs(secs), what, f);
}

#[test]
fn a_stream_keeps_flowing_across_kill_9_restart_upgrade_and_stop() {
    require_root!();
    // nat: both directions cross the director, so the replies' rewrite entries must survive
    // as well as the connection's.
    let mut t = Topology::new(2, Method::Nat);
    let _lines = t.line_servers(PORT);
    let cfg = t.config_on_port(&[1, 1], PORT);
    t.start_lbd(&cfg);
    let first_prog = xdp_prog_id(&t).expect("lb attached");

    // One long-lived connection, exchanging numbered lines without pause; every answer must
    // be the line sent, from the same real server, in order.
    let vip = SocketAddr::from((VIP, PORT));
    let mut conn = {
        let _in = t.client.enter();
        socket2_connect(vip, None).expect("connect")
    };
    let owner = exchange(&mut conn, "0").expect("first exchange");
    let owner = owner.split(' ').next().unwrap().to_string();
    let sent = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let failure = Arc::new(Mutex::new(None::<String>));
    let streamer = {
        let (sent, stop, failure, owner) =
            (sent.clone(), stop.clone(), failure.clone(), owner.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let n = sent.load(Ordering::SeqCst);
                let line = format!("{n} {}", "x".repeat((n % 64) as usize));
                match exchange(&mut conn, &line) {
                    Ok(a) if a == format!("{owner} {line}") => {
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(a) => {
                        *failure.lock().unwrap() = Some(format!("line {n}: answer {a:?}"));
                        return;
                    }
                    Err(e) => {
                        *failure.lock().unwrap() = Some(format!("line {n}: {e}"));
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let progress = |what: &str| {
        let from = sent.load(Ordering::SeqCst);
        wait_for(10, what, || {
            if let Some(f) = failure.lock().unwrap().clone() {
                panic!("the stream broke {what}: {f}");
            }
            sent.load(Ordering::SeqCst) >= from + 30
        });
    };
    progress("before anything");

    // kill -9: nothing runs lbd's shutdown; the data plane goes on alone.
    let pid = t.lbd.as_ref().unwrap().pid();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    t.lbd.take(); // reaps it
    assert_eq!(
        xdp_prog_id(&t),
        Some(first_prog),
        "still attached after kill -9"
    );
    progress("while lbd is dead");

    // lbd again: it adopts the pinned maps and swaps its program into the pinned link (the
    // upgrade path: a new program instance, the same maps).
    t.start_lbd(&cfg);
    // (lbd's socket opens before it attaches: poll.)
    wait_for(
        10,
        "the restarted lbd's program replaces the old one",
        || xdp_prog_id(&t).is_some_and(|id| id != first_prog),
    );
    let second_prog = xdp_prog_id(&t).expect("attached");
    progress("after the restart");
    // The programs `lb` tail-calls stay reachable through a pinned tail-call map per lbd
    // instance (the kernel empties one when its last user reference goes): the restarted
    // lbd pinned its own and removed the killed one's.
    let progs: Vec<String> = std::fs::read_dir(&t.pin_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("progs_lb_"))
        .collect();
    assert_eq!(
        progs,
        [format!("progs_lb_{second_prog}")],
        "tail-call map pins"
    );
    let log = std::fs::read_to_string(t.log_path()).unwrap();
    assert!(log.contains("adopting its maps"), "{log}");
    // The connection is still counted where it is.
    let v: serde_json::Value = serde_json::from_str(&t.lbctl(&["-L", "-n", "--json"])).unwrap();
    let reals = v["services"][0]["real_servers"].as_array().unwrap().clone();
    let active: Vec<(String, u64)> = reals
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_string(),
                r["active_conns"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let owner_addr = real_addr(owner[2..].parse().unwrap()).to_string();
    assert_eq!(
        active,
        vec![(owner_addr, 1)],
        "the one active connection, on its real server, across the restart: {v}"
    );
    // New connections work too.
    {
        let _in = t.client.enter();
        let mut c = socket2_connect(vip, None).expect("new connection");
        let a = exchange(&mut c, "new").expect("new exchange");
        assert!(a.ends_with(" new"), "{a}");
    }

    // A clean stop leaves the data plane running as well.
    t.lbd.take().unwrap().stop();
    assert_eq!(
        xdp_prog_id(&t),
        Some(second_prog),
        "still attached after a clean stop"
    );
    progress("after a clean stop");

    stop.store(true, Ordering::SeqCst);
    streamer.join().unwrap();
    assert!(
        failure.lock().unwrap().is_none(),
        "{:?}",
        failure.lock().unwrap()
    );

    // `lbd flush` removes it.
    let out = std::process::Command::new(bin("lbd"))
        .args(["flush", "--pin-dir"])
        .arg(&t.pin_dir)
        .output()
        .expect("run lbd flush");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The link goes with its pin's inode, which the kernel frees after an RCU grace period:
    // on a loaded machine the program may show for a moment after `lbd flush` returns.
    wait_for(5, "flush detaches the program", || {
        xdp_prog_id(&t).is_none()
    });
    assert!(!t.pin_dir.exists(), "flush removes the pins");
}

/// Creates and pins a hash map with the given sizes (the raw bpf(2) calls: a map of a layout
/// no build of lb has).
fn pin_map(path: &std::path::Path, key: u32, value: u32, entries: u32) {
    #[repr(C)]
    #[derive(Default)]
    struct Create {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        _rest: [u32; 27],
    }
    #[repr(C)]
    struct Pin {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
        _rest: [u64; 2],
    }
    const BPF_MAP_CREATE: i64 = 0;
    const BPF_OBJ_PIN: i64 = 6;
    const BPF_MAP_TYPE_HASH: u32 = 1;
    let attr = Create {
        map_type: BPF_MAP_TYPE_HASH,
        key_size: key,
        value_size: value,
        max_entries: entries,
        ..Default::default()
    };
    // SAFETY: bpf(2) with a zero-padded attribute of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            &attr as *const Create,
            std::mem::size_of::<Create>(),
        )
    };
    assert!(
        fd >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let pin = Pin {
        pathname: cpath.as_ptr() as u64,
        bpf_fd: fd as u32,
        file_flags: 0,
        _rest: [0; 2],
    };
    // SAFETY: as above; `cpath` outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_PIN,
            &pin as *const Pin,
            std::mem::size_of::<Pin>(),
        )
    };
    assert_eq!(rc, 0, "BPF_OBJ_PIN: {}", std::io::Error::last_os_error());
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd as i32) };
}

/// Runs lbd in the director's namespace with the topology's config file, to its end (it
/// stops at once when it refuses the running data plane).
fn lbd_once(t: &Topology) -> std::process::Output {
    std::process::Command::new(bin("lbd"))
        .arg("--netns")
        .arg(&t.director.name)
        .arg("--no-state")
        .arg("--config")
        .arg(&t.config_path)
        .arg("--socket")
        .arg(&t.socket)
        .output()
        .expect("run lbd")
}

#[test]
fn lbd_refuses_to_take_over_a_data_plane_whose_layout_it_cannot_read() {
    require_root!();
    let t = Topology::new(1, Method::Dr);
    // A "running data plane" whose services map has another layout than this build's.
    std::fs::create_dir_all(&t.pin_dir).unwrap();
    let bogus = t.pin_dir.join(lb_common::map_name::SERVICES);
    pin_map(&bogus, 8, 8, 16);
    t.write_config(&t.config(&[1]));
    let out = lbd_once(&t);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "lbd took it over:\n{err}");
    assert!(
        err.contains("the running data plane's map lb_services (key 8 bytes, value 8 bytes, 16 entries) does not fit this build (key 20 bytes, value 24 bytes"),
        "{err}"
    );
    assert!(err.contains("lbd flush --pin-dir"), "{err}");
    assert!(bogus.exists(), "the running data plane's map is left alone");
    assert_eq!(xdp_prog_id(&t), None, "nothing attached");
}

#[test]
fn lbd_refuses_a_data_plane_of_another_layout_version_even_when_every_size_agrees() {
    require_root!();
    let mut t = Topology::new(1, Method::Dr);
    let cfg = t.config(&[1]);
    t.start_lbd(&cfg);
    let running = xdp_prog_id(&t).expect("lb attached");
    // A clean stop leaves the data plane running, its maps pinned with this build's layout
    // version; then it is made a data plane of the next version (every size unchanged).
    t.lbd.take().unwrap().stop();
    let meta_pin = t.pin_dir.join(lb_common::map_name::META);
    let data = aya::maps::MapData::from_pin(&meta_pin).expect("lb_meta is pinned");
    let mut meta: aya::maps::Array<_, lb_common::LayoutMeta> =
        aya::maps::Array::try_from(aya::maps::Map::Array(data)).expect("lb_meta");
    let mut next = meta.get(&0, 0).expect("lb_meta's entry");
    assert_eq!(next.version, lb_common::LAYOUT_VERSION, "{next:?}");
    next.version += 1;
    meta.set(0, next, 0).expect("write lb_meta");

    t.write_config(&cfg);
    let out = lbd_once(&t);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "lbd took it over:\n{err}");
    let fp = lb_common::LAYOUT_FINGERPRINT;
    let (pinned, built) = (next.version, lb_common::LAYOUT_VERSION);
    assert!(
        err.contains(&format!(
            "the running data plane's maps have layout version {pinned} (fingerprint {fp:#018x}), this build's have layout version {built} (fingerprint {fp:#018x})"
        )),
        "{err}"
    );
    assert!(err.contains("lbd flush --pin-dir"), "{err}");
    assert_eq!(
        xdp_prog_id(&t),
        Some(running),
        "the running data plane is left attached"
    );
    assert_eq!(
        meta.get(&0, 0).expect("lb_meta's entry"),
        next,
        "and its maps as they were"
    );
}
