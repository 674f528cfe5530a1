//! `bindings.localstorage` (output): files under `rootPath` (contrib's
//! `bindings/localstorage`).
//!
//! | operation | metadata | answer |
//! |---|---|---|
//! | `create` | `fileName` (a new UUID when absent) | `{"fileName":"<relative name>"}` |
//! | `get` | `fileName` | the file's bytes |
//! | `list` | `fileName` (a directory; the root when absent) | JSON array of absolute file paths, recursively (`null` when none, as Go) |
//! | `delete` | `fileName` | nothing (204) |
//!
//! `create` stores the data as contrib does: when the bytes are a quoted Go
//! string literal they are unquoted first (over HTTP `data` arrives JSON
//! encoded, so a JSON string is unquoted), and when the result is standard
//! base64 it is decoded — so `"aGk="` writes `hi`, and so does any text that
//! happens to be valid base64 (`"abcd"` writes three bytes), as in Go.
//!
//! Names are confined to `rootPath`: absolute names and `..` components are
//! refused, and so is a name that reaches outside the root through a
//! symbolic link. (Go's `securejoin` instead re-roots such names inside
//! `rootPath`: `../../x` becomes `<root>/x`.) `rootPath` itself is checked
//! as Go checks it: made absolute, symbolic links resolved, `/proc`, `/sys`,
//! `/boot` and `/var/run/secrets` refused, created if missing.
//!
//! File system calls run on the blocking pool (`components::blocking`), never
//! on a worker.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use bytes::Bytes;

use super::{
    failure, os_error_text, write_go_string, InvokeRequest, InvokeResponse, InvokeResult,
    OutputBinding,
};
use crate::components::{blocking, ComponentError, Metadata};

/// Roots Go refuses.
const DISALLOWED_ROOTS: [&str; 4] = ["/proc", "/sys", "/boot", "/var/run/secrets"];

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits
/// accepted (line breaks are dropped before decoding).
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Built on the main thread: `rootPath` validated and created.
pub struct LocalStorageFactory {
    root: Arc<PathBuf>,
}

impl LocalStorageFactory {
    /// Validates `rootPath` and creates it (Go's `Init`).
    pub fn new(md: &Metadata) -> Result<Self, String> {
        let root = validate_root(md.get("rootPath").unwrap_or(""))
            .map_err(|e| format!("failed to parse metadata: {e}"))?;
        std::fs::create_dir_all(&root).map_err(|e| {
            format!(
                "unable to create directory specified by 'rootPath' {}: mkdir {}: {}",
                root.display(),
                root.display(),
                os_error_text(&e)
            )
        })?;
        Ok(Self {
            root: Arc::new(root),
        })
    }

    /// This worker's instance.
    pub fn build(&self) -> LocalStorage {
        LocalStorage {
            root: self.root.clone(),
        }
    }
}

/// Go's `validateRootPath`: absolute, symbolic links resolved, not in a
/// disallowed place.
fn validate_root(raw: &str) -> Result<PathBuf, String> {
    if raw.is_empty() {
        return Err("property rootPath must not be empty".into());
    }
    let mut root = clean(Path::new(raw));
    if !root.is_absolute() {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("failed to obtain current working directory: {e}"))?;
        root = clean(&cwd.join(root));
    }
    // Resolve symbolic links in the part that exists.
    let mut existing = root.as_path();
    loop {
        match std::fs::metadata(existing) {
            Ok(m) if !m.is_dir() => {
                return Err("property rootPath represents a file and not a directory".into())
            }
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match existing.parent() {
                Some(p) => existing = p,
                None => break,
            },
            Err(e) => {
                return Err(format!(
                    "error getting stat for path {}: {}",
                    existing.display(),
                    os_error_text(&e)
                ))
            }
        }
    }
    let resolved = std::fs::canonicalize(existing)
        .map_err(|e| format!("failed to evaluate symlinks in rootPath: {e}"))?;
    let rest = root.strip_prefix(existing).unwrap_or(Path::new(""));
    let root = resolved.join(rest);
    for p in DISALLOWED_ROOTS {
        if root.starts_with(p) {
            return Err("property rootPath points to a disallowed location".into());
        }
    }
    Ok(root)
}

/// Lexical cleaning (`.` dropped, `..` applied), as Go's `filepath.Clean`.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A worker's handle on the root directory.
pub struct LocalStorage {
    root: Arc<PathBuf>,
}

const OPERATIONS: &[&str] = &["create", "get", "list", "delete"];

impl OutputBinding for LocalStorage {
    fn operations(&self) -> &[&'static str] {
        OPERATIONS
    }

