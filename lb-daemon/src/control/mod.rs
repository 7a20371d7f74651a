//! lbd's control API (a door on top of the context): the socket server ([`server`]) and its
//! framing ([`framing`]), the answers ([`answer`]), ipvsadm's edits ([`edit`]), the commit of a
//! change ([`commit`]) with its interfaces ([`interfaces`]), drains ([`drain`]), the director's drain ([`director`]), the sync daemons ([`daemon`]), connection listings ([`connections`]) and the state
//! file ([`state_file`]).

pub mod answer;
pub mod commit;
mod connections;
mod daemon;
mod director;
mod drain;
pub mod edit;
pub mod framing;
mod interfaces;
pub mod server;
pub mod state_file;

pub use self::{
    commit::{CommitError, commit},
    edit::{EditError, edit_config},
    state_file::{DEFAULT_STATE_FILE, persist, restore},
};
