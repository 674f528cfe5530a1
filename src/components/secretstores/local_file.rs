//! `secretstores.local.file`: secrets from a JSON file, read once at start-up.
//!
//! Metadata, as components-contrib's store: `secretsFile` (required; a
//! relative path is relative to the working directory, as Go's `os.Open`),
//! `nestedSeparator` (default `:`) and `multiValued` (Dapr's truthy
//! strings, default false).
//!
//! - Not multi-valued: the whole document is flattened, nested keys joined
//!   with the separator and array items named by index, so
//!   `{"db":{"user":"u","hosts":["a"]}}` holds the secrets `db:user` and
//!   `db:hosts:0`. Reading `name` answers `{name: value}`.
//! - Multi-valued: each top-level key is one secret. A string is answered as
//!   `{name: value}`; an object is flattened *inside* the secret, so
//!   `{"db":{"user":"u","tls":{"ca":"x"}}}` reads as
//!   `db → {"user":"u","tls:ca":"x"}`. Other top-level values (numbers,
//!   booleans, arrays, null) are dropped, as contrib drops them. The store
//!   then announces `MULTIPLE_KEY_VALUES_PER_SECRET`.
//!
//! Leaf values are rendered as contrib renders them, with Go's `%s` verb:
//! strings as they are, anything else in Go's bad-verb form
//! (`%!s(float64=42)`, `%!s(bool=true)`, `%!s(<nil>)`). Where flattening
//! produces the same key twice, contrib aborts its walk half-way (in Go's
//! random map order) and ignores the error; we keep the first value and
//! carry on.
//!
//! The parsed secrets sit in an `Arc` shared read-only by the factory (for
//! start-up lookups) and every worker's instance: a read is a map lookup.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{
    BulkGetSecretRequest, BulkSecrets, Features, GetSecretRequest, SecretLookup, SecretMap,
    SecretStore,
};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};

/// One stored secret.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Secret {
    /// A single value, answered as `{name: value}`.
    Single(String),
    /// Several values (multi-valued stores).
    Multi(SecretMap),
}

/// The parsed file.
#[derive(Debug, Default)]
struct FileSecrets {
    secrets: HashMap<String, Secret>,
    features: Features,
}

impl FileSecrets {
    fn get(&self, name: &str) -> Result<SecretMap, ComponentError> {
        match self.secrets.get(name) {
            Some(Secret::Single(v)) => Ok(HashMap::from([(name.to_owned(), v.clone())])),
            Some(Secret::Multi(m)) => Ok(m.clone()),
            None => Err(ComponentError::new(
                ComponentErrorKind::Other,
                format!("secret {name} not found"),
            )),
        }
    }

    fn bulk(&self) -> BulkSecrets {
        self.secrets
            .iter()
            .map(|(k, s)| {
                let values = match s {
                    Secret::Single(v) => HashMap::from([(k.clone(), v.clone())]),
                    Secret::Multi(m) => m.clone(),
                };
                (k.clone(), values)
            })
            .collect()
    }
}

/// Factory: reads and parses the file once.
pub struct LocalFileFactory {
    data: Arc<FileSecrets>,
}

impl LocalFileFactory {
    /// Reads `secretsFile` and builds the secrets; the error is the message
    /// for the component's initialization failure.
    pub fn new(md: &Metadata) -> Result<Self, String> {
        let path = md
            .get("secretsFile")
            .filter(|p| !p.is_empty())
            .ok_or("missing local secrets file in metadata")?;
        let separator = md
            .get("nestedSeparator")
            .filter(|s| !s.is_empty())
            .unwrap_or(":");
        let multi_valued = md.get("multiValued").is_some_and(is_truthy);
        let bytes = std::fs::read(path).map_err(|e| format!("open {path}: {e}"))?;
        let data = parse(&bytes, separator, multi_valued)?;
        Ok(Self {
            data: Arc::new(data),
        })
    }

    /// This worker's instance.
    pub fn build(&self) -> LocalFileStore {
        LocalFileStore {
            data: self.data.clone(),
        }
    }
}

