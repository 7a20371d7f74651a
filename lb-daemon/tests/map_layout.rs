//! The contract between the XDP object and `lb-common`, checked on the object this build
//! embeds (`lb_daemon::dataplane::OBJECT`):
//!
//! - its map definitions (read with `aya-obj`): every map is one of `lb_common::maps::MAPS`
//!   and every one of those is in the object (the `#[map(name = "...")]` literals in
//!   `lb-ebpf/src/maps.rs` repeat lb-common's names), with lb-common's kind, flags, capacity,
//!   key size and value size;
//! - its type information: the key and value types each map's static is declared with, field
//!   by field (name, byte offset, size), equal lb-common's (`core::mem::offset_of!`). The
//!   object's BTF (legacy `maps` section) describes only the types in non-inlined functions'
//!   signatures, so the types are read from its DWARF, from which the BTF is derived: the map
//!   static's generic parameters name the key and value types;
//! - the layout version: `LAYOUT_FINGERPRINT` is the hash of those layouts, so that changing
//!   any of them (a same-size field reorder included) fails here until the fingerprint is
//!   recorded again, with `LAYOUT_VERSION` bumped;
//! - lbd refuses pinned maps of another layout version (real maps, pinned in bpffs);
//! - the object's source, `lb-ebpf`: each module imports only from layers below its own (no
//!   import circle), by the layers `lb-ebpf/src/main.rs` draws.

use std::{borrow::Cow, collections::HashMap, path::PathBuf};

use gimli::{AttributeValue, EndianSlice, LittleEndian, constants};
use lb_common::{
    LAYOUT_FINGERPRINT, LAYOUT_VERSION, LayoutMeta,
    layout::{Field, TypeLayout},
    map_name,
    maps::{MAPS, MapSpec, layout_fingerprint},
};
use lb_daemon::dataplane::{self, Dataplane, LoadOptions, OBJECT};
use object::{Object as _, ObjectSection as _};

fn object_bytes() -> &'static [u8] {
    assert!(
        !OBJECT.is_empty(),
        "this build has no XDP object (built with AYA_BUILD_SKIP=1): build it with bpf-linker (`cargo xtask setup`)"
    );
    OBJECT
}

/// A type as the object's DWARF describes it.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    name: String,
    size: usize,
    fields: Vec<(String, usize, usize)>,
}

impl Described {
    fn of(t: &TypeLayout) -> Self {
        Self {
            name: t.name.to_string(),
            size: t.size,
            fields: t
                .fields
                .iter()
                .map(|f| (f.name.to_string(), f.offset, f.size))
                .collect(),
        }
    }
}

/// One debugging-information entry, with what this test reads of it.
#[derive(Default)]
struct Node {
    /// `DW_TAG_*` (0 until the entry itself is read).
    tag: u16,
    name: Option<String>,
    linkage_name: Option<String>,
    byte_size: Option<usize>,
    ty: Option<usize>,
    member_offset: Option<usize>,
    count: Option<usize>,
    children: Vec<usize>,
}

/// Every entry of the object's `.debug_info`, by section offset.
struct Dwarf {
    nodes: HashMap<usize, Node>,
}

