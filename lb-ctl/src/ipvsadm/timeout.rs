//! Timeouts: ipvsadm's `parse_timeout`, for a persistent service's (`-p`) and the
//! connection timeouts of `--set`.

use super::c_values::number;
use crate::command::UsageError;

/// ipvsadm's `MAX_TIMEOUT`: 31 days.
pub const MAX_TIMEOUT: u32 = 86400 * 31;
/// ipvsadm's `IPVS_SVC_PERSISTENT_TIMEOUT`: `-p` without a value.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 300;

/// ipvsadm's `parse_timeout`.
fn timeout(s: &str, min: u32) -> Result<u32, UsageError> {
    number(s, min as i64, MAX_TIMEOUT as i64)
        .map(|n| n as u32)
        .ok_or_else(|| UsageError::new(format!("invalid timeout value `{s}' specified")))
}

/// `-p [TIMEOUT]`: without a value, ipvsadm's default.
pub(super) fn persistent(p: &Option<Option<String>>) -> Result<Option<u32>, UsageError> {
    Ok(match p {
        None => None,
        Some(None) => Some(DEFAULT_PERSISTENT_TIMEOUT),
        Some(Some(t)) => Some(timeout(t, 1)?),
    })
}

/// `--set TCP TCPFIN UDP` (0 keeps a value).
pub(super) fn set(v: Option<&[String]>) -> Result<Option<[u32; 3]>, UsageError> {
    Ok(match v {
        None => None,
        Some(v) if v.len() == 3 => {
            Some([timeout(&v[0], 0)?, timeout(&v[1], 0)?, timeout(&v[2], 0)?])
        }
        Some(_) => return Err(UsageError::new("--set option requires 3 timeout values")),
    })
}
