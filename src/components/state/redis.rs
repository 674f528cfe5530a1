//! `state.redis`: Go Dapr's layout, so a Go daprd and ours share one Redis.
//!
//! Each key is a hash with `data` (the stored bytes), `version` (an
//! integer kept with `HINCRBY`; the ETag) and, for keys created with
//! first-write concurrency, `first-write`. Writes and deletes run Go's own
//! Lua scripts (by SHA, loaded at start-up; re-sent on `NOSCRIPT`), so ETag
//! checks are atomic on the server. TTLs are `EXPIRE` / `PERSIST`.
//!
//! Transactions differ from Go in one way, for the better: Go queues the
//! scripts in `MULTI`/`EXEC`, where a failed ETag check does not undo the
//! operations around it. We run one script that first checks every
//! operation against a simulation of the keys, and writes only when all
//! pass — the same data, and nothing half-applied.
//!
//! With `redisType: cluster` every command goes to the node owning its
//! key ([`Redis`]); a bulk get sends one `HGETALL` per key, pipelined per
//! node. A transaction runs on one node, so — as with go-redis' cluster
//! `TxPipeline` — its keys must share a hash slot (`{hashtag}`), else it
//! fails with `CROSSSLOT Keys in request don't hash to the same slot`
//! before anything is written. Scripts are loaded on one seed at start-up;
//! other nodes get them through the `NOSCRIPT` fallback.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{
    BulkGetItem, Concurrency, DeleteRequest, Features, GetRequest, SetRequest, StateItem,
    StateStore, TransactionOp,
};
use crate::components::redis::cluster::{self, Redis};
use crate::components::redis::{
    as_bytes, command, error_text, probe, push_command, script_sha, Frame, Settings,
};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};

/// Go's set script (`setDefaultQuery`), unchanged in effect:
/// KEYS[1] key; ARGV[1] expected version or `0`; ARGV[2] data; ARGV[3] `0`
/// for first-write.
const SET_SCRIPT: &str = r#"
local etag = redis.pcall("HGET", KEYS[1], "version");
if type(etag) == "table" then
  redis.call("DEL", KEYS[1]);
end;
local fwr = redis.pcall("HGET", KEYS[1], "first-write");
if not etag or type(etag)=="table" or etag == "" or etag == ARGV[1] or (not fwr and ARGV[1] == "0") then
  redis.call("HSET", KEYS[1], "data", ARGV[2]);
  if ARGV[3] == "0" then
    redis.call("HSET", KEYS[1], "first-write", 0);
  end;
  return redis.call("HINCRBY", KEYS[1], "version", 1)
else
  return error("failed to set key " .. KEYS[1])
end"#;

/// Go's delete script (`delDefaultQuery`): KEYS[1] key; ARGV[1] expected
/// version or `0`.
const DEL_SCRIPT: &str = r#"
local etag = redis.pcall("HGET", KEYS[1], "version");
if not etag or type(etag)=="table" or etag == ARGV[1] or etag == "" or ARGV[1] == "0" then
  return redis.call("DEL", KEYS[1])
else
  return error("failed to delete " .. KEYS[1])
end"#;

/// Our transaction script. KEYS: one per operation. ARGV: three per
/// operation — `s` or `d`, the expected version (`0` for none), the TTL
/// (`""` to leave it, `> 0` to expire, `<= 0` to persist) — then the data of
/// the set operations in order. Pass 1 replays Go's per-key rules on a
/// simulation; pass 2 writes only if every operation passed.
const TX_SCRIPT: &str = r#"
local n = #KEYS
local seen = {}
local function current(k)
  local s = seen[k]
  if s == nil then
    local v = redis.pcall("HGET", k, "version")
    if type(v) == "table" then v = false end
    local f = redis.pcall("HGET", k, "first-write")
    if type(f) == "table" then f = false end
    s = { v = v, f = f }
    seen[k] = s
  end
  return s
end
for i = 1, n do
  local op, etag = ARGV[3*i-2], ARGV[3*i-1]
  local s = current(KEYS[i])
  local free = (not s.v) or s.v == "" or s.v == etag
  if op == "s" then
    if not (free or (not s.f and etag == "0")) then
      return redis.error_reply("ETAG " .. i)
    end
    s.v = tostring((tonumber(s.v) or 0) + 1)
  else
    if not (free or etag == "0") then
      return redis.error_reply("ETAG " .. i)
    end
    s.v = false
    s.f = false
  end
