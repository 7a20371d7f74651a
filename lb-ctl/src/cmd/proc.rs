//! `lbctl proc FILE`: what the kernel's `/proc/net/FILE` of IPVS would hold for lbd's state
//! (`crate::format::proc` has the formats).

use anyhow::{Result, bail};
use lb_model::api::{Op, Response};

use crate::{cli::ProcArgs, client::Client, format::proc};

/// The HZ Debian's and most x86 distributions' kernels are built with (this machine's too).
const DEFAULT_HZ: u32 = 250;

pub fn run(client: &Client, a: &ProcArgs) -> Result<String> {
    let unexpected = |r: &Response| -> Result<String> {
        bail!(
            "unexpected answer from lbd to proc {}: {}",
            a.file,
            super::response_kind(r)
        )
    };
    match a.file.as_str() {
        "ip_vs" => match client.call(Op::List)? {
            Response::Services {
                conn_table_size,
                services,
            } => Ok(proc::ip_vs(
                &services,
                conn_table_size,
                a.hz.unwrap_or_else(config_hz),
            )),
            other => unexpected(&other),
        },
        "ip_vs_conn" => match client.call(Op::Connections)? {
            Response::Connections { connections } => Ok(proc::ip_vs_conn(&connections)),
            other => unexpected(&other),
        },
        file => match client.call(Op::CpuStats)? {
            Response::CpuStats { per_cpu, rate } if file == "ip_vs_stats" => {
                Ok(proc::ip_vs_stats(&per_cpu, &rate))
            }
            Response::CpuStats { per_cpu, rate } => Ok(proc::ip_vs_stats_percpu(&per_cpu, &rate)),
            other => unexpected(&other),
        },
    }
}

/// The running kernel's `CONFIG_HZ`, from `/boot/config-RELEASE` where the distribution
/// installs it; else [`DEFAULT_HZ`].
fn config_hz() -> u32 {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let config =
        std::fs::read_to_string(format!("/boot/config-{}", release.trim())).unwrap_or_default();
    hz_of(&config).unwrap_or(DEFAULT_HZ)
}

/// `CONFIG_HZ=N` of a kernel config's text.
fn hz_of(config: &str) -> Option<u32> {
    config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hz_from_a_kernel_config() {
        let config = "CONFIG_HZ_250=y\n# CONFIG_HZ_1000 is not set\nCONFIG_HZ=250\n";
        assert_eq!(hz_of(config), Some(250));
        assert_eq!(hz_of("CONFIG_HZ=1000\n"), Some(1000));
        assert_eq!(hz_of(""), None);
    }
}
