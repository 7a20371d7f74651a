//! The real server of `-a`, `-e`, `-d`: its address (`-r`), forwarding method (`-g`, `-i`,
//! `-m`), weight and connection thresholds (`-w`, `-x`, `-y`), and tunnel (`--tun-type`,
//! `--tun-port`, `--tun-nocsum`, `--tun-csum`, `--tun-remcsum`: ipvsadm's
//! `tunnel_opt_check`).

use std::net::IpAddr;

use lb_model::{
    Forwarding, Named, TunCsum, TunType,
    api::{Edit, RealSpec, ServiceKey},
};

use super::{
    address::parse_address,
    c_values::number,
    lookup::Lookup,
    table::{self, Cmd},
};
use crate::cli::RealOptions;
use crate::command::UsageError;

/// The real server's options' values, read; None where the option is not given.
pub(super) struct RealValues {
    /// `-r`: the address and the port if one was given.
    pub server: Option<(IpAddr, Option<u16>)>,
    pub weight: Option<u32>,
    pub u_threshold: Option<u32>,
    pub l_threshold: Option<u32>,
    pub tun_type: Option<TunType>,
    pub tun_port: Option<u16>,
}

fn u32_option(v: &Option<String>, max: i64, what: &str) -> Result<Option<u32>, UsageError> {
    match v {
        None => Ok(None),
        Some(t) => number(t, 0, max)
            .map(|n| Some(n as u32))
            .ok_or_else(|| UsageError::new(format!("illegal {what} specified"))),
    }
}

/// The highest weight ipvsadm's `-w` reads.
pub const MAX_IPVSADM_WEIGHT: i64 = 65535;

/// `-w`.
pub(super) fn weight(r: &RealOptions) -> Result<Option<u32>, UsageError> {
    // ipvsadm 1.31: string_to_number(optarg, 0, 65535). The kernel and lb's JSON config take
    // up to 2147483647; the ipvsadm interface keeps ipvsadm's range, so that what it makes
    // `-S` prints in words the real ipvsadm restores.
    u32_option(&r.weight, MAX_IPVSADM_WEIGHT, "weight")
}

/// `-x`, `-y`: the upper and lower connection thresholds.
pub(super) fn thresholds(r: &RealOptions) -> Result<(Option<u32>, Option<u32>), UsageError> {
    let u_threshold = u32_option(&r.u_threshold, i32::MAX as i64, "u_threshold")?;
    let l_threshold = u32_option(&r.l_threshold, i32::MAX as i64, "l_threshold")?;
    Ok((u_threshold, l_threshold))
}

/// `--tun-type`.
pub(super) fn tun_type(t: Option<&str>) -> Result<Option<TunType>, UsageError> {
    t.map(|t| TunType::from_name(t).ok_or_else(|| UsageError::new("illegal tunnel type specified")))
        .transpose()
}

/// `--tun-port`.
pub(super) fn tun_port(p: Option<&str>) -> Result<Option<u16>, UsageError> {
    Ok(match p {
        None => None,
        Some(p) => Some(
            number(p, 1, 65535).ok_or_else(|| UsageError::new("illegal tunnel port specified"))?
                as u16,
        ),
    })
}

/// `-r`: the address and the port if given, names of the service's protocol (TCP when no
/// service is given).
pub(super) fn server(
    r: Option<&str>,
    protocol: Option<&str>,
    lookup: &dyn Lookup,
) -> Result<Option<(IpAddr, Option<u16>)>, UsageError> {
    Ok(match r {
        None => None,
        Some(r) => {
            let proto = protocol.unwrap_or("tcp");
            Some(
                parse_address(r, proto, lookup).ok_or_else(|| {
                    UsageError::new("illegal real server address[:port] specified")
                })?,
            )
        }
    })
}

/// `-a`, `-e`, `-d`: the edit, with the checks ipvsadm makes after the command-option table.
pub(super) fn edit(
    cmd: Cmd,
    opts: &[bool; 34],
    r: &RealOptions,
    service: ServiceKey,
    v: &RealValues,
) -> Result<Edit, UsageError> {
    let (address, port) = v.server.expect("checked: compulsory");
    let mut port = port.unwrap_or(service.port);
    if cmd == Cmd::DelDest {
        return Ok(Edit::DelReal {
            service,
            address,
            port,
        });
    }
    let forwarding = if r.masquerading > 0 {
        Forwarding::Nat
    } else if r.ipip > 0 {
        Forwarding::Tun
    } else {
        Forwarding::Dr
    };
    // ipvsadm: "The destination port must be equal to the service port if the
    // IP_VS_CONN_F_TUNNEL or IP_VS_CONN_F_DROUTE is set."
    if !forwarding.may_change_port() {
        port = service.port;
    }
    if address.is_ipv6() != service.vip.is_ipv6() && !forwarding.crosses_families() {
        return Err(UsageError::new(
            "Different address family is allowed only for tunneling servers",
        ));
    }
    let tunnel_opts = [
        table::O_TUN_TYPE,
        table::O_TUN_PORT,
        table::O_TUN_NOCSUM,
        table::O_TUN_CSUM,
        table::O_TUN_REMCSUM,
    ];
    if tunnel_opts.iter().any(|&o| opts[o]) && forwarding != Forwarding::Tun {
        return Err(UsageError::new(
            "Tunnel options conflict with forward method",
        ));
    }
    if forwarding == Forwarding::Tun {
        table::check_tunnel_options(v.tun_type.unwrap_or(TunType::Ipip), opts)?;
    }
    let tun_csum = if r.tun_csum {
        Some(TunCsum::Csum)
    } else if r.tun_remcsum {
        Some(TunCsum::Remcsum)
    } else if r.tun_nocsum {
        Some(TunCsum::Nocsum)
    } else {
        None
    };
    let real = RealSpec {
        address,
        port: Some(port),
        weight: v.weight.unwrap_or(1),
        forwarding: forwarding.name().into(),
        tun_type: v.tun_type.map(Into::into),
        tun_port: v.tun_port,
        tun_csum: tun_csum.map(Into::into),
        upper_threshold: v.u_threshold,
        lower_threshold: v.l_threshold,
        // ipvsadm has no words for health checks: lbd keeps a real server's.
        health_check: None,
    };
    Ok(if cmd == Cmd::AddDest {
        Edit::AddReal { service, real }
    } else {
        Edit::EditReal { service, real }
    })
}

#[cfg(test)]
mod tests {
    use lb_model::api::Edit;

    use crate::{command::Command, ipvsadm::test_util::run};

    #[test]
    fn tunnel_options() {
        let Command::Edit(Edit::AddReal { real: r, .. }) = run(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.1.0.1",
            "-i",
            "--tun-type",
            "gue",
            "--tun-port",
            "6080",
            "--tun-csum",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.tun_type.as_deref(), r.tun_port, r.tun_csum.as_deref()),
            (Some("gue"), Some(6080), Some("csum"))
        );
    }
}
