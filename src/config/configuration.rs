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

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;

use crate::api::routes::{ApiVersion, Route};

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

    /// Whether an HTTP route is served.
    pub fn http_allows(&self, route: &Route) -> bool {
        if route.group == crate::api::routes::Group::Healthz {
            return true;
        }
        let matches = |rules: &HashSet<String>| {
            let key = format!("{}/{}", route.version.config_name(), route.group.name());
            let path = format!("{}/{}", route.version.segment(), route.template);
            rules.contains(&key) || rules.iter().any(|k| path.starts_with(k.as_str()))
        };
        if !self.http_denied.is_empty() && matches(&self.http_denied) {
            return false;
        }
        self.http_allowed.is_empty() || matches(&self.http_allowed)
    }

    /// Whether a `Dapr` gRPC method (by name, with its HTTP group) is served.
    pub fn grpc_allows(&self, method: &str, group: Option<&'static str>) -> bool {
        let Some(group) = group else {
            return self.grpc_allowed.is_empty();
        };
        let version = if method.ends_with("Alpha1") {
            ApiVersion::V1Alpha1
        } else if method.ends_with("Alpha2") {
            ApiVersion::V1Alpha2
        } else if method.ends_with("Beta1") {
            ApiVersion::V1Beta1
        } else {
            ApiVersion::V1
        };
        let key = format!("{}/{group}", version.config_name());
        if self.grpc_denied.contains(&key) {
            return false;
        }
        self.grpc_allowed.is_empty() || self.grpc_allowed.contains(&key)
    }

    /// True when no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.http_allowed.is_empty()
            && self.http_denied.is_empty()
            && self.grpc_allowed.is_empty()
            && self.grpc_denied.is_empty()
    }
}

/// What daprd uses from the Configuration files.
#[derive(Clone, Debug, Default)]
pub struct Configuration {
    /// `spec.api`.
    pub api: ApiRules,
}

/// Loads and merges `paths` (later files win per section).
pub fn load(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Configuration, ConfigFileError> {
    let mut api: Option<ApiSpec> = None;
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
    }
    Ok(Configuration {
        api: api.as_ref().map(ApiRules::from_spec).unwrap_or_default(),
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
    use crate::api::routes::{Op, ROUTES};

    fn route(op: Op) -> &'static Route {
        ROUTES.iter().find(|r| r.op == op).unwrap()
    }

    fn rules(yaml: &str) -> ApiRules {
        let doc: Doc = serde_yaml::from_str(yaml).unwrap();
        ApiRules::from_spec(&doc.spec.api.unwrap_or_default())
    }

    #[test]
    fn allow_list_keeps_only_listed_groups_and_health() {
        let r = rules("kind: Configuration\nspec:\n  api:\n    allowed:\n    - {name: state, version: v1, protocol: http}\n");
        assert!(r.http_allows(route(Op::GetState)));
        assert!(!r.http_allows(route(Op::GetMetadata)));
        assert!(r.http_allows(route(Op::Healthz)));
        // Legacy form: version v1.0 matches the path prefix.
        let r = rules("spec:\n  api:\n    allowed:\n    - {name: metadata, version: v1.0}\n");
        assert!(r.http_allows(route(Op::GetMetadata)));
        assert!(!r.http_allows(route(Op::GetState)));
    }

    #[test]
    fn deny_list_and_grpc() {
        let r = rules("spec:\n  api:\n    denied:\n    - {name: state, version: v1, protocol: grpc}\n    - {name: metadata, version: v1, protocol: http}\n");
        assert!(!r.http_allows(route(Op::GetMetadata)));
        assert!(r.http_allows(route(Op::GetState)));
        assert!(!r.grpc_allows("GetState", Some("state")));
        assert!(r.grpc_allows("GetMetadata", Some("metadata")));
        assert!(r.grpc_allows("TryLockAlpha1", Some("lock")));
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