end
local d = 3 * n
for i = 1, n do
  local k, op, ttl = KEYS[i], ARGV[3*i-2], ARGV[3*i]
  if op == "s" then
    d = d + 1
    if type(redis.pcall("HGET", k, "version")) == "table" then
      redis.call("DEL", k)
    end
    redis.call("HSET", k, "data", ARGV[d])
    redis.call("HINCRBY", k, "version", 1)
    if ttl ~= "" then
      if tonumber(ttl) > 0 then
        redis.call("EXPIRE", k, ttl)
      else
        redis.call("PERSIST", k)
      end
    end
  else
    redis.call("DEL", k)
  end
end
return n"#;

/// A script, by text and by the SHA Redis gave it.
#[derive(Debug)]
struct Script {
    text: &'static str,
    sha: String,
}

#[derive(Debug)]
struct Scripts {
    set: Script,
    del: Script,
    tx: Script,
}

/// Built on the main thread: settings checked, Redis reached, scripts loaded.
pub struct RedisStateFactory {
    settings: Arc<Settings>,
    scripts: Arc<Scripts>,
}

impl RedisStateFactory {
    /// Parses metadata and checks that Redis answers (Go's Init pings too).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let settings = Settings::parse(metadata)?;
        let texts = [SET_SCRIPT, DEL_SCRIPT, TX_SCRIPT];
        let cmds: Vec<BytesMut> = texts
            .iter()
            .map(|t| command(&[b"SCRIPT", b"LOAD", t.as_bytes()]))
            .collect();
        let replies = probe(&settings, &cmds).map_err(|e| format!("redis store: {e}"))?;
        let shas = replies
            .iter()
            .map(|r| script_sha(r, "redis store", &settings.host))
            .collect::<Result<Vec<_>, _>>()?;
        let mut shas = shas.into_iter();
        let mut script = |text| Script {
            text,
            sha: shas.next().unwrap_or_default(),
        };
        let scripts = Scripts {
            set: script(SET_SCRIPT),
            del: script(DEL_SCRIPT),
            tx: script(TX_SCRIPT),
        };
        Ok(Self {
            settings: Arc::new(settings),
            scripts: Arc::new(scripts),
        })
    }

    /// A worker's store, with its own connection.
    pub fn build(&self) -> RedisStateStore {
        RedisStateStore {
            redis: Redis::new(self.settings.clone()),
            scripts: self.scripts.clone(),
            default_ttl: self.settings.ttl_in_seconds,
        }
    }
}

/// A worker's Redis state store.
pub struct RedisStateStore {
    redis: Redis,
    scripts: Arc<Scripts>,
    default_ttl: Option<i64>,
}

/// `ttlInSeconds` as Go's Redis store reads it: any integer.
fn ttl(md: &HashMap<String, String>, default: Option<i64>) -> Result<Option<i64>, ComponentError> {
    match md.get("ttlInSeconds").filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            ComponentError::new(
                ComponentErrorKind::InvalidInput,
                format!("failed to parse ttl from metadata: ttlInSeconds {v:?} is not an integer"),
            )
        }),
    }
}

/// The version a write expects: `0` for none, else the ETag as an integer.
fn expected_version(etag: Option<&str>) -> Result<String, ComponentError> {
    match etag.filter(|e| !e.is_empty()) {
        None => Ok("0".to_owned()),
        Some(e) => e
            .trim()
            .parse::<i64>()
            .map(|v| v.to_string())
            .map_err(|_| ComponentError::etag_invalid()),
    }
}

