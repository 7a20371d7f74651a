//! Man pages and shell completions of lb's binaries (`lbd`, `lbctl`), generated from their
//! clap definitions so that they cannot drift from the command lines. The repository ships
//! what they generate in `docs/` (`cargo xtask docs` writes it; a test checks it is current).
//!
//! Pages are clap_mangen's sections (name, description, options, verbs, version) with a
//! synopsis that names every option's value, an EXAMPLES section from the command's
//! `after_help`, the caller's own sections (exit status, files, ...), SEE ALSO, and text
//! lines kept within 80 columns, so that `mandoc -Tlint` has nothing to say. Completions are
//! clap_complete's, with what its fish generator leaves out: the values of a verb's
//! positional arguments, and no file names where a verb takes none.

use std::{io, path::Path};

use clap::{Arg, ArgAction, Command};
use clap_mangen::{
    Man,
    roff::{Inline, Roff, bold, italic, roman},
};

/// The date every page carries (`.TH`): the last time a page's text changed by hand.
pub const MAN_DATE: &str = "2026-12-02";
/// The manual the pages belong to (section 8: system administration).
pub const MANUAL: &str = "System Administration";
const SECTION: &str = "8";
/// What roff's apostrophe handling puts before each rendered piece.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// A section of a page beside clap's: heading and paragraphs (blank-line separated).
#[derive(Clone, Copy, Debug)]
pub struct Section {
    pub heading: &'static str,
    pub text: &'static str,
}

/// A shell for completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    /// The file a completion script for `bin` is installed as.
    pub fn file_name(self, bin: &str) -> String {
        match self {
            Shell::Bash => format!("{bin}.bash"),
            Shell::Zsh => format!("_{bin}"),
            Shell::Fish => format!("{bin}.fish"),
        }
    }
}

/// Every page of `cmd`: its own (with `sections` and `see_also`) and one per shown verb,
/// as (file name, roff text).
pub fn man_pages(cmd: Command, sections: &[Section], see_also: &[&str]) -> Vec<(String, String)> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let name = cmd.get_name().to_string();
    let source = format!("lb {}", cmd.get_version().unwrap_or_default());
    let mut pages = vec![page(&cmd, &source, sections, see_also)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub, &source, &[], &[name.as_str()]));
        // A verb's own verbs (`lbctl mark add`): a page each, as its page's list names them.
        let parent = sub.get_display_name().unwrap_or(sub.get_name()).to_string();
        for subsub in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages.push(page(subsub, &source, &[], &[parent.as_str()]));
        }
    }
    pages
}

/// The page of `cmd` or, with `verb`, of that verb.
pub fn man_page(
    cmd: Command,
    verb: Option<&str>,
    sections: &[Section],
    see_also: &[&str],
) -> Option<String> {
    let name = cmd.get_name().to_string();
    let want = match verb {
        None => format!("{name}.{SECTION}"),
        Some(v) => format!("{name}-{v}.{SECTION}"),
    };
    man_pages(cmd, sections, see_also)
        .into_iter()
        .find(|(file, _)| *file == want)
        .map(|(_, text)| text)
}

fn page(cmd: &Command, source: &str, sections: &[Section], see_also: &[&str]) -> (String, String) {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let man = Man::new(cmd.clone())
        .title(name.to_uppercase())
        .section(SECTION)
        .date(MAN_DATE)
        .source(source)
        .manual(MANUAL);
    let piece = |f: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| -> String {
        let mut buf = Vec::new();
        f(&mut buf).expect("rendering into memory");
        let text = String::from_utf8(buf).expect("roff from UTF-8 is UTF-8");
        text.strip_prefix(PREAMBLE).unwrap_or(&text).to_string()
    };
    let mut text = String::from(PREAMBLE);
    text += &piece(&|w| man.render_title(w));
    text += &piece(&|w| man.render_name_section(w));
    text += &strip(synopsis(cmd).render());
    text += &piece(&|w| man.render_description_section(w));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        text += &piece(&|w| man.render_options_section(w));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        text += &piece(&|w| man.render_subcommands_section(w));
    }
    let mut roff = Roff::new();
    if let Some(after) = cmd.get_after_help() {
        examples(&mut roff, &after.to_string());
    }
    for s in sections {
        roff.control("SH", [s.heading]);
        paragraphs(&mut roff, s.text);
    }
    if !see_also.is_empty() {
        roff.control("SH", ["SEE ALSO"]);
        for (i, page) in see_also.iter().enumerate() {
            let comma = if i + 1 < see_also.len() { "," } else { "" };
            roff.control("BR", [*page, &format!("({SECTION}){comma}")]);
        }
    }
    text += &strip(roff.render());
    if cmd.get_version().is_some() {
        text += &piece(&|w| man.render_version_section(w));
    }
    (format!("{name}.{SECTION}"), fit(&text))
}

