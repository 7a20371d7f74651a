//! `lbctl mark add|del|list|import`: lb's classifier (the config's `marks`), which gives new
//! flows the marks firewall-mark services (`-A -f MARK`) take. Every change goes through lbd
//! as an edit (validated whole, applied atomically, saved; nothing changes on an error).

use std::{fs, io::Read};

use anyhow::{Context, Result, bail};
use lb_model::{
    api::{Edit, Op, Response},
    config::{MarkConfig, MarkMatch},
};

use super::{Failure, edit};
use crate::{
    cli::MarkVerb,
    client::{Client, Refused},
    iptables,
};

pub fn run(
    client: &Client,
    verb: &MarkVerb,
    input: &mut dyn Read,
    as_json: bool,
) -> Result<String> {
    match verb {
        MarkVerb::Add(a) => {
            let protocol = a
                .protocol
                .as_deref()
                .map(|p| {
                    p.parse().map_err(|_| {
                        Failure::usage(format!("-p {p}: lb's services are tcp, udp or sctp"), 2)
                    })
                })
                .transpose()?;
            let m = MarkMatch {
                destination: a.destination.clone(),
                protocol,
                ports: a.ports.clone(),
                source: a.source.clone(),
            };
            edit::one(
                client,
                Edit::AddMatches {
                    mark: a.mark,
                    matches: vec![m],
                },
                as_json,
            )
        }
        MarkVerb::Del { mark, index } => edit::one(
            client,
            Edit::DelMark {
                mark: *mark,
                index: index.map(|i| i as usize - 1),
            },
            as_json,
        ),
        MarkVerb::List if as_json => Err(Failure::usage(
            "mark list has no JSON output of its own: lbctl get config --json carries the marks",
            2,
        )
        .into()),
        MarkVerb::List => Ok(list(&marks(client)?)),
        MarkVerb::Import { file } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                input
                    .read_to_string(&mut text)
                    .context("cannot read the rules from standard input")?;
            } else {
                text = fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
            }
            import(client, &text, as_json)
        }
    }
}

/// The marks of lbd's desired state.
fn marks(client: &Client) -> Result<Vec<MarkConfig>> {
    let config = match client.call(Op::GetConfig)? {
        Response::Config { config } => config,
        other => bail!(
            "unexpected answer from lbd to get config: {}",
            super::response_kind(&other)
        ),
    };
    let v: serde_json::Value =
        serde_json::from_str(&config).context("lbd sent a config that is not JSON")?;
    match v.get("marks") {
        None => Ok(vec![]),
        Some(m) => serde_json::from_value(m.clone()).context("lbd sent marks lbctl cannot read"),
    }
}

/// `mark list`: each mark, then its matches numbered from 1 (the numbers `mark del` takes),
/// in iptables's words.
pub fn list(marks: &[MarkConfig]) -> String {
    let mut out = String::new();
    for m in marks {
        out.push_str(&format!("MARK {}\n", m.mark));
        for (i, x) in m.matches.iter().enumerate() {
            out.push_str(&format!("  {} -d {}", i + 1, x.destination));
            if let Some(p) = x.protocol {
                out.push_str(&format!(" -p {p}"));
            }
            if let Some(p) = &x.ports {
                out.push_str(&format!(" --dport {p}"));
            }
            if let Some(s) = &x.source {
                out.push_str(&format!(" -s {s}"));
            }
            out.push('\n');
        }
    }
    out
}

/// `mark import`: every MARK rule of `text` as one batch (all or nothing), or the line that
/// cannot be honoured (then nothing is sent).
fn import(client: &Client, text: &str, as_json: bool) -> Result<String> {
    let rules = iptables::parse(text)
        .map_err(|e| Failure::usage(format!("{e} (nothing was imported)"), 2))?;
    if rules.is_empty() {
        return Err(Failure::usage(
            "no MARK rule of the mangle table's PREROUTING chain found (nothing was imported)",
            2,
        )
        .into());
    }
    let lines: Vec<usize> = rules.iter().map(|r| r.line).collect();
    let edits: Vec<Edit> = rules
        .into_iter()
        .map(|r| Edit::AddMatches {
            mark: r.mark,
            matches: r.matches,
        })
        .collect();
    match client.call(Op::Edit { edits }) {
        Ok(r) => edit::done(&r, as_json),
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(Refused {
                message,
                edit: Some(i),
            }) => Err(Failure::refused(format!(
                "line {}: {message} (nothing was imported)",
                lines.get(*i).copied().unwrap_or(0)
            ))
            .into()),
            Some(Refused { message, .. }) => {
                Err(Failure::refused(format!("{message} (nothing was imported)")).into())
            }
            None => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_numbers_each_marks_matches_in_iptables_words() {
        let marks = vec![MarkConfig {
            mark: 1,
            matches: vec![
                MarkMatch {
                    destination: "10.0.0.1/32".into(),
                    protocol: Some(lb_model::Protocol::Tcp),
                    ports: Some("80,443".into()),
                    source: None,
                },
                MarkMatch {
                    destination: "10.0.1.0/24".into(),
                    protocol: None,
                    ports: None,
                    source: Some("192.0.2.0/24".into()),
                },
            ],
        }];
        assert_eq!(
            list(&marks),
            "MARK 1\n  1 -d 10.0.0.1/32 -p tcp --dport 80,443\n  2 -d 10.0.1.0/24 -s 192.0.2.0/24\n"
        );
    }
}
