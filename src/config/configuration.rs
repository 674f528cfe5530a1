//! `--config`: Dapr Configuration files (standalone mode).
//!
//! Files are read in flag order and merged (a later file's sections win), with
//! `$VAR` / `${VAR}` expanded from the environment first, as Go daprd does for
//! Configuration files (and only for them). Only the sections daprd acts on
//! are typed; the rest is accepted and ignored.
//!
//! `spec.api.allowed` / `spec.api.denied` ([`ApiRules`]) decide which APIs
//! exist: over HTTP a route that is not allowed is not registered (the
//! request falls through, as any unknown path); over gRPC a Dapr method that
//! is not allowed answers `UNIMPLEMENTED` "requested endpoint is not
//! available". Health endpoints are always allowed.
//!
//! `spec.secrets.scopes` ([`SecretScopes`]) limit which secrets of each
//! secret store the app may read, with Go's rules (see
//! [`SecretScope::allows`]); stores without a scope allow everything.
//!
//! `spec.nameResolution` ([`NameResolution`]) picks the name resolver
//! service invocation uses to find other apps' sidecars.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Deserialize;

/// A Configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration {path}: {reason}")]
pub struct ConfigFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

#[derive(Deserialize, Default)]
struct Doc {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize, Default)]
struct Spec {
    #[serde(default)]
    api: Option<ApiSpec>,
    #[serde(default)]
    secrets: Option<SecretsSpec>,
    #[serde(default, rename = "nameResolution")]
    name_resolution: Option<NameResolution>,
    #[serde(default, rename = "httpPipeline")]
    http_pipeline: Option<PipelineSpec>,
    #[serde(default, rename = "appHttpPipeline")]
    app_http_pipeline: Option<PipelineSpec>,
}

#[derive(Deserialize, Default, Clone)]
struct PipelineSpec {
    #[serde(default)]
    handlers: Vec<HandlerSpec>,
}

/// One `handlers` entry of `spec.httpPipeline` / `spec.appHttpPipeline`:
/// the middleware component it names (Go's `HandlerSpec`; its `selector`
/// is not used by Go daprd and is ignored).
#[derive(Deserialize, Default, Clone, Debug, PartialEq, Eq)]
pub struct HandlerSpec {
    /// The component's `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// Its type, `middleware.http.<x>`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Its version (empty: `v1`).
    #[serde(default)]
    pub version: String,
}

/// `spec.nameResolution`: `{component, version, configuration}` (Go's
/// `NameResolutionSpec`); the configuration is free-form, read by the
/// resolver.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct NameResolution {
    /// `component`: `mdns`, `sqlite`, `kubernetes` (empty: the mode's default).
    #[serde(default)]
    pub component: String,
    /// `version` (empty: `v1`).
    #[serde(default)]
    pub version: String,
    /// `configuration`, as written.
    #[serde(default)]
    pub configuration: serde_yaml::Value,
}

#[derive(Deserialize, Default, Clone)]
struct SecretsSpec {
    #[serde(default)]
    scopes: Option<Vec<ScopeSpec>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct ScopeSpec {
    #[serde(default)]
    store_name: String,
    #[serde(default)]
    default_access: String,
    #[serde(default)]
    allowed_secrets: Vec<String>,
    #[serde(default)]
    denied_secrets: Vec<String>,
}

#[derive(Deserialize, Default, Clone)]
struct ApiSpec {
    #[serde(default)]
    allowed: Vec<Rule>,
    #[serde(default)]
    denied: Vec<Rule>,
}

#[derive(Deserialize, Clone)]
struct Rule {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    protocol: String,
}

/// The API allow/deny lists, per protocol.
#[derive(Clone, Debug, Default)]
pub struct ApiRules {
    http_allowed: HashSet<String>,
    http_denied: HashSet<String>,
    grpc_allowed: HashSet<String>,
    grpc_denied: HashSet<String>,
}

impl ApiRules {
    fn from_spec(api: &ApiSpec) -> Self {
        let mut r = ApiRules::default();
        let add = |rules: &[Rule], http: &mut HashSet<String>, grpc: &mut HashSet<String>| {
            for rule in rules {
                let key = format!("{}/{}", rule.version, rule.name);
                match rule.protocol.to_ascii_lowercase().as_str() {
                    // An unset protocol means HTTP (the Configuration's default).
                    "" | "http" => http.insert(key),
                    "grpc" => grpc.insert(key),
                    _ => false,
                };
            }
        };
        add(&api.allowed, &mut r.http_allowed, &mut r.grpc_allowed);
        add(&api.denied, &mut r.http_denied, &mut r.grpc_denied);
        r
    }

