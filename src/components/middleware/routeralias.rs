//! `middleware.http.routeralias`: contrib's path aliases. `routes` is a
//! JSON (or YAML) map from a gorilla/mux path template (`/v1.0/mall/{id}`,
//! `{id:[0-9]+}`) to the path to use instead; a request whose path matches
//! gets the new path, and the template's variables are added to its query
//! (the whole query then encoded as Go's `url.Values.Encode`: sorted by
//! key). Metadata written as several `old: new` items (contrib's
//! deprecated form) is read too.

use std::collections::BTreeMap;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use regex::Regex;

use super::MwRequest;
use crate::components::Metadata;
use crate::http::message::form_pairs;

/// Go's `url.QueryEscape` leaves these as they are (space becomes `+`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One component's aliases.
pub struct RouterAlias {
    routes: Vec<Alias>,
}

struct Alias {
    template: Regex,
    vars: Vec<String>,
    to: String,
}

impl RouterAlias {
    /// From `routes` (or the deprecated one-item-per-route form).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let routes: BTreeMap<String, String> = match metadata.get("routes") {
            Some(v) if !v.is_empty() && metadata.0.len() == 1 => serde_yaml::from_str(v)
                .map_err(|e| format!("failed to decode 'routes' property as JSON or YAML: {e}"))?,
            _ => {
                if !metadata.0.is_empty() {
                    tracing::warn!("Listing routes as key-value pairs is deprecated. Please use the 'routes' property instead.");
                }
                let mut routes = BTreeMap::new();
                for (k, v) in &metadata.0 {
                    if k.is_empty() || v.is_empty() {
                        return Err("invalid key/value pair in metadata: must not be empty".into());
                    }
                    routes.insert(k.clone(), v.clone());
                }
                routes
            }
        };
        let routes = routes
            .into_iter()
            .map(|(from, to)| {
                let (template, vars) = compile(&from)?;
                Ok(Alias { template, vars, to })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { routes })
    }

    pub(super) fn on_request<Q: MwRequest>(&self, req: &mut Q) {
        let path = percent_decode_str(req.path())
            .decode_utf8_lossy()
            .into_owned();
        let Some((alias, caps)) = self
            .routes
            .iter()
            .find_map(|a| a.template.captures(&path).map(|c| (a, c)))
        else {
            return;
        };
        let vars: Vec<(String, String)> = alias
            .vars
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let value = caps.get(i + 1).map_or("", |m| m.as_str());
                (name.clone(), value.to_owned())
            })
            .collect();
        if vars.is_empty() {
            let target = match req.query() {
                Some(q) => format!("{}?{q}", alias.to),
                None => alias.to.clone(),
            };
            req.set_target(&target);
            return;
        }
        let mut pairs: Vec<(String, String)> =
            form_pairs(req.query().unwrap_or("")).chain(vars).collect();
        // `url.Values.Encode`: keys sorted, each key's values in order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        req.set_target(&format!("{}?{query}", alias.to));
    }
}

fn escape(s: &str) -> String {
    utf8_percent_encode(s, QUERY)
        .to_string()
        .replace("%20", "+")
}

/// A gorilla/mux path template as an anchored expression and its variables.
fn compile(template: &str) -> Result<(Regex, Vec<String>), String> {
    let bad = || format!("routeralias: invalid route template {template:?}");
    let mut pattern = String::from("^");
    let mut vars = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        pattern.push_str(&regex::escape(&rest[..open]));
        // The variable ends at the brace that balances this one.
        let mut depth = 0usize;
        let mut close = None;
        for (i, b) in rest.bytes().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.ok_or_else(bad)?;
        let inner = &rest[open + 1..close];
        let (name, expr) = inner.split_once(':').unwrap_or((inner, "[^/]+"));
        if name.is_empty() {
            return Err(bad());
        }
        vars.push(name.to_owned());
        pattern.push('(');
        pattern.push_str(expr);
        pattern.push(')');
        rest = &rest[close + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    let re = Regex::new(&pattern).map_err(|e| format!("{}: {e}", bad()))?;
    if re.captures_len() != vars.len() + 1 {
        return Err(format!(
            "{}: a variable's pattern must not have groups of its own",
            bad()
        ));
    }
    Ok((re, vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_paths() {
        let (re, vars) = compile("/mall/{id}/x").unwrap();
        assert_eq!(vars, ["id"]);
        assert!(re.is_match("/mall/7/x"));
        assert!(!re.is_match("/mall/7/8/x"));
        let (re, _) = compile("/a/{n:[0-9]+}").unwrap();
        assert!(re.is_match("/a/12") && !re.is_match("/a/b"));
        assert!(compile("/a/{n").is_err());
        assert!(compile("/a/{n:(x)}").is_err());
    }

    #[test]
    fn query_values_are_escaped_as_go() {
        assert_eq!(escape("a b&c/é"), "a+b%26c%2F%C3%A9");
    }
}
