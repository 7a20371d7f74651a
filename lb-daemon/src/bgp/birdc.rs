//! BIRD's control socket, spoken directly (what `birdc` does): BIRD greets with `0001 BIRD
//! x.y.z ready.`, then answers each command line with reply lines `DDDD-text` (more follow),
//! ` text` (more of the previous code), and a last one `DDDD text`. Codes 0000-0999 are
//! results, 1000-2999 table rows and headings, 8000-8999 run-time errors and 9000-9999 parse
//! errors (BIRD's doc/reply_codes); a line starting with `+` is an asynchronous message.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

/// How long lbd waits for BIRD: to connect, and for each reply line.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest reply lbd reads (lines in all): a `configure` answers in two or three.
const MAX_LINES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    #[error("cannot reach BIRD's control socket {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("talking to BIRD: {0}")]
    Io(#[from] std::io::Error),
    #[error("BIRD closed its control socket before answering")]
    Closed,
    #[error("BIRD's answer is not its reply format: {0:?}")]
    Malformed(String),
    #[error("BIRD refused `{command}`: {code} {text}")]
    Refused {
        command: String,
        code: u16,
        text: String,
    },
}

/// One reply line's code (None for a continuation ` text`) and whether more lines follow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub code: Option<u16>,
    pub last: bool,
    pub text: &'a str,
}

/// Reads one reply line as BIRD writes it (the newline already taken off); None for an
/// asynchronous `+` message, which belongs to no reply.
pub(crate) fn parse_line(line: &str) -> Result<Option<Line<'_>>, BirdError> {
    if line.starts_with('+') {
        return Ok(None);
    }
    if let Some(text) = line.strip_prefix(' ') {
        return Ok(Some(Line {
            code: None,
            last: false,
            text,
        }));
    }
    let b = line.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || !matches!(b[4], b'-' | b' ') {
        return Err(BirdError::Malformed(line.into()));
    }
    Ok(Some(Line {
        code: Some(line[..4].parse().expect("four digits")),
        last: b[4] == b' ',
        text: &line[5..],
    }))
}

/// A command's reply: every line's code and text, the last one's code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub lines: Vec<(u16, String)>,
}

impl Reply {
    /// The first error line (8000-9999), if any.
    fn error(&self) -> Option<&(u16, String)> {
        self.lines.iter().find(|(c, _)| *c >= 8000)
    }
}

/// Reads one whole reply.
fn read_reply(r: &mut impl BufRead) -> Result<Reply, BirdError> {
    let mut reply = Reply::default();
    let mut buf = String::new();
    for _ in 0..MAX_LINES {
        buf.clear();
        if r.read_line(&mut buf)? == 0 {
            return Err(BirdError::Closed);
        }
        let line = buf.trim_end_matches(['\n', '\r']);
        let Some(l) = parse_line(line)? else { continue };
        let code = match l.code {
            Some(c) => c,
            None => reply.lines.last().map(|(c, _)| *c).ok_or_else(|| {
                BirdError::Malformed(format!("a continuation before any code: {line}"))
            })?,
        };
        reply.lines.push((code, l.text.to_string()));
        if l.last {
            return Ok(reply);
        }
    }
    Err(BirdError::Malformed(format!(
        "a reply of more than {MAX_LINES} lines"
    )))
}

/// Sends `command` to the BIRD at `socket` and returns its reply, or the error BIRD gave.
pub fn command(socket: &Path, command: &str) -> Result<Reply, BirdError> {
    let stream = UnixStream::connect(socket).map_err(|source| BirdError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut r = BufReader::new(stream.try_clone()?);
    let hello = read_reply(&mut r)?;
    if hello.lines.last().map(|(c, _)| *c) != Some(1) {
        return Err(BirdError::Malformed(format!(
            "greeting {:?} is not 0001",
            hello.lines
        )));
    }
    (&stream).write_all(format!("{command}\n").as_bytes())?;
    let reply = read_reply(&mut r)?;
    // 0006: "Reconfiguration ignored, shutting down".
    let refused = reply
        .error()
        .or_else(|| reply.lines.iter().find(|(c, _)| *c == 6));
    if let Some((code, text)) = refused {
        return Err(BirdError::Refused {
            command: command.into(),
            code: *code,
            text: text.clone(),
        });
    }
    Ok(reply)
}

/// `configure`: BIRD reads its config again (with lbd's include file). Accepted when BIRD
/// answers 0003 (reconfigured), 0004 (in progress), 0005 or 0017 (queued), or 0019
/// (nothing to do).
pub fn configure(socket: &Path) -> Result<Reply, BirdError> {
    let reply = command(socket, "configure")?;
    match reply.lines.last().map(|(c, _)| *c) {
        Some(3 | 4 | 5 | 17 | 19) => Ok(reply),
        _ => Err(BirdError::Malformed(format!(
            "`configure` answered {:?}",
            reply.lines
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_as_bird_writes_them() {
        assert_eq!(
            parse_line("0002-Reading configuration from /etc/bird/bird.conf").unwrap(),
            Some(Line {
                code: Some(2),
                last: false,
                text: "Reading configuration from /etc/bird/bird.conf"
            })
        );
        assert_eq!(
            parse_line("0003 Reconfigured").unwrap(),
            Some(Line {
                code: Some(3),
                last: true,
                text: "Reconfigured"
            })
        );
        assert_eq!(
            parse_line(" more").unwrap(),
            Some(Line {
                code: None,
                last: false,
                text: "more"
            })
        );
        assert_eq!(parse_line("+0007 Shutdown ordered").unwrap(), None);
        for bad in ["", "003 x", "00a3 x", "0003x", "0003"] {
            assert!(
                matches!(parse_line(bad), Err(BirdError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_reply_ends_at_its_last_line_and_errors_are_found() {
        let text = "+0012 async\n0002-Reading configuration from /x\n continued\n8002 /x/lb.conf, line 3: syntax error\nnext\n";
        let reply = read_reply(&mut text.as_bytes()).unwrap();
        assert_eq!(
            reply.lines,
            vec![
                (2, "Reading configuration from /x".to_string()),
                (2, "continued".to_string()),
                (8002, "/x/lb.conf, line 3: syntax error".to_string()),
            ]
        );
        assert_eq!(
            reply.error(),
            Some(&(8002, "/x/lb.conf, line 3: syntax error".to_string()))
        );
        assert!(matches!(
            read_reply(&mut "0002-half".as_bytes()),
            Err(BirdError::Closed)
        ));
        assert!(matches!(
            read_reply(&mut " orphan\n".as_bytes()),
            Err(BirdError::Malformed(_))
        ));
    }

    #[test]
    fn a_missing_socket_is_named() {
        let e = configure(Path::new("/nonexistent/lb-test/bird.ctl")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot reach BIRD's control socket /nonexistent/lb-test/bird.ctl: No such file or directory (os error 2)"
        );
    }
}
