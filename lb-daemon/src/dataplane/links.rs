//! `lb`'s XDP links, one per interface, each pinned under the pin directory as
//! `link_lb_<interface>` so that the program stays attached when lbd stops and a restarted or
//! upgraded lbd swaps its program into every one of them atomically (no packet meets no
//! program). The interface's name is escaped for bpffs, which refuses '.' in names (a VLAN
//! device `eth0.100` is pinned as `link_lb_eth0%2e100`).

use std::path::{Path, PathBuf};

use aya::programs::{
    Xdp,
    links::{FdLink, PinnedLink},
    xdp::{XdpLink, XdpMode as AyaXdpMode},
};
use lb_common::map_name;
use lb_model::config::XdpMode;

use super::{DataplaneError, Result};

/// The prefix of every per-interface link pin.
const PREFIX: &str = "link_lb_";

/// The pin file name of `lb`'s link on interface `iface`: [`PREFIX`] and the name with every
/// byte other than ASCII letters, digits, '_' and '-' written as `%xx`.
pub fn pin_name(iface: &str) -> String {
    let mut s = String::from(PREFIX);
    for b in iface.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s
}

/// The interface a pin file name is the link of (the inverse of [`pin_name`]), or None for a
/// file that is not a per-interface link pin.
pub fn interface_of(file: &str) -> Option<String> {
    let rest = file.strip_prefix(PREFIX)?;
    let mut out = Vec::new();
    let mut bytes = rest.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// The interfaces that have a pinned link in `dir`, by name order.
pub fn pinned(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| interface_of(e.file_name().to_str()?))
        .collect();
    v.sort();
    v
}

/// Attaches `prog` (loaded) to `iface`. With a pin directory: if `iface`'s link is pinned
/// there, this program replaces the one in it; otherwise a new link is made and pinned. A
/// data plane pinned by an lbd of one interface (its link pinned as `link_lb`) has that link
/// taken over as the first interface's. Returns the pin's path.
pub fn attach(
    prog: &mut Xdp,
    pin_dir: Option<&Path>,
    iface: &str,
    mode: XdpMode,
    first: bool,
) -> Result<Option<PathBuf>> {
    let prog_err = |source| DataplaneError::Program { name: "lb", source };
    let Some(dir) = pin_dir else {
        super::attach(prog, "lb", iface, mode)?;
        return Ok(None);
    };
    let path = dir.join(pin_name(iface));
    let link_err = |detail: String| DataplaneError::Link {
        path: path.clone(),
        detail,
    };
    let legacy = dir.join(map_name::LINK);
    if first && !path.exists() && legacy.exists() {
        // bpffs renames pins; the link (and its interface) stays as it is.
        std::fs::rename(&legacy, &path)
            .map_err(|e| link_err(format!("taking over {}: {e}", legacy.display())))?;
        tracing::info!(interface = %iface, from = %legacy.display(), to = %path.display(), "took over the link pinned by an lbd of one interface");
    }
    if path.exists() {
        let pinned = PinnedLink::from_pin(&path).map_err(|e| link_err(e.to_string()))?;
        let fd: FdLink = pinned.into();
        let xdp = XdpLink::try_from(fd).map_err(|e| link_err(e.to_string()))?;
        let id = prog.attach_to_link(xdp).map_err(prog_err)?;
        // Dropping the handle closes a file descriptor; the pin keeps the link.
        let _ = prog.take_link(id);
        return Ok(Some(path));
    }
    let flags = match mode {
        XdpMode::Native => AyaXdpMode::Driver,
        XdpMode::Generic => AyaXdpMode::Skb,
    };
    let id = prog.attach(iface, flags).map_err(prog_err)?;
    let link = prog.take_link(id).map_err(prog_err)?;
    let fd = FdLink::try_from(link).map_err(|_| {
        link_err(
            "this kernel attached XDP through netlink, not a bpf_link (Linux 5.9 or later has them): the program cannot outlive lbd".into(),
        )
    })?;
    fd.pin(&path).map_err(|e| link_err(e.to_string()))?;
    Ok(Some(path))
}

/// Removes `iface`'s pinned link in `dir`, which detaches `lb` from it (the link has no other
/// holder once lbd closed its file descriptor). Returns whether there was one.
pub fn detach(dir: &Path, iface: &str) -> std::io::Result<bool> {
    match std::fs::remove_file(dir.join(pin_name(iface))) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the pinned links in `dir` of interfaces not in `keep` (which detaches `lb` from
/// them): a restart with fewer interfaces. Returns the interfaces detached.
pub fn detach_others(dir: &Path, keep: &[String]) -> std::io::Result<Vec<String>> {
    let mut gone = Vec::new();
    for iface in pinned(dir) {
        if !keep.contains(&iface) && detach(dir, &iface)? {
            gone.push(iface);
        }
    }
    Ok(gone)
}

/// Removes every link pin in `dir` (`lbd flush`): the per-interface ones and a one-interface
/// lbd's `link_lb`. Returns how many.
pub fn flush(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    let legacy = dir.join(map_name::LINK);
    if legacy.exists() {
        std::fs::remove_file(&legacy)?;
        n += 1;
    }
    for iface in pinned(dir) {
        std::fs::remove_file(dir.join(pin_name(&iface)))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_escaped_for_bpffs_and_read_back() {
        for (iface, pin) in [
            ("eth0", "link_lb_eth0"),
            ("eth0.100", "link_lb_eth0%2e100"),
            ("br-lan_1", "link_lb_br-lan_1"),
            ("a%b:c", "link_lb_a%25b%3ac"),
            ("vé", "link_lb_v%c3%a9"),
        ] {
            assert_eq!(pin_name(iface), pin);
            assert_eq!(interface_of(pin).as_deref(), Some(iface));
            assert!(!pin.contains('.') && !pin.contains('/'), "{pin}");
        }
        assert_eq!(interface_of("link_lb"), None);
        assert_eq!(interface_of("lb_services"), None);
        assert_eq!(interface_of("link_lb_bad%2"), None);
        assert_eq!(interface_of("link_lb_bad%zz"), None);
    }
}
