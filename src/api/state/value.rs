//! Values saved over HTTP, stored as Go daprd stores them.
//!
//! Go's HTTP state handler decodes each item's `value` into `any` and the
//! store writes it back with `json.Marshal`: no insignificant whitespace,
//! object keys sorted (bytewise; a repeated key keeps its last value),
//! numbers as `float64` (`1`, `1.5`, `1e+21`, `1e-7`), strings re-escaped
//! HTML-safe (`<` as `\u003c`, U+2028 as `\u2028`, a lone surrogate as
//! U+FFFD). [`go_value`] does the same, after a scan that finds most values
//! already in that form and then returns them untouched, without allocating.

use crate::components::bindings::{go_float, write_go_string};

/// `raw` (one valid JSON value) in Go's stored form: `Ok(None)` when it is
/// already canonical, `Err` for a number Go cannot hold in a `float64`.
pub fn go_value(raw: &[u8]) -> Result<Option<String>, String> {
    if (Scan { b: raw, i: 0 }).canonical_value() {
        return Ok(None);
    }
    let mut out = String::with_capacity(raw.len());
    let mut s = Scan { b: raw, i: 0 };
    s.write_value(&mut out)?;
    Ok(Some(out))
}

/// Integers of at most this many digits are exact in a `float64` and print
/// as written.
const PLAIN_DIGITS: usize = 15;

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &[u8]) -> bool {
        if self.b[self.i.min(self.b.len())..].starts_with(w) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    fn number_span(&mut self) -> &'a [u8] {
        let start = self.i;
        while matches!(self.peek(), b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    // ---- the canonical-form check (no allocation) ----

    /// Whether the value at the cursor is exactly what Go would write (and
    /// the whole input ends there).
    fn canonical_value(&mut self) -> bool {
        self.canonical() && self.i == self.b.len()
    }

    fn canonical(&mut self) -> bool {
        match self.peek() {
            b'{' => {
                self.i += 1;
                if self.eat(b'}') {
                    return true;
                }
                let mut prev: Option<&[u8]> = None;
                loop {
                    let Some(key) = self.plain_string() else {
                        return false;
                    };
                    if prev.is_some_and(|p| p >= key) {
                        return false; // unsorted or repeated
                    }
                    prev = Some(key);
                    if !self.eat(b':') || !self.canonical() {
                        return false;
                    }
                    if self.eat(b'}') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']') {
                    return true;
                }
                loop {
                    if !self.canonical() {
                        return false;
                    }
                    if self.eat(b']') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            b'"' => self.plain_string().is_some(),
            b't' => self.eat_word(b"true"),
            b'f' => self.eat_word(b"false"),
            b'n' => self.eat_word(b"null"),
            b'-' | b'0'..=b'9' => canonical_number(self.number_span()),
            _ => false,
        }
    }

    /// A string's contents when Go would write them unchanged: no escapes,
    /// no control characters, nothing Go escapes for HTML safety.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        loop {
            match self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                b'\\' | b'<' | b'>' | b'&' | 0..=0x1f => return None,
                // U+2028 / U+2029
                0xe2 if self.b.get(self.i + 1) == Some(&0x80)
                    && matches!(self.b.get(self.i + 2), Some(0xa8 | 0xa9)) =>
                {
                    return None
                }
                _ => self.i += 1,
            }
        }
    }

    // ---- the re-encoder ----

    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn write_value(&mut self, out: &mut String) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            b'{' => {
                self.i += 1;
                let mut members: Vec<(String, String)> = Vec::new();
                self.skip_ws();
                if !self.eat(b'}') {
                    loop {
                        self.skip_ws();
                        let key = self.string()?;
                        self.skip_ws();
                        if !self.eat(b':') {
                            return Err(self.unexpected());
                        }
                        let mut v = String::new();
                        self.write_value(&mut v)?;
                        members.push((key, v));
                        self.skip_ws();
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.unexpected());
                        }
                    }
                }
                // Stable: among equal keys the last one decoded wins, as
                // when Go fills a map.
                members.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                let mut first = true;
                for (n, (k, v)) in members.iter().enumerate() {
                    if members.get(n + 1).is_some_and(|next| next.0 == *k) {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_go_string(out, k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push('}');
            }
            b'[' => {
                self.i += 1;
                out.push('[');
                self.skip_ws();
                if !self.eat(b']') {
                    let mut first = true;
                    loop {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        self.write_value(out)?;
                        self.skip_ws();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.unexpected());
                        }
                    }
                }
                out.push(']');
            }
            b'"' => {
                let s = self.string()?;
                write_go_string(out, &s);
            }
            b't' if self.eat_word(b"true") => out.push_str("true"),
            b'f' if self.eat_word(b"false") => out.push_str("false"),
            b'n' if self.eat_word(b"null") => out.push_str("null"),
            b'-' | b'0'..=b'9' => {
                let span = self.number_span();
                let text = std::str::from_utf8(span).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => out.push_str(&go_float(f, false)),
                    _ => {
                        return Err(format!(
                            "json: cannot unmarshal number {text} into Go value of type float64"
                        ))
                    }
                }
            }
            _ => return Err(self.unexpected()),
        }
        Ok(())
    }

    fn unexpected(&self) -> String {
        format!("invalid JSON value at offset {}", self.i)
    }

    /// Decodes a string literal the way Go's decoder does.
    fn string(&mut self) -> Result<String, String> {
        if !self.eat(b'"') {
            return Err(self.unexpected());
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.unexpected());
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err(self.unexpected());
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.unexpected()),
                    };
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                c => buf.push(c),
            }
        }
        // Invalid UTF-8 becomes U+FFFD, as in Go.
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    /// After `\u`: a character, a surrogate pair, or U+FFFD for a lone
    /// surrogate (the escape after it is then read on its own, as in Go).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4().ok_or_else(|| self.unexpected())?;
        if (0xd800..0xdc00).contains(&hi) && self.b[self.i.min(self.b.len())..].starts_with(b"\\u")
        {
            let save = self.i;
            self.i += 2;
            if let Some(lo) = self.hex4().filter(|lo| (0xdc00..0xe000).contains(lo)) {
                let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.i = save;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }
}

