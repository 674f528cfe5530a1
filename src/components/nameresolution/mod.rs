//! Name resolution: finding another app's sidecar (its internal gRPC
//! address) from its app ID, as Go daprd's `nameresolution` components do.
//!
//! The resolver is chosen by the Configuration's `spec.nameResolution`
//! (`component`, `version`, `configuration`), else by the mode: `mdns` in
//! standalone mode, `kubernetes` in Kubernetes mode (Go:
//! `pkg/runtime/runtime.go` `initNameResolution`). It is built once at
//! start-up, shared by every worker, and told this sidecar's own
//! [`Instance`] so that it can register it.
//!
//! - [`sqlite`], a SQLite file several sidecars on one host share, with
//!   components-contrib's table layout and heartbeat;
//! - [`kubernetes`], `<app-id>-dapr.<namespace>.svc.<clusterDomain>:<port>`;
//! - [`mdns`], multicast DNS service discovery with Go's DNS-SD names
//!   (`<app-id>.local.`), so our sidecars and Go's find each other on a LAN.

pub mod kubernetes;
pub mod mdns;
pub mod sqlite;

use std::sync::Arc;

use super::Metadata;
use crate::config::configuration::NameResolution;
use crate::config::options::Mode;

/// This sidecar, as the resolver registers it (Go: `nr.Instance`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    /// `--app-id`.
    pub app_id: String,
    /// The namespace (`NAMESPACE`, default `default`).
    pub namespace: String,
    /// The host address peers reach this sidecar at.
    pub address: String,
    /// The internal gRPC port.
    pub internal_port: u16,
    /// `--dapr-http-port`.
    pub http_port: u16,
    /// `--app-port` (0: none).
    pub app_port: u16,
}

impl Instance {
    /// The checks contrib's registering resolvers (mDNS, SQLite) make in
    /// `Init`: a name, an address and a port.
    pub fn check(&self) -> Result<(), String> {
        if self.app_id.is_empty() {
            return Err("name is missing".into());
        }
        if self.address.is_empty() {
            return Err("address is missing".into());
        }
        if self.internal_port == 0 {
            return Err("port is missing or invalid".into());
        }
        Ok(())
    }
}

/// What to resolve (Go: `nr.ResolveRequest`).
#[derive(Clone, Copy, Debug)]
pub struct ResolveRequest<'a> {
    /// The app ID.
    pub id: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// The caller's own internal gRPC port (Kubernetes assumes peers use the same).
    pub port: u16,
}

/// Why an app ID could not be resolved. Displays as the Go resolver's
/// message, which callers wrap into `ERR_DIRECT_INVOKE`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No sidecar is registered for the ID.
    #[error("{0}")]
    NotFound(String),
    /// The resolver itself failed.
    #[error("{0}")]
    Failed(String),
}

/// A name resolver that failed to start (Go's `rterrors.InitError` text).
#[derive(Debug, thiserror::Error)]
#[error("[{kind}]: initialization error occurred for nr ({name}/{version}): {reason}")]
pub struct InitError {
    /// `CREATE_COMPONENT_FAILURE` or `INIT_COMPONENT_FAILURE`.
    pub kind: &'static str,
    /// The component name as configured.
    pub name: String,
    /// The version (`v1` when empty).
    pub version: String,
    /// What is wrong.
    pub reason: String,
}

/// The configured resolver, shared by every worker.
#[derive(Debug)]
pub enum Resolver {
    /// `mdns`.
    Mdns(mdns::Mdns),
    /// `sqlite`.
    Sqlite(Arc<sqlite::Sqlite>),
    /// `kubernetes`.
    Kubernetes(kubernetes::Kubernetes),
}

impl Resolver {
    /// Builds and initialises the resolver `spec` names (or the mode's
    /// default) for `instance`; a SQLite resolver registers it at once.
    pub fn init(
        spec: Option<&NameResolution>,
        mode: Mode,
        instance: Instance,
    ) -> Result<Resolver, InitError> {
        let mut name = spec.map(|s| s.component.trim()).unwrap_or("").to_owned();
        if name.is_empty() {
            name = match mode {
                Mode::Kubernetes => "kubernetes",
                Mode::Standalone => "mdns",
            }
            .to_owned();
        }
        let version = match spec.map(|s| s.version.trim()).unwrap_or("") {
            "" => "v1".to_owned(),
            v => v.to_owned(),
        };
        let err = |kind: &'static str, reason: String| InitError {
            kind,
            name: name.clone(),
            version: version.clone(),
            reason,
        };
        // Go: registry names are `nameresolution.<name>`, case-insensitive;
        // an initial version (`v0`, `v1`, empty) matches unversioned ones.
        let lower = name.to_ascii_lowercase();
        let short = lower.strip_prefix("nameresolution.").unwrap_or(&lower);
        let initial = matches!(version.to_ascii_lowercase().as_str(), "v0" | "v1");
        let config = match spec {
            Some(s) => {
                config_metadata(&s.configuration).map_err(|r| err("INIT_COMPONENT_FAILURE", r))?
            }
            None => Metadata::default(),
        };
        let resolver = match (short, initial) {
            ("mdns", true) => Resolver::Mdns(
                mdns::Mdns::new(instance).map_err(|r| err("INIT_COMPONENT_FAILURE", r))?,
            ),
            ("sqlite", true) => Resolver::Sqlite(
                sqlite::Sqlite::init(&config, instance)
                    .map_err(|r| err("INIT_COMPONENT_FAILURE", r))?,
            ),
            ("kubernetes", true) => Resolver::Kubernetes(
                kubernetes::Kubernetes::new(&config)
                    .map_err(|r| err("INIT_COMPONENT_FAILURE", r))?,
            ),
            _ => {
                return Err(err(
                    "CREATE_COMPONENT_FAILURE",
                    format!("couldn't find name resolver {name}/{version}"),
                ))
            }
        };
        tracing::info!("Initialized name resolution to {name}");
        Ok(resolver)
    }

    /// The component name (`mdns`, `sqlite`, `kubernetes`).
    pub fn name(&self) -> &'static str {
        match self {
            Resolver::Mdns(_) => "mdns",
            Resolver::Sqlite(_) => "sqlite",
            Resolver::Kubernetes(_) => "kubernetes",
        }
    }

    /// The address (`host:port`) of a sidecar of `req.id`. Never blocks the
    /// worker: SQLite queries run on the blocking pool, mDNS browses on its
    /// own thread.
    pub async fn resolve(&self, req: &ResolveRequest<'_>) -> Result<String, ResolveError> {
        match self {
            Resolver::Mdns(m) => m.resolve(req).await,
            Resolver::Sqlite(s) => sqlite::Sqlite::resolve(s, req.id).await,
            Resolver::Kubernetes(k) => k.resolve(req),
        }
    }

    /// Deregisters this sidecar (SQLite row, mDNS goodbye) and stops
    /// background work.
    pub fn close(&self) {
        match self {
            Resolver::Sqlite(s) => s.close(),
            Resolver::Mdns(m) => m.close(),
            Resolver::Kubernetes(_) => {}
        }
    }
}

