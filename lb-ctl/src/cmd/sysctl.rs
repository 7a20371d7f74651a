//! `lbctl sysctl`: the IPVS sysctls lb honours (`lb_model::sysctl`), printed as sysctl(8)
//! prints them (`net.ipv4.vs.NAME = VALUE`), described (`-d`), or set (`-w NAME=VALUE`: the
//! desired config with that field changed, applied as `lbctl apply` would).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use lb_model::{
    api::{Op, Response},
    config::{Config, Raw},
    sysctl::{self, PREFIX, SYSCTLS, Sysctl},
};

use super::{Failure, apply::render_applied};
use crate::{cli::SysctlArgs, client::Client};

pub fn run(client: &Client, a: &SysctlArgs) -> Result<String> {
    // Names are checked before lbd is asked anything.
    let wanted: Vec<&Sysctl> = if a.names.is_empty() {
        SYSCTLS.iter().collect()
    } else {
        a.names.iter().map(|n| find(n)).collect::<Result<_>>()?
    };
    let writes: Vec<(&Sysctl, u64)> = a
        .write
        .iter()
        .map(|w| parse_write(w))
        .collect::<Result<_>>()?;
    if a.describe {
        let mut out = String::new();
        for s in wanted {
            let _ = writeln!(
                out,
                "{PREFIX}{}: {} (config field `{}`, default {})",
                s.name, s.doc, s.field, s.default
            );
        }
        return Ok(out);
    }
    let mut config = desired(client)?;
    if writes.is_empty() {
        return Ok(wanted.iter().map(|s| line(s, &config)).collect());
    }
    for (s, v) in &writes {
        (s.set)(&mut config, *v);
    }
    let text = serde_json::to_string_pretty(&config).context("cannot encode the config")?;
    let r = client.call(Op::Apply {
        config: text,
        source: "lbctl sysctl".into(),
        dry_run: false,
    })?;
    // The changes made are lbd's business; sysctl(8) prints the values set.
    render_applied(&r, false)?;
    Ok(writes.iter().map(|(s, _)| line(s, &config)).collect())
}

/// lbd's desired state as a config.
fn desired(client: &Client) -> Result<Config<Raw>> {
    match client.call(Op::GetConfig)? {
        Response::Config { config } => Config::read(&config)
            .map_err(|e| anyhow::anyhow!("lbd sent a config lbctl cannot read: {e}")),
        other => bail!(
            "unexpected answer from lbd to get config: {}",
            super::response_kind(&other)
        ),
    }
}

fn line(s: &Sysctl, config: &Config<Raw>) -> String {
    format!("{PREFIX}{} = {}\n", s.name, (s.get)(config))
}

/// A sysctl lb honours, or sysctl(8)'s message for an unknown key (status 255, as sysctl's).
fn find(name: &str) -> Result<&'static Sysctl> {
    sysctl::find(name).ok_or_else(|| {
        let known: Vec<&str> = SYSCTLS.iter().map(|s| s.name).collect();
        Failure::usage(
            format!(
                "sysctl: cannot stat /proc/sys/{}: lb honours no such IPVS sysctl (it honours {})",
                full(name).replace('.', "/"),
                known.join(", ")
            ),
            255,
        )
        .into()
    })
}

/// `NAME` as `net.ipv4.vs.NAME`.
fn full(name: &str) -> String {
    if name.starts_with(PREFIX) || name.contains('/') {
        name.into()
    } else {
        format!("{PREFIX}{name}")
    }
}

/// `NAME=VALUE` of `-w`, the value a decimal number in the sysctl's range.
fn parse_write(w: &str) -> Result<(&'static Sysctl, u64)> {
    let Some((name, value)) = w.split_once('=') else {
        return Err(Failure::usage(
            format!("sysctl: \"{w}\" must be of the form name=value"),
            255,
        )
        .into());
    };
    let s = find(name.trim())?;
    let v: u64 = value.trim().parse().map_err(|_| {
        Failure::usage(
            format!(
                "sysctl: {PREFIX}{}: \"{}\" is not a number",
                s.name,
                value.trim()
            ),
            255,
        )
    })?;
    if !(s.range.0..=s.range.1).contains(&v) {
        return Err(Failure::usage(
            format!(
                "sysctl: setting key \"{PREFIX}{}\": Invalid argument ({v} is out of range: {} to {})",
                s.name, s.range.0, s.range.1
            ),
            255,
        )
        .into());
    }
    Ok((s, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_sysctl_prints_them() {
        let c = Config::read(r#"{"interface": "eth0", "expire_nodest_conn": true}"#).unwrap();
        let s = sysctl::find("expire_nodest_conn").unwrap();
        assert_eq!(line(s, &c), "net.ipv4.vs.expire_nodest_conn = 1\n");
        let s = sysctl::find("lblc_expiration").unwrap();
        assert_eq!(line(s, &c), "net.ipv4.vs.lblc_expiration = 86400\n");
        let c = Config::read(r#"{"interface": "eth0", "sloppy_tcp": true, "conn_reuse_mode": 0}"#)
            .unwrap();
        let s = sysctl::find("sloppy_tcp").unwrap();
        assert_eq!(line(s, &c), "net.ipv4.vs.sloppy_tcp = 1\n");
        let s = sysctl::find("conn_reuse_mode").unwrap();
        assert_eq!(line(s, &c), "net.ipv4.vs.conn_reuse_mode = 0\n");
    }

    #[test]
    fn bad_names_and_values_are_refused() {
        let msg = |r: Result<(&Sysctl, u64)>| r.err().map(|e| e.to_string());
        assert_eq!(
            msg(parse_write("net.ipv4.vs.expire_nodest_conn=2")).as_deref(),
            Some(
                "sysctl: setting key \"net.ipv4.vs.expire_nodest_conn\": Invalid argument (2 is out of range: 0 to 1)"
            )
        );
        assert_eq!(
            msg(parse_write("lblc_expiration=soon")).as_deref(),
            Some("sysctl: net.ipv4.vs.lblc_expiration: \"soon\" is not a number")
        );
        assert_eq!(
            msg(parse_write("expire_nodest_conn")).as_deref(),
            Some("sysctl: \"expire_nodest_conn\" must be of the form name=value")
        );
        assert_eq!(
            msg(parse_write("secure_tcp=1")).as_deref(),
            Some(
                "sysctl: cannot stat /proc/sys/net/ipv4/vs/secure_tcp: lb honours no such IPVS sysctl (it honours conn_reuse_mode, expire_nodest_conn, lblc_expiration, lblcr_expiration, sloppy_sctp, sloppy_tcp)"
            )
        );
        assert_eq!(
            msg(parse_write("conn_reuse_mode=4")).as_deref(),
            Some(
                "sysctl: setting key \"net.ipv4.vs.conn_reuse_mode\": Invalid argument (4 is out of range: 0 to 3)"
            )
        );
        // lbd's own range: what lbctl lets through, lbd's validation accepts.
        assert_eq!(
            msg(parse_write("lblc_expiration=31536001")).as_deref(),
            Some(
                "sysctl: setting key \"net.ipv4.vs.lblc_expiration\": Invalid argument (31536001 is out of range: 1 to 31536000)"
            )
        );
        let (s, v) = parse_write("net/ipv4/vs/lblcr_expiration = 60").unwrap();
        assert_eq!((s.name, v), ("lblcr_expiration", 60));
    }
}