impl SecretLookup for LocalFileFactory {
    fn lookup(&self, req: &GetSecretRequest) -> Result<SecretMap, ComponentError> {
        self.data.get(&req.name)
    }
}

/// A worker's handle on the parsed file.
pub struct LocalFileStore {
    data: Arc<FileSecrets>,
}

impl SecretStore for LocalFileStore {
    fn features(&self) -> Features {
        self.data.features
    }

    async fn get(&self, req: GetSecretRequest) -> Result<SecretMap, ComponentError> {
        self.data.get(&req.name)
    }

    async fn bulk_get(&self, _req: BulkGetSecretRequest) -> Result<BulkSecrets, ComponentError> {
        Ok(self.data.bulk())
    }
}

/// Dapr's truthy strings (`kit/utils.IsTruthy`): y, yes, true, t, on, 1.
fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "on" | "1"
    )
}

/// Parses the document as contrib does (top level must be an object or null).
fn parse(bytes: &[u8], separator: &str, multi_valued: bool) -> Result<FileSecrets, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let top = match doc {
        Value::Object(m) => m,
        Value::Null => Default::default(),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_json_kind(&other)
            ))
        }
    };
    let mut secrets = HashMap::new();
    if multi_valued {
        for (name, value) in top {
            match value {
                Value::String(s) => {
                    secrets.insert(name, Secret::Single(s));
                }
                Value::Object(_) => {
                    let mut values = SecretMap::new();
                    flatten(&mut Vec::new(), &value, separator, &mut values);
                    secrets.insert(name, Secret::Multi(values));
                }
                _ => {}
            }
        }
    } else {
        let mut flat = SecretMap::new();
        flatten(&mut Vec::new(), &Value::Object(top), separator, &mut flat);
        secrets = flat
            .into_iter()
            .map(|(k, v)| (k, Secret::Single(v)))
            .collect();
    }
    Ok(FileSecrets {
        secrets,
        features: if multi_valued {
            Features::MULTIPLE_KEY_VALUES_PER_SECRET
        } else {
            Features::NONE
        },
    })
}

/// Walks `v`, writing each leaf under its path joined by `separator`.
fn flatten(path: &mut Vec<String>, v: &Value, separator: &str, out: &mut SecretMap) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                path.push(k.clone());
                flatten(path, child, separator, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten(path, child, separator, out);
                path.pop();
            }
        }
        leaf => {
            out.entry(path.join(separator))
                .or_insert_with(|| go_percent_s(leaf));
        }
    }
}

/// The JSON kind names of Go's unmarshal errors.
fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null | Value::Object(_) => "object",
    }
}

