// Rebuild the programs when bpf-linker changes (it is the linker of the BPF target), and tell
// it how to generate code:
// - allows-misaligned-mem-access: packet fields sit at 2-byte offsets (after a 14-byte
//   Ethernet header); without it LLVM splits every u32/u64 access into byte loads, which is
//   slower and spills so many registers that `lb` needs ~500 of the 512 stack bytes (with
//   it, under 400). x86-64's JIT executes misaligned packet loads natively. The verifier
//   still refuses misaligned *stack* access: a small value of 2-byte alignment that LLVM
//   then moves 4 bytes at a time is refused at load (every packet test would fail), see
//   `parse::ports`.
// (rustc already passes `--cpu`, so the CPU generation cannot be chosen here.)
fn main() {
    if let Ok(linker) = which::which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    }
    println!("cargo:rustc-link-arg=--cpu-features=+allows-misaligned-mem-access");
}
