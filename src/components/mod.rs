//! Components: the pieces a building block delegates to (state stores, …).
//!
//! Shape (DESIGN.md §4): a *factory* is built once from YAML on the main
//! thread and shared by every worker (`Send + Sync`); each worker then
//! builds its own *instance* from it, which may be `!Send` and lives in an
//! `Rc`. Component errors carry a kind and never know HTTP or gRPC
//! statuses; `api::error` maps them once.

pub mod bindings;
pub mod blocking;
pub mod configuration;
pub mod lock;
pub mod middleware;
pub mod nameresolution;
pub mod postgres;
pub mod pubsub;
pub mod redis;
pub mod registry;
pub mod secretstores;
pub mod state;

use std::collections::HashMap;
use std::fmt;

/// Resolved component metadata (`spec.metadata`), names as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata(pub HashMap<String, String>);

impl Metadata {
    /// Metadata from literal pairs (tests and examples).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A value by name, case-insensitively (Go decodes metadata that way).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What went wrong inside a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentErrorKind {
    /// An ETag did not match (or first-write found an existing key).
    EtagMismatch,
    /// An ETag is malformed.
    EtagInvalid,
    /// The component does not support the operation.
    Unsupported,
    /// The backend cannot be reached.
    Unavailable,
    /// The backend did not answer in time.
    Timeout,
    /// Invalid input for this component.
    InvalidInput,
    /// Anything else.
    Other,
}

/// A component failure with its cause.
#[derive(Debug)]
pub struct ComponentError {
    kind: ComponentErrorKind,
    message: String,
}

impl ComponentError {
    /// A new error.
    pub fn new(kind: ComponentErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The error kind.
    pub fn kind(&self) -> ComponentErrorKind {
        self.kind
    }

    /// Shorthand for [`ComponentErrorKind::EtagMismatch`].
    pub fn etag_mismatch() -> Self {
        Self::new(
            ComponentErrorKind::EtagMismatch,
            "possible etag mismatch. error from state store",
        )
    }

    /// Shorthand for [`ComponentErrorKind::EtagInvalid`].
    pub fn etag_invalid() -> Self {
        Self::new(ComponentErrorKind::EtagInvalid, "invalid etag value")
    }
}

impl fmt::Display for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ComponentError {}