    /// Whether an HTTP route is served. `version` and `group` are as the
    /// rules name them (`v1`, `state`); a legacy rule (`version: v1.0`)
    /// matches by prefix the route's path `<segment>/<template>`
    /// (`v1.0/state/{storeName}/{key}`). Health endpoints are always served.
    pub fn http_allows(&self, version: &str, group: &str, segment: &str, template: &str) -> bool {
        if group == "healthz" {
            return true;
        }
        let matches = |rules: &HashSet<String>| {
            let key = format!("{version}/{group}");
            let path = format!("{segment}/{template}");
            rules.contains(&key) || rules.iter().any(|k| path.starts_with(k.as_str()))
        };
        if !self.http_denied.is_empty() && matches(&self.http_denied) {
            return false;
        }
        self.http_allowed.is_empty() || matches(&self.http_allowed)
    }

    /// Whether a `Dapr` gRPC method of API `version` (`v1alpha1`, …) and
    /// `group` is served; a method without a group is served only when no
    /// gRPC allow list is configured.
    pub fn grpc_allows(&self, version: &str, group: Option<&str>) -> bool {
        let Some(group) = group else {
            return self.grpc_allowed.is_empty();
        };
        if self.grpc_allowed.is_empty() && self.grpc_denied.is_empty() {
            return true;
        }
        let key = format!("{version}/{group}");
        if self.grpc_denied.contains(&key) {
            return false;
        }
        self.grpc_allowed.is_empty() || self.grpc_allowed.contains(&key)
    }

    /// The rules of a Configuration document (tests of their users).
    #[cfg(test)]
    pub(crate) fn from_yaml(yaml: &str) -> Self {
        let doc: Doc = serde_yaml::from_str(yaml).unwrap();
        ApiRules::from_spec(&doc.spec.api.unwrap_or_default())
    }

    /// True when no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.http_allowed.is_empty()
            && self.http_denied.is_empty()
            && self.grpc_allowed.is_empty()
            && self.grpc_denied.is_empty()
    }
}

/// One `spec.secrets.scopes` entry: which secrets of one store the app may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretScope {
    /// `defaultAccess: deny` (any case); anything else allows.
    deny_by_default: bool,
    /// `allowedSecrets`, sorted.
    allowed: Vec<String>,
    /// `deniedSecrets`, sorted.
    denied: Vec<String>,
}

impl SecretScope {
    /// Go's `IsSecretAllowed`: a non-empty allow list decides alone (the
    /// default access and the deny list are then ignored); otherwise a
    /// denied secret is refused, and the rest follow `defaultAccess`.
    pub fn allows(&self, key: &str) -> bool {
        if !self.allowed.is_empty() {
            return self
                .allowed
                .binary_search_by(|s| s.as_str().cmp(key))
                .is_ok();
        }
        if self
            .denied
            .binary_search_by(|s| s.as_str().cmp(key))
            .is_ok()
        {
            return false;
        }
        !self.deny_by_default
    }
}

/// `spec.secrets.scopes`, by store name.
#[derive(Clone, Debug, Default)]
pub struct SecretScopes(HashMap<String, SecretScope>);

