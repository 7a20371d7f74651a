//! lbd's modules are layers (see `src/lib.rs`): each may use only the modules of the layers
//! below it, never one above, and modules of one layer do not use each other in a circle.
//! This test reads every source file under `src/`, assigns it to its top-level module, and
//! checks each `crate::` path in it (comments left out).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The layers, lowest first. A module not named here fails the test: a new module must be
/// given its place.
const LAYERS: &[&[&str]] = &[
    &["dataplane"],
    &["plan"],
    &[
        "health",
        "expiry",
        "estimator",
        "host",
        "sync",
        "bgp",
        "ftp",
    ],
    &["context"],
    &["control", "metrics", "trace"],
    &["run"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable source directory") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments (a `//` to the end of its line, and `/* */`).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..]
            .find("*/")
            .map(|j| &rest[i + j + 2..])
            .unwrap_or("");
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.find("//").map(|i| &l[..i]).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules named by the `crate::` paths in `code`, including those inside
/// `crate::{a, b::c}` groups.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `lb_daemon::crate::` cannot occur; `some_crate::` is another name.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let t = rest.trim_start();
        if let Some(group) = t.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()).to_string());
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            out.insert(ident(item.trim()).to_string());
        } else {
            out.insert(ident(t).to_string());
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

#[test]
fn no_module_uses_a_module_of_a_higher_layer_or_of_its_own_layer_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        // The crate root and the binary are above every layer.
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(layer) = layer_of(&module) else {
            problems.push(format!(
                "{}: module {module} has no layer in tests/layers.rs",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).expect("readable source");
        for used in crate_uses(&code(&text)) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                None => problems.push(format!(
                    "{}: uses crate::{used}, which has no layer",
                    rel.display()
                )),
                Some(l) if l > layer => problems.push(format!(
                    "{}: {module} (layer {layer}) uses crate::{used} (layer {l}, above it)",
                    rel.display()
                )),
                Some(l) if l == layer => {
                    edges.entry(module.clone()).or_default().insert(used);
                }
                Some(_) => {}
            }
        }
    }
    // Circles between modules of one layer: a depth-first walk of the same-layer uses.
    fn walk(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        problems: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut circle = path[at..].to_vec();
            circle.push(m.to_string());
            problems.push(format!("a circle: {}", circle.join(" -> ")));
            return;
        }
        path.push(m.to_string());
        for n in edges.get(m).into_iter().flatten() {
            walk(n, edges, path, problems);
        }
        path.pop();
    }
    for m in edges.keys() {
        walk(m, &edges, &mut Vec::new(), &mut problems);
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_uses_in_groups_and_ignores_comments() {
    let uses = crate_uses(&code(
        "use crate::{context::Context, dataplane::{Dataplane, Plan}, host};\n\
         // crate::run in a comment\n/* crate::trace */ let x = crate::plan::Planner::new(1, 2);",
    ));
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        ["context", "dataplane", "host", "plan"]
    );
}
