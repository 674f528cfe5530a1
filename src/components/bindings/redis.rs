//! `bindings.redis` (output): plain keys in Redis (contrib's `bindings/redis`),
//! on the worker's pipelined connection (`components::redis::client`).
//!
//! Every operation needs request metadata `key` (else `redis binding: missing
//! key in request metadata`):
//!
//! | operation | command | answer |
//! |---|---|---|
//! | `create` | `SET key data`, then `EXPIRE key <ttl>` when `ttl`/`ttlInSeconds` is set | nothing (204) |
//! | `get` | `GET key`, or `GETDEL key` with metadata `delete=true` | the value; an empty 200 for a missing key, as Go |
//! | `delete` | `DEL key` | nothing (204) |
//! | `increment` | `INCR key` (+ `EXPIRE`) | nothing (204) |
//!
//! The TTL is read as contrib's `TryGetTTL` reads it: a Go duration
//! (`90s`; negative means 0, which expires the key at once), else a whole
//! number of seconds greater than zero. Redis error replies are returned as
//! their text (`WRONGTYPE Operation against a key …`).
//!
//! With `redisType: cluster` each command goes to the node owning `key`.

use std::sync::Arc;

use bytes::Bytes;

use super::{failure, InvokeRequest, InvokeResponse, InvokeResult, OutputBinding};
use crate::components::redis::cluster::Redis;
use crate::components::redis::{command, error_text, ping, Frame, Settings};
use crate::components::{ComponentError, Metadata};
use crate::config::options::{parse_go_duration, DurationError};

/// Built on the main thread: settings parsed, Redis reached.
pub struct RedisBindingFactory {
    settings: Arc<Settings>,
}

impl RedisBindingFactory {
    /// Parses the Redis block and pings Redis (Go's `Init`).
    pub fn new(md: &Metadata) -> Result<Self, String> {
        let settings = Settings::parse(md)?;
        ping(&settings, &[]).map_err(|e| e.go_message("redis binding", &settings.host))?;
        Ok(Self {
            settings: Arc::new(settings),
        })
    }

    /// This worker's instance (dials on first use).
    pub fn build(&self) -> RedisBinding {
        RedisBinding {
            redis: Redis::new(self.settings.clone()),
        }
    }
}

/// A worker's Redis binding.
pub struct RedisBinding {
    redis: Redis,
}

const OPERATIONS: &[&str] = &["create", "delete", "get", "increment"];

impl RedisBinding {
    /// One command about `key`; error replies and connection failures
    /// become errors.
    async fn run(&self, key: &[u8], cmd: &[&[u8]]) -> Result<Frame, ComponentError> {
        let frame = self
            .redis
            .call_keyed(key, command(cmd))
            .await
            .map_err(|e| failure(e.message))?;
        match error_text(&frame) {
            Some(e) => Err(failure(e.to_owned())),
            None => Ok(frame),
        }
    }

    async fn expire_if_requested(&self, req: &InvokeRequest, key: &str) -> InvokeResult {
        if let Some(secs) = ttl_seconds(&req.metadata).map_err(failure)? {
            let k = key.as_bytes();
            self.run(k, &[b"EXPIRE", k, secs.to_string().as_bytes()])
                .await?;
        }
        Ok(None)
    }
}

impl OutputBinding for RedisBinding {
    fn operations(&self) -> &[&'static str] {
        OPERATIONS
    }

    async fn invoke(&self, req: InvokeRequest) -> InvokeResult {
        let Some(key) = req.metadata.get("key").filter(|k| !k.is_empty()).cloned() else {
            return Err(failure("redis binding: missing key in request metadata").into());
        };
        let k = key.as_bytes();
        match req.operation.as_str() {
            "delete" => {
                self.run(k, &[b"DEL", k]).await?;
                Ok(None)
            }
            "get" => {
                let verb: &[u8] = if req.metadata.get("delete").map(String::as_str) == Some("true")
                {
                    b"GETDEL"
                } else {
                    b"GET"
                };
                let data = match self.run(k, &[verb, k]).await? {
                    Frame::BulkString(b) | Frame::SimpleString(b) => b,
                    _ => Bytes::new(),
                };
                Ok(Some(InvokeResponse {
                    data,
                    metadata: Default::default(),
                }))
            }
            "create" => {
                self.run(k, &[b"SET", k, &req.data]).await?;
                self.expire_if_requested(&req, &key).await
            }
            "increment" => {
                self.run(k, &[b"INCR", k]).await?;
                self.expire_if_requested(&req, &key).await
            }
            other => Err(failure(format!("invalid operation type: {other}")).into()),
        }
    }
}

/// contrib's `metadata.TryGetTTL` (keys `ttl`, then `ttlInSeconds`, any
/// case), as whole seconds for `EXPIRE`.
fn ttl_seconds(md: &std::collections::HashMap<String, String>) -> Result<Option<u64>, String> {
    let find = |name: &str| {
        md.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let val = find("ttl")
        .filter(|v| !v.is_empty())
        .or_else(|| find("ttlInSeconds"))
        .unwrap_or("");
    if val.is_empty() {
        return Ok(None);
    }
    match parse_go_duration(val) {
        Ok(d) => return Ok(Some(d.as_secs())),
        Err(DurationError::Negative) => return Ok(Some(0)),
        Err(_) => {}
    }
    match val.parse::<i64>() {
        Ok(n) if n <= 0 => Err(format!(
            "ttl value must be higher than zero: actual is '{n}'"
        )),
        Ok(n) => Ok(Some(n as u64)),
        Err(_) => Err(format!(
            "ttl value must be a valid integer: actual is '{val}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ttl_like_contrib() {
        assert_eq!(ttl_seconds(&md(&[])).unwrap(), None);
        assert_eq!(
            ttl_seconds(&md(&[("ttlInSeconds", "30")])).unwrap(),
            Some(30)
        );
        assert_eq!(ttl_seconds(&md(&[("TTL", "1m30s")])).unwrap(), Some(90));
        assert_eq!(ttl_seconds(&md(&[("ttl", "-5s")])).unwrap(), Some(0));
        assert_eq!(ttl_seconds(&md(&[("ttl", "0")])).unwrap(), Some(0));
        assert_eq!(
            ttl_seconds(&md(&[("ttlInSeconds", "-1")])).unwrap_err(),
            "ttl value must be higher than zero: actual is '-1'"
        );
        assert_eq!(
            ttl_seconds(&md(&[("ttlInSeconds", "x")])).unwrap_err(),
            "ttl value must be a valid integer: actual is 'x'"
        );
    }
}
