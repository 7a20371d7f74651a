//! A small tmpfs of a test's own: a filesystem that a test can fill, unmounted (and its
//! mount point removed) on Drop, also when the test panics.

use std::path::PathBuf;

use crate::netns::{sh, unique_name};

/// A tmpfs of a given size, mounted on a directory of its own under the temporary directory.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` (rounded up to pages by the kernel), mode 0700.
    pub fn mount(tag: &str, bytes: u64) -> Self {
        let path = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&path).unwrap();
        let p = path.to_str().expect("UTF-8 temp dir");
        sh(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={bytes},mode=0700"),
            "tmpfs",
            p,
        ]);
        Tmpfs { path }
    }

    /// Fills the filesystem: writes `name` until the kernel says there is no space left.
    /// Returns the bytes written.
    pub fn fill(&self, name: &str) -> u64 {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join(name)).unwrap();
        let chunk = [0x55u8; 4096];
        let mut n = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.path.display()),
            }
            // Bounded: the filesystem is a test's small tmpfs.
            assert!(n < 1 << 30, "{} does not fill", self.path.display());
        }
        f.sync_all().unwrap();
        n
    }

    /// The names in the filesystem's top directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