impl SecretScopes {
    fn from_spec(scopes: &[ScopeSpec]) -> Result<Self, String> {
        let mut out = HashMap::with_capacity(scopes.len());
        for scope in scopes {
            // Go's messages (`sortAndValidateSecretsConfiguration`).
            if out.contains_key(&scope.store_name) {
                return Err(format!(
                    "{} storeName is repeated in secrets configuration",
                    scope.store_name
                ));
            }
            let access = &scope.default_access;
            if !access.is_empty()
                && !access.eq_ignore_ascii_case("allow")
                && !access.eq_ignore_ascii_case("deny")
            {
                return Err(format!(
                    "defaultAccess {access} can be either allow or deny"
                ));
            }
            let sorted = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v
            };
            out.insert(
                scope.store_name.clone(),
                SecretScope {
                    deny_by_default: access.eq_ignore_ascii_case("deny"),
                    allowed: sorted(&scope.allowed_secrets),
                    denied: sorted(&scope.denied_secrets),
                },
            );
        }
        Ok(SecretScopes(out))
    }

    /// Whether the app may read secret `key` of `store` (stores without a
    /// scope allow every secret).
    pub fn allows(&self, store: &str, key: &str) -> bool {
        self.0.get(store).is_none_or(|s| s.allows(key))
    }

    /// The stores that have a scope.
    pub fn stores(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// True when no scope is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What daprd uses from the Configuration files.
#[derive(Clone, Debug, Default)]
pub struct Configuration {
    /// `spec.api`.
    pub api: ApiRules,
    /// `spec.secrets.scopes`.
    pub secret_scopes: SecretScopes,
    /// `spec.nameResolution`.
    pub name_resolution: Option<NameResolution>,
    /// `spec.httpPipeline.handlers`: middleware for calls to the HTTP API.
    pub http_pipeline: Vec<HandlerSpec>,
    /// `spec.appHttpPipeline.handlers`: middleware for calls to the app.
    pub app_http_pipeline: Vec<HandlerSpec>,
}

/// Loads and merges `paths` (later files win per section).
pub fn load(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Configuration, ConfigFileError> {
    let mut api: Option<ApiSpec> = None;
    let mut scopes: Vec<ScopeSpec> = Vec::new();
    let mut name_resolution = None;
    let mut http_pipeline = Vec::new();
    let mut app_http_pipeline = Vec::new();
    for path in paths {
        let err = |reason: String| ConfigFileError {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let doc: Doc =
            serde_yaml::from_str(&expand_env(&text, env)).map_err(|e| err(e.to_string()))?;
        if !doc.kind.is_empty() && doc.kind != "Configuration" {
            return Err(err(format!(
                "kind is {:?}, expected Configuration",
                doc.kind
            )));
        }
        if let Some(a) = doc.spec.api {
            api = Some(a);
        }
        if let Some(s) = doc.spec.secrets.and_then(|s| s.scopes) {
            scopes = s;
        }
        if let Some(nr) = doc.spec.name_resolution {
            name_resolution = Some(nr);
        }
        if let Some(p) = doc.spec.http_pipeline {
            http_pipeline = p.handlers;
        }
        if let Some(p) = doc.spec.app_http_pipeline {
            app_http_pipeline = p.handlers;
        }
    }
    // Go validates the merged result once; the last file is the one to blame.
    let secret_scopes = SecretScopes::from_spec(&scopes).map_err(|reason| ConfigFileError {
        path: paths.last().cloned().unwrap_or_default(),
        reason,
    })?;
    Ok(Configuration {
        api: api.as_ref().map(ApiRules::from_spec).unwrap_or_default(),
        secret_scopes,
        name_resolution,
        http_pipeline,
        app_http_pipeline,
    })
}

/// `$VAR` and `${VAR}` from `env` (unset → empty), as Go's `os.ExpandEnv`.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if consumed == 0 || name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&env(name).unwrap_or_default());
            rest = &after[consumed..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(yaml: &str) -> Result<SecretScopes, String> {
        let doc: Doc = serde_yaml::from_str(yaml).unwrap();
        SecretScopes::from_spec(
            &doc.spec
                .secrets
                .unwrap_or_default()
                .scopes
                .unwrap_or_default(),
        )
    }

    #[test]
    fn secret_scopes_follow_go_rules() {
        let s = scopes(
            "spec:\n  secrets:\n    scopes:\n    - {storeName: a, defaultAccess: deny, allowedSecrets: [x, b]}\n    - {storeName: b, defaultAccess: Allow, deniedSecrets: [x]}\n    - {storeName: c, defaultAccess: DENY, deniedSecrets: [x]}\n    - {storeName: d, defaultAccess: allow, allowedSecrets: [y], deniedSecrets: [y]}\n",
        )
        .unwrap();
        // The allow list decides alone.
        assert!(s.allows("a", "x") && s.allows("a", "b") && !s.allows("a", "z"));
        assert!(s.allows("d", "y") && !s.allows("d", "z"));
        // Deny list, then the default.
        assert!(!s.allows("b", "x") && s.allows("b", "z"));
        assert!(!s.allows("c", "x") && !s.allows("c", "z"));
        // No scope: everything.
        assert!(s.allows("other", "anything"));
    }

    #[test]
    fn secret_scope_errors_are_gos() {
        let e =
            scopes("spec:\n  secrets:\n    scopes:\n    - {storeName: a}\n    - {storeName: a}\n")
                .unwrap_err();
        assert_eq!(e, "a storeName is repeated in secrets configuration");
        let e =
            scopes("spec:\n  secrets:\n    scopes:\n    - {storeName: a, defaultAccess: maybe}\n")
                .unwrap_err();
        assert_eq!(e, "defaultAccess maybe can be either allow or deny");
    }

    #[test]
    fn name_resolution_section() {
        let dir = std::env::temp_dir().join(format!("daprd-nr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        std::fs::write(
            &a,
            "kind: Configuration\nspec:\n  nameResolution:\n    component: mdns\n",
        )
        .unwrap();
        std::fs::write(&b, "kind: Configuration\nspec:\n  nameResolution:\n    component: sqlite\n    version: v1\n    configuration:\n      connectionString: $DB\n      updateInterval: 3s\n").unwrap();
        let env = |k: &str| (k == "DB").then(|| "/tmp/nr.db".to_string());
        let c = load(&[a.clone(), b.clone()], &env).unwrap();
        let nr = c.name_resolution.unwrap();
        assert_eq!(
            (nr.component.as_str(), nr.version.as_str()),
            ("sqlite", "v1")
        );
        assert_eq!(
            nr.configuration["connectionString"].as_str(),
            Some("/tmp/nr.db")
        );
        assert!(load(&[], &env).unwrap().name_resolution.is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "NS").then(|| "prod".to_string());
        assert_eq!(
            expand_env("a: $NS/${NS}/${MISSING}/$/x", &env),
            "a: prod/prod//$/x"
        );
        assert_eq!(expand_env("cost: 5$", &env), "cost: 5$");
    }
}
