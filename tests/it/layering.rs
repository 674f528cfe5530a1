//! The crate's layers, kept: every module imports only from layers below
//! its own. This reads `src/` as text and fails naming the file and line of
//! each import that reaches up (or sideways, to a sibling of the same layer),
//! so two top-level modules can never import each other.
//!
//! The order, lowest first (README, "Code map"):
//! ground (`proto`, `config` → `logging`, `metrics`, `net` → `http` →
//! `grpc`) → `components` → `channel` → `api` → the composition roots
//! `runtime` (daprd), `placement` and `scheduler` (the control-plane
//! services), which share only what lies below and never import each other.
//! `lib.rs`, `main.rs` and the other binaries (`bin/`) sit above everything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. A module may import from any
/// module of a lower layer, never from its own layer or one above.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "ground: generated types, configuration",
        &["proto", "config"],
    ),
    (
        "ground: logs, metrics, sockets",
        &["logging", "metrics", "net"],
    ),
    ("ground: HTTP codecs and client", &["http"]),
    ("ground: gRPC framing and server", &["grpc"]),
    ("components", &["components"]),
    ("channel", &["channel"]),
    ("api", &["api"]),
    ("composition roots", &["runtime", "placement", "scheduler"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// One import that breaks the order.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (fl, tl) = (layer_of(&self.from), layer_of(&self.to));
        let name = |l: Option<usize>| l.map_or("?", |l| LAYERS[l].0);
        write!(
            f,
            "{}:{}: `{}` ({}) imports `crate::{}` ({}), {}",
            self.file,
            self.line,
            self.from,
            name(fl),
            self.to,
            name(tl),
            if fl == tl {
                "a module of its own layer"
            } else {
                "a layer above its own"
            }
        )
    }
}

/// `source` with comments and the contents of string and char literals
/// blanked (newlines kept, so line numbers stay right): a path named in a
/// doc comment or a string is not an import.
fn code_only(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(blank(b[i]));
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // A raw string: r"…", r#"…"#, …
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push(b[i]);
                    i += 1;
                    continue;
                }
                out.extend(std::iter::repeat_n(b' ', j + 1 - i));
                i = j + 1;
                while i < b.len() {
                    if b[i] == b'"' && b[i + 1..].iter().take(hashes).all(|&c| c == b'#') {
                        out.extend(std::iter::repeat_n(b' ', hashes + 1));
                        i += hashes + 1;
                        break;
                    }
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            b'"' => {
                out.push(b' ');
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        out.push(b' ');
                        i += 1;
                    }
                    out.push(blank(b[i]));
                    i += 1;
                }
                out.push(b' ');
                i += 1;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(end) => {
                        out.extend(std::iter::repeat_n(b' ', end + 1 - i));
                        i = end + 1;
                    }
                    None => {
                        out.push(b'\'');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level modules `code` names through `crate::`, with their lines:
/// `crate::a::…` and each head of a group, `crate::{a::…, b}`.
fn crate_refs(code: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    let mut rest = code;
    let mut offset = 0;
    while let Some(p) = rest.find("crate::") {
        let start = offset + p;
        let preceded = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = &code[start + "crate::".len()..];
        let line = code[..start].matches('\n').count() + 1;
        if !preceded {
            if let Some(group) = after.strip_prefix('{') {
                // Heads of a use group: split at top-level commas.
                let mut depth = 0usize;
                let mut head = true;
                let mut line_here = line;
                let mut ident = String::new();
                for c in group.chars() {
                    match c {
                        '\n' => line_here += 1,
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => head = true,
                        _ => {}
                    }
                    if head && (c.is_alphanumeric() || c == '_') {
                        ident.push(c);
                    } else if head && !ident.is_empty() {
                        refs.push((line_here, std::mem::take(&mut ident)));
                        head = false;
                    }
                }
            } else {
                let ident: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !ident.is_empty() {
                    refs.push((line, ident));
                }
            }
        }
        offset = start + "crate::".len();
        rest = &code[offset..];
    }
    refs
}

/// The violations in one file of top-level module `from`.
fn check_file(file: &str, from: &str, source: &str) -> Vec<Violation> {
    let Some(own) = layer_of(from) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for (line, to) in crate_refs(&code_only(source)) {
        if to == from {
            continue;
        }
        let Some(target) = layer_of(&to) else {
            continue; // a crate-root item (lib.rs), not a module
        };
        if target >= own && seen.insert((line, to.clone())) {
            found.push(Violation {
                file: file.to_owned(),
                line,
                from: from.to_owned(),
                to,
            });
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut modules = BTreeSet::new();
    let mut violations = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" || top == "bin" {
            continue;
        }
        assert!(
            layer_of(&top).is_some(),
            "src/{top} is in no layer: add it to LAYERS here and to the README's code map"
        );
        modules.insert(top.clone());
        let source = std::fs::read_to_string(path).unwrap();
        let file = format!("src/{}", rel.display());
        violations.extend(check_file(&file, &top, &source));
    }
    assert!(modules.len() >= 10, "read too little of src/: {modules:?}");
    let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        report.is_empty(),
        "{} import(s) break the layers:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn the_checker_sees_upward_and_sideways_imports() {
    let source = r#"
//! Docs may name crate::runtime freely.
use crate::proto::x;
use crate::{config::Options, api::Ctx};
const S: &str = "crate::runtime::Nope";
const R: &str = r"crate::runtime::Nope";
fn f<'a>(c: char) -> bool { c == '"' && g::<crate::channel::X>() }
/* crate::runtime in a block comment */
type T = crate::net::shutdown::Drain;
"#;
    let found = check_file("src/http/x.rs", "http", source);
    let lines: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.to.as_str())).collect();
    assert_eq!(lines, [(4, "api"), (7, "channel")]);
    assert!(found[0].to_string().starts_with(
        "src/http/x.rs:4: `http` (ground: HTTP codecs and client) imports `crate::api` (api), a layer above its own"
    ));
    // Sideways: two modules of one layer may not lean on each other.
    let sideways = check_file("src/net/y.rs", "net", "use crate::metrics::Shard;\n");
    assert_eq!(sideways.len(), 1);
    assert!(sideways[0]
        .to_string()
        .ends_with("a module of its own layer"));
}

#[test]
fn the_services_stand_on_the_ground_layer_only() {
    // The placement and scheduler services share the ground layer with
    // daprd, nothing of its building blocks, backends or channels.
    let ground = LAYERS
        .iter()
        .position(|(name, _)| name.starts_with("ground: gRPC"))
        .unwrap();
    for service in ["placement", "scheduler"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(service);
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        assert!(files.len() >= 2, "read too little of src/{service}");
        let mut above = Vec::new();
        for path in &files {
            let source = std::fs::read_to_string(path).unwrap();
            for (line, to) in crate_refs(&code_only(&source)) {
                if to != service && layer_of(&to).is_some_and(|l| l > ground) {
                    above.push(format!("{}:{line}: crate::{to}", path.display()));
                }
            }
        }
        assert!(
            above.is_empty(),
            "{service} imports above ground:\n{}",
            above.join("\n")
        );
    }
}
