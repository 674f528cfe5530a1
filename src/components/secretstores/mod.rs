//! The secret store trait, its object-safe form, and the built-in stores.
//!
//! A secret is a name with a map of values: single-valued stores answer
//! `{name: value}`, stores with [`Features::MULTIPLE_KEY_VALUES_PER_SECRET`]
//! answer several keys per name. Stores implement [`SecretStore`] with plain
//! `async fn`s (instances live on one worker); the API holds them as
//! `Rc<dyn SecretStoreDyn>` through the blanket impl below.
//!
//! Secret stores are also read once at start-up, on the main thread, to
//! resolve `secretKeyRef` metadata of other components (see
//! `components::registry`). Their factories therefore implement
//! [`SecretLookup`], a synchronous read; both built-ins keep their data in
//! memory, so the lookup and the per-worker reads are the same code.

pub mod local_env;
pub mod local_file;

use std::collections::HashMap;

use super::state::LocalFuture;
use super::ComponentError;

/// A secret's values by key.
pub type SecretMap = HashMap<String, String>;

/// Every secret of a store, by name.
pub type BulkSecrets = HashMap<String, SecretMap>;

/// Capabilities a secret store announces (Dapr's feature names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// No optional feature.
    pub const NONE: Features = Features(0);
    /// A secret may hold several key/value pairs.
    pub const MULTIPLE_KEY_VALUES_PER_SECRET: Features = Features(1);

    /// The union of two sets.
    pub const fn with(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// Whether every feature of `other` is present.
    pub const fn has(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// Dapr's capability names, as the metadata API lists them.
    pub fn names(self) -> Vec<String> {
        [(
            Self::MULTIPLE_KEY_VALUES_PER_SECRET,
            "MULTIPLE_KEY_VALUES_PER_SECRET",
        )]
        .iter()
        .filter(|(f, _)| self.has(*f))
        .map(|(_, n)| (*n).to_owned())
        .collect()
    }
}

/// Read one secret.
#[derive(Clone, Debug, Default)]
pub struct GetSecretRequest {
    /// The secret's name.
    pub name: String,
    /// Request metadata (`metadata.*`, e.g. `namespace`, `version_id`).
    pub metadata: HashMap<String, String>,
}

/// Read every secret.
#[derive(Clone, Debug, Default)]
pub struct BulkGetSecretRequest {
    /// Request metadata.
    pub metadata: HashMap<String, String>,
}

/// A secret store. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait SecretStore {
    /// What the store supports.
    fn features(&self) -> Features;
    /// Reads one secret; a missing secret is an error (the store's own message).
    async fn get(&self, req: GetSecretRequest) -> Result<SecretMap, ComponentError>;
    /// Reads every secret the store holds.
    async fn bulk_get(&self, req: BulkGetSecretRequest) -> Result<BulkSecrets, ComponentError>;
}

/// The object-safe form of [`SecretStore`] held by the component store.
#[allow(missing_docs)] // mirrors SecretStore one to one
pub trait SecretStoreDyn {
    fn features(&self) -> Features;
    fn get(&self, req: GetSecretRequest) -> LocalFuture<'_, Result<SecretMap, ComponentError>>;
    fn bulk_get(
        &self,
        req: BulkGetSecretRequest,
    ) -> LocalFuture<'_, Result<BulkSecrets, ComponentError>>;
}

impl<T: SecretStore> SecretStoreDyn for T {
    fn features(&self) -> Features {
        SecretStore::features(self)
    }
    fn get(&self, req: GetSecretRequest) -> LocalFuture<'_, Result<SecretMap, ComponentError>> {
        Box::pin(SecretStore::get(self, req))
    }
    fn bulk_get(
        &self,
        req: BulkGetSecretRequest,
    ) -> LocalFuture<'_, Result<BulkSecrets, ComponentError>> {
        Box::pin(SecretStore::bulk_get(self, req))
    }
}

/// A synchronous read of one secret, used on the main thread at start-up to
/// resolve `secretKeyRef`s. Implemented by secret-store factories.
pub trait SecretLookup: Send + Sync {
    /// Reads one secret, as [`SecretStore::get`] would.
    fn lookup(&self, req: &GetSecretRequest) -> Result<SecretMap, ComponentError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_names() {
        assert!(Features::NONE.names().is_empty());
        assert_eq!(
            Features::MULTIPLE_KEY_VALUES_PER_SECRET.names(),
            vec!["MULTIPLE_KEY_VALUES_PER_SECRET".to_string()]
        );
    }
}
