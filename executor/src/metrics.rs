//! Prometheus metrics of the executor, served as text on `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MatchLabels {
    environment: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvironmentLabels {
    environment: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    listener: String,
    reason: String,
}

/// The executor's metrics and their registry.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    matches: Family<MatchLabels, Counter>,
    durations: Family<EnvironmentLabels, Histogram>,
    running: Gauge,
    queued: Gauge,
    agent_errors: Family<KindLabels, Counter>,
    replay_bytes: Counter,
    rejected: Family<ReasonLabels, Counter>,
    reports_refused: Counter,
    connections: Family<ListenerLabels, Gauge>,
    connections_closed: Family<ClosedLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("rl_arena_executor");
        let matches = Family::<MatchLabels, Counter>::default();
        registry.register(
            "matches",
            "Finished matches by environment and status",
            matches.clone(),
        );
        let durations = Family::<EnvironmentLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
            ])
        });
        registry.register(
            "match_duration_seconds",
            "Wall-clock time of finished matches",
            durations.clone(),
        );
        let running = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "matches_running",
            "Matches being played now",
            running.clone(),
        );
        let queued = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "matches_queued",
            "Matches waiting for a slot",
            queued.clone(),
        );
        let agent_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "agent_errors",
            "Errors charged to agents, by kind",
            agent_errors.clone(),
        );
        let replay_bytes = Counter::<u64, AtomicU64>::default();
        registry.register(
            "replay_bytes",
            "Bytes of replays stored",
            replay_bytes.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "requests_rejected",
            "Match requests refused, by reason",
            rejected.clone(),
        );
        let reports_refused = Counter::<u64, AtomicU64>::default();
        registry.register(
            "reports_refused",
            "Report streams refused for a bad token",
            reports_refused.clone(),
        );
        let connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "connections",
            "Open connections, by listener (grpc or http)",
            connections.clone(),
        );
        let connections_closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "connections_closed",
            "Connections the executor closed, by listener and reason (first_request_timeout, idle_timeout, \
             evicted at the cap, refused at the cap)",
            connections_closed.clone(),
        );
        Self {
            registry,
            matches,
            durations,
            running,
            queued,
            agent_errors,
            replay_bytes,
            rejected,
            reports_refused,
            connections,
            connections_closed,
        }
    }

    /// A connection of `listener` opened (`delta` 1) or went (`-1`).
    pub(crate) fn connections(&self, listener: &str, delta: i64) {
        self.connections
            .get_or_create(&ListenerLabels {
                listener: listener.to_string(),
            })
            .inc_by(delta);
    }

    /// The executor closed a connection of `listener` for `reason`.
    pub(crate) fn connection_closed(&self, listener: &str, reason: &str) {
        self.connections_closed
            .get_or_create(&ClosedLabels {
                listener: listener.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    pub(crate) fn match_finished(&self, environment: &str, status: &str, seconds: f64) {
        self.matches
            .get_or_create(&MatchLabels {
                environment: environment.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&EnvironmentLabels {
                environment: environment.to_string(),
            })
            .observe(seconds);
    }

    pub(crate) fn agent_errors(&self, kind: &str, count: u64) {
        if count > 0 {
            self.agent_errors
                .get_or_create(&KindLabels {
                    kind: kind.to_string(),
                })
                .inc_by(count);
        }
    }

    pub(crate) fn replay_stored(&self, bytes: u64) {
        self.replay_bytes.inc_by(bytes);
    }

    pub(crate) fn rejected(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub(crate) fn report_refused(&self) {
        self.reports_refused.inc();
    }

    /// The text exposition, with the load gauges set to the given values.
    pub(crate) fn encode(&self, running: usize, queued: usize) -> String {
        self.running.set(i64::try_from(running).unwrap_or(i64::MAX));
        self.queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exposition_has_the_recorded_values() {
        let metrics = super::Metrics::new();
        metrics.match_finished("pong", "success", 1.5);
        metrics.agent_errors("timeout", 3);
        metrics.replay_stored(1000);
        metrics.connections("grpc", 1);
        metrics.connections("grpc", 1);
        metrics.connections("grpc", -1);
        metrics.connection_closed("http", "idle_timeout");
        let text = metrics.encode(2, 5);
        assert!(
            text.contains(r#"rl_arena_executor_connections{listener="grpc"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rl_arena_executor_connections_closed_total{listener="http",reason="idle_timeout"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rl_arena_executor_matches_total{environment="pong",status="success"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"rl_arena_executor_agent_errors_total{kind="timeout"} 3"#),
            "{text}"
        );
        assert!(
            text.contains("rl_arena_executor_replay_bytes_total 1000"),
            "{text}"
        );
        assert!(
            text.contains("rl_arena_executor_matches_running 2"),
            "{text}"
        );
        assert!(
            text.contains("rl_arena_executor_matches_queued 5"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rl_arena_executor_match_duration_seconds_count{environment="pong"} 1"#
            ),
            "{text}"
        );
    }
}
