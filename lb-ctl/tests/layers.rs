//! lbctl's modules stay in layers: a module imports only from the modules below it, and the
//! files of a folder (`ipvsadm/`, `format/`, `cli/`, `cmd/`) import each other without a
//! circle. Read from the `use` lines and `crate::`/`super::` paths of the sources (test
//! modules and test-only files may reach anywhere).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Each top-level module and the modules it may import (the layers of `lib.rs`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("words", &[]),
    ("client", &[]),
    ("format", &[]),
    ("iptables", &[]),
    ("contract", &["words"]),
    ("cli", &["words"]),
    ("command", &["cli"]),
    ("ipvsadm", &["cli", "command"]),
    ("resolve", &["cli", "command", "ipvsadm"]),
    (
        "cmd",
        &[
            "cli", "command", "ipvsadm", "resolve", "client", "format", "contract", "words",
            "iptables",
        ],
    ),
];

/// Files only tests compile (`#[cfg(test)] mod NAME;`).
const TEST_ONLY: &[&str] = &[
    "ipvsadm/error_messages.rs",
    "ipvsadm/test_util.rs",
    "format/fixtures.rs",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file that is not a test module: up to `#[cfg(test)] mod tests {`, without
/// comments.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t == "#[cfg(test)]" && lines.get(i + 1).is_some_and(|n| n.starts_with("mod tests")) {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The first segment of each path after `prefix` (`crate::`, `super::`), also inside a
/// grouped `use prefix{a::x, b}`.
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// For every non-test file: (top-level module, folder file name or None, code).
fn modules() -> Vec<(String, Option<String>, String)> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&root).expect("under src");
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if TEST_ONLY.contains(&rel_s.as_str()) || rel_s == "lib.rs" || rel_s == "main.rs" {
            continue;
        }
        let parts: Vec<&str> = rel_s.trim_end_matches(".rs").split('/').collect();
        let (top, inner) = match parts.as_slice() {
            [one] => (one.to_string(), None),
            [folder, "mod"] => (folder.to_string(), None),
            [folder, file] => (folder.to_string(), Some(file.to_string())),
            _ => panic!("{rel_s}: nested deeper than this test knows"),
        };
        let text = fs::read_to_string(&path).expect("read source");
        out.push((top, inner, code(&text)));
    }
    out
}

#[test]
fn modules_import_only_from_layers_below() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut checked = 0;
    for (top, inner, code) in modules() {
        let may = allowed
            .get(top.as_str())
            .unwrap_or_else(|| panic!("module {top} is not in this test's layer table"));
        for target in targets(&code, "crate::") {
            assert!(
                target == top || may.contains(&target.as_str()),
                "{top}{} imports crate::{target}, which is not below it",
                inner
                    .as_deref()
                    .map(|f| format!("/{f}"))
                    .unwrap_or_default()
            );
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} files read");
}

#[test]
fn files_of_a_folder_import_each_other_without_a_circle() {
    // Per folder: file -> the sibling files it names through `super::`.
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (top, inner, code) in modules() {
        if let Some(file) = inner {
            graphs
                .entry(top)
                .or_default()
                .insert(file, targets(&code, "super::"));
        }
    }
    assert!(graphs.contains_key("ipvsadm") && graphs.contains_key("format"));
    for (folder, graph) in &graphs {
        // Files of the layers below `cmd` name only sibling modules, not the folder's
        // re-exports: a file sees its siblings' items where they are defined. (The verbs of
        // `cmd/` share helpers of `cmd/mod.rs`, their dispatcher.)
        if folder != "cmd" {
            for (file, names) in graph {
                for name in names {
                    assert!(
                        graph.contains_key(name)
                            || TEST_ONLY.contains(&format!("{folder}/{name}.rs").as_str()),
                        "{folder}/{file}.rs names super::{name}, which is not a file of {folder}/"
                    );
                }
            }
        }
        if let Some(circle) = find_circle(graph) {
            panic!("import circle in {folder}/: {}", circle.join(" -> "));
        }
    }
}

/// A circle in a graph of names, as the path around it (first name repeated at the end).
fn find_circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if done.contains(n) {
            return None;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut circle = path[i..].to_vec();
            circle.push(n.to_string());
            return Some(circle);
        }
        path.push(n.to_string());
        // Names that are not nodes (a parent's items) lead nowhere.
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

/// The checks above can fail: a circle and an upward import are found in made-up code.
#[test]
fn the_checks_see_imports() {
    let text = "use crate::{cli::Cli, command::{Command, UsageError}};\n\
                fn f() { crate::format::largenum(1, false); }\n\
                use super::{lookup::Lookup, table::{self, Cmd}, values};\n";
    assert_eq!(
        targets(text, "crate::"),
        ["cli", "command", "format"].map(String::from).into()
    );
    assert_eq!(
        targets(text, "super::"),
        ["lookup", "table", "values"].map(String::from).into()
    );
    assert_eq!(
        code("a\n// crate::x\n#[cfg(test)]\nmod tests {\nuse crate::y;\n}\n"),
        "a\n"
    );
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        find_circle(&graph(&[
            ("build", "real"),
            ("real", "values"),
            ("values", "real")
        ])),
        Some(["real", "values", "real"].map(String::from).to_vec())
    );
    assert_eq!(
        find_circle(&graph(&[
            ("build", "real"),
            ("build", "values"),
            ("values", "real")
        ])),
        None
    );
}
