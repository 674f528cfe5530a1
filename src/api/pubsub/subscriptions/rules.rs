//! Routing rules: CEL `match` expressions over the CloudEvent (`event.*`),
//! as Go daprd evaluates them with cel-go. Rules are tried in order; the
//! first whose expression is true picks the path, and a rule without an
//! expression (the subscription's default route) always matches.
//!
//! Expressions are compiled once, when the subscription is loaded, with the
//! `cel-interpreter` crate; an expression that does not parse rejects the
//! subscription with the parser's message.

use std::sync::Arc;

use cel_interpreter::{Context, Program, Value};

/// A compiled `match` expression.
#[derive(Clone)]
pub struct Matcher {
    source: String,
    program: Arc<Program>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Matcher").field(&self.source).finish()
    }
}

impl Matcher {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Matcher, String> {
        let program = Program::compile(source).map_err(|e| e.to_string())?;
        Ok(Matcher {
            source: source.to_owned(),
            program: Arc::new(program),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `event`; anything but `true` (including an error,
    /// such as a missing field) is no match, as in Go.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        let mut ctx = Context::default();
        if ctx.add_variable("event", event.clone()).is_err() {
            return false;
        }
        matches!(self.program.execute(&ctx), Ok(Value::Bool(true)))
    }
}

/// One routing rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `None`: always matches.
    pub matcher: Option<Matcher>,
    /// The app path, with a leading `/`.
    pub path: String,
}

impl Rule {
    /// A rule; `path` gains a leading `/` when it has none (SDKs send both forms).
    pub fn new(matcher: Option<Matcher>, path: &str) -> Rule {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Rule { matcher, path }
    }
}

/// Whether any rule needs the parsed event.
pub fn needs_event(rules: &[Rule]) -> bool {
    rules.iter().any(|r| r.matcher.is_some())
}

/// The path of the first matching rule.
pub fn route<'r>(rules: &'r [Rule], event: Option<&serde_json::Value>) -> Option<&'r str> {
    rules
        .iter()
        .find(|r| match (&r.matcher, event) {
            (None, _) => true,
            (Some(m), Some(ev)) => m.matches(ev),
            (Some(_), None) => false,
        })
        .map(|r| r.path.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            Rule::new(
                Some(
                    Matcher::compile(r#"event.type == "order" && event.data.total > 10"#).unwrap(),
                ),
                "big",
            ),
            Rule::new(
                Some(Matcher::compile(r#"event.type == "order""#).unwrap()),
                "/small",
            ),
            Rule::new(None, "other"),
        ];
        let ev = |t: &str, total: i64| serde_json::json!({"type": t, "data": {"total": total}});
        assert_eq!(route(&rules, Some(&ev("order", 11))), Some("/big"));
        assert_eq!(route(&rules, Some(&ev("order", 3))), Some("/small"));
        assert_eq!(route(&rules, Some(&ev("refund", 30))), Some("/other"));
        // A missing field is no match, not an error.
        let no_data = serde_json::json!({"type": "order"});
        assert_eq!(route(&rules[..1], Some(&no_data)), None);
        assert!(Matcher::compile("event.type ==").is_err());
    }
}
