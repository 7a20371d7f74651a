//! `lbctl top`: services and real servers live, refreshed every `-d` seconds the way `top`
//! shows processes (connections, rates, health, drains; the frame is `format::top`). On a
//! terminal it takes the screen until `q`, Esc or Ctrl-C (any other key refreshes at once);
//! in batch mode (`-b`, or when standard output is no terminal) it prints frame after frame,
//! for `-n` frames or until interrupted.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use crossterm::{
    cursor::{Hide, MoveTo, Show},
    event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    execute, queue,
    terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen},
};
use lb_model::api::{Op, Response};

use crate::{
    cli::TopArgs,
    client::Client,
    format::{self, TopFrame},
};

pub fn run(client: &Client, a: &TopArgs, out: &mut dyn Write) -> Result<()> {
    if a.batch || !std::io::stdout().is_terminal() {
        batch(client, a, out)
    } else {
        interactive(client, a)
    }
}

/// One frame from lbd's status and listing, now.
fn frame(client: &Client, a: &TopArgs) -> Result<String> {
    let status = match client.call(Op::Status)? {
        Response::Status(s) => s,
        other => bail!(
            "unexpected answer from lbd to status: {}",
            super::response_kind(&other)
        ),
    };
    let services = match client.call(Op::List)? {
        Response::Services { services, .. } => services,
        other => bail!(
            "unexpected answer from lbd to list: {}",
            super::response_kind(&other)
        ),
    };
    let unix_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let delay_ms = u64::try_from(a.delay.as_millis()).unwrap_or(u64::MAX);
    Ok(format::top(
        TopFrame {
            unix_secs,
            delay_ms,
        },
        &status,
        &services,
    ))
}

/// Frames one after the other, a blank line between two.
fn batch(client: &Client, a: &TopArgs, out: &mut dyn Write) -> Result<()> {
    let mut shown = 0u64;
    loop {
        let text = frame(client, a)?;
        if shown > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        shown += 1;
        if a.iterations.is_some_and(|n| shown >= n) {
            return Ok(());
        }
        std::thread::sleep(a.delay);
    }
}

/// The terminal in raw mode on its alternate screen, given back as it was on drop (also
/// when top fails).
struct Screen;

impl Screen {
    fn take() -> Result<Self> {
        terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let screen = Screen;
        execute!(std::io::stdout(), EnterAlternateScreen, Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), Show, LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

fn interactive(client: &Client, a: &TopArgs) -> Result<()> {
    let _screen = Screen::take()?;
    let mut stdout = std::io::stdout();
    let mut shown = 0u64;
    loop {
        // lbd gone for a moment (a restart): say so in place of the frame, and keep trying.
        let text = frame(client, a).unwrap_or_else(|e| format!("lbctl top: {e:#}\n"));
        let (width, height) = terminal::size().unwrap_or((80, 24));
        queue!(stdout, MoveTo(0, 0), Clear(ClearType::All))?;
        for (i, line) in text.lines().take(usize::from(height)).enumerate() {
            if i > 0 {
                stdout.write_all(b"\r\n")?;
            }
            let cut: String = line.chars().take(usize::from(width)).collect();
            stdout.write_all(cut.as_bytes())?;
        }
        stdout.flush()?;
        shown += 1;
        if a.iterations.is_some_and(|n| shown >= n) {
            return Ok(());
        }
        if wait_for_key(a.delay)? == Key::Quit {
            return Ok(());
        }
    }
}

#[derive(PartialEq, Eq)]
enum Key {
    Quit,
    Refresh,
}

/// Waits until `delay` has passed or a key asks for something sooner.
fn wait_for_key(delay: Duration) -> Result<Key> {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !event::poll(left)? {
            return Ok(Key::Refresh);
        }
        match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                return Ok(
                    if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                        Key::Quit
                    } else {
                        Key::Refresh
                    },
                );
            }
            Event::Resize(..) => return Ok(Key::Refresh),
            _ => {}
        }
    }
}
