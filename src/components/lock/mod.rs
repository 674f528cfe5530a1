//! Distributed lock stores: the trait, its object-safe form, the key
//! prefixing daprd applies before a store sees a resource id, and the
//! built-in stores (`lock.redis`, `lock.in-memory`).
//!
//! A lock is a resource id held by one owner until it is released or its
//! expiry passes. [`LockStore::try_lock`] never waits: it answers whether
//! the caller now holds the lock. [`LockStore::unlock`] answers Dapr's four
//! statuses. Stores see the full key (`lock||<appid>||<resourceId>` by
//! default), so two sidecars of one app contend for the same key.

pub mod in_memory;
pub mod redis;

use super::state::LocalFuture;
use super::{ComponentError, Metadata};

/// The separator between key parts (Go: `lock_config.go`).
pub const SEPARATOR: &str = "||";

/// Acquire a lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TryLockRequest {
    /// The full (prefixed) key.
    pub key: String,
    /// Who asks.
    pub owner: String,
    /// How long the lock lives unless released (> 0).
    pub expiry_in_seconds: u32,
}

/// Release a lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnlockRequest {
    /// The full (prefixed) key.
    pub key: String,
    /// Who asks.
    pub owner: String,
}

/// The outcome of an unlock (`UnlockResponse.Status`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlockStatus {
    /// Released.
    Success = 0,
    /// Nobody holds it (never taken, released, or expired).
    LockDoesNotExist = 1,
    /// Someone else holds it.
    LockBelongsToOthers = 2,
    /// The store failed.
    InternalError = 3,
}

/// A lock store. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait LockStore {
    /// Takes the lock if nobody holds it; `true` when the caller now does.
    async fn try_lock(&self, req: TryLockRequest) -> Result<bool, ComponentError>;
    /// Releases the lock if the caller holds it.
    async fn unlock(&self, req: UnlockRequest) -> Result<UnlockStatus, ComponentError>;
}

/// The object-safe form of [`LockStore`] held by the component store.
#[allow(missing_docs)] // mirrors LockStore one to one
pub trait LockStoreDyn {
    fn try_lock(&self, req: TryLockRequest) -> LocalFuture<'_, Result<bool, ComponentError>>;
    fn unlock(&self, req: UnlockRequest) -> LocalFuture<'_, Result<UnlockStatus, ComponentError>>;
}

impl<T: LockStore> LockStoreDyn for T {
    fn try_lock(&self, req: TryLockRequest) -> LocalFuture<'_, Result<bool, ComponentError>> {
        Box::pin(LockStore::try_lock(self, req))
    }
    fn unlock(&self, req: UnlockRequest) -> LocalFuture<'_, Result<UnlockStatus, ComponentError>> {
        Box::pin(LockStore::unlock(self, req))
    }
}

/// How a lock store's keys are prefixed: component metadata `keyPrefix`
/// (name matched case-insensitively, value lower-cased, as Go does).
///
/// | `keyPrefix` | key |
/// |---|---|
/// | `appid` (default) | `lock\|\|<appId>\|\|<id>` (`lock\|\|<id>` without an app id) |
/// | `name` | `lock\|\|<storeName>\|\|<id>` |
/// | `none` | `lock\|\|<id>` |
/// | anything else `x` | `lock\|\|x\|\|<id>` (so `namespace` is literal here, unlike state) |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPrefix {
    /// `lock||<appId>||`.
    AppId,
    /// `lock||<storeName>||`.
    Name,
    /// `lock||`.
    None,
    /// `lock||<custom>||` (lower-cased).
    Custom(String),
}

impl KeyPrefix {
    /// Reads `keyPrefix`; a value containing `||` is refused (Go fails the
    /// component's init: "failed to save lock keyprefix").
    pub fn parse(md: &Metadata) -> Result<KeyPrefix, String> {
        let strategy = md.get("keyPrefix").unwrap_or("appid").to_lowercase();
        if strategy.contains(SEPARATOR) {
            return Err(format!(
                "failed to save lock keyprefix: {}",
                illegal_key(&strategy)
            ));
        }
        Ok(match strategy.as_str() {
            "appid" => KeyPrefix::AppId,
            "name" => KeyPrefix::Name,
            "none" => KeyPrefix::None,
            _ => KeyPrefix::Custom(strategy),
        })
    }

    /// The key a store sees for `resource_id` (Go's `GetModifiedLockKey`);
    /// the error text is Go's for an id containing `||`.
    pub fn key(&self, resource_id: &str, store: &str, app_id: &str) -> Result<String, String> {
        if resource_id.contains(SEPARATOR) {
            return Err(illegal_key(resource_id));
        }
        let middle = match self {
            KeyPrefix::AppId if app_id.is_empty() => None,
            KeyPrefix::AppId => Some(app_id),
            KeyPrefix::Name => Some(store),
            KeyPrefix::None => None,
            KeyPrefix::Custom(p) => Some(p.as_str()),
        };
        Ok(match middle {
            Some(m) => format!("lock{SEPARATOR}{m}{SEPARATOR}{resource_id}"),
            None => format!("lock{SEPARATOR}{resource_id}"),
        })
    }
}

fn illegal_key(key: &str) -> String {
    format!("input key/keyPrefix '{key}' can't contain '{SEPARATOR}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn keys_as_go_builds_them() {
        let key = |pairs: &[(&str, &str)], app: &str| {
            KeyPrefix::parse(&md(pairs))
                .unwrap()
                .key("res", "store", app)
                .unwrap()
        };
        assert_eq!(key(&[], "app"), "lock||app||res");
        assert_eq!(key(&[], ""), "lock||res");
        assert_eq!(key(&[("keyPrefix", "AppID")], "app"), "lock||app||res");
        assert_eq!(key(&[("KEYPREFIX", "name")], "app"), "lock||store||res");
        assert_eq!(key(&[("keyPrefix", "none")], "app"), "lock||res");
        assert_eq!(key(&[("keyPrefix", "MyApps")], "app"), "lock||myapps||res");
        assert_eq!(
            key(&[("keyPrefix", "namespace")], "app"),
            "lock||namespace||res"
        );
    }

    #[test]
    fn separators_are_refused() {
        let err = KeyPrefix::parse(&md(&[("keyPrefix", "a||b")])).unwrap_err();
        assert_eq!(
            err,
            "failed to save lock keyprefix: input key/keyPrefix 'a||b' can't contain '||'"
        );
        let err = KeyPrefix::AppId.key("x||y", "s", "app").unwrap_err();
        assert_eq!(err, "input key/keyPrefix 'x||y' can't contain '||'");
    }
}