fn strip(text: String) -> String {
    text.strip_prefix(PREAMBLE).unwrap_or(&text).to_string()
}

/// SYNOPSIS: the usage forms the command states (`override_usage`), else every shown
/// option with its value, the positional arguments and the verb.
fn synopsis(cmd: &Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    if let Some(usage) = cmd.get_overridden_usage() {
        for (i, form) in usage.to_string().lines().map(str::trim).enumerate() {
            if i > 0 {
                roff.control("br", []);
            }
            match form.strip_prefix(&name) {
                Some(rest) => roff.text([bold(&name), roman(rest)]),
                None => roff.text([roman(form)]),
            };
        }
        return roff;
    }
    let mut line = vec![bold(&name)];
    let group = |a: &Arg| {
        cmd.get_groups()
            .find(|g| g.is_required_set() && g.get_args().any(|id| id == a.get_id()))
            .map(|g| g.get_id().clone())
    };
    let mut done_groups = Vec::new();
    for a in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
    {
        if let Some(g) = group(a) {
            if done_groups.contains(&g) {
                continue;
            }
            let members: Vec<&Arg> = cmd
                .get_arguments()
                .filter(|m| group(m) == Some(g.clone()))
                .collect();
            line.push(roman(" {"));
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    line.push(roman(" | "));
                }
                line.extend(option(m));
            }
            line.push(roman("}"));
            done_groups.push(g);
            continue;
        }
        let (open, close) = if a.is_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push(roman(format!(" {open}")));
        line.extend(option(a));
        line.push(roman(close));
    }
    for a in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let value = a
            .get_value_names()
            .map(|v| v.join(" "))
            .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
        let (open, close) = if a.is_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push(roman(format!(" {open}")));
        line.push(italic(value));
        line.push(roman(close));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        let v = cmd
            .get_subcommand_value_name()
            .unwrap_or("COMMAND")
            .to_string();
        let (open, close) = if cmd.is_subcommand_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push(roman(format!(" {open}")));
        line.push(italic(v));
        line.push(roman(close));
    }
    roff.text(line);
    roff
}

/// An option as the synopsis shows it: `-s|--scheduler SCHEDULER`, `-A|--add-service`.
fn option(a: &Arg) -> Vec<Inline> {
    let mut out = Vec::new();
    match (a.get_short(), a.get_long()) {
        (Some(s), Some(l)) => {
            out.push(bold(format!("-{s}")));
            out.push(roman("|"));
            out.push(bold(format!("--{l}")));
        }
        (Some(s), None) => out.push(bold(format!("-{s}"))),
        (None, Some(l)) => out.push(bold(format!("--{l}"))),
        (None, None) => {}
    }
    let takes = a.get_num_args().is_some_and(|n| n.takes_values());
    if takes {
        let names = a
            .get_value_names()
            .map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|| vec![a.get_id().to_string().to_uppercase()]);
        let optional = a.get_num_args().is_some_and(|n| n.min_values() == 0);
        out.push(roman(if optional { " [" } else { " " }));
        out.push(italic(names.join(" ")));
        if optional {
            out.push(roman("]"));
        }
    }
    if matches!(a.get_action(), ArgAction::Count) {
        out.push(roman("..."));
    }
    out
}

/// `after_help` that starts with a heading line ("Examples:"): that section, its lines
/// kept as they are.
fn examples(roff: &mut Roff, after: &str) {
    let mut lines = after.lines();
    let Some(first) = lines.next() else {
        return;
    };
    let (heading, rest): (String, Vec<&str>) = match first.strip_suffix(':') {
        Some(h) => (h.to_uppercase(), lines.collect()),
        None => ("NOTES".into(), after.lines().collect()),
    };
    roff.control("SH", [heading.as_str()]);
    roff.control("nf", []);
    roff.control("RS", ["4"]);
    for l in rest {
        roff.text([roman(l.trim())]);
    }
    roff.control("RE", []);
    roff.control("fi", []);
}

/// Paragraphs separated by blank lines; a line starting with "  " is an indented item.
fn paragraphs(roff: &mut Roff, text: &str) {
    for (i, p) in text.trim().split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        let joined = p.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        roff.text([roman(joined)]);
    }
}

/// Text lines broken at spaces to at most 80 bytes (roff fills them again), except in
/// no-fill blocks; a piece that would start with a control character is escaped. Blank
/// lines (clap_mangen's spacing around lists of values) go, and with them the line breaks
/// they doubled.
fn fit(text: &str) -> String {
    let mut out = String::new();
    let mut nofill = false;
    let mut last = "";
    for line in text.lines() {
        if line.trim().is_empty() || (line == ".br" && (last == ".br" || last == ".TP")) {
            continue;
        }
        last = line;
        if line.starts_with(".nf") {
            nofill = true;
        } else if line.starts_with(".fi") {
            nofill = false;
        }
        if nofill || line.starts_with('.') || line.starts_with('\'') || line.len() <= 80 {
            out.push_str(line.trim_end());
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > 80 {
                out.push_str(&current);
                out.push('\n');
                current.clear();
            }
            if current.is_empty() {
                if word.starts_with('.') || word.starts_with('\'') {
                    current.push_str("\\&");
                }
            } else {
                current.push(' ');
            }
            current.push_str(word);
        }
        if !current.is_empty() {
            out.push_str(&current);
            out.push('\n');
        }
    }
    out
}

