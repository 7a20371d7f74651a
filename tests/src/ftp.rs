//! FTP for the live tests: a real FTP server (pyftpdlib, run by the system's python3) on each
//! real server, and a client (python3's ftplib) that downloads and uploads files in passive
//! (`PASV`, `EPSV`) and active (`PORT`, `EPRT`) mode and checks every byte against the files
//! of the real server its control connection reached (each server's welcome names it).

use std::{
    net::Ipv4Addr,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use crate::{netns::Netns, tempdir::TempDir, topo::Proc};

/// The system's python3 (pyftpdlib is a Debian package, `python3-pyftpdlib`).
pub const PYTHON: &str = "/usr/bin/python3";

/// The size of the file every server offers.
pub const FILE_BYTES: usize = 5 * 1024 * 1024;

const SERVER: &str = r#"
import sys, warnings
warnings.simplefilter("ignore")
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
name, root = sys.argv[1], sys.argv[2]
a = DummyAuthorizer()
a.add_anonymous(root, perm="elradfmw")
class H(FTPHandler):
    pass
H.authorizer = a
H.banner = name + " ready"
H.passive_ports = range(60000, 60400)
# pyftpdlib's own check: a data connection must come from the control connection's client.
H.permit_foreign_addresses = False
s = FTPServer(("0.0.0.0", 21), H)
s.serve_forever()
"#;

const CLIENT: &str = r#"
import ftplib, io, json, os, socket, sys
vip, mode, conns, per, roots = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
class F(ftplib.FTP):
    trust_server_pasv_ipv4_address = True
    def makepasv(self):
        if mode == "epsv":
            host, port = ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())
        else:
            host, port = ftplib.parse227(self.sendcmd("PASV"))
            if host != vip:
                raise SystemExit("227 named %s, not the VIP %s" % (host, vip))
        return host, port
    def sendport(self, host, port):
        if mode == "eprt":
            return self.sendeprt(host, port)
        return super().sendport(host, port)
    def ntransfercmd(self, cmd, rest=None):
        conn, size = super().ntransfercmd(cmd, rest)
        peer = conn.getpeername()[0]
        if peer != vip:
            raise SystemExit("%s: the data connection's other end is %s, not the VIP" % (mode, peer))
        return conn, size
out = {"servers": {}, "transfers": 0}
for c in range(conns):
    f = F()
    f.connect(vip, 21, timeout=20)
    name = f.getwelcome().split()[1]
    root = roots[name]
    f.login()
    f.set_pasv(mode in ("pasv", "epsv"))
    want = open(os.path.join(root, "down.bin"), "rb").read()
    for i in range(per):
        got = io.BytesIO()
        f.retrbinary("RETR down.bin", got.write)
        if got.getvalue() != want:
            raise SystemExit("%s: %s: download %d differs (%d bytes)" % (mode, name, i, len(got.getvalue())))
        up = "up-%s-%d-%d.bin" % (mode, c, i)
        data = bytes((b + i + c) % 256 for b in want[:65536]) * (len(want) // 65536)
        f.storbinary("STOR " + up, io.BytesIO(data))
        stored = open(os.path.join(root, up), "rb").read()
        if stored != data:
            raise SystemExit("%s: %s: upload %d differs on the server" % (mode, name, i))
        os.remove(os.path.join(root, up))
        out["transfers"] += 2
    f.quit()
    out["servers"][name] = out["servers"].get(name, 0) + 1
print(json.dumps(out))
"#;

/// An FTP server on each real server, each with its own root and its own 5 MB `down.bin`.
pub struct FtpServers {
    pub roots: Vec<(String, PathBuf)>,
    _procs: Vec<Proc>,
    _dirs: Vec<TempDir>,
}

impl FtpServers {
    /// Starts one on port 21 of every namespace in `reals`, named `rs0`, `rs1`, ...
    pub fn start(reals: &[Netns]) -> Self {
        let mut procs = Vec::new();
        let mut dirs = Vec::new();
        let mut roots = Vec::new();
        for (i, ns) in reals.iter().enumerate() {
            let name = format!("rs{i}");
            let dir = TempDir::new(&format!("ftp-{name}"));
            std::fs::write(dir.0.join("down.bin"), contents(i as u64 + 1)).expect("down.bin");
            procs.push(Proc::spawn(
                &format!("ftp server {name}"),
                Command::new("ip")
                    .args(["netns", "exec", &ns.name, PYTHON, "-c", SERVER, &name])
                    .arg(&dir.0),
            ));
            roots.push((name, dir.0.clone()));
            dirs.push(dir);
        }
        for (ns, p) in reals.iter().zip(&mut procs) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !ns.exec(&["ss", "-ltnH", "sport = :21"]).contains(":21") {
                p.assert_running();
                assert!(Instant::now() < deadline, "{} never listened", p.name);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        FtpServers {
            roots,
            _procs: procs,
            _dirs: dirs,
        }
    }

    /// Runs the client in `client`'s namespace: `conns` control connections to `vip`:21 in
    /// `mode` (`pasv`, `epsv`, `port`, `eprt`), each downloading and uploading `per` times;
    /// panics with the client's message on any difference. Returns how many control
    /// connections each real server took, and the transfers made.
    pub fn run_client(
        &self,
        client: &Netns,
        vip: Ipv4Addr,
        mode: &str,
        conns: u32,
        per: u32,
    ) -> (std::collections::BTreeMap<String, u64>, u64) {
        let roots: serde_json::Map<String, serde_json::Value> = self
            .roots
            .iter()
            .map(|(n, p)| (n.clone(), p.display().to_string().into()))
            .collect();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &client.name,
                "timeout",
                "120",
                PYTHON,
                "-c",
                CLIENT,
                &vip.to_string(),
                mode,
                &conns.to_string(),
                &per.to_string(),
                &serde_json::Value::Object(roots).to_string(),
            ])
            .output()
            .expect("run the ftp client");
        assert!(
            out.status.success(),
            "ftp client ({mode}) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the client's summary");
        let servers = v["servers"]
            .as_object()
            .expect("servers")
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect();
        (servers, v["transfers"].as_u64().unwrap_or(0))
    }
}

/// `FILE_BYTES` of a server's own (xorshift from `seed`).
fn contents(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..FILE_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
