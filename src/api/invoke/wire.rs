//! The sidecar-to-sidecar protocol (`dapr.proto.internals.v1`) as both
//! sides use it: method paths, metadata conversions (Go's
//! `pkg/messaging/v1/util.go`), and the `CallLocalStream` chunk framing.
//!
//! A request's caller headers (HTTP) or metadata (gRPC) travel as
//! `InternalInvokeRequest.metadata`, a map from name to a list of values;
//! the callee turns them back into HTTP headers for the app with Go's rules
//! (`InternalMetadataToHTTPHeader`): names lower-cased, `content-type`,
//! `content-length`, `-bin` and hop-by-hop names (and those `Connection`
//! names) dropped, `destination-app-id` dropped, gRPC's reserved names
//! prefixed with `dapr-`. Response headers travel back the same way.
//!
//! `CallLocalStream` (Go's streaming invocation, used for every call): the
//! caller sends `InternalInvokeRequestStream` messages, the first carrying
//! the request (its message without data), each carrying an optional
//! `payload` chunk whose `seq` counts up from 0; then it half-closes. The
//! callee answers `InternalInvokeResponseStream` messages the same way, the
//! first carrying the response (status, headers, message without data).

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use prost::Message;

use crate::proto::dapr::proto::internals::v1::ListStringValue;

/// The internal service.
pub const SERVICE: &str = "dapr.proto.internals.v1.ServiceInvocation";
/// `CallLocal` (unary).
pub const CALL_LOCAL: &str = "/dapr.proto.internals.v1.ServiceInvocation/CallLocal";
/// `CallLocalStream` (bidi).
pub const CALL_LOCAL_STREAM: &str = "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream";
/// Go's `DestinationIDHeader`: the invoked app ID, not passed to the app.
pub const DESTINATION_ID: &str = "destination-app-id";
/// `dapr-caller-namespace`.
pub const CALLER_NAMESPACE: &str = "dapr-caller-namespace";
/// Largest payload chunk sent in one stream message.
pub const CHUNK: usize = 64 * 1024;

/// `InternalInvokeRequest.metadata` / `InternalInvokeResponse.headers`.
pub type Metadata = HashMap<String, ListStringValue>;

/// Go's `http.CanonicalHeaderKey` (`x-custom-id` → `X-Custom-Id`), as Go
/// sidecars key HTTP-originated metadata.
pub fn canonical_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// HTTP headers (or gRPC metadata, `canonical = false`) as internal
/// metadata, values grouped by name.
pub fn headers_to_metadata(h: &HeaderMap, canonical: bool) -> Metadata {
    let mut md = Metadata::with_capacity(h.keys_len());
    for name in h.keys() {
        let binary = name.as_str().ends_with("-bin");
        let values: Vec<String> = h
            .get_all(name)
            .iter()
            .map(|v| {
                let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
                if binary {
                    padded_base64(&text)
                } else {
                    text
                }
            })
            .collect();
        let key = if canonical {
            canonical_key(name.as_str())
        } else {
            name.as_str().to_owned()
        };
        md.insert(key, ListStringValue { values });
    }
    md
}

/// A binary (`-bin`) value as Go's internal metadata carries it: standard
/// base64 with padding (gRPC sends it unpadded on the wire).
fn padded_base64(wire: &str) -> String {
    use base64::Engine;
    let trimmed = wire.trim().trim_end_matches('=');
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed) {
        Ok(raw) => base64::engine::general_purpose::STANDARD.encode(raw),
        Err(_) => wire.to_owned(),
    }
}

/// Adds `value` to `key`'s list (Go's `addOrCreate`).
pub fn append(md: &mut Metadata, key: &str, value: String) {
    md.entry(key.to_owned()).or_default().values.push(value);
}

/// Sets `key` to the single `value`.
pub fn set(md: &mut Metadata, key: &str, value: &str) {
    md.retain(|k, _| !k.eq_ignore_ascii_case(key));
    md.insert(
        key.to_owned(),
        ListStringValue {
            values: vec![value.to_owned()],
        },
    );
}

/// The first value of `key` (any case).
pub fn first<'m>(md: &'m Metadata, key: &str) -> Option<&'m str> {
    md.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.values.first())
        .map(String::as_str)
}

/// Go's `IsHopByHopHeader` (with `http2-settings`).
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "http2-settings"
            | "te"
            | "trailer"
            | "proxy-authorization"
            | "proxy-authenticate"
    )
}

