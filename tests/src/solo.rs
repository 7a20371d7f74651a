//! lbd alone in a network namespace of its own with one veth (`eth0`, the director's
//! 198.18.0.2/24): enough for control-plane tests that send no traffic through it, and for
//! packet tests through `BPF_PROG_TEST_RUN` against the maps lbd pins.

use std::{net::Ipv4Addr, path::PathBuf, process::Output};

use crate::{
    Share,
    config::{ConfigBuilder, config},
    consts::{DIRECTOR, real_mac},
    netns::{Netns, unique_name},
    topo::{Proc, lbctl, spawn_lbd},
};

/// lbd alone in a namespace with one veth: enough for everything that sends no traffic.
pub struct SoloLbd {
    lbd: Option<Proc>,
    /// A directory of its own (config, state file, socket, log), removed on drop.
    pub dir: PathBuf,
    /// Where lbd pins its maps.
    pub pin_dir: PathBuf,
    pub socket: PathBuf,
    /// lbd's state file (`dir/state.json` unless the test chose another place).
    pub state_file: PathBuf,
    /// The config lbd started with (no services).
    pub config: ConfigBuilder,
    pub ns: Netns,
    // Last: released once everything above is torn down.
    _share: Share,
}

impl SoloLbd {
    /// lbd beside the other live tests.
    pub fn start() -> Self {
        Self::start_sharing(Share::side_by_side())
    }

    /// lbd for a test that keeps the CPUs busy: it runs while no other live test does.
    pub fn start_alone() -> Self {
        Self::start_sharing(Share::alone())
    }

    /// lbd beside the other live tests, its state file at `state_file` (a test's own
    /// filesystem, say).
    pub fn start_with_state_file(state_file: PathBuf) -> Self {
        Self::start_full(Share::side_by_side(), Some(state_file))
    }

    fn start_sharing(share: Share) -> Self {
        Self::start_full(share, None)
    }

    fn start_full(share: Share, state_file: Option<PathBuf>) -> Self {
        let ns = Netns::new("ctl");
        ns.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
        ]);
        ns.ip(&["addr", "add", &format!("{DIRECTOR}/24"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        ns.ip(&["link", "set", "peer0", "up"]);
        let dir = std::env::temp_dir().join(unique_name("ctl"));
        std::fs::create_dir_all(&dir).unwrap();
        let pin_dir = PathBuf::from("/sys/fs/bpf").join(unique_name("pins"));
        let config = config().conn_table_size(65536).pin_dir(&pin_dir);
        std::fs::write(dir.join("lb.json"), config.json()).unwrap();
        let socket = dir.join("lbd.sock");
        let state_file = state_file.unwrap_or_else(|| dir.join("state.json"));
        let log = std::fs::File::create(dir.join("lbd.log")).unwrap();
        let p = spawn_lbd(&ns, &dir.join("lb.json"), &socket, &state_file, log);
        SoloLbd {
            lbd: Some(p),
            dir,
            pin_dir,
            socket,
            state_file,
            config,
            ns,
            _share: share,
        }
    }

    /// Runs lbctl against this lbd, returning its whole output without judging it.
    pub fn lbctl(&self, args: &[&str], stdin: &[u8]) -> Output {
        lbctl(&self.socket, args, stdin)
    }

    /// lbd's process id.
    pub fn pid(&self) -> u32 {
        self.lbd.as_ref().expect("lbd runs").pid()
    }

    /// Kills lbd with SIGKILL (nothing it could still write on the way out), leaving the data
    /// plane and the state file as they are.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.lbd.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(p.pid() as i32, libc::SIGKILL) };
            p.stop();
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Kills lbd with SIGKILL (nothing it could still write on the way out) and starts it
    /// again with the same config, socket and state file; returns once it answers (it takes
    /// requests once it has applied its state file, which for thousands of services takes a
    /// while).
    pub fn kill_and_restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("lbd.log"))
            .unwrap();
        self.lbd = Some(spawn_lbd(
            &self.ns,
            &self.dir.join("lb.json"),
            &self.socket,
            &self.state_file,
            log,
        ));
        crate::wait_until(
            std::time::Duration::from_secs(180),
            "lbd answers after its restart",
            || self.lbctl(&["status"], b"").status.success(),
        );
    }

    /// lbctl's stdout, which must have succeeded.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.lbctl(args, b"");
        assert!(out.status.success(), "lbctl {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

impl SoloLbd {
    /// Permanent neighbour entries on eth0 (MACs from [`real_mac`]), for packets run through
    /// `BPF_PROG_TEST_RUN` in this namespace.
    pub fn neighbours(&self, addrs: &[Ipv4Addr]) {
        for a in addrs {
            self.ns.neighbour("eth0", (*a).into(), real_mac(*a));
        }
    }
}

impl Drop for SoloLbd {
    fn drop(&mut self) {
        if let Some(mut p) = self.lbd.take() {
            p.stop();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("lbd.log")).unwrap_or_default();
            eprintln!("--- lbd log\n{log}--- end of lbd log");
        }
        let _ = std::fs::remove_dir_all(&self.pin_dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
