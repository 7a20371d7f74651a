//! Builds the XDP programs (`lb-ebpf`, nightly + bpf-linker) with aya-build and leaves the
//! object in OUT_DIR, where `src/object.rs` embeds it. `AYA_BUILD_SKIP=1` skips that (for
//! `cargo check`, clippy and unit tests on a machine without bpf-linker); the embedded object
//! is then empty and loading it fails with a message saying so.
use std::{env, fs, path::PathBuf};

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../lb-ebpf");
    let root = root.to_string_lossy().into_owned();
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "lb-ebpf",
            root_dir: &root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("lb-ebpf");
    if !out.exists() {
        fs::write(&out, b"")?;
    }
    Ok(())
}