/// Go's `InternalMetadataToHTTPHeader`: the metadata as HTTP headers for
/// the app (or the caller), without framing, hop-by-hop and binary names.
pub fn metadata_to_headers(md: &Metadata) -> HeaderMap {
    let nominated: Vec<String> = md
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.values.iter())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = HeaderMap::with_capacity(md.len());
    for (k, list) in md {
        let key = k.to_ascii_lowercase();
        if list.values.is_empty()
            || key == DESTINATION_ID
            || key.ends_with("-bin")
            || key == "content-type"
            || key == "content-length"
            || hop_by_hop(&key)
            || nominated.contains(&key)
        {
            continue;
        }
        // gRPC's reserved names become `dapr-` ones (Go's ReservedGRPCMetadataToDaprPrefixHeader).
        let key = match key.strip_prefix(':') {
            Some(k @ ("method" | "scheme" | "path" | "authority")) => format!("dapr-{k}"),
            Some(_) => continue,
            None if key.starts_with("grpc-") => format!("dapr-{key}"),
            None => key,
        };
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            continue;
        };
        for v in &list.values {
            if let Ok(v) = HeaderValue::from_str(v) {
                out.append(name.clone(), v);
            }
        }
    }
    out
}

/// Go's `isPermanentHTTPHeader` (IANA's permanent request headers), which
/// become `dapr-` names when HTTP headers are turned into gRPC metadata.
fn permanent_http_header(name: &str) -> bool {
    matches!(
        name,
        "accept"
            | "accept-charset"
            | "accept-language"
            | "accept-ranges"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "cache-control"
            | "content-type"
            | "content-length"
            | "cookie"
            | "date"
            | "expect"
            | "from"
            | "host"
            | "if-match"
            | "if-modified-since"
            | "if-none-match"
            | "if-schedule-tag-match"
            | "if-unmodified-since"
            | "max-forwards"
            | "origin"
            | "pragma"
            | "referer"
            | "via"
            | "warning"
    )
}

/// Go's `InternalMetadataToGrpcMetadata(…, httpHeaderConversion = true)`:
/// metadata as gRPC metadata (for a gRPC app, or a gRPC caller's reply
/// headers): HTTP's permanent names (as HTTP sends them, canonical case)
/// prefixed with `dapr-`, `-bin` values
/// base64-decoded, `destination-app-id` dropped.
pub fn metadata_to_grpc(md: &Metadata) -> HeaderMap {
    use base64::Engine;
    let mut out = HeaderMap::with_capacity(md.len());
    for (k, list) in md {
        let mut key = k.to_ascii_lowercase();
        if key == DESTINATION_ID || key.starts_with(':') {
            continue;
        }
        // Go compares canonical names: only HTTP-originated keys
        // (`Content-Type`) are renamed, not gRPC's lower-case ones.
        if k.starts_with(|c: char| c.is_ascii_uppercase()) && permanent_http_header(&key) {
            key = format!("dapr-{key}");
        }
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            continue;
        };
        for v in &list.values {
            let value = if key.ends_with("-bin") {
                match base64::engine::general_purpose::STANDARD.decode(v) {
                    // Binary metadata travels base64-encoded (without padding) on the wire.
                    Ok(raw) => HeaderValue::from_str(
                        &base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw),
                    ),
                    Err(_) => continue,
                }
            } else {
                HeaderValue::from_str(v)
            };
            if let Ok(v) = value {
                out.append(name.clone(), v);
            }
        }
    }
    out
}

/// One length-prefixed gRPC message holding `m`.
pub fn frame<M: Message>(m: &M) -> Bytes {
    let len = m.encoded_len();
    let mut out = BytesMut::with_capacity(crate::grpc::frame::PREFIX_LEN + len);
    out.put_u8(0);
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    // The buffer has room for the whole message: encoding cannot fail.
    let _ = m.encode(&mut out);
    out.freeze()
}

/// Splits `data` into chunks of at most [`CHUNK`] bytes (no copies).
pub fn chunks(mut data: Bytes) -> impl Iterator<Item = Bytes> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let n = data.len().min(CHUNK);
        Some(data.split_to(n))
    })
}

/// Checks a payload's sequence number (Go: `invalid sequence number received`).
pub fn check_seq(got: u64, want: &mut u64) -> Result<(), String> {
    if got != *want {
        return Err(format!(
            "invalid sequence number received: {got} (expected: {want})"
        ));
    }
    *want += 1;
    Ok(())
}

