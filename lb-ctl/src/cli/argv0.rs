//! The names lbctl answers to, read from `argv[0]` as ipvsadm's packaging installs them:
//! `ipvsadm` (a symlink: scripts that call ipvsadm get lbctl, which speaks its language),
//! and the save and restore commands of ipvsadm's packages, `ipvsadm-save` /
//! `ipvsadm-restore` or lbctl's own `lbctl-save` / `lbctl-restore` (symlinks too).

use std::path::Path;

/// What lbctl is, by the name it was called with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// `lbctl`, `ipvsadm` or any other name: the command line as it is.
    Ctl,
    /// `lbctl-save [-n]` (ipvsadm-save): `-S [-n]`, the table as rules.
    Save,
    /// `lbctl-restore` (ipvsadm-restore): the table cleared and the rules on standard input
    /// restored; lbctl does both in one batch (ipvsadm-restore runs `ipvsadm -C` and then
    /// `ipvsadm -R`, so a failing restore leaves an empty table).
    Restore,
}

/// The personality of a program name (a path or a bare name).
pub fn personality(argv0: &str) -> Personality {
    let name = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(argv0);
    match name {
        "lbctl-save" | "ipvsadm-save" => Personality::Save,
        "lbctl-restore" | "ipvsadm-restore" => Personality::Restore,
        _ => Personality::Ctl,
    }
}

/// The lbctl command line a save or restore command line stands for, or the message of one
/// it refuses (as ipvsadm-save's `help`: its purpose, on standard error, status 1).
///
/// `lbctl-save` takes `-n` (numeric) and lbctl's `--socket PATH`; `lbctl-restore` takes
/// `--socket PATH` (ipvsadm-restore takes nothing).
pub fn words(p: Personality, args: &[String]) -> Result<Vec<String>, String> {
    let program = args.first().cloned().unwrap_or_else(|| "lbctl".into());
    let mut out = vec![program.clone()];
    out.push(match p {
        Personality::Ctl => return Ok(args.to_vec()),
        Personality::Save => "-S".into(),
        Personality::Restore => "-R".into(),
    });
    let base = Path::new(&program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("lbctl")
        .to_string();
    let help = || match p {
        Personality::Save => Err(format!(
            "{base}: Script to save the IPVS table to stdout.\n   \
             With the -n option, prints out the table in numeric format."
        )),
        _ => Err(format!(
            "{base}: restores the IPVS table from the rules on standard input (the table is \
             cleared first; all of it or nothing is changed)."
        )),
    };
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        match a.as_str() {
            "-n" if p == Personality::Save => out.push(a.clone()),
            "--socket" => match rest.next() {
                Some(path) => out.extend([a.clone(), path.clone()]),
                None => return help(),
            },
            s if s.starts_with("--socket=") => out.push(a.clone()),
            _ => return help(),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_choose_the_personality() {
        assert_eq!(personality("/usr/sbin/ipvsadm"), Personality::Ctl);
        assert_eq!(personality("lbctl"), Personality::Ctl);
        assert_eq!(personality("/sbin/ipvsadm-save"), Personality::Save);
        assert_eq!(personality("lbctl-save"), Personality::Save);
        assert_eq!(personality("ipvsadm-restore"), Personality::Restore);
        assert_eq!(personality("/usr/sbin/lbctl-restore"), Personality::Restore);
    }

    #[test]
    fn save_and_restore_lines() {
        assert_eq!(
            words(Personality::Save, &w(&["ipvsadm-save", "-n"])),
            Ok(w(&["ipvsadm-save", "-S", "-n"]))
        );
        assert_eq!(
            words(
                Personality::Save,
                &w(&["lbctl-save", "--socket", "/s", "-n"])
            ),
            Ok(w(&["lbctl-save", "-S", "--socket", "/s", "-n"]))
        );
        assert_eq!(
            words(
                Personality::Restore,
                &w(&["/x/lbctl-restore", "--socket=/s"])
            ),
            Ok(w(&["/x/lbctl-restore", "-R", "--socket=/s"]))
        );
        assert_eq!(
            words(Personality::Save, &w(&["/sbin/ipvsadm-save", "-x"])),
            Err(
                "ipvsadm-save: Script to save the IPVS table to stdout.\n   \
                 With the -n option, prints out the table in numeric format."
                    .into()
            )
        );
        assert!(words(Personality::Restore, &w(&["lbctl-restore", "-n"])).is_err());
        assert_eq!(
            words(Personality::Ctl, &w(&["ipvsadm", "-L", "-n"])),
            Ok(w(&["ipvsadm", "-L", "-n"]))
        );
    }
}
