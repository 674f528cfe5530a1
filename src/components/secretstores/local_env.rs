//! `secretstores.local.env`: the process environment as a secret store.
//!
//! As components-contrib's store:
//! - `prefix` metadata (optional, case-sensitive on Linux) is prepended to
//!   the name on a read, and a bulk read lists only variables that start
//!   with it (and are longer than it), with the prefix stripped from the
//!   secret names.
//! - `APP_API_TOKEN` and every `DAPR_*` variable (compared upper-cased) are
//!   never exposed: a read answers an empty value, a bulk read skips them.
//! - A read of a variable that is not set is not an error: it answers
//!   `{name: ""}`.
//! - Each secret holds one value, named like the secret.
//!
//! The environment is captured once, when the component is built (daprd
//! never changes its own environment, so this answers what Go's live
//! `os.Getenv` does); the snapshot, without the forbidden variables, is
//! shared read-only by every worker.

use std::collections::HashMap;
use std::sync::Arc;

use super::{
    BulkGetSecretRequest, BulkSecrets, Features, GetSecretRequest, SecretLookup, SecretMap,
    SecretStore,
};
use crate::components::{ComponentError, Metadata};

#[derive(Debug, Default)]
struct EnvSecrets {
    prefix: String,
    /// Allowed variables only.
    vars: HashMap<String, String>,
}

impl EnvSecrets {
    fn get(&self, name: &str) -> SecretMap {
        let var = format!("{}{name}", self.prefix);
        let value = if is_allowed(&var) {
            self.vars.get(&var).cloned().unwrap_or_default()
        } else {
            tracing::warn!("Access to env var {name} is forbidden");
            String::new()
        };
        HashMap::from([(name.to_owned(), value)])
    }

    fn bulk(&self) -> BulkSecrets {
        let p = &self.prefix;
        self.vars
            .iter()
            .filter(|(k, _)| p.is_empty() || (k.len() > p.len() && k.starts_with(p.as_str())))
            .map(|(k, v)| {
                let name = &k[p.len()..];
                (
                    name.to_owned(),
                    HashMap::from([(name.to_owned(), v.clone())]),
                )
            })
            .collect()
    }
}

/// Whether a variable may be read (contrib's `isKeyAllowed`).
fn is_allowed(var: &str) -> bool {
    let upper = var.to_uppercase();
    upper != "APP_API_TOKEN" && !upper.starts_with("DAPR_")
}

/// Factory: captures the environment.
pub struct LocalEnvFactory {
    data: Arc<EnvSecrets>,
}

impl LocalEnvFactory {
    /// Reads `prefix` and captures the current process environment.
    pub fn new(md: &Metadata) -> Self {
        let vars = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        Self::with_vars(md, vars)
    }

    /// As [`LocalEnvFactory::new`], over the given variables.
    pub fn with_vars(md: &Metadata, vars: HashMap<String, String>) -> Self {
        let vars = vars.into_iter().filter(|(k, _)| is_allowed(k)).collect();
        Self {
            data: Arc::new(EnvSecrets {
                prefix: md.get("prefix").unwrap_or_default().to_owned(),
                vars,
            }),
        }
    }

    /// This worker's instance.
    pub fn build(&self) -> LocalEnvStore {
        LocalEnvStore {
            data: self.data.clone(),
        }
    }
}

impl SecretLookup for LocalEnvFactory {
    fn lookup(&self, req: &GetSecretRequest) -> Result<SecretMap, ComponentError> {
        Ok(self.data.get(&req.name))
    }
}

/// A worker's handle on the captured environment.
pub struct LocalEnvStore {
    data: Arc<EnvSecrets>,
}

impl SecretStore for LocalEnvStore {
    fn features(&self) -> Features {
        Features::NONE
    }

    async fn get(&self, req: GetSecretRequest) -> Result<SecretMap, ComponentError> {
        Ok(self.data.get(&req.name))
    }

    async fn bulk_get(&self, _req: BulkGetSecretRequest) -> Result<BulkSecrets, ComponentError> {
        Ok(self.data.bulk())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory(prefix: Option<&str>) -> LocalEnvFactory {
        let md = Metadata(
            prefix
                .map(|p| HashMap::from([("prefix".to_string(), p.to_string())]))
                .unwrap_or_default(),
        );
        let vars = [
            ("APP_HOST", "h"),
            ("APP_", "empty-name"),
            ("OTHER", "o"),
            ("DAPR_API_TOKEN", "secret"),
            ("dapr_lower", "secret"),
            ("APP_API_TOKEN", "secret"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        LocalEnvFactory::with_vars(&md, vars)
    }

    fn get(f: &LocalEnvFactory, name: &str) -> SecretMap {
        f.lookup(&GetSecretRequest {
            name: name.into(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn reads_and_hides_dapr_variables() {
        let f = factory(None);
        assert_eq!(get(&f, "OTHER")["OTHER"], "o");
        assert_eq!(get(&f, "MISSING")["MISSING"], "");
        assert_eq!(get(&f, "DAPR_API_TOKEN")["DAPR_API_TOKEN"], "");
        assert_eq!(get(&f, "APP_API_TOKEN")["APP_API_TOKEN"], "");
        let bulk = f.data.bulk();
        assert!(bulk.contains_key("OTHER") && bulk.contains_key("APP_HOST"));
        assert!(!bulk.keys().any(|k| k.to_uppercase().starts_with("DAPR_")));
        assert!(!bulk.contains_key("APP_API_TOKEN"));
        assert_eq!(bulk["OTHER"], HashMap::from([("OTHER".into(), "o".into())]));
    }

    #[test]
    fn prefix_is_prepended_and_stripped() {
        let f = factory(Some("APP_"));
        assert_eq!(
            get(&f, "HOST"),
            HashMap::from([("HOST".into(), "h".into())])
        );
        // APP_ + API_TOKEN is still forbidden.
        assert_eq!(get(&f, "API_TOKEN")["API_TOKEN"], "");
        let bulk = f.data.bulk();
        // Only longer-than-prefix matches, and never the forbidden token.
        assert_eq!(bulk.keys().collect::<Vec<_>>(), vec!["HOST"]);
    }
}
