//! The include file lbd keeps for BIRD: one static route per VIP to announce, IPv4 in the
//! protocol `lb_vips4` and IPv6 in `lb_vips6` (a BIRD 2 static protocol has one channel, so
//! one per family). Both protocols are always there, empty when nothing is announced, so the
//! BGP protocols' export filters (`proto = "lb_vips4"`) always name something and BIRD's
//! config parses whether lbd runs or not.
//!
//! The routes are `blackhole`: they exist to be exported by BGP (with `next hop self`); the
//! snippet `lbctl bird-config` prints exports them to no kernel table.

use std::{
    collections::BTreeSet,
    fs::{File, OpenOptions},
    io::Write,
    net::IpAddr,
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

use lb_model::config::announce::{BIRD_PROTOCOL_V4, BIRD_PROTOCOL_V6};

/// The file's text for `vips`.
pub fn render(vips: &BTreeSet<IpAddr>) -> String {
    let mut out = String::from(
        "# Written by lbd: the VIPs this director announces. lbd rewrites this file whole;\n\
         # do not edit it. BIRD's config includes it at the top level.\n",
    );
    for (proto, channel, v6) in [
        (BIRD_PROTOCOL_V4, "ipv4", false),
        (BIRD_PROTOCOL_V6, "ipv6", true),
    ] {
        out.push_str(&format!("protocol static {proto} {{\n\t{channel};\n"));
        for vip in vips.iter().filter(|v| v.is_ipv6() == v6) {
            let len = if v6 { 128 } else { 32 };
            out.push_str(&format!("\troute {vip}/{len} blackhole;\n"));
        }
        out.push_str("}\n");
    }
    out
}

/// Writes `text` to `path` so that a reader sees the old file or the new one, never a part:
/// a temporary file in the same directory, written and fsynced, renamed over `path`, then the
/// directory fsynced (the rename itself durable).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the include file has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.lbd-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_each_in_its_protocol_and_empty_protocols_when_nothing_is_announced() {
        let vips: BTreeSet<IpAddr> = ["198.18.1.100", "2001:db8::100", "198.18.1.7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            render(&vips),
            "# Written by lbd: the VIPs this director announces. lbd rewrites this file whole;\n\
             # do not edit it. BIRD's config includes it at the top level.\n\
             protocol static lb_vips4 {\n\tipv4;\n\
             \troute 198.18.1.7/32 blackhole;\n\
             \troute 198.18.1.100/32 blackhole;\n}\n\
             protocol static lb_vips6 {\n\tipv6;\n\
             \troute 2001:db8::100/128 blackhole;\n}\n"
        );
        let empty = render(&BTreeSet::new());
        assert!(empty.ends_with(
            "protocol static lb_vips4 {\n\tipv4;\n}\nprotocol static lb_vips6 {\n\tipv6;\n}\n"
        ));
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = std::env::temp_dir().join(format!("lb-include-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("vips.conf");
        write_atomic(&p, "one\n").unwrap();
        write_atomic(&p, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["vips.conf"]);
        // A directory that does not exist: an error, and nothing written.
        let e = write_atomic(&dir.join("no/such.conf"), "x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
