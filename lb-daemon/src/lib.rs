//! lbd's library: everything the daemon does, so that tests and benchmarks can drive the same
//! code the binary runs.

pub mod maglev;
