//! The documentation docs/ ships, checked with tools nobody here wrote: the man pages,
//! completions and JSON Schemas are what the binaries generate (`cargo xtask docs` writes
//! them), mandoc finds nothing to say about the pages, every page a page refers to exists,
//! and bash, fish and zsh offer lbd's schedulers, tunnel types and verbs.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use lb_tests::{tempdir::TempDir, topo::bin};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Runs `program generate-docs DIR` and returns the files it wrote (relative to DIR).
fn generate(program: &str, dir: &Path) -> Vec<String> {
    let out = Command::new(bin(program))
        .arg("generate-docs")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} generate-docs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn files_under(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            files_under(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name);
        }
    }
}

/// Every generated file is shipped as generated, and docs/ holds no generated kind of file
/// (a page, a completion, an output schema) that nothing generates any more.
#[test]
fn shipped_docs_are_what_the_binaries_generate() {
    let tmp = TempDir::new("docs");
    let mut generated = BTreeSet::new();
    for program in ["lbctl", "lbd"] {
        for name in generate(program, &tmp.0) {
            let fresh = std::fs::read_to_string(tmp.0.join(&name)).unwrap();
            let shipped = std::fs::read_to_string(docs().join(&name)).unwrap_or_default();
            assert!(
                fresh == shipped,
                "docs/{name} is not what `{program} generate-docs` writes: run `cargo xtask docs`"
            );
            generated.insert(name);
        }
    }
    let mut shipped = BTreeSet::new();
    for dir in ["man", "completions", "json"] {
        files_under(&docs().join(dir), &format!("{dir}/"), &mut shipped);
    }
    let stale: Vec<_> = shipped.difference(&generated).collect();
    assert!(
        stale.is_empty(),
        "docs/ ships files nothing generates: {stale:?}"
    );
    for must in [
        "man/lbctl.8",
        "man/lbd.8",
        "man/lbctl-top.8",
        "man/lbd-decap.8",
        "completions/lbctl.bash",
        "completions/_lbd",
        "json/list.schema.json",
        "json/error.schema.json",
    ] {
        assert!(generated.contains(must), "{must} is not generated");
    }
}

fn man_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(docs().join("man"))
        .expect("docs/man")
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    assert!(pages.len() >= 10, "{pages:?}");
    pages
}

/// mandoc has nothing to say, not even about style.
#[test]
fn man_pages_pass_mandoc_lint() {
    for page in man_pages() {
        let out = Command::new("mandoc")
            .args(["-Tlint", "-W", "style"])
            .arg(&page)
            .output()
            .expect("mandoc (cargo xtask setup installs it)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.is_empty(),
            "mandoc -Tlint {}:\n{said}",
            page.display()
        );
    }
}