impl Dwarf {
    fn read(bytes: &[u8]) -> Self {
        let file = object::File::parse(bytes).expect("the XDP object is an ELF file");
        let sections = gimli::DwarfSections::load(|id| -> Result<Cow<[u8]>, gimli::Error> {
            Ok(file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or(Cow::Borrowed(&[])))
        })
        .expect("DWARF sections");
        let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
        let mut nodes = HashMap::new();
        let mut units = dwarf.units();
        while let Some(header) = units.next().expect("a unit header") {
            let unit = dwarf.unit(header).expect("a unit");
            let global = |o: gimli::UnitOffset| {
                o.to_debug_info_offset(&unit.header)
                    .expect("an offset in .debug_info")
                    .0
            };
            let mut parents: Vec<usize> = Vec::new();
            let mut entries = unit.entries();
            while let Some(e) = entries.next_dfs().expect("an entry") {
                let off = global(e.offset());
                parents.truncate(e.depth() as usize);
                if let Some(&p) = parents.last() {
                    nodes
                        .entry(p)
                        .or_insert_with(Node::default)
                        .children
                        .push(off);
                }
                parents.push(off);
                let string = |at| {
                    e.attr_value(at).map(|v| {
                        dwarf
                            .attr_string(&unit, v)
                            .expect("a string")
                            .to_string_lossy()
                            .into_owned()
                    })
                };
                let ty = match e.attr_value(constants::DW_AT_type) {
                    Some(AttributeValue::UnitRef(o)) => Some(global(o)),
                    Some(AttributeValue::DebugInfoRef(o)) => Some(o.0),
                    _ => None,
                };
                let n = nodes.entry(off).or_insert_with(Node::default);
                n.tag = e.tag().0;
                n.name = string(constants::DW_AT_name);
                n.linkage_name = string(constants::DW_AT_linkage_name);
                n.byte_size = e
                    .attr_value(constants::DW_AT_byte_size)
                    .and_then(|v| v.udata_value())
                    .map(|v| v as usize);
                n.ty = ty;
                n.member_offset = e
                    .attr_value(constants::DW_AT_data_member_location)
                    .and_then(|v| v.udata_value())
                    .map(|v| v as usize);
                n.count = e
                    .attr_value(constants::DW_AT_count)
                    .and_then(|v| v.udata_value())
                    .map(|v| v as usize);
            }
        }
        Self { nodes }
    }

    fn node(&self, off: usize) -> &Node {
        &self.nodes[&off]
    }

    /// The size of a type (an array's from its element and count).
    fn size(&self, off: usize) -> usize {
        let n = self.node(off);
        if let Some(s) = n.byte_size {
            return s;
        }
        match constants::DwTag(n.tag) {
            constants::DW_TAG_array_type => {
                let count: usize = n
                    .children
                    .iter()
                    .filter_map(|&c| self.node(c).count)
                    .product();
                count * self.size(n.ty.expect("an array's element type"))
            }
            constants::DW_TAG_typedef | constants::DW_TAG_const_type => {
                self.size(n.ty.expect("a type"))
            }
            t => panic!("no size for a {t} at {off:#x}"),
        }
    }

    fn describe(&self, off: usize) -> Described {
        let n = self.node(off);
        Described {
            name: n.name.clone().unwrap_or_default(),
            size: self.size(off),
            fields: n
                .children
                .iter()
                .map(|&c| self.node(c))
                .filter(|m| m.tag == constants::DW_TAG_member.0)
                .map(|m| {
                    (
                        m.name.clone().unwrap_or_default(),
                        m.member_offset.expect("a member's offset"),
                        self.size(m.ty.expect("a member's type")),
                    )
                })
                .collect(),
        }
    }

    /// The key and value types of the map static named `map` (its export name), from the
    /// generic parameters of its type: `K` and `V` for hash maps, `T` (the value; keys are
    /// u32 indices) for arrays; none for program arrays and ring buffers.
    fn map_types(&self, map: &str) -> (Option<Described>, Option<Described>) {
        let var = self
            .nodes
            .values()
            .find(|n| {
                n.tag == constants::DW_TAG_variable.0 && n.linkage_name.as_deref() == Some(map)
            })
            .unwrap_or_else(|| panic!("no static for map {map} in the object's DWARF"));
        let ty = self.node(var.ty.expect("the static's type"));
        let param = |name: &str| {
            ty.children
                .iter()
                .map(|&c| self.node(c))
                .find(|p| {
                    p.tag == constants::DW_TAG_template_type_parameter.0
                        && p.name.as_deref() == Some(name)
                })
                .map(|p| self.describe(p.ty.expect("a parameter's type")))
        };
        match (param("K"), param("V"), param("T")) {
            (Some(k), Some(v), _) => (Some(k), Some(v)),
            (_, _, Some(t)) => (
                Some(Described {
                    name: "u32".into(),
                    size: 4,
                    fields: vec![],
                }),
                Some(t),
            ),
            _ => (None, None),
        }
    }
}

