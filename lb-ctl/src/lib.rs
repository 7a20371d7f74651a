//! lbctl, the ipvsadm-compatible command line of lb: it talks only to lbd, over lbd's control
//! socket (`lb_model::api`).
//!
//! The modules in layers, each importing only from those below it (a test checks it):
//!
//! ```text
//!   cmd        one module per command, run by cmd::run          (the top)
//!   resolve    a verb, or ipvsadm's options -> the Command
//!   ipvsadm    ipvsadm's option processing: checks, defaults, messages, -R's reader
//!   iptables   `mark import`'s reader of iptables MARK rules      (beside the others)
//!   command    the Command to run, ListWhat, UsageError
//!   cli        the command line as clap reads it (words to typed fields)
//!   format     text formatting, byte-for-byte as ipvsadm 1.31   (beside the others)
//!   contract   the JSON outputs (--json) and their schemas      (beside the others)
//!   client     the control-socket client                        (beside the others)
//!   words      names of schedulers, flags, methods, tunnels     (the bottom)
//! ```
//!
//! - [`cli`]: the command line (clap), spelled like ipvsadm's;
//! - [`command`]: what a command line asks for;
//! - [`ipvsadm`]: ipvsadm's option processing (checks, defaults and messages);
//! - [`iptables`]: `lbctl mark import`'s reader of iptables MARK rules;
//! - [`resolve`]: [`cli::Cli::resolve`], a verb or else [`ipvsadm`];
//! - [`cmd`]: one module per command, run by [`cmd::run`];
//! - [`client`]: the control-socket client;
//! - [`format`](mod@format): pure text formatting, byte-for-byte as ipvsadm 1.31;
//! - [`contract`]: the JSON contract, every `--json` output and error, with schemas;
//! - [`words`]: the names of what lb has a few of (schedulers, flags, methods, tunnels).

pub mod cli;
pub mod client;
pub mod cmd;
pub mod command;
pub mod contract;
pub mod format;
pub mod iptables;
pub mod ipvsadm;
pub mod resolve;
pub mod words;
