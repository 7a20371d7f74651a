//! `lbctl -R`: ipvsadm's restore format, the rules `-S` prints, read into edits.

use lb_model::api::Edit;

use super::{lookup::Lookup, popt::clap_error, process::resolve_with};
use crate::{cli::Cli, command::Command};

/// A `-R` line lbctl refuses: the message names the line; `status` is what ipvsadm exits
/// with for that line's error (2 for its `fail(2, ...)`, 255 for popt's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreError {
    pub message: String,
    pub status: u8,
}

/// `lbctl -R`: ipvsadm's restore format (`-S` output), one command per line, its words
/// separated by spaces, tabs or carriage returns (ipvsadm's `config_stream_read`); blank
/// lines and the word `ipvsadm` (or `lbctl`) are skipped. lbctl also skips `#` comments
/// (ipvsadm's own reader does not: `ipvsadm-restore` filters them out first). Every line
/// must be a changing command (`-A -E -D -C -a -e -d --set`). Returns the edits with their
/// line numbers; an error names its line.
pub fn parse_restore(text: &str, lookup: &dyn Lookup) -> Result<Vec<(usize, Edit)>, RestoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(e) = parse_restore_line(i + 1, line, lookup)? {
            out.push((i + 1, e));
        }
    }
    Ok(out)
}

/// Line `n` of `-R`'s input (see [`parse_restore`]): its edit, None for a line with no
/// command, or the error naming the line.
pub fn parse_restore_line(
    n: usize,
    line: &str,
    lookup: &dyn Lookup,
) -> Result<Option<Edit>, RestoreError> {
    let fail = |message: String, status: u8| RestoreError {
        message: format!("line {n}: {}", message.trim_end()),
        status,
    };
    let line = match line.find('#') {
        Some(c) => &line[..c],
        None => line,
    };
    let words: Vec<String> = std::iter::once("lbctl")
        .chain(
            line.split([' ', '\t', '\r'])
                .filter(|w| !w.is_empty() && *w != "ipvsadm" && *w != "lbctl"),
        )
        .map(str::to_string)
        .collect();
    if words.len() == 1 {
        return Ok(None);
    }
    let cli = Cli::parse_words(&words).map_err(|e| match clap_error(&words, &e) {
        Some((message, status)) => fail(message, status),
        None => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("").trim();
            fail(first.strip_prefix("error: ").unwrap_or(first).into(), 2)
        }
    })?;
    if cli.verb.is_some() {
        return Err(fail(
            "only ipvsadm's changing commands can be restored".into(),
            2,
        ));
    }
    match resolve_with(&cli, lookup) {
        Ok(Command::Edit(e)) => Ok(Some(e)),
        Ok(_) => Err(fail(
            "only -A, -E, -D, -C, -a, -e, -d and --set can be restored".into(),
            2,
        )),
        Err(e) => Err(fail(e.0, 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvsadm::test_util::{Table, key, real};

    #[test]
    fn restore_format() {
        let text = "\
# saved by lbctl -S -n
-A -t 192.168.0.1:80 -s rr
-a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1

ipvsadm -a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 2   # trailing comment
--set 900 120 300
";
        let edits = parse_restore(text, &Table).unwrap();
        assert_eq!(
            edits.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![2, 3, 5, 6]
        );
        assert_eq!(
            edits[2].1,
            Edit::AddReal {
                service: key("tcp", "192.168.0.1", 80),
                real: real("172.16.0.2", 80, "nat", 2)
            }
        );
        let err = |text: &str| {
            let e = parse_restore(text, &Table).unwrap_err();
            (e.message, e.status)
        };
        assert_eq!(
            err("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 1.2.3.4 -w x\n"),
            ("line 2: illegal weight specified".into(), 2)
        );
        assert_eq!(
            err("-L -n\n"),
            (
                "line 1: only -A, -E, -D, -C, -a, -e, -d and --set can be restored".into(),
                2
            )
        );
        // popt's words and status.
        assert_eq!(
            err("-A -t 10.0.0.1:80 --frob\n"),
            ("line 1: --frob: unknown option".into(), 255)
        );
        assert_eq!(err("-A -t\n"), ("line 1: -t: missing argument".into(), 255));
        assert_eq!(
            err("-A -t 10.0.0.1:80 -s rr -s wlc\n"),
            ("line 1: multiple 'scheduler' options specified".into(), 2)
        );
        assert_eq!(err("-6\n"), ("line 1: -6 used before -f".into(), 2));
        assert_eq!(
            err("-R --line-by-line\n"),
            (
                "line 1: only -A, -E, -D, -C, -a, -e, -d and --set can be restored".into(),
                2
            )
        );
        // Words are split at spaces, tabs and carriage returns only (config_stream_read).
        let edits = parse_restore("\t-A\t-t 10.0.0.1:80\r\n \r\n", &Table).unwrap();
        assert_eq!(edits.len(), 1);
    }
}