/// What differs between the object's view of a map's types and lb-common's; empty if nothing.
fn type_mismatches(dwarf: &Dwarf, spec: &MapSpec) -> Vec<String> {
    let (key, value) = dwarf.map_types(spec.name);
    let mut out = Vec::new();
    let mut cmp = |what: &str, object: Option<Described>, common: Option<&TypeLayout>| {
        // A map whose value only the programs know (the scratch map) is not compared.
        if what == "value" && common.is_none() && spec.kind != lb_common::maps::kind::RINGBUF {
            return;
        }
        let common = common.map(Described::of);
        if object != common {
            out.push(format!(
                "map {} {what}: the object has {object:#?}, lb-common {common:#?}",
                spec.name
            ));
        }
    };
    // Program arrays and device maps are declared without types: their u32 slots and
    // program fds or interfaces (the kernel's `bpf_devmap_val`).
    if spec.kind == lb_common::maps::kind::PROG_ARRAY || spec.kind == lb_common::maps::kind::DEVMAP
    {
        return out;
    }
    cmp("key", key, spec.key);
    cmp("value", value, spec.value);
    out
}

#[test]
fn every_map_of_the_object_is_lb_commons_with_its_kind_flags_capacity_and_sizes() {
    let obj = aya_obj::Object::parse(object_bytes()).expect("the XDP object parses");
    // Names starting with '.' are the compiler's data sections (`.rodata.cst16`: a constant
    // LLVM put in memory), which the loader makes maps of; they are no part of the contract.
    let mut in_object: Vec<&str> = obj
        .maps
        .keys()
        .map(String::as_str)
        .filter(|n| !n.starts_with('.'))
        .collect();
    let mut in_common: Vec<&str> = MAPS.iter().map(|m| m.name).collect();
    in_object.sort();
    in_common.sort();
    assert_eq!(
        in_object, in_common,
        "the object's maps (lb-ebpf/src/maps.rs) and lb_common::maps::MAPS differ"
    );
    for spec in MAPS {
        let def = &obj.maps[spec.name];
        let want = (
            spec.kind,
            spec.flags,
            spec.capacity,
            // An LPM trie's key is its data (lb-common's key type) after a 32-bit prefix
            // length.
            spec.key.map_or(0, |t| t.size as u32)
                + if spec.kind == lb_common::maps::kind::LPM_TRIE {
                    4
                } else {
                    0
                },
        );
        let got = (
            def.map_type(),
            def.map_flags(),
            def.max_entries(),
            def.key_size(),
        );
        assert_eq!(
            got, want,
            "map {}: (kind, flags, capacity, key size) in the object vs lb-common",
            spec.name
        );
        if let Some(v) = spec.value {
            assert_eq!(
                def.value_size(),
                v.size as u32,
                "map {}: value size in the object vs lb-common's {}",
                spec.name,
                v.name
            );
        } else if spec.kind == lb_common::maps::kind::RINGBUF {
            assert_eq!(def.value_size(), 0, "map {}: a ring buffer", spec.name);
        }
    }
}

