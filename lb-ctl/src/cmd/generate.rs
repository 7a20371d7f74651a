//! `lbctl completions SHELL` and `lbctl man`: generated from the command line's definition,
//! so they never disagree with it. The repository ships the generated files (`docs/`); a
//! test checks that they are current.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Shell};

pub fn completions(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let gen_shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(gen_shell, &mut cmd, "lbctl", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub fn man() -> Result<String> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).section("8").render(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped files are what the command line generates (regenerate with
    /// `LB_UPDATE_DOCS=1 cargo test -p lb-ctl`).
    #[test]
    fn shipped_man_page_and_completions_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        let files = [
            ("lbctl.8", man().unwrap()),
            ("completions/lbctl.bash", completions(Shell::Bash)),
            ("completions/_lbctl", completions(Shell::Zsh)),
            ("completions/lbctl.fish", completions(Shell::Fish)),
        ];
        for (name, text) in files {
            let path = root.join(name);
            if std::env::var_os("LB_UPDATE_DOCS").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let shipped = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                shipped == text,
                "{} is out of date: run LB_UPDATE_DOCS=1 cargo test -p lb-ctl",
                path.display()
            );
        }
        let man = man().unwrap();
        assert!(man.contains("add\\-service"), "{man}");
    }
}