impl RedisStateStore {
    /// `EVALSHA`, falling back to `EVAL` when Redis lost the script.
    async fn eval(
        &self,
        script: &Script,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Frame, ComponentError> {
        let numkeys = keys.len().to_string();
        let build = |verb: &[u8], body: &[u8]| {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(3 + keys.len() + args.len());
            parts.extend([verb, body, numkeys.as_bytes()]);
            parts.extend_from_slice(keys);
            parts.extend_from_slice(args);
            command(&parts)
        };
        let key = keys.first().copied().unwrap_or_default();
        let reply = self
            .redis
            .call_keyed(key, build(b"EVALSHA", script.sha.as_bytes()))
            .await
            .map_err(ComponentError::from)?;
        if error_text(&reply).is_some_and(|e| e.starts_with("NOSCRIPT")) {
            return self
                .redis
                .call_keyed(key, build(b"EVAL", script.text.as_bytes()))
                .await
                .map_err(ComponentError::from);
        }
        Ok(reply)
    }

    async fn direct_get(&self, key: &str) -> Result<Option<StateItem>, ComponentError> {
        let reply = self
            .redis
            .call_keyed(key.as_bytes(), command(&[b"GET", key.as_bytes()]))
            .await
            .map_err(ComponentError::from)?;
        match reply {
            Frame::BulkString(data) => Ok(Some(StateItem {
                data,
                ..Default::default()
            })),
            Frame::Null => Ok(None),
            other => Err(reply_error(&other, key)),
        }
    }

    /// Turns an `HGETALL` reply into an item; `Err(None)` asks for the
    /// plain-`GET` fallback Go uses for old string keys.
    fn from_hash(reply: Frame, key: &str) -> Result<Option<StateItem>, Option<ComponentError>> {
        let fields = match reply {
            Frame::Array(f) => f,
            Frame::Error(_) => return Err(None),
            other => return Err(Some(reply_error(&other, key))),
        };
        if fields.is_empty() {
            return Ok(None);
        }
        let (mut data, mut version) = (None, None);
        for pair in fields.chunks_exact(2) {
            match as_bytes(&pair[0]) {
                Some(b"data") => data = as_bytes(&pair[1]).map(Bytes::copy_from_slice),
                Some(b"version") => {
                    version = as_bytes(&pair[1]).map(|v| String::from_utf8_lossy(v).into_owned())
                }
                _ => {}
            }
        }
        match (data, version) {
            (Some(data), Some(etag)) => Ok(Some(StateItem {
                data,
                etag: Some(etag),
                metadata: HashMap::new(),
            })),
            _ => Err(Some(ComponentError::new(
                ComponentErrorKind::Other,
                "required hash field 'data' or 'version' was not found",
            ))),
        }
    }

    async fn apply_ttl(&self, key: &str, ttl: Option<i64>) -> Result<(), ComponentError> {
        let cmd = match ttl {
            None => return Ok(()),
            Some(t) if t > 0 => command(&[b"EXPIRE", key.as_bytes(), t.to_string().as_bytes()]),
            Some(_) => command(&[b"PERSIST", key.as_bytes()]),
        };
        let reply = self
            .redis
            .call_keyed(key.as_bytes(), cmd)
            .await
            .map_err(ComponentError::from)?;
        match error_text(&reply) {
            Some(e) => Err(ComponentError::new(
                ComponentErrorKind::Other,
                format!("failed to set key {key} ttl: {e}"),
            )),
            None => Ok(()),
        }
    }
}

impl RedisStateStore {
    /// An `HGETALL` reply as an item, with Go's `GET` fallback.
    async fn read_hash(
        &self,
        reply: Frame,
        key: &str,
    ) -> Result<Option<StateItem>, ComponentError> {
        match Self::from_hash(reply, key) {
            Ok(item) => Ok(item),
            Err(None) => self.direct_get(key).await,
            Err(Some(e)) => Err(e),
        }
    }

    /// A bulk get on a cluster: each key to its node, all at once (the
    /// keys of one node share its connection's writes).
    async fn cluster_bulk_get(
        &self,
        c: &cluster::Cluster,
        reqs: Vec<GetRequest>,
    ) -> Vec<BulkGetItem> {
        let calls = reqs
            .iter()
            .map(|r| {
                let key = r.key.as_bytes();
                (key, command(&[b"HGETALL", key]))
            })
            .collect();
        let replies = c.call_each(calls).await;
        let mut out = Vec::with_capacity(reqs.len());
        for (r, reply) in reqs.into_iter().zip(replies) {
            let item = match reply {
                Ok(f) => self.read_hash(f, &r.key).await,
                Err(e) => Err(ComponentError::from(e)),
            };
            out.push((r.key, item));
        }
        out
    }
}

fn reply_error(f: &Frame, key: &str) -> ComponentError {
    let what = error_text(f).unwrap_or("unexpected reply type");
    ComponentError::new(
        ComponentErrorKind::Other,
        format!("redis error for key {key}: {what}"),
    )
}

impl StateStore for RedisStateStore {
    fn features(&self) -> Features {
        // Go's list for a Redis without RedisJSON (with it, Go adds
        // QUERY_API; this store has no query support).
        Features::ETAG
            .with(Features::TRANSACTIONAL)
            .with(Features::TTL)
            .with(Features::KEYS_LIKE)
    }

    async fn get(&self, req: GetRequest) -> Result<Option<StateItem>, ComponentError> {
        let reply = self
            .redis
            .call_keyed(
                req.key.as_bytes(),
                command(&[b"HGETALL", req.key.as_bytes()]),
            )
            .await
            .map_err(ComponentError::from)?;
        match Self::from_hash(reply, &req.key) {
            Ok(item) => Ok(item),
            Err(None) => self.direct_get(&req.key).await,
            Err(Some(e)) => Err(e),
        }
    }

