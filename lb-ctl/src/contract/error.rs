//! A command that failed, with `--json`: `{"version": 1, "error": {"code": ..., "message":
//! ...}}` on standard output, and the exit status of the text form.

use schemars::JsonSchema;
use serde::Serialize;

use super::version::Version;

/// `--json` output of a command that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl --json: an error")]
pub struct ErrorOutput {
    pub version: Version,
    pub error: ErrorBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// What the text form prints on standard error (ipvsadm's words where ipvsadm has some),
    /// without the "lbctl: " prefix.
    pub message: String,
}

/// What kind of failure, for scripts to branch on (the message is for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The command line was refused (exit status 2; 255 for an unknown option or a missing
    /// value, as ipvsadm's).
    Usage,
    /// `-L -t|-u` of a service lbd does not have (exit status 1).
    NotFound,
    /// lbd refused the request or the change, and nothing was changed (exit status 255 for
    /// ipvsadm's commands, 1 for lbctl's verbs).
    Refused,
    /// Something lb does not do (`--start-daemon`; exit status 255).
    NotSupported,
    /// lbd could not be reached, or did not answer (exit status 1).
    Unavailable,
    /// Anything else: a file that cannot be read, an answer lbctl cannot read (exit status 1).
    Failed,
}

impl ErrorOutput {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            version: Version,
            error: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }
}
