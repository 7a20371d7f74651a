//! Host-side stub: the XDP programs live in `main.rs` and are built for the BPF target only.
#![no_std]
