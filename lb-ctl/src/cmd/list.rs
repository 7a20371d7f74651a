//! `lbctl -L` (`-l`, `--list`): lbd's virtual server table as ipvsadm prints the kernel's.

use std::io::Write;

use anyhow::{Context, Result, bail};
use lb_common::api::{Op, Response};

use crate::{
    cli::ListOptions,
    client::Client,
    format::{self, ListFormat},
};

pub fn run(client: &Client, opts: &ListOptions, json: bool, out: &mut dyn Write) -> Result<()> {
    let response = client.call(Op::List)?;
    let text = render(&response, opts, json)?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the listing")
}

/// The text to print for lbd's answer to `Op::List`.
pub fn render(response: &Response, opts: &ListOptions, json: bool) -> Result<String> {
    let Response::Services {
        conn_table_size,
        services,
    } = response
    else {
        bail!(
            "unexpected answer from lbd to list: {}",
            super::response_kind(response)
        );
    };
    if json {
        let mut s = serde_json::to_string_pretty(response)?;
        s.push('\n');
        return Ok(s);
    }
    // `opts.numeric` changes nothing yet: without -n ipvsadm resolves host and service names,
    // lbctl always prints addresses and ports numerically.
    let fmt = ListFormat {
        stats: opts.stats,
        exact: opts.exact,
        nosort: opts.nosort,
    };
    Ok(format::list_all(services, *conn_table_size, fmt))
}

#[cfg(test)]
mod tests {
    use lb_common::api::{RealServerView, ServiceView, StatsView};

    use super::*;

    fn response() -> Response {
        Response::Services {
            conn_table_size: 4096,
            services: vec![ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 80,
                scheduler: "mh".into(),
                sched_flags: vec!["mh-port".into()],
                persistent: None,
                health: None,
                stats: StatsView::default(),
                real_servers: vec![RealServerView {
                    address: "192.168.1.10".parse().unwrap(),
                    port: 80,
                    forwarding: "tun".into(),
                    weight: 1,
                    active_conns: 2,
                    inactive_conns: 3,
                    health: None,
                    stats: StatsView {
                        conns: 5,
                        ..Default::default()
                    },
                }],
            }],
        }
    }

    #[test]
    fn table() {
        let opts = ListOptions {
            numeric: true,
            ..Default::default()
        };
        assert_eq!(
            render(&response(), &opts, false).unwrap(),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.0.0.1:80 mh (mh-port)\n  \
             -> 192.168.1.10:80              Tunnel  1      2          3         \n"
        );
    }

    #[test]
    fn json_round_trips() {
        let text = render(&response(), &ListOptions::default(), true).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\n  \"conn_table_size\": 4096,\n"), "{text}");
        let back: Response = serde_json::from_str(&text).unwrap();
        assert_eq!(back, response());
    }

    #[test]
    fn wrong_answer_is_an_error() {
        let err = render(
            &Response::Error {
                message: "x".into(),
            },
            &ListOptions::default(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "unexpected answer from lbd to list: error");
    }
}