    async fn bulk_get(&self, reqs: Vec<GetRequest>) -> Vec<BulkGetItem> {
        let c = match &self.redis {
            Redis::Node(c) => c,
            Redis::Cluster(c) => return self.cluster_bulk_get(c, reqs).await,
        };
        // One round trip for every key.
        let mut batch = BytesMut::new();
        for r in &reqs {
            push_command(&mut batch, &[b"HGETALL", r.key.as_bytes()]);
        }
        let replies = match c.send(batch, reqs.len()).await {
            Ok(r) => r,
            Err(e) => {
                return reqs
                    .into_iter()
                    .map(|r| (r.key, Err(ComponentError::from(e.clone()))))
                    .collect()
            }
        };
        let mut out = Vec::with_capacity(reqs.len());
        for (r, reply) in reqs.into_iter().zip(replies) {
            let item = self.read_hash(reply, &r.key).await;
            out.push((r.key, item));
        }
        out
    }

    async fn set(&self, req: SetRequest) -> Result<(), ComponentError> {
        let version = expected_version(req.etag.as_deref())?;
        let ttl = ttl(&req.metadata, self.default_ttl)?;
        let first_write: &[u8] = if req.concurrency == Concurrency::FirstWrite {
            b"0"
        } else {
            b"1"
        };
        let reply = self
            .eval(
                &self.scripts.set,
                &[req.key.as_bytes()],
                &[version.as_bytes(), &req.value, first_write],
            )
            .await?;
        if let Some(e) = error_text(&reply) {
            // A refused write is a concurrency conflict when the caller
            // asked for one (ETag or first-write); Go says the same for ETags.
            if version != "0" || req.concurrency == Concurrency::FirstWrite {
                return Err(ComponentError::etag_mismatch());
            }
            return Err(ComponentError::new(
                ComponentErrorKind::Other,
                format!("failed to set key {}: {e}", req.key),
            ));
        }
        self.apply_ttl(&req.key, ttl).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ComponentError> {
        let etag = req.etag.as_deref().filter(|e| !e.is_empty()).unwrap_or("0");
        let reply = self
            .eval(&self.scripts.del, &[req.key.as_bytes()], &[etag.as_bytes()])
            .await?;
        match error_text(&reply) {
            Some(_) => Err(ComponentError::etag_mismatch()),
            None => Ok(()),
        }
    }

    async fn transact(&self, ops: Vec<TransactionOp>) -> Result<(), ComponentError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<&[u8]> = Vec::with_capacity(ops.len());
        let mut slots: Vec<[String; 3]> = Vec::with_capacity(ops.len());
        let mut data: Vec<&[u8]> = Vec::new();
        for op in &ops {
            match op {
                TransactionOp::Upsert(s) => {
                    let ttl = ttl(&s.metadata, self.default_ttl)?
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    keys.push(s.key.as_bytes());
                    slots.push(["s".to_owned(), expected_version(s.etag.as_deref())?, ttl]);
                    data.push(&s.value);
                }
                TransactionOp::Delete(d) => {
                    let etag = d
                        .etag
                        .clone()
                        .filter(|e| !e.is_empty())
                        .unwrap_or_else(|| "0".to_owned());
                    keys.push(d.key.as_bytes());
                    slots.push(["d".to_owned(), etag, String::new()]);
                }
            }
        }
        if self.redis.is_cluster() && !cluster::same_slot(keys.iter().copied()) {
            // go-redis refuses a cluster transaction over several slots.
            return Err(ComponentError::new(
                ComponentErrorKind::Other,
                cluster::CROSSSLOT,
            ));
        }
        let mut args: Vec<&[u8]> = slots.iter().flatten().map(String::as_bytes).collect();
        args.extend(data);
        let reply = self.eval(&self.scripts.tx, &keys, &args).await?;
        match error_text(&reply) {
            Some(e) if e.starts_with("ETAG ") => Err(ComponentError::etag_mismatch()),
            Some(e) => Err(ComponentError::new(
                ComponentErrorKind::Other,
                format!("transaction failed: {e}"),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ttls_parse_as_go() {
        assert_eq!(expected_version(None).unwrap(), "0");
        assert_eq!(expected_version(Some("")).unwrap(), "0");
        assert_eq!(expected_version(Some("007")).unwrap(), "7");
        assert_eq!(
            expected_version(Some("abc")).unwrap_err().kind(),
            ComponentErrorKind::EtagInvalid
        );
        let md = |v: &str| HashMap::from([("ttlInSeconds".to_owned(), v.to_owned())]);
        assert_eq!(ttl(&md("30"), None).unwrap(), Some(30));
        assert_eq!(ttl(&md("-1"), None).unwrap(), Some(-1));
        assert_eq!(ttl(&HashMap::new(), Some(5)).unwrap(), Some(5));
        assert!(ttl(&md("x"), None).is_err());
    }
}
