//! `lock.redis`: contrib's standalone Redis lock, in Go's key layout and
//! commands, so Go and Rust sidecars contend for the same locks.
//!
//! - try-lock: `SET <key> <owner> NX EX <expiryInSeconds>` (what go-redis
//!   sends for a whole-second `SetNX`): `OK` → acquired, nil → held by
//!   someone;
//! - unlock: one Lua script, atomic on the server: `-1` when the key is
//!   missing (lock does not exist), `-2` when another owner holds it,
//!   otherwise the key is deleted (success).
//!
//! Start-up, as contrib's init: the Redis block is parsed (`redisType:
//! cluster` refused with contrib's message), Redis must answer `PING`, and a server with connected
//! replicas is refused ("replication is not supported": a lock could be
//! lost in a fail-over). The script is loaded then and run by SHA (sent
//! again if Redis lost it). Each worker uses its pipelined connection; an
//! unreachable Redis fails the call with the client's message.

use std::sync::Arc;

use super::{LockStore, TryLockRequest, UnlockRequest, UnlockStatus};
use crate::components::redis::client::Client;
use crate::components::redis::{
    as_bytes, command, error_text, ping, script_sha, Frame, PingError, Settings,
};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};

/// contrib's unlock script, same effect: KEYS[1] key, ARGV[1] owner.
const UNLOCK_SCRIPT: &str = r#"local v = redis.call("get",KEYS[1]); if v==false then return -1 end; if v~=ARGV[1] then return -2 else return redis.call("del",KEYS[1]) end"#;

/// Built on the main thread: settings checked, Redis reached, script loaded.
pub struct RedisLockFactory {
    settings: Arc<Settings>,
    unlock_sha: Arc<str>,
}

impl RedisLockFactory {
    /// Parses metadata and runs contrib's init checks against Redis.
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let settings = Settings::parse(metadata)?;
        if settings.cluster {
            // contrib: a lock could be lost in a cluster fail-over.
            return Err("this component does not support connecting to Redis Cluster".to_owned());
        }
        let cmds = [
            command(&[b"SCRIPT", b"LOAD", UNLOCK_SCRIPT.as_bytes()]),
            command(&[b"INFO", b"replication"]),
        ];
        let replies = ping(&settings, &cmds).map_err(|e| match e {
            PingError::Unreachable(e) => format!("redis lock: {e}"),
            PingError::Refused(e) => format!("error connecting to Redis: {e}"),
        })?;
        let sha = match replies.first() {
            Some(r) => script_sha(r, "redis lock", &settings.host)?,
            None => return Err("redis lock: no reply to SCRIPT LOAD".to_owned()),
        };
        // Like contrib, an INFO that fails (some Redis look-alikes) passes.
        if let Some(info) = replies.get(1).and_then(as_bytes) {
            if connected_replicas(&String::from_utf8_lossy(info)) > 0 {
                return Err("replication is not supported".to_owned());
            }
        }
        Ok(Self {
            settings: Arc::new(settings),
            unlock_sha: sha.into(),
        })
    }

    /// A worker's store, with the worker's own connection.
    pub fn build(&self) -> RedisLock {
        RedisLock {
            client: Client::new(self.settings.clone()),
            unlock_sha: self.unlock_sha.clone(),
        }
    }
}

/// `connected_slaves:<n>` of an `INFO replication` reply (0 when absent).
fn connected_replicas(info: &str) -> u64 {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix("connected_slaves:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A worker's Redis lock store.
pub struct RedisLock {
    client: Client,
    unlock_sha: Arc<str>,
}

fn reply_error(what: &str, f: &Frame) -> ComponentError {
    ComponentError::new(
        ComponentErrorKind::Other,
        format!(
            "{what}: {}",
            error_text(f).unwrap_or("unexpected reply from redis")
        ),
    )
}

impl LockStore for RedisLock {
    async fn try_lock(&self, req: TryLockRequest) -> Result<bool, ComponentError> {
        let expiry = req.expiry_in_seconds.to_string();
        let reply = self
            .client
            .call(command(&[
                b"SET",
                req.key.as_bytes(),
                req.owner.as_bytes(),
                b"NX",
                b"EX",
                expiry.as_bytes(),
            ]))
            .await
            .map_err(ComponentError::from)?;
        match reply {
            Frame::SimpleString(_) | Frame::BulkString(_) => Ok(true),
            Frame::Null => Ok(false),
            other => Err(reply_error("setNX failed", &other)),
        }
    }

    async fn unlock(&self, req: UnlockRequest) -> Result<UnlockStatus, ComponentError> {
        let args = |verb: &'static [u8], body: &[u8]| {
            command(&[verb, body, b"1", req.key.as_bytes(), req.owner.as_bytes()])
        };
        let mut reply = self
            .client
            .call(args(b"EVALSHA", self.unlock_sha.as_bytes()))
            .await
            .map_err(ComponentError::from)?;
        if error_text(&reply).is_some_and(|e| e.starts_with("NOSCRIPT")) {
            reply = self
                .client
                .call(args(b"EVAL", UNLOCK_SCRIPT.as_bytes()))
                .await
                .map_err(ComponentError::from)?;
        }
        match reply {
            Frame::Integer(n) if n >= 0 => Ok(UnlockStatus::Success),
            Frame::Integer(-1) => Ok(UnlockStatus::LockDoesNotExist),
            Frame::Integer(-2) => Ok(UnlockStatus::LockBelongsToOthers),
            Frame::Integer(_) => Ok(UnlockStatus::InternalError),
            other => Err(reply_error("unlock script failed", &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_from_info() {
        assert_eq!(
            connected_replicas("# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"),
            2
        );
        assert_eq!(connected_replicas("# Replication\r\nrole:master\r\n"), 0);
    }
}
