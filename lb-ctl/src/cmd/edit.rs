//! ipvsadm's changing commands: `-A -E -D -C -a -e -d --set` (one edit), `-R` (every rule on
//! standard input as one batch: all or nothing) and `-Z`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use lb_model::api::{Edit, Op, Response, ServiceKey};

use super::Failure;
use crate::{
    client::{Client, Refused},
    contract::{self, changes::Changes},
    ipvsadm,
};

/// Sends one edit. Like ipvsadm, prints nothing when it worked; lbd's refusal is printed as
/// ipvsadm prints the kernel's (`ipvs_strerror`), with ipvsadm's status 255.
pub fn one(client: &Client, edit: Edit, as_json: bool) -> Result<String> {
    let r = client
        .call(Op::Edit { edits: vec![edit] })
        .map_err(refused)?;
    done(&r, as_json)
}

/// lbd's refusal of a change as ipvsadm reports the kernel's: the message, status 255.
pub(super) fn refused(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Refused>() {
        Ok(r) => Failure::refused(r.message).into(),
        Err(e) => e,
    }
}

pub(super) fn done(r: &Response, as_json: bool) -> Result<String> {
    match r {
        Response::Applied { changes, dry_run } if as_json => {
            Ok(contract::to_text(&Changes::new(changes, *dry_run)))
        }
        Response::Applied { .. } => Ok(String::new()),
        other => bail!(
            "unexpected answer from lbd: {}",
            super::response_kind(other)
        ),
    }
}

/// `-R`: parses the rules (any error names its line and sends nothing), then sends them as
/// one batch; an edit lbd refuses is reported with its line, and nothing is changed.
pub fn restore(client: &Client, input: &mut dyn Read, as_json: bool) -> Result<String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("cannot read the rules from standard input")?;
    let rules = ipvsadm::parse_restore(&text, &ipvsadm::SystemLookup)
        .map_err(|e| Failure::usage(format!("{} (nothing was restored)", e.message), e.status))?;
    let (lines, edits): (Vec<usize>, Vec<Edit>) = rules.into_iter().unzip();
    if edits.is_empty() {
        return done(
            &Response::Applied {
                changes: vec![],
                dry_run: false,
            },
            as_json,
        );
    }
    match client.call(Op::Edit { edits }) {
        Ok(r) => done(&r, as_json),
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(Refused {
                message,
                edit: Some(i),
            }) => Err(Failure::refused(format!(
                "line {}: {message} (nothing was restored)",
                lines.get(*i).copied().unwrap_or(0)
            ))
            .into()),
            Some(Refused {
                message,
                edit: None,
            }) => Err(Failure::refused(format!("{message} (nothing was restored)")).into()),
            None => Err(e),
        },
    }
}

/// `-R --line-by-line`: ipvsadm's own way (`restore_table`), each line read and applied
/// before the next. A line ipvsadm's option checks refuse stops there, with its message and
/// status (ipvsadm's `fail(2, ...)` exits; the lines before it stay applied); a change lbd
/// refuses is reported on standard error and the next line is tried; the exit status is the
/// last line's, as ipvsadm's (0, or 255 when lbd refused the last line). With `--json`, the
/// output is the changes made (or the last line's error).
pub fn restore_lines(client: &Client, input: &mut dyn Read, as_json: bool) -> Result<String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("cannot read the rules from standard input")?;
    let mut changes = Vec::new();
    let mut last: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let edit = match ipvsadm::parse_restore_line(n, line, &ipvsadm::SystemLookup) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => {
                if let Some(m) = last.take() {
                    eprintln!("{m}");
                }
                return Err(Failure::usage(e.message, e.status).into());
            }
        };
        if let Some(m) = last.take() {
            eprintln!("{m}");
        }
        match client.call(Op::Edit { edits: vec![edit] }) {
            Ok(Response::Applied { changes: c, .. }) => changes.extend(c),
            Ok(other) => bail!(
                "unexpected answer from lbd: {}",
                super::response_kind(&other)
            ),
            Err(e) => match e.downcast_ref::<Refused>() {
                Some(r) => last = Some(format!("line {n}: {}", r.message)),
                None => return Err(e),
            },
        }
    }
    if let Some(m) = last {
        return Err(Failure::refused(m).into());
    }
    done(
        &Response::Applied {
            changes,
            dry_run: false,
        },
        as_json,
    )
}

/// `-Z`: zero the counters of one service or all.
pub fn zero(client: &Client, service: Option<ServiceKey>, as_json: bool) -> Result<String> {
    let r = client.call(Op::Zero { service }).map_err(refused)?;
    done(&r, as_json)
}
