//! The declarative interface: `lbctl apply -f FILE` (the file is the whole desired state;
//! prints what changed) and `lbctl get config`.

use std::{io::Read, path::Path};

use anyhow::{Context, Result, bail};
use lb_model::api::{Op, Response};

use crate::{
    client::Client,
    contract::{self, changes::Changes, config::ConfigOutput},
};

pub fn apply(client: &Client, file: &Path, dry_run: bool, as_json: bool) -> Result<String> {
    let (text, source) = if file == Path::new("-") {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .context("cannot read the config from standard input")?;
        (t, "(stdin)".to_string())
    } else {
        let t = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        (t, file.display().to_string())
    };
    let r = client.call(Op::Apply {
        config: text,
        source,
        dry_run,
    })?;
    render_applied(&r, as_json)
}

/// The changes lbd made (or, with a dry run, would make), one per line.
pub fn render_applied(r: &Response, as_json: bool) -> Result<String> {
    let Response::Applied { changes, dry_run } = r else {
        bail!(
            "unexpected answer from lbd to apply: {}",
            super::response_kind(r)
        );
    };
    if as_json {
        return Ok(contract::to_text(&Changes::new(changes, *dry_run)));
    }
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str("no changes\n");
    }
    for c in changes {
        out.push_str(c);
        out.push('\n');
    }
    if *dry_run {
        out.push_str("(dry run: nothing was changed)\n");
    }
    Ok(out)
}

pub fn get_config(client: &Client, as_json: bool) -> Result<String> {
    let r = client.call(Op::GetConfig)?;
    match r {
        Response::Config { config } if !as_json => Ok(config),
        // The config is JSON already: --json carries it as an object.
        Response::Config { config } => {
            let config =
                serde_json::from_str(&config).context("lbd sent a config that is not JSON")?;
            Ok(contract::to_text(&ConfigOutput {
                version: contract::Version,
                config,
            }))
        }
        other => bail!(
            "unexpected answer from lbd to get config: {}",
            super::response_kind(&other)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_one_per_line() {
        let r = Response::Applied {
            changes: vec!["+ service -t 10.0.0.1:80 scheduler rr".into()],
            dry_run: true,
        };
        assert_eq!(
            render_applied(&r, false).unwrap(),
            "+ service -t 10.0.0.1:80 scheduler rr\n(dry run: nothing was changed)\n"
        );
        let none = Response::Applied {
            changes: vec![],
            dry_run: false,
        };
        assert_eq!(render_applied(&none, false).unwrap(), "no changes\n");
    }
}
