//! Packaging as ipvsadm ships: lbctl installed as `ipvsadm`, `ipvsadm-save`,
//! `ipvsadm-restore`, `lbctl-save` and `lbctl-restore` (symlinks, honoured by argv[0]), run
//! under those names against a real lbd; and `packaging/lb-rules.service`, verified by
//! systemd and its save and restore command lines run as they are written.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use lb_tests::{netns::unique_name, require_root, solo::SoloLbd, topo::bin};

/// A directory of symlinks to this build's lbctl, removed on drop.
struct Installed {
    dir: PathBuf,
}

impl Installed {
    fn new(names: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("install"));
        std::fs::create_dir_all(&dir).unwrap();
        for n in names {
            std::os::unix::fs::symlink(bin("lbctl"), dir.join(n)).unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `program args...` with `stdin`, lbd's socket given.
fn run(program: &Path, socket: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SAVED: &str = "-A -t 192.168.0.1:80 -s rr\n\
                     -a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1\n\
                     -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 1\n";

#[test]
fn lbctl_installed_as_ipvsadm_runs_ipvsadm_scripts_unchanged() {
    require_root!();
    let lbd = SoloLbd::start();
    let names = [
        "ipvsadm",
        "ipvsadm-save",
        "ipvsadm-restore",
        "lbctl-save",
        "lbctl-restore",
    ];
    let inst = Installed::new(&names);
    let ipvsadm = inst.path("ipvsadm");
    let ok = |program: &Path, args: &[&str], stdin: &[u8]| -> String {
        let out = run(program, &lbd.socket, args, stdin);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{} {args:?}: {out:?}",
            program.display()
        );
        text(&out.stdout)
    };
    // ipvsadm(8)'s example as a script runs it: each command silent, status 0.
    for line in [
        "-A -t 192.168.0.1:80 -s rr",
        "-a -t 192.168.0.1:80 -r 172.16.0.1:80 -m",
        "-a -t 192.168.0.1:80 -r 172.16.0.2:80 -m",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        assert_eq!(ok(&ipvsadm, &args, b""), "");
    }
    let banner = lbd.ok(&["-L", "-n"]).lines().next().unwrap().to_string();
    assert_eq!(
        ok(&ipvsadm, &["-L", "-n"], b""),
        format!(
            "{banner}\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  192.168.0.1:80 rr\n  \
             -> 172.16.0.1:80                Masq    1      0          0         \n  \
             -> 172.16.0.2:80                Masq    1      0          0         \n"
        )
    );
    // ipvsadm's messages name the program as it was called.
    let out = run(&ipvsadm, &lbd.socket, &["--frob"], b"");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    let p = ipvsadm.display();
    assert_eq!(
        text(&out.stderr),
        format!("Try `{p} -h' or '{p} --help' for more information.\n")
    );
    let out = run(
        &ipvsadm,
        &lbd.socket,
        &[
            "-a",
            "-t",
            "192.168.0.1:80",
            "-r",
            "172.16.0.3",
            "-w",
            "65536",
        ],
        b"",
    );
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(2), "illegal weight specified\n".into())
    );

    // ipvsadm-save and lbctl-save: -S, with -n numeric.
    for save in ["ipvsadm-save", "lbctl-save"] {
        assert_eq!(ok(&inst.path(save), &["-n"], b""), SAVED, "{save}");
        let out = run(&inst.path(save), &lbd.socket, &["-x"], b"");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "{save}: Script to save the IPVS table to stdout.\n   \
                 With the -n option, prints out the table in numeric format.\n"
            )
        );
    }

    // ipvsadm-restore and lbctl-restore: the table cleared, then the rules (comments skipped).
    for restore in ["ipvsadm-restore", "lbctl-restore"] {
        assert_eq!(
            ok(&ipvsadm, &["-A", "-u", "10.0.0.53:53", "-s", "sh"], b""),
            ""
        );
        let rules = format!("# saved by ipvsadm-save -n\n{SAVED}");
        assert_eq!(
            ok(&inst.path(restore), &[], rules.as_bytes()),
            "",
            "{restore}"
        );
        assert_eq!(
            lbd.ok(&["-S", "-n"]),
            SAVED,
            "{restore}: the UDP service is gone"
        );
        // A refused rule changes nothing, not even the clearing.
        let out = run(
            &inst.path(restore),
            &lbd.socket,
            &[],
            b"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.9:80 -r 10.1.0.1\n",
        );
        assert_eq!(out.status.code(), Some(255), "{out:?}");
        assert_eq!(
            text(&out.stderr),
            "line 3: Service not defined (nothing was restored)\n",
            "{restore}: the clearing is line 1"
        );
        assert_eq!(lbd.ok(&["-S", "-n"]), SAVED, "{restore}: nothing changed");
    }
}

