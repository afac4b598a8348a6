//! An agent that stops reading its input cannot block the match: a write that cannot finish before the
//! deadline is the agent's timeout, and stopping the agent still works.

use std::path::Path;
use std::time::Duration;

use orchestrator::agent::launch::resolve;
use orchestrator::agent::{AgentProcess, ProcessLimits, Reply};
use serde_json::json;

#[tokio::test]
async fn writes_to_a_deaf_agent_time_out() {
    let dir = tempfile::tempdir().unwrap();
    // Answers the first line, then never reads again.
    std::fs::write(
        dir.path().join("agent.toml"),
        "command = [\"sh\", \"-c\", \"read -r line; echo '{\\\"type\\\":\\\"ready\\\"}'; exec sleep 1000\"]\n",
    )
    .unwrap();
    let launch = resolve(dir.path(), Path::new("python3")).unwrap();
    let limits = ProcessLimits {
        max_line_bytes: 1024,
        stderr_bytes: 1024,
    };
    let mut agent = AgentProcess::spawn(&launch, limits).unwrap();
    let pid = agent.pid().unwrap();

    let ready = agent
        .request(&json!({"type": "init"}), Duration::from_secs(10), None)
        .await;
    assert!(
        matches!(ready, Reply::Line { ref line, .. } if line == br#"{"type":"ready"}"#),
        "{ready:?}"
    );

    // Far more than a pipe holds: the write cannot complete while nobody reads.
    let huge = json!({"type": "step", "step": 1, "observation": "x".repeat(4 * 1024 * 1024)});
    let reply = agent
        .request(&huge, Duration::from_millis(300), Some(1))
        .await;
    assert!(matches!(reply, Reply::TimedOut), "{reply:?}");
    // Later requests queue behind the stuck write and time out as well, without blocking.
    let reply = agent
        .request(
            &json!({"type": "step", "step": 2}),
            Duration::from_millis(300),
            Some(2),
        )
        .await;
    assert!(matches!(reply, Reply::TimedOut), "{reply:?}");

    agent.stop(None, Duration::from_millis(100)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().chars().next());
    assert!(
        matches!(state, None | Some(Some('Z' | 'X'))),
        "agent {pid} still runs: {stat}"
    );
}
