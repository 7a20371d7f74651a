//! `lbctl status`: lbd's daemon-wide state.

use anyhow::{Result, bail};
use lb_model::api::{Op, Response};

use crate::{client::Client, format};

pub fn run(client: &Client, json: bool) -> Result<String> {
    let response = client.call(Op::Status)?;
    render(&response, json)
}

/// The text to print for lbd's answer to `Op::Status`.
pub fn render(response: &Response, json: bool) -> Result<String> {
    let Response::Status(status) = response else {
        bail!(
            "unexpected answer from lbd to status: {}",
            super::response_kind(response)
        );
    };
    if json {
        let mut s = serde_json::to_string_pretty(response)?;
        s.push('\n');
        return Ok(s);
    }
    Ok(format::status(status))
}

#[cfg(test)]
mod tests {
    use lb_model::api::StatusView;

    use super::*;

    fn response() -> Response {
        Response::Status(StatusView {
            version: "0.1.0".into(),
            interface: "eth0".into(),
            xdp_mode: "generic".into(),
            services: 0,
            real_servers: 0,
            connections: 0,
            connection_capacity: 4096,
            services_down: 0,
            reasons: vec![],
        })
    }

    #[test]
    fn summary() {
        assert_eq!(
            render(&response(), false).unwrap(),
            "lbd version 0.1.0\n\
             Interface:     eth0 (XDP generic mode)\n\
             Services:      0\n\
             Real servers:  0\n\
             Connections:   0 of 4096\n"
        );
    }

    #[test]
    fn json_round_trips() {
        let text = render(&response(), true).unwrap();
        assert!(text.contains("\"result\": \"status\""), "{text}");
        let back: Response = serde_json::from_str(&text).unwrap();
        assert_eq!(back, response());
    }

    #[test]
    fn wrong_answer_is_an_error() {
        let err = render(
            &Response::Services {
                conn_table_size: 1,
                services: vec![],
            },
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected answer from lbd to status: services"
        );
    }
}
