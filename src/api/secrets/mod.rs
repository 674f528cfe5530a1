//! Secrets: the logic behind `/v1.0/secrets/*` and the gRPC GetSecret /
//! GetBulkSecret methods, written once (Go: `pkg/api/universal/secrets.go`).
//!
//! A read names a store and a secret. With no secret store at all the answer
//! is `ERR_SECRET_STORES_NOT_CONFIGURED` (500); an unknown store is
//! `ERR_SECRET_STORE_NOT_FOUND` with Go's 401; a secret the Configuration's
//! `secrets.scopes` deny is `ERR_PERMISSION_DENIED` (403); a store failure
//! (a missing secret included) is `ERR_SECRET_GET` (500). A bulk read is
//! never denied as a whole: secrets the scope does not allow are left out.
//! Each store call is counted (`dapr_component_secret_*`, `get` /
//! `bulk_get`) as Go's `SecretInvoked`; a denied read never reaches it.

pub mod grpc;
pub mod http;

use std::collections::HashMap;
use std::rc::Rc;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::components::secretstores::{
    BulkGetSecretRequest, BulkSecrets, GetSecretRequest, SecretMap, SecretStoreDyn,
};
use crate::metrics::names::op;
use crate::metrics::Store;

/// Finds a store by name (Go's `secretsValidateRequest`).
pub fn store(ctx: &Ctx, name: &str) -> Result<Rc<dyn SecretStoreDyn>, ApiError> {
    let stores = &ctx.components.secrets;
    if stores.is_empty() {
        return Err(ApiError::new(
            ErrorCode::SecretStoresNotConfigured,
            "secret store is not configured",
        ));
    }
    stores.get(name).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::SecretStoreNotFound,
            format!("failed finding secret store with key {name}"),
        )
    })
}

/// Go's `ErrSecretPermissionDenied`: `access denied by policy to get %q from %q`.
fn permission_denied(key: &str, store: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PermissionDenied,
        format!(
            "access denied by policy to get {} from {}",
            go_quote(key),
            go_quote(store)
        ),
    )
}

/// Reads one secret: its values by key.
pub async fn get(
    ctx: &Ctx,
    store_name: &str,
    key: &str,
    metadata: HashMap<String, String>,
) -> Result<SecretMap, ApiError> {
    let s = store(ctx, store_name)?;
    if !ctx.shared.secret_scopes.allows(store_name, key) {
        let e = permission_denied(key, store_name);
        tracing::debug!("{e}");
        return Err(e);
    }
    let req = GetSecretRequest {
        name: key.to_owned(),
        metadata,
    };
    let call = s.get(req);
    let result = ctx
        .metrics
        .time_store(Store::Secret, store_name, op::GET, call)
        .await;
    result.map_err(|e| {
        let e = ApiError::new(
            ErrorCode::SecretGet,
            format!("failed getting secret with key {key} from secret store {store_name}: {e}"),
        );
        tracing::debug!("{e}");
        e
    })
}

/// Reads every secret of a store the scopes allow, by name.
pub async fn bulk_get(
    ctx: &Ctx,
    store_name: &str,
    metadata: HashMap<String, String>,
) -> Result<BulkSecrets, ApiError> {
    let s = store(ctx, store_name)?;
    let call = s.bulk_get(BulkGetSecretRequest { metadata });
    let all = ctx
        .metrics
        .time_store(Store::Secret, store_name, op::BULK_GET, call)
        .await
        .map_err(|e| {
            let e = ApiError::new(
                ErrorCode::SecretGet,
                format!("failed getting secrets from secret store {store_name}: {e}"),
            );
            tracing::debug!("{e}");
            e
        })?;
    let scopes = &ctx.shared.secret_scopes;
    Ok(all
        .into_iter()
        .filter(|(name, _)| {
            let allowed = scopes.allows(store_name, name);
            if !allowed {
                tracing::debug!("{}", permission_denied(name, store_name));
            }
            allowed
        })
        .collect())
}

/// Go's `%q` for a string (`strconv.Quote`): double quotes, with `"` and
/// `\` escaped, C escapes for the usual controls and `\x..`/`\u....` for
/// other control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("db:user"), "\"db:user\"");
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