#[test]
fn the_objects_key_and_value_types_are_lb_commons_field_by_field() {
    let dwarf = Dwarf::read(object_bytes());
    let mismatches: Vec<String> = MAPS
        .iter()
        .flat_map(|spec| type_mismatches(&dwarf, spec))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The check can fail: a same-size reorder of two fields (Conn's real and service, both
    // u32) in lb-common's description is caught, and so is a renamed field.
    let conns = MAPS
        .iter()
        .find(|m| m.name == map_name::CONNS)
        .expect("the connection table");
    let mut fields: Vec<Field> = lb_common::layout::CONN.fields.to_vec();
    fields.swap(0, 1);
    (fields[0].offset, fields[1].offset) = (fields[1].offset, fields[0].offset);
    let reordered = TypeLayout {
        fields: Vec::leak(fields),
        ..lb_common::layout::CONN
    };
    let spec = MapSpec {
        value: Some(Box::leak(Box::new(reordered))),
        ..*conns
    };
    assert_eq!(
        type_mismatches(&dwarf, &spec).len(),
        1,
        "a reorder is caught"
    );
}

#[test]
fn every_field_is_described_in_declaration_order() {
    for spec in MAPS {
        for t in [spec.key, spec.value].into_iter().flatten() {
            let mut end = 0;
            for f in t.fields {
                assert!(
                    f.offset >= end,
                    "{}: {} is out of order in lb_common::layout",
                    t.name,
                    f.name
                );
                end = f.offset + f.size;
            }
            assert!(end <= t.size, "{}: fields past its size", t.name);
        }
    }
}

#[test]
fn the_recorded_fingerprint_is_that_of_the_current_layout() {
    let now = layout_fingerprint();
    assert_eq!(
        now, LAYOUT_FINGERPRINT,
        "the layout of the pinned maps changed (lb_common::layout / maps::MAPS): an lbd of \
         this build must not adopt maps of the previous one. Bump lb_common::LAYOUT_VERSION \
         (now {LAYOUT_VERSION}) and set LAYOUT_FINGERPRINT to {now:#018x}"
    );
}

#[test]
fn the_fingerprint_changes_with_a_same_size_field_reorder() {
    let base = lb_common::layout::fnv_type(0, Some(&lb_common::layout::CONN));
    let mut fields: Vec<Field> = lb_common::layout::CONN.fields.to_vec();
    (fields[0].offset, fields[1].offset) = (fields[1].offset, fields[0].offset);
    let reordered = TypeLayout {
        fields: Vec::leak(fields),
        ..lb_common::layout::CONN
    };
    assert_ne!(lb_common::layout::fnv_type(0, Some(&reordered)), base);
}

/// Whether this test may use BPF (root); without root it fails unless told to skip.
fn require_root() -> bool {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("LB_TESTS_SKIP_UNPRIVILEGED").is_some() {
        eprintln!("skipped: needs root (BPF)");
        return false;
    }
    panic!("needs root (BPF); set LB_TESTS_SKIP_UNPRIVILEGED=1 to skip");
}

/// A pin directory of this test's own, flushed (and removed) when the test ends.
struct PinDir(PathBuf);

impl PinDir {
    fn new(tag: &str) -> Self {
        let root = PathBuf::from("/sys/fs/bpf");
        dataplane::ensure_bpffs(&root).expect("a bpffs at /sys/fs/bpf");
        let dir = root.join(format!("lb-test-{tag}-{}", std::process::id()));
        let _ = dataplane::flush(&dir);
        Self(dir)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = dataplane::flush(&self.0);
    }
}

fn opts(dir: &PinDir) -> LoadOptions {
    LoadOptions {
        pin_dir: Some(dir.0.clone()),
        conn_table_size: Some(4096),
        ..Default::default()
    }
}

fn pinned_meta(dir: &PinDir) -> aya::maps::Array<aya::maps::MapData, LayoutMeta> {
    let data = aya::maps::MapData::from_pin(dir.0.join(map_name::META)).expect("lb_meta pinned");
    aya::maps::Array::try_from(aya::maps::Map::Array(data)).expect("an array of LayoutMeta")
}

#[test]
fn lbd_refuses_pinned_maps_of_another_layout_version_and_changes_nothing() {
    if !require_root() {
        return;
    }
    let dir = PinDir::new("layout");
    // A data plane of this build: its maps pinned (dropped without unpinning, as when lbd
    // stops and leaves the data plane running), with this build's version.
    drop(Dataplane::load(&opts(&dir)).expect("a fresh load"));
    let mut meta = pinned_meta(&dir);
    let mine = meta.get(&0, 0).expect("the meta entry");
    assert_eq!(
        mine,
        LayoutMeta {
            version: LAYOUT_VERSION,
            _pad: 0,
            fingerprint: LAYOUT_FINGERPRINT
        },
        "lbd records its layout in the maps it creates"
    );
    // Every size is this build's; only the recorded version (then only the fingerprint)
    // differs.
    let other_version = LayoutMeta {
        version: LAYOUT_VERSION + 1,
        ..mine
    };
    let other_fingerprint = LayoutMeta {
        fingerprint: !LAYOUT_FINGERPRINT,
        ..mine
    };
    for (other, shown) in [
        (
            other_version,
            format!(
                "version {} (fingerprint {LAYOUT_FINGERPRINT:#018x})",
                LAYOUT_VERSION + 1
            ),
        ),
        (
            other_fingerprint,
            format!(
                "version {LAYOUT_VERSION} (fingerprint {:#018x})",
                !LAYOUT_FINGERPRINT
            ),
        ),
    ] {
        meta.set(0, other, 0).expect("write the meta entry");
        let before: Vec<PathBuf> = std::fs::read_dir(&dir.0)
            .expect("the pin directory")
            .map(|e| e.expect("an entry").path())
            .collect();
        let err = match Dataplane::load(&opts(&dir)) {
            Ok(_) => panic!("a data plane of layout {shown} was adopted"),
            Err(e) => e.to_string(),
        };
        let built = format!("version {LAYOUT_VERSION} (fingerprint {LAYOUT_FINGERPRINT:#018x})");
        assert!(
            err.contains(&format!(
                "the running data plane's maps have layout {shown}, this build's have layout {built}"
            )),
            "{err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(err.contains("lbd flush --pin-dir"), "{err}");
        let mut after: Vec<PathBuf> = std::fs::read_dir(&dir.0)
            .expect("the pin directory")
            .map(|e| e.expect("an entry").path())
            .collect();
        let mut before = before;
        before.sort();
        after.sort();
        assert_eq!(after, before, "the pins are left as they were");
        assert_eq!(
            meta.get(&0, 0).expect("the meta entry"),
            other,
            "the running data plane's version is left as it was"
        );
    }
    // Its own version back: adopted.
    meta.set(0, mine, 0).expect("write the meta entry");
    let dp = Dataplane::load(&opts(&dir)).expect("maps of this build's layout are adopted");
    assert!(dp.adopted());
}

#[test]
fn maps_pinned_before_layout_versions_are_version_1_and_get_one_recorded() {
    if !require_root() {
        return;
    }
    let dir = PinDir::new("unversioned");
    drop(Dataplane::load(&opts(&dir)).expect("a fresh load"));
    // As a data plane of a build from before lb_meta existed.
    std::fs::remove_file(dir.0.join(map_name::META)).expect("unpin lb_meta");
    let result = Dataplane::load(&opts(&dir));
    if lb_common::maps::LAYOUT_VERSION_UNVERSIONED == LAYOUT_VERSION {
        let dp = result.expect("an unversioned data plane has version 1's layout");
        assert!(dp.adopted());
        assert_eq!(
            pinned_meta(&dir)
                .get(&0, 0)
                .expect("the meta entry")
                .version,
            LAYOUT_VERSION,
            "the adopting lbd records the version"
        );
    } else {
        let err = result
            .err()
            .expect("an unversioned data plane is refused")
            .to_string();
        assert!(
            err.contains("pinned before layout versions were recorded"),
            "{err}"
        );
    }
}

/// The layers of `lb-ebpf`'s modules, top down (as `lb-ebpf/src/main.rs` draws them). Every
/// module is listed, so that a new one is placed on purpose.
const EBPF_LAYERS: &[&[&str]] = &[
    &["main", "lib"],
    &["director", "decap", "bench", "trace"],
    &["icmp"],
    &["xmit"],
    &["xmit::tun", "xmit::dr", "xmit::nat"],
    &["xmit::too_big"],
    &["xmit::route", "xmit::partial"],
    &["conn"],
    &["conn::unconfirmed", "conn::flood", "conn::table"],
    &["conn::counts", "conn::changed"],
    &["persist", "sched"],
    &["sched::locality", "sched::twos"],
    &["sched::counted", "sched::table"],
    &["frag", "ftp", "stats", "lookup", "sctp"],
    &["count"],
    &["maps"],
    &["scratch"],
    &["parse", "vlan"],
    &["clock", "csum", "headers", "ptr", "verdict"],
];

/// `lb-ebpf`'s modules (`a::b` for `src/a/b.rs`, `a` for `src/a/mod.rs`) and their sources.
fn ebpf_modules() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).expect("lb-ebpf's sources") {
            let p = e.expect("an entry").path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            let name = if prefix.is_empty() {
                stem.clone()
            } else if stem == "mod" {
                prefix.to_string()
            } else {
                format!("{prefix}::{stem}")
            };
            if p.is_dir() {
                walk(&p, &name, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((name, std::fs::read_to_string(&p).expect("a source file")));
            }
        }
    }
    let mut out = Vec::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lb-ebpf/src");
    walk(&src, "", &mut out);
    out
}

