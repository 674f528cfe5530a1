//! Bindings: the output and input binding traits, their object-safe forms,
//! and the built-in bindings.
//!
//! An *output* binding is called by the app (`POST /v1.0/bindings/{name}`,
//! gRPC `InvokeBinding`) with an operation, bytes and metadata, and answers
//! bytes and metadata — or nothing at all (the API then answers 204). As in
//! Go, a failing call may still carry response metadata (the HTTP binding
//! reports `statusCode` with a non-2xx answer), so a failure is an
//! [`InvokeFailure`]: the error plus whatever response came with it.
//!
//! An *input* binding produces events; [`InputBinding::read`] starts it and
//! hands every event to a [`BindingHandler`] (the bindings block's delivery
//! to the app) until the drain latch closes. The
//! handler's answer (the app's response body, or why delivery failed) goes
//! back to the binding, which may use it (cron ignores it, as Go's does).
//!
//! Which direction a component serves follows Go: the component type decides
//! (cron is input only; http, redis, localstorage and postgresql are output
//! only) and the `direction` metadata (`input`, `output`, `input,output`)
//! restricts it further ([`directions`]).

pub mod cron;
pub mod http;
pub mod localstorage;
pub mod postgres;
pub mod redis;

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use super::state::LocalFuture;
use super::{ComponentError, ComponentErrorKind, Metadata};
use crate::net::shutdown::Drain;

/// `create`, the operation input-binding responses use for `to` bindings.
pub const CREATE: &str = "create";

/// One call of an output binding.
#[derive(Clone, Debug, Default)]
pub struct InvokeRequest {
    /// The operation (`create`, `get`, …), already checked against
    /// [`OutputBinding::operations`].
    pub operation: String,
    /// The bytes (over HTTP: the request's `data` re-encoded as JSON).
    pub data: Bytes,
    /// Request metadata, names as sent.
    pub metadata: HashMap<String, String>,
}

/// What an output binding answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvokeResponse {
    /// The bytes (may be empty: the API still answers 200).
    pub data: Bytes,
    /// Response metadata (HTTP: `metadata.<k>` response headers).
    pub metadata: HashMap<String, String>,
}

/// A failed output-binding call, with the response that came with it (if any).
#[derive(Debug)]
pub struct InvokeFailure {
    /// What went wrong (Go's error text).
    pub error: ComponentError,
    /// Metadata reported even though the call failed.
    pub response: Option<InvokeResponse>,
}

impl From<ComponentError> for InvokeFailure {
    fn from(error: ComponentError) -> Self {
        Self {
            error,
            response: None,
        }
    }
}

/// The outcome of an output-binding call: `Ok(None)` is Go's nil response.
pub type InvokeResult = Result<Option<InvokeResponse>, InvokeFailure>;

/// An output binding. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait OutputBinding {
    /// The operations it supports, in Go's order (error messages list them).
    fn operations(&self) -> &[&'static str];
    /// Performs one operation.
    async fn invoke(&self, req: InvokeRequest) -> InvokeResult;
}

/// The object-safe form of [`OutputBinding`] held by the component store.
#[allow(missing_docs)] // mirrors OutputBinding one to one
pub trait OutputBindingDyn {
    fn operations(&self) -> &[&'static str];
    fn invoke(&self, req: InvokeRequest) -> LocalFuture<'_, InvokeResult>;
}

impl<T: OutputBinding> OutputBindingDyn for T {
    fn operations(&self) -> &[&'static str] {
        OutputBinding::operations(self)
    }
    fn invoke(&self, req: InvokeRequest) -> LocalFuture<'_, InvokeResult> {
        Box::pin(OutputBinding::invoke(self, req))
    }
}

/// One event an input binding read.
#[derive(Clone, Debug, Default)]
pub struct ReadEvent {
    /// The payload.
    pub data: Bytes,
    /// Event metadata (sent to the app as headers).
    pub metadata: HashMap<String, String>,
}

/// Receives an input binding's events (worker-local).
pub trait BindingHandler {
    /// Delivers one event; answers the app's response body, or why the
    /// delivery failed.
    fn handle(&self, event: ReadEvent) -> LocalFuture<'_, Result<Bytes, ComponentError>>;
}

/// An input binding. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait InputBinding {
    /// Starts reading: events go to `handler` until `drain` closes. Returns
    /// once reading has started (the reading itself runs in spawned tasks).
    async fn read(
        &self,
        handler: Rc<dyn BindingHandler>,
        drain: Drain,
    ) -> Result<(), ComponentError>;
}

/// The object-safe form of [`InputBinding`] held by the component store.
#[allow(missing_docs)] // mirrors InputBinding one to one
pub trait InputBindingDyn {
    fn read(
        &self,
        handler: Rc<dyn BindingHandler>,
        drain: Drain,
    ) -> LocalFuture<'_, Result<(), ComponentError>>;
}

