//! lbctl, the ipvsadm-compatible command line of lb: it talks only to lbd, over lbd's control
//! socket (`lb_common::api`).
//!
//! - [`cli`]: the command line (clap), spelled like ipvsadm's;
//! - [`ipvsadm`]: ipvsadm's option processing (checks, defaults and messages);
//! - [`cmd`]: one module per command, run by [`cmd::run`];
//! - [`client`]: the control-socket client;
//! - [`format`]: pure text formatting, byte-for-byte as ipvsadm 1.31.

pub mod cli;
pub mod client;
pub mod cmd;
pub mod format;
pub mod ipvsadm;