/// The paths a source names from its own crate: every path of its `use` items (braces
/// expanded) and every `crate::` / `super::` path in its code, comments left out.
fn crate_paths(src: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        match tree.find('{') {
            None => out.push(format!("{prefix}{}", tree.split(" as ").next().unwrap())),
            Some(open) => {
                let head = format!("{prefix}{}", &tree[..open]);
                let inner = &tree[open + 1..tree.rfind('}').expect("a closing brace")];
                let (mut depth, mut start) = (0, 0);
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            expand(&head, inner[start..i].trim(), out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                let last = inner[start..].trim();
                if !last.is_empty() {
                    expand(&head, last, out);
                }
            }
        }
    }
    let code: String = src
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for item in code.split(';') {
        if let Some(at) = item.find("use ") {
            let tree: String = item[at + 4..]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let tree = tree.replace(" ", "");
            expand("", &tree, &mut out);
        }
    }
    for start in ["crate::", "super::"] {
        for (i, _) in code.match_indices(start) {
            let rest = &code[i..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            // `use super::{...}` is read above: a path of its own only with a name after it.
            if path.contains("::") {
                out.push(path.to_string());
            }
        }
    }
    out
}

/// The module of `lb-ebpf` a path from module `from` names, if any.
fn resolve(from: &str, path: &str, modules: &[&str]) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = match parts.first() {
        Some(&"crate") => vec![],
        Some(&"super") => {
            let mut b: Vec<&str> = from.split("::").collect();
            // A folder's mod.rs is the folder itself; its `super` is the folder's parent.
            b.pop();
            b
        }
        Some(&"self") => from.split("::").collect(),
        _ => return None,
    };
    parts.remove(0);
    while let Some(&p) = parts.first() {
        let mut longer = base.clone();
        longer.push(p);
        if modules.contains(&longer.join("::").as_str()) {
            base = longer;
            parts.remove(0);
        } else {
            break;
        }
    }
    (!base.is_empty()).then(|| base.join("::"))
}

#[test]
fn lb_ebpf_modules_import_only_lower_layers() {
    let modules = ebpf_modules();
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    let layer = |m: &str| {
        EBPF_LAYERS
            .iter()
            .position(|l| l.contains(&m))
            .unwrap_or_else(|| panic!("lb-ebpf module {m} is in no layer of EBPF_LAYERS"))
    };
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (m, src) in &modules {
        for path in crate_paths(src) {
            let Some(to) = resolve(m, &path, &names) else {
                continue;
            };
            seen += 1;
            if to != *m && layer(&to) <= layer(m) {
                wrong.push(format!(
                    "{m} (layer {}) uses {path} (layer {})",
                    layer(m),
                    layer(&to)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that go up or sideways:\n{}",
        wrong.join("\n")
    );
    assert!(
        seen > 50,
        "only {seen} imports found: the reader of `use` lines is broken"
    );
    // The check can fail: conn using the director would be refused.
    assert!(layer("conn") >= layer("director"));
    assert!(
        resolve("conn", "crate::director::process", &names)
            .is_some_and(|to| layer(&to) <= layer("conn"))
    );
}
