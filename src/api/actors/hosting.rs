//! What the app hosts: `GET /dapr/config` (Go:
//! `pkg/channel/http/http_channel.go` `GetAppConfig`,
//! `pkg/config/app_configuration.go`, `pkg/actors/api/config.go`), asked
//! once the app is reachable. A non-200 answer means no actors (not an
//! error); the types are registered while the app is healthy.

use std::collections::HashMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use super::{Hosting, TypeConfig};
use crate::channel::grpc::GrpcChannel;
use crate::channel::http::HttpChannel;
use crate::channel::{AppCall, AppChannel};
use crate::config::options::parse_go_duration;
use crate::http::client::{ClientRequest, OutBody};

/// Go's `DefaultIdleTimeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Go's `DefaultOngoingCallTimeout`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Go's `DefaultReentrancyStackLimit`.
pub const DEFAULT_MAX_STACK_DEPTH: u32 = 32;

/// The app's answer, as Go's `config.ApplicationConfig` reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppConfig {
    /// Hosted actor types.
    pub entities: Vec<String>,
    /// Go duration.
    pub actor_idle_timeout: String,
    /// Go duration.
    pub drain_ongoing_call_timeout: String,
    /// Whether rebalanced actors drain their ongoing calls.
    pub drain_rebalanced_actors: bool,
    /// Reentrancy for every type.
    pub reentrancy: Reentrancy,
    /// Per-type overrides.
    pub entities_config: Vec<EntityConfig>,
}

/// `reentrancy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reentrancy {
    /// On or off.
    pub enabled: bool,
    /// Deepest reentrant chain (default 32).
    pub max_stack_depth: Option<i64>,
}

/// One `entitiesConfig` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntityConfig {
    /// The types it applies to.
    pub entities: Vec<String>,
    /// Go duration (default 60m, not the global value, as Go).
    pub actor_idle_timeout: String,
    /// Go duration.
    pub drain_ongoing_call_timeout: String,
    /// Reentrancy for these types.
    pub reentrancy: Reentrancy,
}

/// Go's `ClampDrainOngoingCallTimeout`: a drain at or above the
/// dissemination timeout is cut to 80 % of it (at least 2 s).
fn clamp_drain(drain: Duration, disseminate: Duration) -> Duration {
    if disseminate.is_zero() || drain < disseminate {
        return drain;
    }
    let clamped = disseminate.mul_f64(0.8).max(DEFAULT_DRAIN_TIMEOUT);
    tracing::warn!(
        "drainOngoingCallTimeout ({drain:?}) meets or exceeds the dissemination timeout ({disseminate:?}); clamping to {clamped:?}"
    );
    clamped
}

fn reentrancy(r: &Reentrancy) -> Option<u32> {
    r.enabled.then(|| {
        r.max_stack_depth
            .map_or(DEFAULT_MAX_STACK_DEPTH, |d| u32::try_from(d).unwrap_or(0))
    })
}

impl AppConfig {
    /// The hosting it describes (Go's `RegisterHosted`): an unparsable
    /// global duration is an error, a per-type one falls back to the
    /// default with a warning.
    pub fn hosting(&self, disseminate: Duration) -> Result<Hosting, String> {
        let drain = match self.drain_ongoing_call_timeout.as_str() {
            "" => DEFAULT_DRAIN_TIMEOUT,
            s => clamp_drain(
                parse_go_duration(s).map_err(|e| {
                    format!("failed to parse drain ongoing call timeout: time: invalid duration {s:?}: {e}")
                })?,
                disseminate,
            ),
        };
        let idle = match self.actor_idle_timeout.as_str() {
            "" => DEFAULT_IDLE_TIMEOUT,
            s => parse_go_duration(s).map_err(|e| {
                format!(
                    "failed to parse default actor idle timeout: time: invalid duration {s:?}: {e}"
                )
            })?,
        };
        let mut types = HashMap::new();
        for t in &self.entities {
            types.insert(
                t.clone(),
                TypeConfig {
                    idle_timeout: idle,
                    reentrancy: reentrancy(&self.reentrancy),
                    drain_timeout: drain,
                },
            );
        }
        for ec in &self.entities_config {
            let idle = match ec.actor_idle_timeout.as_str() {
                "" => DEFAULT_IDLE_TIMEOUT,
                s => parse_go_duration(s).unwrap_or_else(|_| {
                    tracing::warn!(
                        "Invalid actor idle timeout value {s}, using default value 1h0m0s"
                    );
                    DEFAULT_IDLE_TIMEOUT
                }),
            };
            let type_drain = match ec.drain_ongoing_call_timeout.as_str() {
                "" => drain,
                s => parse_go_duration(s).map_or_else(
                    |_| {
                        tracing::warn!(
                            "Invalid drain ongoing call timeout value {s}, using default value 2s"
                        );
                        drain
                    },
                    |d| clamp_drain(d, disseminate),
                ),
            };
            for t in &ec.entities {
                match types.get_mut(t) {
                    Some(c) => {
                        *c = TypeConfig {
                            idle_timeout: idle,
                            reentrancy: reentrancy(&ec.reentrancy),
                            drain_timeout: type_drain,
                        }
                    }
                    None => {
                        tracing::warn!("Configuration specified for non-hosted actor type: {t}")
                    }
                }
            }
        }
        Ok(Hosting {
            types,
            drain_rebalanced: self.drain_rebalanced_actors,
        })
    }
}