/// The completion script of `cmd` for `shell`.
pub fn completion(cmd: Command, shell: Shell) -> String {
    let mut cmd = cmd;
    let bin = cmd.get_name().to_string();
    let mut buf = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, &bin, &mut buf);
    let mut text = String::from_utf8(buf).expect("completions from UTF-8 are UTF-8");
    if shell == Shell::Fish {
        // clap_complete's test for "no verb yet" runs fish's argparse over the words so far,
        // which fails while an option still waits for its value (`lbctl -s `): then no
        // completion applies, not even the option's values. A failed parse is no verb.
        let parse = format!("    argparse -s (__fish_{bin}_global_optspecs) -- $cmd 2>/dev/null\n");
        text = text.replacen(
            &format!("{parse}    or return\n"),
            &format!("{parse}    or return 0\n"),
            1,
        );
        cmd.build();
        text.push_str(&fish_positionals(&cmd, &bin));
    }
    text
}

/// What clap_complete's fish script lacks: each verb's positional values (`completions
/// bash`), and no file names after a verb that takes none.
fn fish_positionals(cmd: &Command, bin: &str) -> String {
    let mut out = String::from(
        "\n# Positional arguments of the verbs (values; no file names where none is taken).\n",
    );
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let cond = format!("__fish_{bin}_using_subcommand {}", sub.get_name());
        let mut takes_files = false;
        for a in sub.get_positionals() {
            let values: Vec<_> = a
                .get_possible_values()
                .into_iter()
                .filter(|v| !v.is_hide_set())
                .collect();
            if values.is_empty() {
                takes_files = true;
                continue;
            }
            for v in values {
                let help = v
                    .get_help()
                    .map(|h| format!(" -d '{}'", h.to_string().replace('\'', "\\'")))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "complete -c {bin} -n \"{cond}\" -f -a \"{}\"{help}\n",
                    v.get_name()
                ));
            }
        }
        if !takes_files {
            out.push_str(&format!("complete -c {bin} -n \"{cond}\" -f\n"));
        }
    }
    out
}

/// What docs/ ships for the program of `cmd`: its man pages (`man/NAME.8`) and completion
/// scripts (`completions/...`), as (path under docs/, text).
pub fn files(cmd: Command, sections: &[Section], see_also: &[&str]) -> Vec<(String, String)> {
    let bin = cmd.get_name().to_string();
    let mut files: Vec<(String, String)> = man_pages(cmd.clone(), sections, see_also)
        .into_iter()
        .map(|(name, text)| (format!("man/{name}"), text))
        .collect();
    for shell in Shell::ALL {
        files.push((
            format!("completions/{}", shell.file_name(&bin)),
            completion(cmd.clone(), shell),
        ));
    }
    files
}

/// Writes `files` (name relative to `dir`, text) into `dir`, making folders as needed.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_lines_are_broken_at_spaces() {
        let line = format!("{} .starts {}", "word ".repeat(15).trim(), "x".repeat(10));
        let out = fit(&format!(".TH X\n{line}\n.nf\n{}\n.fi\n", "y ".repeat(50)));
        for l in out.lines().filter(|l| !l.starts_with("y ")) {
            assert!(l.len() <= 80, "{l:?}");
        }
        assert!(
            out.contains("\n\\&.starts") || out.contains(" .starts"),
            "{out}"
        );
        // No-fill lines stay whole (but lose trailing spaces).
        assert!(
            out.contains(&format!("\n{}\n", "y ".repeat(50).trim_end())),
            "{out}"
        );
    }

    #[test]
    fn synopsis_names_values() {
        let mut cmd = Command::new("x")
            .disable_help_flag(true)
            .arg(
                Arg::new("sched")
                    .short('s')
                    .long("scheduler")
                    .value_name("SCHEDULER"),
            )
            .arg(Arg::new("v").short('v').action(ArgAction::Count))
            .arg(Arg::new("file").value_name("FILE").required(true));
        cmd.build();
        let text = synopsis(&cmd).render();
        assert!(
            text.contains(
                "\\fBx\\fR [\\fB\\-s\\fR|\\fB\\-\\-scheduler\\fR \\fISCHEDULER\\fR] [\\fB\\-v\\fR...] \\fIFILE\\fR"
            ),
            "{text}"
        );
    }
}
