//! `timeout_sec` is the caller's whole budget, counted from the submission: a match that waits in the queue,
//! installs its agents or plays past it is answered with the result as it stands (`STATUS_TIMEOUT`), and a
//! stopped match's result says why it stopped.

mod support;

use std::net::TcpListener;

use proto::pb;
use support::{Executor, agent, cancel, example_agent, long_pong, pong_request, stored_replay};

/// A long pong match with a budget of `timeout_sec`.
fn long_match(id: &str, timeout_sec: u32) -> pb::MatchRequest {
    pb::MatchRequest {
        timeout_sec,
        ..long_pong(id)
    }
}

/// A loopback HTTP address that accepts connections and never answers: an agent download that never ends.
fn stalling_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/agent.zip", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn a_match_that_plays_past_its_budget_ends_as_a_timeout_with_what_was_played() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let result = client
        .run_match(long_match("budget-play", 8))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusTimeout,
        "{result:?}"
    );
    assert!(
        result.error_message.contains("time budget"),
        "{}",
        result.error_message
    );
    assert!(result.total_steps < 100_000);
    // The replay holds exactly what was played.
    stored_replay(&result);
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn agent_installs_draw_on_the_budget() {
    // The stalling artifact server is on loopback, which agent-init reaches only when allowed.
    let executor = Executor::start(&["--agent-source-allow-hosts", "127.0.0.1"]);
    let mut client = executor.client().await;
    let (_server, url) = stalling_server();
    let mut request = pong_request(
        "budget-install",
        agent("stuck", &url),
        agent("b", &example_agent("random-python")),
    );
    request.timeout_sec = 3;
    let result = client.run_match(request).await.unwrap().into_inner();
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusTimeout,
        "{result:?}"
    );
    assert_eq!(
        result.error_message,
        "the match's budget of 3 s (timeout_sec: queue, agent installs and play) ran out before the agents \
         started"
    );
    assert_eq!(result.total_steps, 0);
    for agent in &result.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::NotStarted, "{agent:?}");
        assert_eq!(agent.errors, 0);
    }
    assert_eq!(executor.leftover_processes(), vec![]);
    let work = std::fs::read_dir(executor.data_dir.path().join("work")).unwrap();
    assert_eq!(work.count(), 0, "the work directory is gone");
}

#[tokio::test]
async fn time_in_the_queue_counts_and_a_stopped_match_says_why() {
    let executor = Executor::start(&["--max-concurrent-matches", "1"]);
    let mut client = executor.client().await;
    client
        .submit_match(long_match("budget-running", 120))
        .await
        .unwrap();
    let queued = client
        .run_match(long_match("budget-queued", 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        queued.status(),
        pb::MatchStatus::StatusTimeout,
        "{queued:?}"
    );
    assert!(
        queued
            .error_message
            .starts_with("the match waited in the queue for its whole budget of 2 s (timeout_sec)"),
        "{}",
        queued.error_message
    );
    for agent in &queued.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::NotStarted, "{agent:?}");
    }

    let info = cancel(&mut client, "budget-running").await;
    let cancelled = info.result.expect("result");
    assert_eq!(cancelled.status(), pb::MatchStatus::StatusCancelled);
    assert!(
        cancelled
            .error_message
            .starts_with("cancelled by a CancelMatch request"),
        "{}",
        cancelled.error_message
    );
    assert_eq!(executor.leftover_processes(), vec![]);
}