impl<T: InputBinding> InputBindingDyn for T {
    fn read(
        &self,
        handler: Rc<dyn BindingHandler>,
        drain: Drain,
    ) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(InputBinding::read(self, handler, drain))
    }
}

/// The directions a component's `direction` metadata allows (Go's
/// `isBindingOfDirection`): `(input, output)`, both when it is absent.
pub fn directions(md: &Metadata) -> (bool, bool) {
    match md.get("direction") {
        None => (true, true),
        Some(v) => {
            let has = |d: &str| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(d));
            (has("input"), has("output"))
        }
    }
}

/// Whether `direction` names `input` explicitly (Go's
/// `isBindingOfExplicitDirection`): the app is then not asked with OPTIONS.
pub fn explicitly_input(md: &Metadata) -> bool {
    md.get("direction")
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("input")))
}

/// dapr/kit's `IsTruthy`: `y`, `yes`, `true`, `t`, `on`, `1` (any case).
pub fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "on" | "1"
    )
}

/// Shorthand for an error with Go's message.
pub fn failure(message: impl Into<String>) -> ComponentError {
    ComponentError::new(ComponentErrorKind::Other, message)
}

/// Go's error text for an OS error: the `strerror` text starting lower-case,
/// without Rust's `(os error N)` suffix (`no such file or directory`).
pub fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error ") {
        Some(i) => &s[..i],
        None => s.as_str(),
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `value` as Go's `json.Marshal` writes a value decoded into `any`: map
/// keys sorted, numbers as `float64` (`1`, `1.5`, `1e+21`), `<`, `>`, `&`,
/// U+2028 and U+2029 escaped. Daprd re-encodes output binding `data` and the
/// `data` of an app's binding-event response this way.
pub fn go_marshal(value: &serde_json::Value) -> Vec<u8> {
    let mut out = String::new();
    write_go_json(&mut out, value);
    out.into_bytes()
}

fn write_go_json(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0), false)),
        Value::String(s) => write_go_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map is ordered by key bytes, Go's sort order.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, k);
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_go_json(out, item);
                }
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's encoder writes it (HTML-safe).
pub fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Go's `encoding/json` writes it: shortest digits, `%f` form
/// between 1e-6 and 1e21, else `%e` with a two-digit-or-more exponent
/// cleaned the way Go cleans it (`1e+21`, `1e-7`). `f32` values are
/// formatted at 32-bit precision.
pub fn go_float(f: f64, single: bool) -> String {
    let abs = f.abs();
    let exp_form = abs != 0.0
        && if single {
            (abs as f32) < 1e-6 || (abs as f32) >= 1e21
        } else {
            !(1e-6..1e21).contains(&abs)
        };
    if !exp_form {
        return if single {
            format!("{}", f as f32)
        } else {
            format!("{f}")
        };
    }
    let s = if single {
        format!("{:e}", f as f32)
    } else {
        format!("{f:e}")
    };
    match s.split_once('e') {
        Some((mant, exp)) => match exp.strip_prefix('-') {
            Some(digits) => format!("{mant}e-{digits}"),
            None => format!("{mant}e+{exp}"),
        },
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn directions_follow_go() {
        assert_eq!(directions(&md(&[])), (true, true));
        assert_eq!(directions(&md(&[("direction", "input")])), (true, false));
        assert_eq!(
            directions(&md(&[("Direction", " Output , input")])),
            (true, true)
        );
        assert_eq!(directions(&md(&[("direction", "")])), (false, false));
        assert!(explicitly_input(&md(&[("direction", "input,output")])));
        assert!(!explicitly_input(&md(&[])));
    }

    #[test]
    fn go_marshal_matches_encoding_json() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"b":[1,1.5,1e21,1e-7,100000000000000000000],"a":"<&>\u2028","c":null,"d":true}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(go_marshal(&v)).unwrap(),
            r#"{"a":"\u003c\u0026\u003e\u2028","b":[1,1.5,1e+21,1e-7,100000000000000000000],"c":null,"d":true}"#
        );
        assert_eq!(go_marshal(&serde_json::Value::Null), b"null");
        let v: serde_json::Value = serde_json::from_str("\"a\\u0001\\b\"").unwrap();
        assert_eq!(go_marshal(&v), b"\"a\\u0001\\b\"");
        assert_eq!(go_float(0.000001, false), "0.000001");
        assert_eq!(go_float(1.5e-10, false), "1.5e-10");
        assert_eq!(go_float(0.1f32 as f64, true), "0.1");
    }

    #[test]
    fn os_errors_read_like_go() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(os_error_text(&e), "no such file or directory");
        assert!(is_truthy("Yes") && is_truthy("1") && !is_truthy("no"));
    }
}