/// Whether Go prints this number literal unchanged.
fn canonical_number(span: &[u8]) -> bool {
    let digits = span.strip_prefix(b"-").unwrap_or(span);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return digits.len() <= PLAIN_DIGITS && (digits == b"0" || digits[0] != b'0');
    }
    let Ok(text) = std::str::from_utf8(span) else {
        return false;
    };
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => go_float(f, false) == text,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::go_value;

    fn stored(raw: &str) -> String {
        match go_value(raw.as_bytes()).unwrap() {
            Some(s) => s,
            None => raw.to_owned(),
        }
    }

    #[test]
    fn canonical_values_pass_through() {
        for raw in [
            r#"{"a":[1,2],"b":1}"#,
            r#""hello""#,
            "1.5",
            "-0",
            "0",
            "123456789012345",
            "null",
            "true",
            "[]",
            "{}",
            r#"{"a":{"x":"é ☃ 😀","y":[]},"b":false}"#,
            "1e+21",
            "1e-7",
        ] {
            assert_eq!(go_value(raw.as_bytes()), Ok(None), "{raw}");
        }
    }

    #[test]
    fn others_are_written_as_go_writes_them() {
        assert_eq!(stored(r#"{"b": 1, "a": [1, 2]}"#), r#"{"a":[1,2],"b":1}"#);
        assert_eq!(stored(r#"{"a":1,"a":2}"#), r#"{"a":2}"#);
        assert_eq!(stored(r#""<b>&""#), r#""\u003cb\u003e\u0026""#);
        assert_eq!(stored(r#""\u0041\/\n\u2028""#), "\"A/\\n\\u2028\"");
        assert_eq!(stored(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(stored(r#""\ud800x""#), "\"\u{fffd}x\"");
        assert_eq!(stored("1.0"), "1");
        assert_eq!(stored("1E2"), "100");
        assert_eq!(stored("1e21"), "1e+21");
        assert_eq!(stored("0.0000001"), "1e-7");
        assert_eq!(stored("12345678901234567890"), "12345678901234567000");
        assert_eq!(
            stored("[ 1 , {\"z\" : null , \"y\":true} ]"),
            r#"[1,{"y":true,"z":null}]"#
        );
        assert!(go_value(b"1e400").is_err());
    }
}
