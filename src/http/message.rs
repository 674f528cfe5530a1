//! One request and one response type, shared by the HTTP/1.1 and HTTP/2 loops.
//!
//! Bodies are `Bytes`: the h1 loop hands over the bytes it read without
//! copying them, and handlers return `Bytes` that are written as they are.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};

use super::body::BodyStream;
use crate::api::error::ApiError;

/// An HTTP request with its body collected.
#[derive(Debug)]
pub struct Request {
    /// Request method.
    pub method: Method,
    /// Request target (path and query; escaped).
    pub uri: Uri,
    /// Protocol version.
    pub version: Version,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body, collected up to `--max-body-size` (empty when streamed).
    pub body: Bytes,
    /// The body as it arrives, for handlers that asked for streaming
    /// ([`super::h1::Service::streams_body`]); `body` is then empty.
    pub stream: Option<BodyStream>,
}

impl Request {
    /// A header's value as UTF-8 text, if present and valid.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The raw query string (without `?`), or `""`.
    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    /// The values of query parameter `name` (percent- and `+`-decoded), in order.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = String> + 'a {
        form_pairs(self.query()).filter_map(move |(k, v)| (k == name).then_some(v))
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string).
pub fn form_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

fn form_decode(s: &str) -> String {
    let plus_free = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_free)
        .decode_utf8_lossy()
        .into_owned()
}

/// An HTTP response. Headers other than the content type are rare, so they
/// sit in a plain `Vec` that does not allocate when empty.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`, if the response has one.
    pub content_type: Option<HeaderValue>,
    /// Further headers (the connection loop adds `content-length`, `date`, `connection`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
    /// A streamed body, written as it arrives (`body` is then ignored).
    pub stream: Option<BodyStream>,
}

/// `application/json`
pub const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
/// `text/plain; charset=utf-8`
pub const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

impl Response {
    /// A response with a status and nothing else.
    pub fn status(status: StatusCode) -> Self {
        Self {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Bytes::new(),
            stream: None,
        }
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self::status(StatusCode::NO_CONTENT)
    }

    /// A JSON body.
    pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type: Some(APPLICATION_JSON),
            headers: Vec::new(),
            body: body.into(),
            stream: None,
        }
    }

    /// A plain-text body.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type: Some(TEXT_PLAIN),
            headers: Vec::new(),
            body: body.into(),
            stream: None,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<ApiError> for Response {
    fn from(err: ApiError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Response::json(status, err.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let pairs: Vec<_> = form_pairs("a=1&b=x+y&c=%2F&&d").collect();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "/".into()),
                ("d".into(), "".into())
            ]
        );
    }

    #[test]
    fn error_response_uses_catalogue_status() {
        let r: Response = ApiError::health_not_ready(&["app"]).into();
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.content_type, Some(APPLICATION_JSON));
    }
}
