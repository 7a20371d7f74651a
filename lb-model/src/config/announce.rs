//! The `announce` section of a config: how lbd has its VIPs announced by BIRD 2 (lbd never
//! speaks BGP itself). lbd keeps an include file of static routes, one per VIP it can serve,
//! and tells BIRD to read it again through BIRD's control socket (`configure`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Errors;

/// The name of the BIRD static protocol holding the IPv4 VIPs (in the include file).
pub const BIRD_PROTOCOL_V4: &str = "lb_vips4";
/// The name of the BIRD static protocol holding the IPv6 VIPs (in the include file).
pub const BIRD_PROTOCOL_V6: &str = "lb_vips6";
/// Debian's BIRD 2 control socket.
pub const DEFAULT_BIRD_SOCKET: &str = "/run/bird/bird.ctl";

/// VIP announcement through BIRD 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    /// BIRD's control socket (`bird -s`, `birdc -s`), an absolute path. Default
    /// `/run/bird/bird.ctl` (Debian's).
    #[serde(default = "default_bird_socket")]
    pub bird_socket: PathBuf,
    /// The file lbd writes (whole, atomically) with one static route per VIP to announce: in
    /// the protocols `lb_vips4` (IPv4 /32) and `lb_vips6` (IPv6 /128). BIRD's config includes
    /// it at the top level (`include "FILE";`). An absolute path; lbd owns the file.
    pub include_file: PathBuf,
}

fn default_bird_socket() -> PathBuf {
    PathBuf::from(DEFAULT_BIRD_SOCKET)
}

/// `p`, the value of `field`, is an absolute path naming a file (the schema's `FilePath`).
pub(super) fn check_file_path(field: &str, p: &std::path::Path, err: &mut Errors) {
    if !p.is_absolute() {
        err.add(
            field,
            format!("{:?} is not an absolute path", p.display().to_string()),
        );
    } else if p.file_name().is_none() || p.as_os_str().to_string_lossy().ends_with('/') {
        err.add(
            field,
            format!(
                "{:?} names a directory, not a file",
                p.display().to_string()
            ),
        );
    }
}

/// The section's checks: both paths absolute, the include file a file name (not a directory).
pub(super) fn validate(a: &Announce, err: &mut Errors) {
    for (field, p) in [
        ("announce.bird_socket", &a.bird_socket),
        ("announce.include_file", &a.include_file),
    ] {
        check_file_path(field, p, err);
    }
    if a.include_file == a.bird_socket {
        err.add(
            "announce.include_file",
            "is the same path as announce.bird_socket",
        );
    }
    // The include file is read by BIRD's config parser: a path with a quote or a newline
    // cannot be written in `include "...";`.
    if has_unquotable(&a.include_file) {
        err.add(
            "announce.include_file",
            "contains a '\"', '\\' or a control character, which BIRD's `include \"...\"` cannot quote",
        );
    }
}

fn has_unquotable(p: &Path) -> bool {
    p.as_os_str()
        .to_string_lossy()
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn errors(announce: &str) -> Vec<String> {
        let text = format!(r#"{{ "interface": "eth0", "announce": {announce} }}"#);
        match Config::parse(&text, "t") {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_section_is_read_with_its_default_socket() {
        let c = Config::parse(
            r#"{ "interface": "eth0", "announce": { "include_file": "/etc/bird/lb.conf" } }"#,
            "t",
        )
        .unwrap();
        let a = c.announce.expect("announce");
        assert_eq!(a.bird_socket.to_str(), Some("/run/bird/bird.ctl"));
        assert_eq!(a.include_file.to_str(), Some("/etc/bird/lb.conf"));
        let c = Config::parse(r#"{ "interface": "eth0" }"#, "t").unwrap();
        assert_eq!(c.announce, None, "no section: nothing announced");
    }

    #[test]
    fn bad_paths_are_refused_with_their_field() {
        assert_eq!(
            errors(r#"{ "include_file": "lb.conf", "bird_socket": "bird.ctl" }"#),
            vec![
                r#"announce.bird_socket: "bird.ctl" is not an absolute path"#,
                r#"announce.include_file: "lb.conf" is not an absolute path"#,
            ]
        );
        assert_eq!(
            errors(r#"{ "include_file": "/etc/bird/" }"#),
            vec![r#"announce.include_file: "/etc/bird/" names a directory, not a file"#]
        );
        assert_eq!(
            errors(r#"{ "include_file": "/run/bird/bird.ctl" }"#),
            vec!["announce.include_file: is the same path as announce.bird_socket"]
        );
        assert_eq!(
            errors(r#"{ "include_file": "/etc/bird/a\"b.conf" }"#),
            vec![
                "announce.include_file: contains a '\"', '\\' or a control character, which BIRD's `include \"...\"` cannot quote"
            ]
        );
        assert!(
            errors(r#"{ "bird_socket": "/x" }"#)[0]
                .starts_with("announce: missing field `include_file`")
        );
        assert!(
            errors(r#"{ "include_file": "/x", "router": "y" }"#)[0]
                .starts_with("announce.router: unknown field `router`")
        );
    }
}
