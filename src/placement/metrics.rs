//! The placement service's metrics in Prometheus text (format 0.0.4), with
//! Go's names (`pkg/placement/monitoring`): last-value gauges, the runtime
//! counts labelled by `host_namespace`, then the `process_*` families.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::namespaces::Gauges;

/// `dapr_placement_runtimes_total`
pub const RUNTIMES_TOTAL: &str = "dapr_placement_runtimes_total";
/// `dapr_placement_actor_runtimes_total`
pub const ACTOR_RUNTIMES_TOTAL: &str = "dapr_placement_actor_runtimes_total";
/// `dapr_placement_leader_status`
pub const LEADER_STATUS: &str = "dapr_placement_leader_status";
/// `dapr_placement_raft_leader_status`
pub const RAFT_LEADER_STATUS: &str = "dapr_placement_raft_leader_status";

/// The exposition of `gauges` (by namespace) and the leader status.
pub fn render(gauges: &BTreeMap<String, Gauges>, leader: bool) -> String {
    let mut out = String::new();
    if !gauges.is_empty() {
        family(
            &mut out,
            ACTOR_RUNTIMES_TOTAL,
            "The total number of actor runtimes reported to placement service.",
        );
        for (ns, g) in gauges {
            series(&mut out, ACTOR_RUNTIMES_TOTAL, ns, g.actor_runtimes);
        }
    }
    let status = i64::from(leader);
    family(
        &mut out,
        LEADER_STATUS,
        "Placement server leadership status (1 for leader, 0 for not leader).",
    );
    let _ = writeln!(out, "{LEADER_STATUS} {status}");
    family(
        &mut out,
        RAFT_LEADER_STATUS,
        "Raft server leadership status (1 for leader, 0 for not leader).",
    );
    let _ = writeln!(out, "{RAFT_LEADER_STATUS} {status}");
    if !gauges.is_empty() {
        family(
            &mut out,
            RUNTIMES_TOTAL,
            "The total number of runtimes reported to placement service.",
        );
        for (ns, g) in gauges {
            series(&mut out, RUNTIMES_TOTAL, ns, g.runtimes);
        }
    }
    crate::metrics::render_process(&mut out);
    out
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn series(out: &mut String, name: &str, ns: &str, v: i64) {
    let _ = writeln!(out, "{name}{{host_namespace=\"{}\"}} {v}", escape(ns));
}

/// A label value as the text format needs it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_labels() {
        let mut g = BTreeMap::new();
        g.insert(
            "default".to_owned(),
            Gauges {
                runtimes: 2,
                actor_runtimes: 1,
            },
        );
        g.insert("we\"ird".to_owned(), Gauges::default());
        let text = render(&g, true);
        assert!(text.contains(
            "# TYPE dapr_placement_runtimes_total gauge\n\
             dapr_placement_runtimes_total{host_namespace=\"default\"} 2\n\
             dapr_placement_runtimes_total{host_namespace=\"we\\\"ird\"} 0\n"
        ));
        assert!(
            text.contains("dapr_placement_actor_runtimes_total{host_namespace=\"default\"} 1\n")
        );
        assert!(text.contains("\ndapr_placement_leader_status 1\n"));
        assert!(text.contains("\ndapr_placement_raft_leader_status 1\n"));
        // Before any sidecar: only the leader status.
        let text = render(&BTreeMap::new(), true);
        assert!(!text.contains("runtimes_total"));
    }
}