/// Every NAME(8) a page names that is one of lb's is shipped; lbctl(8) names a page per verb.
#[test]
fn pages_refer_only_to_shipped_pages() {
    let pages = man_pages();
    let shipped: BTreeSet<String> = pages
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for page in &pages {
        // As rendered, so that roff escapes do not hide a name.
        let out = Command::new("mandoc")
            .args(["-Tascii", "-O", "width=200"])
            .arg(page)
            .output()
            .expect("mandoc");
        let text = plain(&String::from_utf8_lossy(&out.stdout));
        let mut named = 0;
        for (i, _) in text.match_indices("(8)") {
            let name: String = text[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if name.starts_with("lbctl") || name.starts_with("lbd") {
                named += 1;
                assert!(
                    shipped.contains(&name),
                    "{} refers to {name}(8), which is not shipped",
                    page.display()
                );
            }
        }
        assert!(named > 0, "{} names no page of lb's", page.display());
    }
    assert!(shipped.contains("lbctl-status") && shipped.contains("lbd-decap"));
}

/// Text without the terminal's overstrikes (bold "X\u{8}X", underline "_\u{8}X").
fn plain(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars.get(i + 1) == Some(&'\u{8}') {
            i += 2;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The bash completion's candidates for a command line ending in an empty word.
fn bash_candidates(script: &str, words: &[&str]) -> BTreeSet<String> {
    let func = format!("_{}", words[0]);
    let prev = words.last().unwrap();
    let program = format!(
        "source {script}\n\
         COMP_WORDS=({} \"\"); COMP_CWORD={}; COMP_LINE=\"{} \"; COMP_POINT=${{#COMP_LINE}}\n\
         {func} {} \"\" {prev}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words.join(" "),
        words.len(),
        words.join(" "),
        words[0],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The fish completion's candidates (names only) for `line`, from an empty directory (so
/// that a file name offered shows).
fn fish_candidates(script: &str, line: &str) -> BTreeSet<String> {
    let tmp = TempDir::new("fish");
    std::fs::write(tmp.0.join("a-file"), "").unwrap();
    let out = Command::new("fish")
        .args(["--no-config", "-c"])
        .arg(format!("source {script}; complete -C '{line}'"))
        .current_dir(&tmp.0)
        .output()
        .expect("fish (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn completions_offer_schedulers_tunnel_types_and_verbs() {
    use lb_model::Named;
    let schedulers = set(&lb_model::Scheduler::names());
    let tun_types = set(&lb_model::TunType::names());

    let bash = docs().join("completions/lbctl.bash");
    let bash = bash.to_str().unwrap();
    assert_eq!(
        bash_candidates(bash, &["lbctl", "-A", "-t", "10.0.0.1:80", "-s"]),
        schedulers
    );
    assert_eq!(bash_candidates(bash, &["lbctl", "--scheduler"]), schedulers);
    assert_eq!(bash_candidates(bash, &["lbctl", "--tun-type"]), tun_types);
    let verbs = bash_candidates(bash, &["lbctl"]);
    for v in ["status", "apply", "get", "drain", "health", "trace", "top"] {
        assert!(verbs.contains(v), "bash offers no {v}: {verbs:?}");
    }
    assert!(
        bash_candidates(bash, &["lbctl", "completions"])
            .is_superset(&set(&["bash", "zsh", "fish"]))
    );

    let fish = docs().join("completions/lbctl.fish");
    let fish = fish.to_str().unwrap();
    assert_eq!(fish_candidates(fish, "lbctl -s "), schedulers);
    assert_eq!(
        fish_candidates(fish, "lbctl -a -t 10.0.0.1:80 --tun-type "),
        tun_types
    );
    assert_eq!(
        fish_candidates(fish, "lbctl completions "),
        set(&["bash", "zsh", "fish"])
    );
    assert_eq!(fish_candidates(fish, "lbctl get "), set(&["config"]));
    // Verbs that take no file are offered none; apply -f is.
    assert!(fish_candidates(fish, "lbctl status ").is_empty());
    assert!(fish_candidates(fish, "lbctl apply -f ").contains("a-file"));
    let lbd_fish = docs().join("completions/lbd.fish");
    assert!(
        fish_candidates(lbd_fish.to_str().unwrap(), "lbd decap --xdp-mode ")
            == set(&["native", "generic"])
    );

    // zsh: the script parses, and its -s and --tun-type specs carry the values.
    for script in ["_lbctl", "_lbd"] {
        let path = docs().join("completions").join(script);
        let out = Command::new("zsh")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("zsh (cargo xtask setup installs it)");
        assert!(out.status.success(), "zsh -n {script}: {out:?}");
    }
    let zsh = std::fs::read_to_string(docs().join("completions/_lbctl")).unwrap();
    for (spec, want) in [("'-s+[", &schedulers), ("'--tun-type=[", &tun_types)] {
        let start = zsh
            .find(spec)
            .unwrap_or_else(|| panic!("zsh has no {spec}"));
        let block = &zsh[start..start + zsh[start..].find("))'").expect("end of the spec")];
        // One value a line: `((rr\:"Round Robin"`, `wrr\:"..."`.
        let offered: BTreeSet<String> = block
            .split_once(":((")
            .expect("a value list")
            .1
            .lines()
            .filter_map(|l| l.split_once("\\:").map(|(name, _)| name.trim().to_string()))
            .collect();
        assert_eq!(&offered, want, "zsh {spec}");
    }
}

/// Every `format` the shipped schemas use is one JSON Schema 2020-12 defines (schemars'
/// `uint32` or `ip` are none: a validator ignores them, so they promise nothing).
#[test]
fn schemas_use_only_json_schemas_own_formats() {
    const FORMATS: &[&str] = &[
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uuid",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    ];
    fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(f) = m.get("format").and_then(|f| f.as_str())
                    && !FORMATS.contains(&f)
                {
                    out.push(format!("{at}: {f}"));
                }
                for (k, c) in m {
                    walk(c, &format!("{at}/{k}"), out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    walk(c, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(docs().join("json"))
        .expect("docs/json")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.push(docs().join("lb.schema.json"));
    assert!(files.len() > 5);
    let mut bad = Vec::new();
    for f in &files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        walk(&v, &f.display().to_string(), &mut bad);
    }
    assert!(bad.is_empty(), "formats JSON Schema lacks: {bad:?}");
}
