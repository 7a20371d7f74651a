//! `lbctl completions SHELL`, `lbctl man [VERB]` and `lbctl generate-docs DIR`: generated
//! from the command line's definition (`lb_docs`), so they never disagree with it; and the
//! JSON Schemas of the outputs (`crate::contract::schema`). The repository ships what
//! `generate-docs` writes (`docs/`, by `cargo xtask docs`); a test checks that it is current.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use clap::CommandFactory;
use lb_docs::Section;

use crate::{
    cli::{Cli, Shell},
    contract,
};

/// lbctl(8)'s own sections beside clap's.
const SECTIONS: &[Section] = &[
    Section {
        heading: "JSON OUTPUT",
        text: "With --json every output is one JSON object with a \"version\" field (1), \
               counters as objects keyed by name; lbctl trace --json prints one object per \
               line. A command that fails prints {\"version\": 1, \"error\": {\"code\": ..., \
               \"message\": ...}} on standard output instead, and exits with the status of \
               its text form. The error codes are usage, not_found, refused, not_supported, \
               unavailable and failed. Within a version outputs only gain fields. The JSON \
               Schema of each output is shipped in docs/json/.",
    },
    Section {
        heading: "EXIT STATUS",
        text: "0 when the command worked. 1 when lbd cannot be reached, when -L -t or -u \
               names no service, or when lbd refuses a request of lbctl's verbs. 2 for a \
               command line ipvsadm would refuse (its message), and for a verb's usage \
               error. 255 for an unknown option or a missing value (popt's message), and \
               for a change lbd refuses (libipvs's message): nothing was changed.",
    },
    Section {
        heading: "FILES",
        text: "/run/lb/lbd.sock, lbd's control socket (--socket).",
    },
];

const SEE_ALSO: &[&str] = &["lbd", "ipvsadm"];

fn shell(s: Shell) -> lb_docs::Shell {
    match s {
        Shell::Bash => lb_docs::Shell::Bash,
        Shell::Zsh => lb_docs::Shell::Zsh,
        Shell::Fish => lb_docs::Shell::Fish,
    }
}

pub fn completions(s: Shell) -> String {
    lb_docs::completion(Cli::command(), shell(s))
}

/// lbctl(8), or lbctl-VERB(8).
pub fn man(verb: Option<&str>) -> Result<String> {
    lb_docs::man_page(Cli::command(), verb, SECTIONS, SEE_ALSO)
        .ok_or_else(|| anyhow!("no man page for {verb:?}"))
}

/// What `docs/` ships for lbctl: (path under docs/, text).
pub fn docs() -> Vec<(String, String)> {
    let mut files = lb_docs::files(Cli::command(), SECTIONS, SEE_ALSO);
    for (name, text) in contract::schema::schemas() {
        files.push((format!("json/{name}"), text));
    }
    files
}

/// `generate-docs DIR`: writes [`docs`] into DIR and names what it wrote.
pub fn write_docs(dir: &Path) -> Result<String> {
    let files = docs();
    lb_docs::write_all(dir, &files).with_context(|| format!("writing into {}", dir.display()))?;
    Ok(files.iter().map(|(name, _)| format!("{name}\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_refer_only_to_pages_that_exist() {
        let files = docs();
        let pages: Vec<&str> = files
            .iter()
            .filter_map(|(n, _)| n.strip_prefix("man/")?.strip_suffix(".8"))
            .collect();
        assert!(
            pages.contains(&"lbctl") && pages.contains(&"lbctl-top"),
            "{pages:?}"
        );
        let main = man(None).unwrap();
        for (i, _) in main.match_indices("lbctl\\-") {
            let raw: String = main[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '\\' || *c == '-')
                .collect();
            if main[i + raw.len()..].starts_with("(8)") {
                let name = raw.replace("\\-", "-");
                assert!(
                    pages.contains(&name.as_str()),
                    "lbctl(8) refers to {name}(8)"
                );
            }
        }
        assert!(main.contains("add\\-service"), "{main}");
        assert!(man(Some("top")).unwrap().contains(".TH LBCTL-TOP 8"));
        assert!(man(Some("frob")).is_err());
    }

    #[test]
    fn completions_offer_schedulers_and_tunnel_types() {
        let bash = completions(Shell::Bash);
        assert!(
            bash.contains("rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf"),
            "{bash}"
        );
        assert!(bash.contains("ipip gue gre"));
        let fish = completions(Shell::Fish);
        assert!(
            fish.contains("__fish_lbctl_using_subcommand completions\" -f -a \"bash\""),
            "{fish}"
        );
    }
}
