//! Full matches through `executor serve` over gRPC: example agents play pong, results and replays come back.

mod support;

use proto::pb;
use sha2::Digest;
use support::{Executor, agent, example_agent, example_pong, pong_request};

#[tokio::test]
async fn pong_between_two_python_agents_of_the_original_format() {
    let executor = Executor::start(&[]);
    let response = executor
        .run_match(example_pong("pong-python-1", ["tracker", "random"]))
        .await;

    assert_eq!(response.match_id, "pong-python-1");
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    assert_eq!(response.seed, 7);
    assert!(response.total_steps > 0 && response.total_steps <= 300);
    assert!(response.execution_time_sec > 0.0);
    assert_eq!(response.agent_results.len(), 2);
    let ids: Vec<_> = response
        .agent_results
        .iter()
        .map(|a| a.agent_id.as_str())
        .collect();
    assert_eq!(ids, ["tracker", "random"]);
    for a in &response.agent_results {
        assert_eq!(a.status(), pb::AgentStatus::Ok, "{a:?}");
        assert_eq!(a.errors, 0);
    }
    let scores: Vec<f64> = response.agent_results.iter().map(|a| a.score).collect();
    let expected_winner = if scores[0] > scores[1] {
        "tracker"
    } else if scores[1] > scores[0] {
        "random"
    } else {
        ""
    };
    assert_eq!(response.winner_agent_id, expected_winner);
    if response.total_steps < 300 {
        assert!(
            scores.contains(&3.0),
            "a game that ends early ends at the winning score: {scores:?}"
        );
    }

    // The replay is stored as JSON and HTML, the URLs point at them and the digest matches.
    let json_path = response
        .replay_url
        .strip_prefix("file://")
        .expect("file url");
    let html_path = response
        .replay_html_url
        .strip_prefix("file://")
        .expect("file url");
    let json = std::fs::read(json_path).expect("replay json");
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&json)),
        response.replay_sha256
    );
    let replay: proto::replay::Replay = serde_json::from_slice(&json).expect("replay parses");
    assert_eq!(replay.schema_version, proto::replay::SCHEMA_VERSION);
    assert_eq!(replay.frames.len() as u32, response.total_steps);
    assert_eq!(replay.agents, ["tracker", "random"]);
    assert_eq!(replay.seed, 7);
    let outcome = replay.outcome.expect("outcome in replay");
    assert_eq!(outcome.agents[0].score, scores[0]);
    let html = std::fs::read_to_string(html_path).expect("replay html");
    assert!(html.contains("\"match_id\":\"pong-python-1\""));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the viewer loads nothing from the network"
    );

    // Nothing of the match is left running, and its work directory is gone.
    assert_eq!(executor.leftover_processes(), vec![]);
    let work = std::fs::read_dir(executor.data_dir.path().join("work"))
        .unwrap()
        .count();
    assert_eq!(work, 0, "work directories are removed after the match");
}

#[tokio::test]
async fn protocol_agent_in_another_language_plays_a_python_agent() {
    let executor = Executor::start(&[]);
    let request = pong_request(
        "pong-shell-1",
        agent("shell", &example_agent("pong-shell")),
        agent(
            "python",
            &format!("file://{}", example_agent("pong-python")),
        ),
    );
    let response = executor.run_match(request).await;
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    for a in &response.agent_results {
        assert_eq!(a.status(), pb::AgentStatus::Ok, "{a:?}");
    }
    assert!(response.total_steps > 0);
}

#[tokio::test]
async fn health_check_reports_version_and_load() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let health = client
        .health_check(pb::HealthCheckRequest {})
        .await
        .expect("health")
        .into_inner();
    assert!(health.healthy);
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(health.active_matches, 0);
}