/// A decoded JSON leaf through Go's `fmt.Sprintf("%s", v)`: strings as they
/// are; numbers (Go decodes them as `float64`), booleans and null in Go's
/// bad-verb form.
fn go_percent_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => format!("%!s(bool={b})"),
        Value::Number(n) => format!("%!s(float64={})", go_float_v(n.as_f64().unwrap_or(0.0))),
        Value::Null => "%!s(<nil>)".to_owned(),
        // Containers never reach a leaf.
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// Go's `%v` for a `float64`: the shortest digits that round-trip, in `%e`
/// form when the exponent is below -4 or at least 6 (`strconv` 'g' with
/// precision -1), else in plain form.
fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push('0');
        return out;
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "1.2345e6".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str, multi: bool) -> FileSecrets {
        parse(json.as_bytes(), ":", multi).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> SecretMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flattens_nested_objects_and_arrays() {
        let s = parsed(
            r#"{"a":"1","db":{"user":"u","tls":{"ca":"x"}},"hosts":["h0","h1"]}"#,
            false,
        );
        assert_eq!(s.get("a").unwrap(), map(&[("a", "1")]));
        assert_eq!(s.get("db:user").unwrap(), map(&[("db:user", "u")]));
        assert_eq!(s.get("db:tls:ca").unwrap(), map(&[("db:tls:ca", "x")]));
        assert_eq!(s.get("hosts:1").unwrap(), map(&[("hosts:1", "h1")]));
        let e = s.get("db").unwrap_err();
        assert_eq!(e.to_string(), "secret db not found");
        assert_eq!(s.bulk().len(), 5);
        assert_eq!(s.features, Features::NONE);
    }

    #[test]
    fn custom_separator() {
        let s = parse(br#"{"db":{"user":"u"}}"#, ".", false).unwrap();
        assert!(s.get("db.user").is_ok());
    }

    #[test]
    fn multi_valued_keeps_top_level_secrets() {
        let s = parsed(
            r#"{"parent":{"child1":"12345","child2":{"child3":"67890","child4":"00000"}},"plain":"p","n":1,"arr":["x"]}"#,
            true,
        );
        assert_eq!(
            s.get("parent").unwrap(),
            map(&[
                ("child1", "12345"),
                ("child2:child3", "67890"),
                ("child2:child4", "00000")
            ])
        );
        assert_eq!(s.get("plain").unwrap(), map(&[("plain", "p")]));
        assert!(s.get("n").is_err() && s.get("arr").is_err());
        let bulk = s.bulk();
        assert_eq!(bulk.len(), 2);
        assert_eq!(bulk["plain"], map(&[("plain", "p")]));
        assert_eq!(s.features, Features::MULTIPLE_KEY_VALUES_PER_SECRET);
    }

    #[test]
    fn non_string_leaves_render_as_go_does() {
        let s = parsed(
            r#"{"i":42,"f":1.5,"big":1234567,"small":0.00001,"t":true,"z":null,"neg":-3}"#,
            false,
        );
        let v = |k: &str| s.get(k).unwrap()[k].clone();
        assert_eq!(v("i"), "%!s(float64=42)");
        assert_eq!(v("f"), "%!s(float64=1.5)");
        assert_eq!(v("big"), "%!s(float64=1.234567e+06)");
        assert_eq!(v("small"), "%!s(float64=1e-05)");
        assert_eq!(v("t"), "%!s(bool=true)");
        assert_eq!(v("z"), "%!s(<nil>)");
        assert_eq!(v("neg"), "%!s(float64=-3)");
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float_v(999999.0), "999999");
        assert_eq!(go_float_v(100000.0), "100000");
        assert_eq!(go_float_v(1e6), "1e+06");
        assert_eq!(go_float_v(0.0001), "0.0001");
        assert_eq!(go_float_v(123.25), "123.25");
        assert_eq!(go_float_v(1e21), "1e+21");
        assert_eq!(go_float_v(1.5e-7), "1.5e-07");
        assert_eq!(go_float_v(1e100), "1e+100");
    }

    #[test]
    fn bad_documents() {
        assert!(parse(b"[1]", ":", false)
            .unwrap_err()
            .contains("cannot unmarshal array"));
        assert!(parse(b"{", ":", false).is_err());
        assert!(parse(b"null", ":", false).unwrap().secrets.is_empty());
    }

    #[test]
    fn factory_metadata() {
        let md = |pairs: &[(&str, &str)]| {
            Metadata(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let e = LocalFileFactory::new(&md(&[])).err().unwrap();
        assert_eq!(e, "missing local secrets file in metadata");
        let e = LocalFileFactory::new(&md(&[("secretsFile", "/nonexistent/x.json")]))
            .err()
            .unwrap();
        assert!(e.starts_with("open /nonexistent/x.json: "), "{e}");

        let path = std::env::temp_dir().join(format!("daprd-lf-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"a":{"b":"c"}}"#).unwrap();
        let f = LocalFileFactory::new(&md(&[
            ("SECRETSFILE", path.to_str().unwrap()),
            ("multivalued", "Yes"),
        ]))
        .unwrap();
        std::fs::remove_file(&path).ok();
        let req = GetSecretRequest {
            name: "a".into(),
            ..Default::default()
        };
        assert_eq!(f.lookup(&req).unwrap(), map(&[("b", "c")]));
        assert_eq!(
            SecretStore::features(&f.build()),
            Features::MULTIPLE_KEY_VALUES_PER_SECRET
        );
    }
}
