//! Resource YAML loading (`--resources-path`), as Go daprd's disk loader.
//!
//! Every `*.yaml`/`*.yml` file directly inside each path (not recursive;
//! paths in flag order, files in name order) may hold several documents
//! separated by `---`. Documents are recognised by `kind` (with a
//! `dapr.io/…` `apiVersion`): Component, Subscription, Configuration,
//! Resiliency and HTTPEndpoint; other documents are skipped with a warning.
//! Resources whose `scopes` do not list our app id are ignored, and so are
//! resources of another namespace when `NAMESPACE` is set.
//!
//! Component metadata values are resolved here: YAML scalars become strings,
//! `{uuid}`, `{appID}`, `{namespace}` and `{podName}` templates are
//! expanded, and `envRef` reads the environment (never `APP_API_TOKEN` or
//! `DAPR_*`). `secretKeyRef` is kept as a reference: secret stores resolve it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One loaded component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// `metadata.name`.
    pub name: String,
    /// `spec.type`, e.g. `state.redis`.
    pub kind: String,
    /// `spec.version` as written (empty when the YAML has none; the
    /// registry reads empty, `v0` and `v1` alike, as Go does).
    pub version: String,
    /// `spec.ignoreErrors`: an init failure is logged, not fatal.
    pub ignore_errors: bool,
    /// `spec.initTimeout` as written (Go duration).
    pub init_timeout: Option<String>,
    /// Metadata items in file order.
    pub metadata: Vec<MetadataItem>,
    /// `auth.secretStore`: where `secretKeyRef`s resolve.
    pub secret_store: Option<String>,
    /// The file it came from.
    pub source: PathBuf,
}

/// One `spec.metadata` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataItem {
    /// `name`.
    pub name: String,
    /// Its value.
    pub value: MetadataValue,
}

/// A metadata value, resolved as far as loading can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataValue {
    /// A literal (templates expanded) or a resolved `envRef`.
    Plain(String),
    /// `secretKeyRef`: resolved through the component's secret store.
    SecretRef {
        /// Secret name.
        name: String,
        /// Key inside the secret (defaults to the name).
        key: String,
    },
}

/// One `HTTPEndpoint` (`dapr.io/v1alpha1`): an external HTTP service
/// invoked by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// `metadata.name`.
    pub name: String,
    /// `spec.baseUrl` (`http://` or `https://`, checked at load).
    pub base_url: String,
    /// `spec.headers`, set on every request (names as written).
    pub headers: Vec<MetadataItem>,
    /// `spec.clientTLS.rootCA`: the only roots server certificates are
    /// checked against (PEM).
    pub root_ca: Option<MetadataValue>,
    /// `spec.clientTLS.certificate`: the client certificate (PEM).
    pub certificate: Option<MetadataValue>,
    /// `spec.clientTLS.privateKey`: its key (PEM).
    pub private_key: Option<MetadataValue>,
    /// `auth.secretStore`: where `secretKeyRef`s resolve.
    pub secret_store: Option<String>,
    /// The file it came from.
    pub source: PathBuf,
}

/// Everything loaded from the resource paths.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    /// Components, in load order.
    pub components: Vec<Component>,
    /// HTTPEndpoints, in load order.
    pub http_endpoints: Vec<HttpEndpoint>,
    /// Other recognised kinds, kept as raw documents for the blocks that use them.
    pub others: Vec<RawResource>,
}

/// A recognised non-Component document.
#[derive(Clone, Debug)]
pub struct RawResource {
    /// `kind`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `metadata.name`.
    pub name: String,
    /// The whole document.
    pub document: serde_yaml::Value,
    /// The file it came from.
    pub source: PathBuf,
}

/// A resource that cannot be loaded; names the file and the resource.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path or file could not be read.
    #[error("cannot read resources from {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A document is not valid YAML or lacks a required field.
    #[error("{path}: invalid {kind} document{}: {reason}", name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The document kind.
        kind: String,
        /// The resource name, when known.
        name: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// Two components share a name.
    #[error("{path}: duplicate component name {name:?} (first defined in {first})", first = first.display())]
    Duplicate {
        /// The second file.
        path: PathBuf,
        /// The name.
        name: String,
        /// Where it was first defined.
        first: PathBuf,
    },
}

/// What resolution needs to know about this sidecar.
pub struct LoadContext<'a> {
    /// Our app id.
    pub app_id: &'a str,
    /// `NAMESPACE`.
    pub namespace: Option<&'a str>,
    /// `POD_NAME`.
    pub pod_name: Option<&'a str>,
    /// Environment lookup (injectable for tests).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Kinds daprd recognises in resource folders.
