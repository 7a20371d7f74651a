//! ipvsadm's option processing (`ipvsadm.c`), one subject a file: which command was given,
//! which options it takes, the values' readings and checks, ipvsadm's defaults, with
//! ipvsadm's own error messages. Options are order-free (ipvsadm wants the command first).
//!
//! [`resolve_with`] (`process.rs`) walks a command line through the steps of ipvsadm's
//! `parse_options` and `process_options`, in ipvsadm's order (which decides the message when
//! a line has several faults):
//!
//! 1. `options.rs`: the command (`set_command`) and the options given, each once
//!    (`set_option`);
//! 2. `values.rs`: every option's value, read as ipvsadm reads it (`c_values.rs`: `strtol`,
//!    `atoi`, `inet_aton`; `address.rs`: `parse_service`, `parse_netmask`; `lookup.rs`: host
//!    and service names) and checked by subject: `service.rs`, `real.rs`, `timeout.rs`,
//!    `daemon.rs`;
//! 3. `table.rs`: the options against the command's row (`generic_opt_check`);
//! 4. `build.rs`: the `Command` to run, with the checks ipvsadm makes last.
//!
//! Beside them: `restore.rs` reads `-R`'s rules, `popt.rs` gives popt's messages and exit
//! statuses for what clap refuses, `words.rs` reads the raw words past option values.
//! `error_messages.rs` (a test) lists every message with a command line that gets it.

mod address;
mod build;
mod c_values;
mod daemon;
mod lookup;
mod options;
mod popt;
mod process;
mod real;
mod restore;
mod service;
mod table;
mod timeout;
mod values;
mod words;

#[cfg(test)]
mod error_messages;
#[cfg(test)]
mod test_util;

pub use self::{
    address::parse_address,
    c_values::inet_aton,
    lookup::{Lookup, NoLookup, SystemLookup},
    options::given_flags,
    popt::clap_error,
    process::{resolve, resolve_with},
    restore::{RestoreError, parse_restore, parse_restore_line},
    service::DEFAULT_SCHEDULER,
    timeout::{DEFAULT_PERSISTENT_TIMEOUT, MAX_TIMEOUT},
};
