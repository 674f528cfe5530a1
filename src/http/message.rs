//! One request and one response type, shared by the HTTP/1.1 and HTTP/2 loops.
//!
//! Bodies are `Bytes`: the h1 loop hands over the bytes it read without
//! copying them, and handlers return `Bytes` that are written as they are.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};

use super::body::BodyStream;

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
    /// The client's address (the connection's peer), when known.
    pub remote: Option<std::net::SocketAddr>,
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

/// A request the connection loop refuses before any service sees it; the
/// service says how it is answered ([`super::h1::Service::reject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The head is larger than `--read-buffer-size` (431).
    HeadersTooLarge,
    /// More headers than the parser takes (431).
    TooManyHeaders,
    /// The body is larger than this limit, `--max-body-size` (413).
    BodyTooLarge(usize),
    /// The body's framing is broken, e.g. a malformed chunk (400).
    MalformedBody(&'static str),
    /// The head does not parse (400); the parser's reason.
    MalformedHead(String),
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::HeadersTooLarge | Self::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MalformedBody(_) | Self::MalformedHead(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// What was wrong, for a person.
    pub fn message(&self) -> String {
        match self {
            Self::HeadersTooLarge => {
                "request headers exceed the limit set by --read-buffer-size".into()
            }
            Self::TooManyHeaders => "too many request headers".into(),
            Self::BodyTooLarge(limit) => {
                format!("request body exceeds the limit of {limit} bytes set by --max-body-size")
            }
            Self::MalformedBody(why) => (*why).into(),
            Self::MalformedHead(why) => format!("malformed HTTP request: {why}"),
        }
    }

    /// The status with the message as a plain-text body.
    pub fn plain(&self) -> Response {
        Response::text(self.status(), self.message())
    }
}

/// Whether `method` may carry a body worth reading or sending.
pub fn method_has_body(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
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
}