/// The `{"code":…,"message":…}` JSON of a gRPC status (Go's protojson of
/// `internals.v1.Status`, unpopulated fields omitted).
pub fn status_json(code: i32, message: &str) -> Vec<u8> {
    let mut o = serde_json::Map::new();
    if code != 0 {
        o.insert("code".into(), code.into());
    }
    if !message.is_empty() {
        o.insert("message".into(), message.into());
    }
    serde_json::to_vec(&serde_json::Value::Object(o)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &[&str])]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    ListStringValue {
                        values: v.iter().map(|s| s.to_string()).collect(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn canonical_keys_are_gos() {
        assert_eq!(canonical_key("x-custom-id"), "X-Custom-Id");
        assert_eq!(canonical_key("CONTENT-TYPE"), "Content-Type");
        assert_eq!(canonical_key("traceparent"), "Traceparent");
    }

    #[test]
    fn metadata_to_http_follows_go() {
        let h = metadata_to_headers(&md(&[
            ("X-Custom", &["a", "b"]),
            ("Content-Type", &["text/plain"]),
            ("Content-Length", &["5"]),
            ("Connection", &["keep-alive, X-Hop"]),
            ("X-Hop", &["gone"]),
            ("Te", &["trailers"]),
            ("destination-app-id", &["b"]),
            ("grpc-trace-bin", &["AAAA"]),
            ("grpc-accept-encoding", &["gzip"]),
            (":authority", &["x:1"]),
            ("dapr-caller-app-id", &["a"]),
            ("Traceparent", &["00-1-2-01"]),
        ]));
        let get = |k: &str| {
            h.get_all(k)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("x-custom"), ["a", "b"]);
        assert_eq!(get("dapr-grpc-accept-encoding"), ["gzip"]);
        assert_eq!(get("dapr-authority"), ["x:1"]);
        assert_eq!(get("dapr-caller-app-id"), ["a"]);
        assert_eq!(get("traceparent"), ["00-1-2-01"]);
        for gone in [
            "content-type",
            "content-length",
            "connection",
            "x-hop",
            "te",
            "destination-app-id",
            "grpc-trace-bin",
        ] {
            assert!(h.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn metadata_to_grpc_prefixes_permanent_headers() {
        let g = metadata_to_grpc(&md(&[
            ("Content-Type", &["text/plain"]),
            ("X-App", &["yes"]),
            ("Date", &["today"]),
            ("my-bin", &["AQID"]),
            ("accept", &["grpc"]),
        ]));
        assert_eq!(g.get("accept").unwrap(), "grpc");
        assert_eq!(g.get("dapr-content-type").unwrap(), "text/plain");
        assert_eq!(g.get("dapr-date").unwrap(), "today");
        assert_eq!(g.get("x-app").unwrap(), "yes");
        assert_eq!(g.get("my-bin").unwrap(), "AQID");
        assert!(g.get("content-type").is_none());
    }

    #[test]
    fn headers_group_values() {
        let mut h = HeaderMap::new();
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        let m = headers_to_metadata(&h, true);
        assert_eq!(m["X-A"].values, ["1", "2"]);
        assert_eq!(first(&m, "x-a"), Some("1"));
        let mut b = HeaderMap::new();
        b.insert("trace-bin", HeaderValue::from_static("AQI"));
        assert_eq!(headers_to_metadata(&b, false)["trace-bin"].values, ["AQI="]);
        let mut m = headers_to_metadata(&h, false);
        append(&mut m, "x-a", "3".into());
        assert_eq!(m["x-a"].values, ["1", "2", "3"]);
        set(&mut m, "X-A", "z");
        assert_eq!(first(&m, "x-a"), Some("z"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn status_json_is_protojson() {
        assert_eq!(
            String::from_utf8(status_json(7, "no way")).unwrap(),
            r#"{"code":7,"message":"no way"}"#
        );
        assert_eq!(String::from_utf8(status_json(0, "")).unwrap(), "{}");
        let mut want = 0;
        assert!(check_seq(0, &mut want).is_ok());
        assert_eq!(
            check_seq(5, &mut want).unwrap_err(),
            "invalid sequence number received: 5 (expected: 1)"
        );
        let parts: Vec<usize> = chunks(Bytes::from(vec![0u8; CHUNK * 2 + 1]))
            .map(|c| c.len())
            .collect();
        assert_eq!(parts, [CHUNK, CHUNK, 1]);
    }
}
