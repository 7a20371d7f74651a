//! `lbctl director drain|undrain|status`: the director's VIPs announced through BIRD or
//! withdrawn; and `lbctl bird-config`, the BIRD 2 config a director (and its router) needs.

use std::{fmt::Write as _, net::IpAddr};

use anyhow::{Result, bail};
use lb_model::{
    api::{DirectorAction, DirectorView, Op, Response},
    config::announce::{BIRD_PROTOCOL_V4, BIRD_PROTOCOL_V6},
};

use crate::{
    cli::BirdConfigArgs,
    client::Client,
    contract::{self, director::Director},
};

pub fn run(client: &Client, action: DirectorAction, json: bool) -> Result<String> {
    let response = client.call(Op::Director { action })?;
    let Response::Director(view) = &response else {
        bail!(
            "unexpected answer from lbd to director: {}",
            super::response_kind(&response)
        );
    };
    if json {
        return Ok(contract::to_text(&Director::from(view)));
    }
    Ok(render(view))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn list(ips: &[IpAddr]) -> String {
    if ips.is_empty() {
        "none".into()
    } else {
        ips.iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `lbctl director status` as text.
pub fn render(v: &DirectorView) -> String {
    let mut out = String::new();
    match (&v.bird_socket, &v.include_file) {
        (Some(sock), Some(file)) if v.announcing => {
            let _ = writeln!(
                out,
                "Announcing:  through BIRD (socket {sock}, include file {file})"
            );
        }
        _ => out.push_str("Announcing:  no (lbd's config has no announce section)\n"),
    }
    let _ = writeln!(out, "Attached:    {}", yes(v.attached));
    let _ = writeln!(out, "Drained:     {}", yes(v.drained));
    let _ = writeln!(out, "Wanted:      {}", list(&v.wanted));
    let _ = writeln!(out, "Announced:   {}", list(&v.announced));
    if let Some(e) = &v.error {
        let _ = writeln!(out, "BIRD error:  {e}");
    }
    out
}

/// `lbctl bird-config`: the director's BIRD config, and the router's side as comments.
pub fn bird_config(a: &BirdConfigArgs) -> String {
    let file = a.include_file.display();
    let mut out = format!(
        "# BIRD 2 config of an lb director (lbctl bird-config). lbd writes {file}, with the\n\
         # static protocols {BIRD_PROTOCOL_V4} (IPv4 VIPs, /32) and {BIRD_PROTOCOL_V6} (IPv6 VIPs, /128), and runs\n\
         # `configure` on BIRD's control socket whenever the VIPs to announce change. lbd's config:\n\
         #   \"announce\": {{ \"bird_socket\": \"/run/bird/bird.ctl\", \"include_file\": \"{file}\" }}\n\
         # Create the file before BIRD's first start (lbd rewrites it whole):\n\
         #   touch {file}\n\
         \n\
         protocol device {{\n}}\n\
         \n\
         include \"{file}\";\n"
    );
    for (i, router) in a.routers.iter().enumerate() {
        let (channel, proto) = if router.is_ipv6() {
            ("ipv6", BIRD_PROTOCOL_V6)
        } else {
            ("ipv4", BIRD_PROTOCOL_V4)
        };
        let _ = write!(
            out,
            "\n\
             protocol bgp lb_router{i} {{\n\
             \tlocal as {local};\n\
             \tneighbor {router} as {remote};\n\
             \thold time {hold};\t# a director whose BIRD stops is withdrawn within this\n\
             \tkeepalive time {keep};\n\
             \t# bfd on;\t# faster than the hold time (with `protocol bfd {{}}` on both sides)\n\
             \t{channel} {{\n\
             \t\timport none;\n\
             \t\texport where proto = \"{proto}\";\n\
             \t\tnext hop self;\n\
             \t}};\n\
             }}\n",
            local = a.local_as,
            remote = a.router_as,
            hold = a.hold_time,
            keep = (a.hold_time / 3).max(1),
        );
    }
    let _ = write!(
        out,
        "\n\
         # The router's side (BIRD 2): one session per director, the same VIP from each merged\n\
         # into one ECMP route, and the kernel hashing flows on their ports:\n\
         #   sysctl -w net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1\n\
         #   protocol kernel {{ ipv4 {{ export all; }}; merge paths on; }}\n\
         #   protocol kernel {{ ipv6 {{ export all; }}; merge paths on; }}\n\
         #   protocol bgp director1 {{\n\
         #   \tlocal as {remote};\n\
         #   \tneighbor DIRECTOR1-ADDRESS as {local};\n\
         #   \thold time {hold};\n\
         #   \tkeepalive time {keep};\n\
         #   \tipv4 {{ import all; export none; }};\n\
         #   }}\n\
         #   (and the same for each director; every director's routes must have equal\n\
         #   attributes, e.g. the same AS path length, for BIRD to merge them)\n",
        local = a.local_as,
        remote = a.router_as,
        hold = a.hold_time,
        keep = (a.hold_time / 3).max(1),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_as_text() {
        let v = DirectorView {
            announcing: true,
            attached: true,
            drained: true,
            wanted: vec![],
            announced: vec!["198.18.1.100".parse().unwrap()],
            error: Some("cannot reach BIRD's control socket /x: No such file".into()),
            bird_socket: Some("/x".into()),
            include_file: Some("/etc/bird/lb-vips.conf".into()),
        };
        assert_eq!(
            render(&v),
            "Announcing:  through BIRD (socket /x, include file /etc/bird/lb-vips.conf)\n\
             Attached:    yes\n\
             Drained:     yes\n\
             Wanted:      none\n\
             Announced:   198.18.1.100\n\
             BIRD error:  cannot reach BIRD's control socket /x: No such file\n"
        );
        assert_eq!(
            render(&DirectorView::default()),
            "Announcing:  no (lbd's config has no announce section)\n\
             Attached:    no\n\
             Drained:     no\n\
             Wanted:      none\n\
             Announced:   none\n"
        );
    }

    #[test]
    fn bird_config_has_a_session_per_router_of_its_family() {
        let a = BirdConfigArgs {
            routers: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            router_as: 65000,
            local_as: 65001,
            include_file: "/etc/bird/lb-vips.conf".into(),
            hold_time: 3,
        };
        let text = bird_config(&a);
        assert!(text.contains("include \"/etc/bird/lb-vips.conf\";\n"));
        assert!(text.contains(
            "protocol bgp lb_router0 {\n\tlocal as 65001;\n\tneighbor 192.0.2.1 as 65000;\n\thold time 3;"
        ));
        assert!(text.contains(
            "\tipv4 {\n\t\timport none;\n\t\texport where proto = \"lb_vips4\";\n\t\tnext hop self;\n\t};\n}\n"
        ));
        assert!(text.contains(
            "protocol bgp lb_router1 {\n\tlocal as 65001;\n\tneighbor 2001:db8::1 as 65000;"
        ));
        assert!(text.contains("\texport where proto = \"lb_vips6\";"));
    }
}
