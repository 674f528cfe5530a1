//! Go's checks on the names callers put in actor paths
//! (`pkg/messaging/method/normalize.go`): a type, id, reminder or timer
//! name must be one path segment; a method is cleaned as a path so that it
//! cannot step out of `actors/{type}/{id}/method/`.

/// Go's `ValidateName`: no `#?\0/\`, no control characters, not `.`/`..`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.contains(['#', '?', '\0', '/', '\\']) {
        return Err(format!("name contains forbidden character: {name:?}"));
    }
    if let Some(i) = name.bytes().position(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "name contains control character at position {i}: {name:?}"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("name is a path traversal sequence: {name:?}"));
    }
    Ok(())
}

/// Go's `NormalizeMethod`: refuses `#?\0` and control characters, then
/// `path.Clean`s the method and drops leading `../` segments.
pub fn normalize_method(method: &str) -> Result<String, String> {
    if method.contains(['#', '?', '\0']) {
        return Err(format!("method contains forbidden character: {method:?}"));
    }
    if let Some(i) = method.bytes().position(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "method contains control character at position {i}: {method:?}"
        ));
    }
    let mut cleaned = clean(method);
    while let Some(rest) = cleaned.strip_prefix("../") {
        cleaned = rest.to_owned();
    }
    if cleaned == ".." || cleaned == "." {
        cleaned.clear();
    }
    Ok(cleaned)
}

/// Go's `path.Clean`.
fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_segment() {
        assert!(validate_name("myactor-1.a_b").is_ok());
        for bad in [
            "a/b", "a\\b", "a?b", "a#b", "a\0b", ".", "..", "a\x7fb", "a\nb",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn methods_are_cleaned_as_go_does() {
        assert_eq!(normalize_method("say").unwrap(), "say");
        assert_eq!(normalize_method("a/./b/../c").unwrap(), "a/c");
        assert_eq!(normalize_method("../../etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(normalize_method("..").unwrap(), "");
        assert_eq!(normalize_method("remind/r1").unwrap(), "remind/r1");
        assert_eq!(normalize_method("/x").unwrap(), "/x");
        assert!(normalize_method("a?b").is_err());
        assert!(normalize_method("a\tb").is_err());
    }
}
