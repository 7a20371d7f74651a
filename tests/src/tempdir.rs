//! A temporary directory of a test's own, removed when it goes out of scope (also when the
//! test fails).

use std::path::PathBuf;

use crate::netns::unique_name;

/// A directory under the system's temporary directory, named uniquely for `what`; `.0` is
/// its path.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(what));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