/// Asks the app for its actor configuration (`None`: no actors).
pub async fn fetch(app: &AppChannel, app_id: &str) -> Option<AppConfig> {
    app.call(Fetch { app_id }).await
}

struct Fetch<'a> {
    app_id: &'a str,
}

impl AppCall for Fetch<'_> {
    type Output = Option<AppConfig>;

    async fn over_http(self, channel: &HttpChannel) -> Option<AppConfig> {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(self.app_id) {
            headers.insert(crate::api::APP_ID_HEADER, v);
        }
        let req = ClientRequest {
            method: Method::GET,
            target: "/dapr/config".into(),
            headers,
            body: OutBody::Full(Default::default()),
        };
        match channel.call(req).await {
            Ok(resp) if resp.status == StatusCode::OK => {
                match serde_json::from_slice::<AppConfig>(&resp.body) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::error!("GET /dapr/config returned invalid JSON: {e}");
                        None
                    }
                }
            }
            Ok(resp) => {
                tracing::debug!(
                    status = resp.status.as_u16(),
                    "GET /dapr/config: no actors hosted"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "GET /dapr/config failed; no actors hosted");
                None
            }
        }
    }

    /// A gRPC app hosts actors through `SubscribeActorEventsAlpha1`, not
    /// through a configuration call (Go ≤ 1.17 gave gRPC apps none): its
    /// registration on that stream ([`super::stream`]) is read by the same
    /// rules.
    async fn over_grpc(self, _channel: &GrpcChannel) -> Option<AppConfig> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_sdk_payload() {
        let raw = r#"{"actorIdleTimeout":"1h0m0s0ms0\u03bcs","actorScanInterval":"0h0m30s0ms0\u03bcs","drainRebalancedActors":true,"entitiesConfig":[{"entities":["DemoActor"],"reentrancy":{"enabled":true}}],"entities":["DemoActor"]}"#;
        let c: AppConfig = serde_json::from_str(raw).unwrap();
        let h = c.hosting(Duration::from_secs(30)).unwrap();
        assert!(h.drain_rebalanced);
        let t = &h.types["DemoActor"];
        // The entity config wins, with its own defaults.
        assert_eq!(t.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(t.reentrancy, Some(32));
        assert_eq!(t.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
    }

    #[test]
    fn global_settings_and_errors() {
        let c: AppConfig = serde_json::from_str(
            r#"{"entities":["A","B"],"actorIdleTimeout":"2s","drainOngoingCallTimeout":"40s","reentrancy":{"enabled":true,"maxStackDepth":3}}"#,
        )
        .unwrap();
        let h = c.hosting(Duration::from_secs(30)).unwrap();
        assert_eq!(h.entities(), ["A", "B"]);
        assert_eq!(h.types["A"].idle_timeout, Duration::from_secs(2));
        assert_eq!(h.types["A"].reentrancy, Some(3));
        // Clamped to 80 % of the dissemination timeout.
        assert_eq!(h.types["B"].drain_timeout, Duration::from_secs(24));
        let bad: AppConfig =
            serde_json::from_str(r#"{"entities":["A"],"actorIdleTimeout":"soon"}"#).unwrap();
        assert!(bad.hosting(Duration::from_secs(30)).is_err());
    }
}
