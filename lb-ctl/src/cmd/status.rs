//! `lbctl status`: lbd's daemon-wide state.

use anyhow::{Result, bail};
use lb_model::api::{Op, Response};

use crate::{
    client::Client,
    contract::{self, status::Status},
    format,
};

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
        return Ok(contract::to_text(&Status::from(status)));
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
            interfaces: vec!["eth0".into()],
            xdp_mode: "generic".into(),
            services: 0,
            real_servers: 0,
            connections: 0,
            connection_capacity: 4096,
            services_down: 0,
            reasons: vec![("tx".into(), 3), ("pass_not_ip".into(), 0)],
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
             Connections:   0 of 4096\n\
             Reasons:\n  \
             tx           3\n  \
             pass_not_ip  0\n"
        );
    }

    #[test]
    fn json_has_a_version_and_reasons_by_name() {
        let text = render(&response(), true).unwrap();
        assert!(
            text.starts_with("{\n  \"version\": 1,\n  \"lbd_version\": \"0.1.0\",\n"),
            "{text}"
        );
        // In lbd's order, not sorted.
        assert!(
            text.ends_with("  \"reasons\": {\n    \"tx\": 3,\n    \"pass_not_ip\": 0\n  }\n}\n"),
            "{text}"
        );
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
