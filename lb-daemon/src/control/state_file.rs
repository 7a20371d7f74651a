//! The state file: the applied state, persisted after every change, so that a restarted lbd
//! serves what was last applied (`--state-file`).

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use lb_model::config::{Config, ConfigError, ConfigErrors};

/// Default path of the state file (lbd `--state-file`).
pub const DEFAULT_STATE_FILE: &str = "/var/lib/lb/state.json";

/// The runtime part of a state file over the daemon settings of the config file: the config
/// file says how lbd runs (interface, XDP mode, pins, table size, metrics); the state file
/// says what it serves (director addresses, timeouts, services).
pub fn merge_state(file: &Config, state: &Config) -> Config {
    Config {
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

/// Writes the config to `path` atomically (a temporary file in the same directory, synced,
/// then renamed over the old one), mode 0600.
pub fn persist(path: &Path, cfg: &Config) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp: PathBuf = path.to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    tmp.set_file_name(format!(".{name}.tmp"));
    let text = serde_json::to_string_pretty(cfg).map_err(std::io::Error::other)?;
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(())
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
        applied.interface = "other0".into();
        applied.timeouts.udp = 42;
        applied.services[0].scheduler = lb_model::Scheduler::Wlc;
        persist(&path, &applied).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let got = restore(&base(), &path).unwrap().unwrap();
        // Daemon settings from the config file, the rest from the state.
        assert_eq!(got.interface, "eth0");
        assert_eq!(got.timeouts.udp, 42);
        assert_eq!(got.services[0].scheduler, lb_model::Scheduler::Wlc);
        std::fs::write(&path, "{ not json").unwrap();
        let e = restore(&base(), &path).unwrap_err().to_string();
        assert!(e.contains("the state file; remove it"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
