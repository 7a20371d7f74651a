//! The state file: the applied state, persisted with every change before the change is
//! confirmed, so that a restarted lbd serves exactly what was last confirmed
//! (`--state-file`).

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use lb_model::config::{Config, ConfigError, ConfigErrors};

/// Default path of the state file (lbd `--state-file`).
pub const DEFAULT_STATE_FILE: &str = "/var/lib/lb/state.json";

/// The runtime part of a state file over the daemon settings of the config file: the config
/// file says how lbd runs (XDP mode, pins, table size, metrics); the state file says where
/// and what it serves (interfaces, director addresses, timeouts, services).
pub fn merge_state(file: &Config, state: &Config) -> Config {
    Config {
        interface: state.interface.clone(),
        interfaces: state.interfaces.clone(),
        director: state.director.clone(),
        timeouts: state.timeouts,
        services: state.services.clone(),
        ..file.clone()
    }
}

/// Reads the state file, if there is one, and merges it over `file`. A state file that
/// cannot be read or is invalid is an error naming it: lbd would otherwise serve something
/// other than what was last applied.
pub fn restore(file: &Config, state_file: &Path) -> Result<Option<Config>, ConfigErrors> {
    let text = match std::fs::read_to_string(state_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigErrors {
                source_name: state_file.display().to_string(),
                errors: vec![ConfigError::new("(file)", format!("cannot read: {e}"))],
            });
        }
    };
    let name = format!(
        "{} (the state file; remove it to start from the config file)",
        state_file.display()
    );
    let state = Config::parse(&text, &name)?;
    let merged = merge_state(file, &state);
    match merged.raw().check() {
        Ok(merged) => Ok(Some(merged)),
        Err(errors) => Err(ConfigErrors {
            source_name: name,
            errors,
        }),
    }
}

/// Why the state file could not be written: the step, the file, and the system's error.
#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", .file.display())]
pub struct PersistError {
    pub step: &'static str,
    pub file: PathBuf,
    #[source]
    pub source: std::io::Error,
    /// The new file had already replaced the old one when the step failed (only the
    /// directory's sync failed): the file may hold the state that was refused.
    pub replaced: bool,
}

/// Writes the config to `path` durably and atomically, mode 0600: into a temporary file in the
/// same directory, which is synced (fsync), renamed over `path`, and then the directory is
/// synced, so that after a crash or power loss `path` holds either the old state or the new
/// one, whole. Every failure names its step and removes the temporary file; `path` is then
/// untouched, unless only the last sync failed ([`PersistError::replaced`]).
pub fn persist(path: &Path, cfg: &Config) -> Result<(), PersistError> {
    fn fail(
        step: &'static str,
        file: &Path,
        replaced: bool,
    ) -> impl FnOnce(std::io::Error) -> PersistError {
        let file = file.to_path_buf();
        move |source| PersistError {
            step,
            file,
            source,
            replaced,
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(fail("creating", dir, false))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut text = serde_json::to_string_pretty(cfg)
        .map_err(|e| fail("encoding", path, false)(std::io::Error::other(e)))?;
    text.push('\n');
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail("creating", &tmp, false))?;
        f.write_all(text.as_bytes())
            .map_err(fail("writing", &tmp, false))?;
        f.sync_all().map_err(fail("syncing", &tmp, false))?;
        std::fs::rename(&tmp, path).map_err(fail("renaming over", path, false))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail("syncing the directory", dir, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::edit::tests::base;

    #[test]
    fn state_file_round_trip_and_merge() {
        let dir = std::env::temp_dir().join(format!("lbd-state-test-{}", std::process::id()));
        let path = dir.join("state.json");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(restore(&base(), &path).unwrap(), None);
        let mut applied = base();
        applied.interface = Some("other0".into());
        applied.xdp_mode = lb_model::config::XdpMode::Generic;
        applied.timeouts.udp = 42;
        applied.services[0].scheduler = lb_model::Scheduler::Wlc;
        persist(&path, &applied).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let got = restore(&base(), &path).unwrap().unwrap();
        // Daemon settings from the config file, the rest (interfaces too: a change adds
        // and removes them while lbd runs) from the state.
        assert_eq!(got.xdp_mode, lb_model::config::XdpMode::Native);
        assert_eq!(got.interfaces(), vec!["other0"]);
        assert_eq!(got.timeouts.udp, 42);
        assert_eq!(got.services[0].scheduler, lb_model::Scheduler::Wlc);
        std::fs::write(&path, "{ not json").unwrap();
        let e = restore(&base(), &path).unwrap_err().to_string();
        assert!(e.contains("the state file; remove it"), "{e}");
        // A state file is one JSON document, like a config.
        let text = serde_json::to_string(&applied).unwrap();
        std::fs::write(&path, format!("{text}\n}}")).unwrap();
        let e = restore(&base(), &path).unwrap_err().to_string();
        assert!(e.contains("trailing characters at line 2 column 1"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_names_its_step_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("lbd-state-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The state file's path is a directory that is not empty: the rename fails.
        let path = dir.join("state.json");
        std::fs::create_dir_all(path.join("x")).unwrap();
        let e = persist(&path, &base()).unwrap_err();
        assert_eq!(e.step, "renaming over");
        assert!(!e.replaced);
        assert!(
            e.to_string()
                .starts_with(&format!("renaming over {}: ", path.display())),
            "{e}"
        );
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("state.json")],
            "{left:?}"
        );
        // Its directory cannot be made: nothing is written.
        let below_a_file = dir.join("state.json/x/f/state.json");
        std::fs::write(dir.join("state.json/x/f"), "").unwrap();
        let e = persist(&below_a_file, &base()).unwrap_err();
        assert_eq!(e.step, "creating");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
