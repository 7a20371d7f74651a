//! `lbctl trace`: what the data plane does with the packets you ask about, live: verdict,
//! reason, flow and real server, one line each (`--json`: lbd's JSON lines). The first thing
//! to run when traffic does not arrive.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixStream,
};

use anyhow::{Context, Result, bail};
use lb_model::api::{API_VERSION, Op, Request, Response, TraceView};

use crate::{
    cli::TraceArgs,
    client::{Client, Unavailable},
    contract::{self, trace::TraceEvent},
};

/// One line per event: time, protocol, source -> destination, verdict (reason), real server.
pub fn line(t: &TraceView) -> String {
    let mut s = t.time.clone();
    match (&t.protocol, &t.source, &t.destination) {
        (Some(p), Some(src), Some(dst)) => s.push_str(&format!(" {p} {src} -> {dst}")),
        _ => s.push_str(" (not parsed)"),
    }
    s.push_str(&format!(" {} ({})", t.verdict, t.reason));
    if let Some(r) = &t.real {
        s.push_str(&format!(" real {r}"));
    }
    s
}

pub fn run(client: &Client, a: &TraceArgs, json: bool, out: &mut dyn Write) -> Result<()> {
    let path = client.path();
    let mut stream = UnixStream::connect(path).map_err(|e| {
        Unavailable(format!(
            "cannot connect to lbd at {} (is lbd running?): {e}",
            path.display()
        ))
    })?;
    let op = Op::Trace {
        vip: a.vip,
        client: a.client,
        real: a.real,
        max_per_sec: Some(a.max_per_sec),
    };
    let mut req = serde_json::to_string(&Request { v: API_VERSION, op })?;
    req.push('\n');
    stream.write_all(req.as_bytes())?;
    let mut seen = 0u64;
    for line in BufReader::new(stream).lines() {
        let line = line.context("reading lbd's trace")?;
        let resp: Response = serde_json::from_str(&line)
            .with_context(|| format!("lbd sent something lbctl cannot read: {line}"))?;
        match resp {
            Response::TraceStarted => {}
            Response::Trace(t) => {
                if json {
                    writeln!(out, "{}", contract::to_line(&TraceEvent::from(&t)))?;
                } else {
                    writeln!(out, "{}", self::line(&t))?;
                }
                out.flush()?;
                seen += 1;
                if a.count.is_some_and(|n| seen >= n) {
                    return Ok(());
                }
            }
            // Refused: printed as it is, like every refusal of lbd.
            Response::Error { message, edit } => {
                return Err(crate::client::Refused { message, edit }.into());
            }
            other => bail!(
                "unexpected answer from lbd: {}",
                super::response_kind(&other)
            ),
        }
    }
    bail!("lbd closed the trace")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_what_happened_to_the_packet() {
        let t = TraceView {
            time: "2026-11-25T01:02:03.000004Z".into(),
            verdict: "drop".into(),
            reason: "drop_no_real".into(),
            protocol: Some("tcp".into()),
            source: Some("198.18.5.7:40000".into()),
            destination: Some("198.18.1.100:81".into()),
            real: None,
        };
        assert_eq!(
            line(&t),
            "2026-11-25T01:02:03.000004Z tcp 198.18.5.7:40000 -> 198.18.1.100:81 drop (drop_no_real)"
        );
        let t = TraceView {
            verdict: "tx".into(),
            reason: "tx".into(),
            real: Some("198.18.0.11:80".into()),
            ..t
        };
        assert!(line(&t).ends_with("tx (tx) real 198.18.0.11:80"));
    }
}