/// The lines of `key=` in a unit file's text.
fn unit_lines<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|l| l.strip_prefix('=')))
        .collect()
}

#[test]
fn the_rules_unit_verifies_and_its_commands_save_and_restore() {
    require_root!();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/");
    let unit = std::fs::read_to_string(format!("{root}lb-rules.service")).unwrap();
    let lbd_unit = std::fs::read_to_string(format!("{root}lbd.service")).unwrap();
    let inst = Installed::new(&["lbctl-save", "lbctl-restore"]);
    let here = |s: &str| {
        s.replace(
            "/usr/sbin/lbctl-save",
            inst.path("lbctl-save").to_str().unwrap(),
        )
        .replace(
            "/usr/sbin/lbctl-restore",
            inst.path("lbctl-restore").to_str().unwrap(),
        )
        .replace("/usr/sbin/lbd", bin("lbd").to_str().unwrap())
    };
    assert_eq!(unit_lines(&unit, "Requires"), ["lbd.service"]);
    assert_eq!(unit_lines(&unit, "After"), ["lbd.service"]);
    // systemd's own check of both units together (it resolves Requires= and the programs).
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        std::fs::write(inst.path("lbd.service"), here(&lbd_unit)).unwrap();
        std::fs::write(inst.path("lb-rules.service"), here(&unit)).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(inst.path("lb-rules.service"))
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify: {}",
            text(&out.stderr)
        );
    } else {
        eprintln!("systemd-analyze is not installed: the unit's commands are still run");
    }

    // The unit's ExecStop (save) and ExecStart (restore), as written, against a real lbd:
    // only the paths are this test's (its lbctl, its rules file, its lbd's socket).
    let lbd = SoloLbd::start();
    let rules = lbd.dir.join("rules");
    let socket = lbd.socket.to_str().unwrap().to_string();
    let as_here = |line: &str| {
        here(line)
            .replace(
                inst.path("lbctl-save").to_str().unwrap(),
                &format!("{} --socket {socket}", inst.path("lbctl-save").display()),
            )
            .replace(
                inst.path("lbctl-restore").to_str().unwrap(),
                &format!("{} --socket {socket}", inst.path("lbctl-restore").display()),
            )
            .replace("/etc/lb/rules", rules.to_str().unwrap())
    };
    let sh = |line: &str| {
        let (program, args) = line.split_once(' ').unwrap();
        assert_eq!(program, "/bin/sh", "{line}");
        let script = args
            .strip_prefix("-c '")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{line}"));
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{line}: {out:?}"
        );
    };
    let out = lbd.lbctl(&["-R"], SAVED.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let [stop] = unit_lines(&unit, "ExecStop")[..] else {
        panic!("one ExecStop")
    };
    sh(&as_here(stop));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), SAVED);
    // Something else in the table; the restore puts the saved rules back, and only them.
    assert!(lbd.lbctl(&["-C"], b"").status.success());
    assert!(
        lbd.lbctl(&["-A", "-t", "10.9.9.9:443"], b"")
            .status
            .success()
    );
    let [start] = unit_lines(&unit, "ExecStart")[..] else {
        panic!("one ExecStart")
    };
    sh(&as_here(start));
    assert_eq!(lbd.ok(&["-S", "-n"]), SAVED);
}
