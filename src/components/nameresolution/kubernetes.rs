//! `nameresolution.kubernetes` (components-contrib `nameresolution/kubernetes`):
//! an app's sidecars are behind the headless service `<app-id>-dapr` the
//! operator creates, so the address is
//! `<app-id>-dapr.<namespace>.svc.<clusterDomain>:<port>`, where the port is
//! the caller's own internal gRPC port (every injected sidecar uses the same,
//! 50002). Metadata: `clusterDomain` (default `cluster.local`) and
//! `template`, a Go template replacing the whole string; the fields `.ID`,
//! `.Namespace` and `.Port` are supported. The DNS lookup happens when the
//! connection is dialled (off the worker thread).

use super::{ResolveError, ResolveRequest};
use crate::components::Metadata;

/// Contrib's default cluster domain.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Id,
    Namespace,
    Port,
}

/// The Kubernetes resolver.
#[derive(Debug)]
pub struct Kubernetes {
    cluster_domain: String,
    template: Option<Vec<Piece>>,
}

impl Kubernetes {
    /// Reads `clusterDomain` and `template`.
    pub fn new(md: &Metadata) -> Result<Self, String> {
        let cluster_domain = md
            .get("clusterDomain")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_CLUSTER_DOMAIN)
            .to_owned();
        let template = match md.get("template").filter(|s| !s.is_empty()) {
            Some(t) => Some(parse_template(t)?),
            None => None,
        };
        Ok(Self {
            cluster_domain,
            template,
        })
    }

    /// The address of `req.id`'s sidecars.
    pub fn resolve(&self, req: &ResolveRequest<'_>) -> Result<String, ResolveError> {
        if let Some(pieces) = &self.template {
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Id => out.push_str(req.id),
                    Piece::Namespace => out.push_str(req.namespace),
                    Piece::Port => out.push_str(itoa::Buffer::new().format(req.port)),
                }
            }
            return Ok(out);
        }
        Ok(format!(
            "{}-dapr.{}.svc.{}:{}",
            req.id, req.namespace, self.cluster_domain, req.port
        ))
    }
}

/// Parses the subset of Go's `text/template` the resolver supports:
/// literal text and `{{.ID}}`, `{{.Namespace}}`, `{{.Port}}` actions.
fn parse_template(t: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template {t:?}: unclosed action"))?;
        let action = after[..end].trim_matches(|c: char| c.is_whitespace() || c == '-');
        pieces.push(match action {
            ".ID" => Piece::Id,
            ".Namespace" => Piece::Namespace,
            ".Port" => Piece::Port,
            other => {
                return Err(format!(
                    "template {t:?}: unsupported action {{{{{other}}}}} (supported: .ID, .Namespace, .Port)"
                ))
            }
        });
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    const REQ: ResolveRequest<'static> = ResolveRequest {
        id: "orders",
        namespace: "shop",
        port: 50002,
    };

    #[test]
    fn contrib_format_and_cluster_domain() {
        let k = Kubernetes::new(&md(&[])).unwrap();
        assert_eq!(
            k.resolve(&REQ).unwrap(),
            "orders-dapr.shop.svc.cluster.local:50002"
        );
        let k = Kubernetes::new(&md(&[("clusterDomain", "corp.example")])).unwrap();
        assert_eq!(
            k.resolve(&REQ).unwrap(),
            "orders-dapr.shop.svc.corp.example:50002"
        );
    }

    #[test]
    fn template_overrides_the_whole_address() {
        let k = Kubernetes::new(&md(&[(
            "template",
            "{{.ID}}-{{ .Namespace }}.internal:{{.Port}}",
        )]))
        .unwrap();
        assert_eq!(k.resolve(&REQ).unwrap(), "orders-shop.internal:50002");
        assert!(Kubernetes::new(&md(&[("template", "{{.Data.region}}")])).is_err());
        assert!(Kubernetes::new(&md(&[("template", "{{.ID")])).is_err());
    }
}