    async fn invoke(&self, req: InvokeRequest) -> InvokeResult {
        let mut name = req.metadata.get("fileName").cloned().unwrap_or_default();
        if name.is_empty() && req.operation == "create" {
            name = uuid::Uuid::new_v4().to_string();
        }
        let root = self.root.clone();
        let op = req.operation.clone();
        let data = req.data;
        let done = blocking::run(move || -> Result<Option<Bytes>, String> {
            let (abs, rel) = confine(&root, &name)
                .map_err(|why| format!("error getting absolute path for file {name}: {why}"))?;
            match op.as_str() {
                "create" => create(&abs, &rel, &data).map(Some),
                "get" => get(&abs).map(Some),
                "delete" => delete(&abs).map(|()| None),
                "list" => list(&abs).map(Some),
                other => Err(format!("unsupported operation {other}")),
            }
        })
        .await;
        match done {
            Some(Ok(data)) => Ok(data.map(|data| InvokeResponse {
                data,
                metadata: Default::default(),
            })),
            Some(Err(message)) => Err(failure(message).into()),
            None => Err(ComponentError::new(
                crate::components::ComponentErrorKind::Other,
                "the file operation failed unexpectedly",
            )
            .into()),
        }
    }
}

/// `name` under `root`: the absolute path and the cleaned relative name.
/// Absolute names, `..` and links leading outside the root are refused.
fn confine(root: &Path, name: &str) -> Result<(PathBuf, String), String> {
    if name.contains('\0') {
        return Err("the name contains a NUL byte".into());
    }
    let path = Path::new(name);
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("'..' is not allowed in file names".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute file names are not allowed".into())
            }
        }
    }
    let abs = root.join(&rel);
    // The deepest part that exists must resolve inside the root (a symbolic
    // link must not lead out of it).
    let real_root = std::fs::canonicalize(root).map_err(|e| os_error_text(&e))?;
    let mut existing = abs.as_path();
    loop {
        match std::fs::symlink_metadata(existing) {
            Ok(_) => break,
            Err(_) => match existing.parent() {
                Some(p) if p.starts_with(root) => existing = p,
                _ => break,
            },
        }
    }
    if let Ok(real) = std::fs::canonicalize(existing) {
        if !real.starts_with(&real_root) {
            return Err("the name leads outside rootPath".into());
        }
    }
    let rel = match rel.to_str() {
        Some("") => ".".to_owned(),
        Some(s) => s.to_owned(),
        None => rel.to_string_lossy().into_owned(),
    };
    Ok((abs, rel))
}

fn create(abs: &Path, rel: &str, data: &[u8]) -> Result<Bytes, String> {
    let unquoted = go_unquote(data);
    let data = unquoted.as_deref().unwrap_or(data);
    let decoded = go_base64(data);
    let data = decoded.as_deref().unwrap_or(data);
    if let Some(dir) = abs.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "error creating directory {}: mkdir {}: {}",
                dir.display(),
                dir.display(),
                os_error_text(&e)
            )
        })?;
    }
    let shown = abs.display();
    std::fs::write(abs, data).map_err(|e| {
        format!(
            "error creating file {shown}: open {shown}: {}",
            os_error_text(&e)
        )
    })?;
    tracing::debug!(file = %shown, bytes = data.len(), "wrote file");
    let mut out = String::from("{\"fileName\":");
    write_go_string(&mut out, rel);
    out.push('}');
    Ok(Bytes::from(out))
}

fn get(abs: &Path) -> Result<Bytes, String> {
    use std::io::Read;
    let shown = abs.display();
    let mut f = std::fs::File::open(abs).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("file not found: {shown}")
        } else {
            format!(
                "error opening path {shown}: open {shown}: {}",
                os_error_text(&e)
            )
        }
    })?;
    let mut out = Vec::new();
    f.read_to_end(&mut out).map_err(|e| {
        format!(
            "error reading file {shown}: read {shown}: {}",
            os_error_text(&e)
        )
    })?;
    Ok(Bytes::from(out))
}

/// Go's `os.Remove`: a file, else an empty directory.
fn delete(abs: &Path) -> Result<(), String> {
    let shown = abs.display();
    match std::fs::remove_file(abs) {
        Ok(()) => Ok(()),
        Err(first) => match std::fs::remove_dir(abs) {
            Ok(()) => Ok(()),
            Err(second) => {
                // Go reports the rmdir error unless the path is not a directory.
                let e = if second.raw_os_error() == Some(20) {
                    first
                } else {
                    second
                };
                Err(format!(
                    "error deleting file {shown}: remove {shown}: {}",
                    os_error_text(&e)
                ))
            }
        },
    }
}

fn list(abs: &Path) -> Result<Bytes, String> {
    let shown = abs.display();
    let meta = std::fs::metadata(abs).map_err(|e| {
        format!(
            "error getting stats for path {shown}: stat {shown}: {}",
            os_error_text(&e)
        )
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "unable to list files as the file specified is not a directory: {shown}"
        ));
    }
    let mut files = Vec::new();
    walk(abs, &mut files);
    if files.is_empty() {
        return Ok(Bytes::from_static(b"null"));
    }
    let mut out = String::from("[");
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_go_string(&mut out, &f.to_string_lossy());
    }
    out.push(']');
    Ok(Bytes::from(out))
}

/// Go's `filepath.Walk` keeping non-directories: lexical order, links not
/// followed, unreadable directories skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in names {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, out),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
}