/// The free-form `configuration` as flat metadata: scalars as text (Go's
/// weakly typed decoding); nested values are kept as YAML text.
fn config_metadata(v: &serde_yaml::Value) -> Result<Metadata, String> {
    use serde_yaml::Value;
    let mut out = Metadata::default();
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, v) in m {
                let Some(k) = scalar(k) else {
                    return Err(format!("invalid configuration key {k:?}"));
                };
                let v = match scalar(v) {
                    Some(s) => s,
                    None => serde_yaml::to_string(v).unwrap_or_default(),
                };
                out.0.insert(k, v);
            }
        }
        other => {
            return Err(format!(
                "configuration must be a map, not {}",
                serde_yaml::to_string(other).unwrap_or_default().trim()
            ))
        }
    }
    Ok(out)
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    use serde_yaml::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A Go duration (`5s`, `1h`) or a bare number of seconds (Dapr's
/// `…InSeconds` aliases); `default` when unset.
pub(crate) fn seconds_or_duration(
    md: &Metadata,
    keys: &[&str],
    default: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let Some((key, v)) = keys
        .iter()
        .find_map(|k| md.get(k).map(|v| (*k, v.trim())))
        .filter(|(_, v)| !v.is_empty())
    else {
        return Ok(default);
    };
    if let Ok(secs) = v.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    crate::config::options::parse_go_duration(v).map_err(|e| format!("invalid {key} {v:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> NameResolution {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn me() -> Instance {
        Instance {
            app_id: "me".into(),
            namespace: "default".into(),
            address: "127.0.0.1".into(),
            internal_port: 50002,
            http_port: 3500,
            app_port: 0,
        }
    }

    #[test]
    fn defaults_by_mode_and_unknown_names() {
        let r = Resolver::init(None, Mode::Standalone, me()).unwrap();
        assert_eq!(r.name(), "mdns");
        let r = Resolver::init(None, Mode::Kubernetes, me()).unwrap();
        assert_eq!(r.name(), "kubernetes");
        let r = Resolver::init(Some(&spec("component: MDNS")), Mode::Kubernetes, me()).unwrap();
        assert_eq!(r.name(), "mdns");
        let e = Resolver::init(Some(&spec("component: consul")), Mode::Standalone, me())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "[CREATE_COMPONENT_FAILURE]: initialization error occurred for nr (consul/v1): couldn't find name resolver consul/v1"
        );
        let e = Resolver::init(
            Some(&spec("component: mdns\nversion: v2")),
            Mode::Standalone,
            me(),
        )
        .unwrap_err();
        assert_eq!(e.kind, "CREATE_COMPONENT_FAILURE");
        let e = Resolver::init(Some(&spec("component: sqlite")), Mode::Standalone, me())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "[INIT_COMPONENT_FAILURE]: initialization error occurred for nr (sqlite/v1): missing connection string"
        );
    }

    #[test]
    fn configuration_scalars_become_metadata() {
        let md =
            config_metadata(&serde_yaml::from_str("a: 1\nb: true\nc: x\nd: [1, 2]\n").unwrap())
                .unwrap();
        assert_eq!(md.get("A"), Some("1"));
        assert_eq!(md.get("b"), Some("true"));
        assert_eq!(md.get("c"), Some("x"));
        assert!(md.get("d").is_some());
        assert!(config_metadata(&serde_yaml::from_str("[1]").unwrap()).is_err());
        let d = |v: &str| {
            let mut md = Metadata::default();
            md.0.insert("x".into(), v.into());
            seconds_or_duration(&md, &["x"], std::time::Duration::ZERO)
        };
        assert_eq!(d("5").unwrap(), std::time::Duration::from_secs(5));
        assert_eq!(d("1m").unwrap(), std::time::Duration::from_secs(60));
        assert!(d("soon").is_err());
    }
}