pub const KNOWN_KINDS: &[&str] = &[
    "Component",
    "Subscription",
    "Configuration",
    "Resiliency",
    "HTTPEndpoint",
];

/// Loads every resource under `paths`.
pub fn load(paths: &[PathBuf], ctx: &LoadContext<'_>) -> Result<Resources, LoadError> {
    let mut out = Resources::default();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in paths {
        for file in yaml_files(dir)? {
            let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Io {
                path: file.clone(),
                source,
            })?;
            load_text(&text, &file, ctx, &mut out, &mut names)?;
        }
    }
    Ok(out)
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %dir.display(), "resources path does not exist; nothing loaded from it");
            return Ok(Vec::new());
        }
        other => other.map_err(io)?,
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    Ok(files)
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ObjectMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct ComponentDoc {
    spec: ComponentSpec,
    #[serde(default)]
    auth: Option<Auth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComponentSpec {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    ignore_errors: bool,
    #[serde(default)]
    init_timeout: Option<String>,
    #[serde(default)]
    metadata: Option<Vec<RawItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Auth {
    #[serde(default)]
    secret_store: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    name: String,
    #[serde(default)]
    value: Option<serde_yaml::Value>,
    #[serde(default)]
    secret_key_ref: Option<SecretKeyRef>,
    #[serde(default)]
    env_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpEndpointDoc {
    spec: HttpEndpointSpec,
    #[serde(default)]
    auth: Option<Auth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpEndpointSpec {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    headers: Option<Vec<RawItem>>,
    #[serde(default, rename = "clientTLS")]
    client_tls: Option<ClientTlsDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientTlsDoc {
    #[serde(default, rename = "rootCA")]
    root_ca: Option<TlsDocument>,
    #[serde(default)]
    certificate: Option<TlsDocument>,
    #[serde(default)]
    private_key: Option<TlsDocument>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsDocument {
    #[serde(default)]
    value: Option<serde_yaml::Value>,
    #[serde(default)]
    secret_key_ref: Option<SecretKeyRef>,
}

#[derive(Deserialize)]
struct SecretKeyRef {
    name: String,
    #[serde(default)]
    key: Option<String>,
}

fn load_text(
    text: &str,
    file: &Path,
    ctx: &LoadContext<'_>,
    out: &mut Resources,
    names: &mut BTreeMap<String, PathBuf>,
) -> Result<(), LoadError> {
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| LoadError::Invalid {
            path: file.to_path_buf(),
            kind: "YAML".into(),
            name: None,
            reason: e.to_string(),
        })?;
        if value.is_null() {
            continue; // empty document (e.g. a trailing `---`)
        }
        let invalid = |kind: &str, name: Option<&str>, reason: String| LoadError::Invalid {
            path: file.to_path_buf(),
            kind: kind.to_owned(),
            name: name.map(str::to_owned),
            reason,
        };
        let header: Header = serde_yaml::from_value(value.clone())
            .map_err(|e| invalid("resource", None, e.to_string()))?;
        if !header.api_version.starts_with("dapr.io/")
            || !KNOWN_KINDS.contains(&header.kind.as_str())
        {
            tracing::warn!(file = %file.display(), kind = %header.kind, api_version = %header.api_version, "skipping unrecognised resource");
            continue;
        }
        let name = header.metadata.name.clone();
        if !valid_name(&name) {
            return Err(invalid(
                &header.kind,
                Some(&name),
                "metadata.name must be a non-empty path segment".into(),
            ));
        }
        if let (Some(ns), Some(doc_ns)) = (ctx.namespace, header.metadata.namespace.as_deref()) {
            if ns != doc_ns {
                continue;
            }
        }
        if !header.scopes.is_empty() && !header.scopes.iter().any(|s| s == ctx.app_id) {
            tracing::debug!(%name, kind = %header.kind, "resource not scoped to this app; ignored");
            continue;
        }
        if header.kind == "HTTPEndpoint" {
            let endpoint = http_endpoint(value, name, file, ctx)?;
            if let Some(first) = out.http_endpoints.iter().find(|e| e.name == endpoint.name) {
                return Err(invalid(
                    "HTTPEndpoint",
                    Some(&endpoint.name),
                    format!(
                        "duplicate HTTPEndpoint name (first defined in {})",
                        first.source.display()
                    ),
                ));
            }
            out.http_endpoints.push(endpoint);
            continue;
        }
        if header.kind != "Component" {
            out.others.push(RawResource {
                kind: header.kind,
                api_version: header.api_version,
                name,
                document: value,
                source: file.to_path_buf(),
            });
            continue;
        }
        let doc: ComponentDoc = serde_yaml::from_value(value)
            .map_err(|e| invalid("Component", Some(&name), e.to_string()))?;
        if let Some(first) = names.get(&name) {
            return Err(LoadError::Duplicate {
                path: file.to_path_buf(),
                name,
                first: first.clone(),
            });
        }
        let mut metadata = Vec::new();
        let mut seen = HashSet::new();
        for item in doc.spec.metadata.unwrap_or_default() {
            if !seen.insert(item.name.to_ascii_lowercase()) {
                return Err(invalid(
                    "Component",
                    Some(&name),
                    format!("duplicate metadata key {:?}", item.name),
                ));
            }
            let value = resolve_item(&item, ctx)
                .map_err(|reason| invalid("Component", Some(&name), reason))?;
            metadata.push(MetadataItem {
                name: item.name,
                value,
            });
        }
        names.insert(name.clone(), file.to_path_buf());
        out.components.push(Component {
            name,
            version: doc.spec.version,
            kind: doc.spec.kind,
            ignore_errors: doc.spec.ignore_errors,
            init_timeout: doc.spec.init_timeout,
            metadata,
            secret_store: doc.auth.and_then(|a| a.secret_store),
            source: file.to_path_buf(),
        });
    }
    Ok(())
}

/// An `HTTPEndpoint` document: `baseUrl` must be an `http://` or
/// `https://` URL with a host; headers resolve as component metadata.
fn http_endpoint(
    value: serde_yaml::Value,
    name: String,
    file: &Path,
    ctx: &LoadContext<'_>,
) -> Result<HttpEndpoint, LoadError> {
    let invalid = |reason: String| LoadError::Invalid {
        path: file.to_path_buf(),
        kind: "HTTPEndpoint".into(),
        name: Some(name.clone()),
        reason,
    };
    let doc: HttpEndpointDoc = serde_yaml::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let base_url = doc.spec.base_url.trim().to_owned();
    let lower = base_url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        None if base_url.is_empty() => return Err(invalid("spec.baseUrl is required".into())),
        None => {
            return Err(invalid(format!(
                "spec.baseUrl {base_url:?} must start with http:// or https://"
            )))
        }
        Some(r) if r.is_empty() || r.starts_with(['/', '?', '#']) => {
            return Err(invalid(format!("spec.baseUrl {base_url:?} has no host")))
        }
        Some(_) => {}
    }
    let mut headers = Vec::new();
    for item in doc.spec.headers.unwrap_or_default() {
        let value = resolve_item(&item, ctx).map_err(|r| invalid(format!("spec.headers: {r}")))?;
        headers.push(MetadataItem {
            name: item.name,
            value,
        });
    }
    let tls_value = |d: Option<TlsDocument>, field: &str| -> Result<_, LoadError> {
        let Some(d) = d else { return Ok(None) };
        if let Some(r) = d.secret_key_ref.filter(|r| !r.name.is_empty()) {
            let key = r
                .key
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| r.name.clone());
            return Ok(Some(MetadataValue::SecretRef { name: r.name, key }));
        }
        match d.value.as_ref().map(scalar_string).transpose() {
            Ok(v) => Ok(v.map(MetadataValue::Plain)),
            Err(e) => Err(invalid(format!("spec.clientTLS.{field}: {e}"))),
        }
    };
    let tls = doc.spec.client_tls;
    let (root_ca, certificate, private_key) = match tls {
        Some(t) => (
            tls_value(t.root_ca, "rootCA")?,
            tls_value(t.certificate, "certificate")?,
            tls_value(t.private_key, "privateKey")?,
        ),
        None => (None, None, None),
    };
    Ok(HttpEndpoint {
        name,
        base_url,
        headers,
        root_ca,
        certificate,
        private_key,
        secret_store: doc.auth.and_then(|a| a.secret_store),
        source: file.to_path_buf(),
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

fn resolve_item(item: &RawItem, ctx: &LoadContext<'_>) -> Result<MetadataValue, String> {
    if let Some(r) = &item.secret_key_ref {
        return Ok(MetadataValue::SecretRef {
            name: r.name.clone(),
            key: r
                .key
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| r.name.clone()),
        });
    }
    let literal = item
        .value
        .as_ref()
        .map(scalar_string)
        .transpose()?
        .unwrap_or_default();
    if literal.is_empty() {
        if let Some(var) = &item.env_ref {
            if var.starts_with("DAPR_") || var == "APP_API_TOKEN" || var.contains(' ') {
                return Err(format!(
                    "metadata {:?}: envRef {var:?} is not allowed",
                    item.name
                ));
            }
            return Ok(MetadataValue::Plain((ctx.env)(var).unwrap_or_default()));
        }
    }
    expand_templates(&literal, ctx).map(MetadataValue::Plain)
}

/// YAML scalars as Go reads them: strings unquoted, numbers and bools as written.
fn scalar_string(v: &serde_yaml::Value) -> Result<String, String> {
    match v {
        serde_yaml::Value::String(s) => Ok(s.clone()),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Null => Ok(String::new()),
        // Structured values are passed on as JSON, as Go's DynamicValue does.
        other => serde_json::to_string(other).map_err(|e| e.to_string()),
    }
}

fn expand_templates(v: &str, ctx: &LoadContext<'_>) -> Result<String, String> {
    if !v.contains('{') {
        return Ok(v.to_owned());
    }
    let mut out = v.replace("{appID}", ctx.app_id);
    if out.contains("{namespace}") {
        let ns = ctx
            .namespace
            .map_or_else(|| ctx.app_id.to_owned(), |n| format!("{n}.{}", ctx.app_id));
        out = out.replace("{namespace}", &ns);
    }
    if out.contains("{podName}") {
        let pod = ctx
            .pod_name
            .ok_or("{podName} is used but POD_NAME is not set")?;
        out = out.replace("{podName}", pod);
    }
    while out.contains("{uuid}") {
        out = out.replacen("{uuid}", &new_uuid(), 1);
    }
    Ok(out)
}

/// A random (v4) UUID from the OS's randomness.
fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_env(k: &str) -> Option<String> {
        match k {
            "REDIS_PW" => Some("hunter2".into()),
            _ => None,
        }
    }

    fn load_str(yaml: &str, ns: Option<&str>) -> Result<Resources, LoadError> {
        let ctx = LoadContext {
            app_id: "myapp",
            namespace: ns,
            pod_name: Some("pod-1"),
            env: &ctx_env,
        };
        let mut out = Resources::default();
        load_text(
            yaml,
            Path::new("test.yaml"),
            &ctx,
            &mut out,
            &mut BTreeMap::new(),
        )?;
        Ok(out)
    }

    const TWO: &str = r#"
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: localhost:6379
  - name: redisDB
    value: 2
  - name: enableTLS
    value: false
  - name: redisPassword
    envRef: REDIS_PW
  - name: consumerID
    value: "{appID}-{podName}"
  - name: token
    secretKeyRef:
      name: redis-secret
auth:
  secretStore: local
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: orders
spec:
  pubsubname: pubsub
  topic: orders
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
---
"#;

    #[test]
    fn components_and_other_kinds() {
        let r = load_str(TWO, None).unwrap();
        assert_eq!(r.components.len(), 1);
        let c = &r.components[0];
        assert_eq!(
            (c.name.as_str(), c.kind.as_str(), c.version.as_str()),
            ("statestore", "state.redis", "v1")
        );
        let v = |n: &str| {
            c.metadata
                .iter()
                .find(|m| m.name == n)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(v("redisDB"), MetadataValue::Plain("2".into()));
        assert_eq!(v("enableTLS"), MetadataValue::Plain("false".into()));
        assert_eq!(v("redisPassword"), MetadataValue::Plain("hunter2".into()));
        assert_eq!(v("consumerID"), MetadataValue::Plain("myapp-pod-1".into()));
        assert_eq!(
            v("token"),
            MetadataValue::SecretRef {
                name: "redis-secret".into(),
                key: "redis-secret".into()
            }
        );
        assert_eq!(c.secret_store.as_deref(), Some("local"));
        assert_eq!(r.others.len(), 1);
        assert_eq!(r.others[0].kind, "Subscription");
    }

    #[test]
    fn scopes_and_namespaces_filter() {
        let y = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: state.in-memory}\nscopes: [other]\n";
        assert!(load_str(y, None).unwrap().components.is_empty());
        let y = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a, namespace: prod}\nspec: {type: state.in-memory}\nscopes: [myapp]\n";
        assert_eq!(load_str(y, None).unwrap().components.len(), 1);
        assert_eq!(load_str(y, Some("prod")).unwrap().components.len(), 1);
        assert!(load_str(y, Some("dev")).unwrap().components.is_empty());
    }

    #[test]
    fn errors_name_file_and_component() {
        let dup = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: state.in-memory}\n---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: pubsub.in-memory}\n";
        let e = load_str(dup, None).unwrap_err().to_string();
        assert!(e.contains("duplicate component name \"a\""), "{e}");
        let no_type = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: b}\nspec: {version: v1}\n";
        let e = load_str(no_type, None).unwrap_err().to_string();
        assert!(
            e.contains("test.yaml") && e.contains("\"b\"") && e.contains("type"),
            "{e}"
        );
        let bad_env = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: c}\nspec:\n  type: x.y\n  metadata:\n  - name: t\n    envRef: DAPR_API_TOKEN\n";
        let e = load_str(bad_env, None).unwrap_err().to_string();
        assert!(e.contains("not allowed"), "{e}");
        let e = load_str("{{{", None).unwrap_err().to_string();
        assert!(e.contains("test.yaml"), "{e}");
    }

    #[test]
    fn uuid_template_is_fresh_each_time() {
        let y = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n  type: x.y\n  metadata:\n  - {name: id, value: \"{uuid}/{uuid}\"}\n";
        let r = load_str(y, None).unwrap();
        let MetadataValue::Plain(v) = &r.components[0].metadata[0].value else {
            panic!()
        };
        let (a, b) = v.split_once('/').unwrap();
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
    }

    #[test]
    fn a_missing_folder_loads_nothing() {
        let ctx = LoadContext {
            app_id: "a",
            namespace: None,
            pod_name: None,
            env: &ctx_env,
        };
        let r = load(&[PathBuf::from("/nonexistent/daprd-test")], &ctx).unwrap();
        assert!(r.components.is_empty());
    }

    #[test]
    fn loads_the_example_folder() {
        let ctx = LoadContext {
            app_id: "myapp",
            namespace: None,
            pod_name: None,
            env: &ctx_env,
        };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/resources");
        let r = load(&[dir], &ctx).unwrap();
        let kinds: Vec<&str> = r.components.iter().map(|c| c.kind.as_str()).collect();
        assert!(kinds.contains(&"state.in-memory"), "{kinds:?}");
    }

    #[test]
    fn http_endpoints_parse_and_validate() {
        let yaml = r#"
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: {name: ext}
spec:
  baseUrl: https://api.example.com/v2
  headers:
  - name: X-Plain
    value: one
  - name: X-Env
    envRef: REDIS_PW
  - name: Authorization
    secretKeyRef: {name: tokens, key: api}
  clientTLS:
    rootCA: {value: "PEM"}
    certificate: {secretKeyRef: {name: certs}}
auth: {secretStore: files}
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: {name: other}
spec: {baseUrl: "http://x"}
scopes: [someone-else]
"#;
        let r = load_str(yaml, None).unwrap();
        assert_eq!(r.http_endpoints.len(), 1, "the out-of-scope one is ignored");
        let e = &r.http_endpoints[0];
        assert_eq!(e.name, "ext");
        assert_eq!(e.base_url, "https://api.example.com/v2");
        assert_eq!(e.headers[0].value, MetadataValue::Plain("one".into()));
        assert_eq!(e.headers[1].value, MetadataValue::Plain("hunter2".into()));
        assert_eq!(
            e.headers[2].value,
            MetadataValue::SecretRef {
                name: "tokens".into(),
                key: "api".into()
            }
        );
        assert_eq!(e.root_ca, Some(MetadataValue::Plain("PEM".into())));
        assert_eq!(
            e.certificate,
            Some(MetadataValue::SecretRef {
                name: "certs".into(),
                key: "certs".into()
            })
        );
        assert_eq!(e.private_key, None);
        assert_eq!(e.secret_store.as_deref(), Some("files"));
        assert!(r.others.is_empty());

        for (spec, why) in [
            ("{}", "spec.baseUrl is required"),
            ("{baseUrl: ftp://x}", "must start with http:// or https://"),
            ("{baseUrl: 'http:///x'}", "has no host"),
        ] {
            let doc = format!(
                "apiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata: {{name: bad}}\nspec: {spec}\n"
            );
            let err = load_str(&doc, None).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("\"bad\""), "{err}");
        }
        let dup = "apiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata: {name: d}\nspec: {baseUrl: 'http://a'}\n---\napiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata: {name: d}\nspec: {baseUrl: 'http://b'}\n";
        let err = load_str(dup, None).unwrap_err().to_string();
        assert!(err.contains("duplicate HTTPEndpoint name"), "{err}");
    }
}