/// Go's `base64.StdEncoding.DecodeString` (line breaks ignored).
fn go_base64(data: &[u8]) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    GO_STD_BASE64.decode(cleaned).ok()
}

/// Go's `strconv.Unquote`: a `"…"`, `'…'` (one character) or `` `…` ``
/// literal with Go's escapes; `None` when `s` is not one.
pub fn go_unquote(s: &[u8]) -> Option<Vec<u8>> {
    let (&quote, rest) = s.split_first()?;
    if s.len() < 2 || *s.last()? != quote {
        return None;
    }
    let inner = &rest[..rest.len() - 1];
    match quote {
        b'`' => {
            if inner.contains(&b'`') {
                return None;
            }
            Some(inner.iter().copied().filter(|&b| b != b'\r').collect())
        }
        b'"' | b'\'' => {
            let mut out = Vec::with_capacity(inner.len());
            let mut i = 0;
            let mut chars = 0;
            while i < inner.len() {
                let c = inner[i];
                if c == quote || c == b'\n' {
                    return None;
                }
                chars += 1;
                if c != b'\\' {
                    if c < 0x80 {
                        out.push(c);
                        i += 1;
                    } else {
                        // One UTF-8 sequence (invalid bytes become U+FFFD).
                        let end = (i + 4).min(inner.len());
                        let (ch, len) = decode_utf8(&inner[i..end]);
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += len;
                    }
                    continue;
                }
                let esc = *inner.get(i + 1)?;
                i += 2;
                match esc {
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(11),
                    b'\\' => out.push(b'\\'),
                    b'\'' | b'"' if esc == quote => out.push(esc),
                    b'x' | b'u' | b'U' => {
                        let n = match esc {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = std::str::from_utf8(inner.get(i..i + n)?).ok()?;
                        let v = u32::from_str_radix(hex, 16).ok()?;
                        i += n;
                        if esc == b'x' {
                            out.push(v as u8);
                        } else {
                            let ch = char::from_u32(v)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    b'0'..=b'7' => {
                        let digits = inner.get(i - 1..i + 2)?;
                        let mut v: u32 = 0;
                        for d in digits {
                            if !(b'0'..=b'7').contains(d) {
                                return None;
                            }
                            v = v * 8 + u32::from(d - b'0');
                        }
                        if v > 255 {
                            return None;
                        }
                        i += 2;
                        out.push(v as u8);
                    }
                    _ => return None,
                }
            }
            if quote == b'\'' && chars != 1 {
                return None;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Decodes one UTF-8 character at the start of `b`: (char, bytes used), or
/// (U+FFFD, 1) for an invalid sequence.
fn decode_utf8(b: &[u8]) -> (char, usize) {
    for len in 1..=b.len() {
        if let Ok(s) = std::str::from_utf8(&b[..len]) {
            if let Some(c) = s.chars().next() {
                return (c, len);
            }
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_like_go() {
        assert_eq!(go_unquote(b"\"aGk=\"").unwrap(), b"aGk=");
        assert_eq!(
            go_unquote(b"\"a\\nb\\x41\\u00e9\\101\"").unwrap(),
            "a\nbAéA".as_bytes()
        );
        assert_eq!(go_unquote(b"`raw\\n`").unwrap(), b"raw\\n");
        assert_eq!(go_unquote(b"'x'").unwrap(), b"x");
        assert!(go_unquote(b"'xy'").is_none());
        assert!(go_unquote(b"\"a\\/b\"").is_none()); // JSON's \/ is not Go syntax
        assert!(go_unquote(b"{\"a\":1}").is_none());
        assert!(go_unquote(b"\"").is_none());
        assert!(go_unquote(b"\"a\"b\"").is_none());
    }

    #[test]
    fn base64_like_go() {
        assert_eq!(go_base64(b"aGk=").unwrap(), b"hi");
        assert_eq!(go_base64(b"abcd").unwrap().len(), 3);
        assert!(go_base64(b"aGk").is_none());
        assert!(go_base64(b"hello").is_none());
        assert_eq!(go_base64(b"aG\nk=").unwrap(), b"hi");
        assert_eq!(go_base64(b"").unwrap(), b"");
    }

    #[test]
    fn names_are_confined() {
        let root = std::env::temp_dir().join(format!("ls-confine-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let (abs, rel) = confine(&root, "a/./b.txt").unwrap();
        assert_eq!(abs, root.join("a/b.txt"));
        assert_eq!(rel, "a/b.txt");
        assert_eq!(confine(&root, "").unwrap().1, ".");
        assert!(confine(&root, "../x").is_err());
        assert!(confine(&root, "a/../../x").is_err());
        assert!(confine(&root, "/etc/passwd").is_err());
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink("/etc", root.join("out"));
            assert!(confine(&root, "out/passwd").is_err());
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn root_paths() {
        assert!(validate_root("").is_err());
        assert!(validate_root("/proc/x").is_err());
        let r = validate_root("relative/dir").unwrap();
        assert!(r.is_absolute() && r.ends_with("relative/dir"));
    }
}
