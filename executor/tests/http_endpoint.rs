//! The HTTP endpoint: Prometheus metrics, liveness and readiness, and stored replays served so their URLs
//! open in a browser.

mod support;

use proto::pb;
use support::{Executor, example_pong};

#[tokio::test]
async fn metrics_health_and_replays_over_http() {
    let executor = Executor::start(&["--replay-base-url", "http://replays.test/replays"]);
    assert_eq!(executor.http_get("/healthz").0, 200);
    assert_eq!(executor.http_get("/readyz").0, 200);
    let result = executor.run_match(example_pong("http-1", ["a", "b"])).await;
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);
    assert_eq!(result.replay_url, "http://replays.test/replays/http-1.json");
    assert_eq!(
        result.replay_html_url,
        "http://replays.test/replays/http-1.html"
    );

    let (status, json) = executor.http_get("/replays/http-1.json");
    assert_eq!(status, 200);
    let stored = std::fs::read(executor.data_dir.path().join("replays/http-1.json")).unwrap();
    assert_eq!(json, stored);
    let (status, html) = executor.http_get("/replays/http-1.html");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(html)
            .unwrap()
            .contains("\"match_id\":\"http-1\"")
    );
    assert_eq!(executor.http_get("/replays/nope.json").0, 404);
    assert_eq!(executor.http_get("/replays/..%2Fsecret.json").0, 404);
    assert_eq!(executor.http_get("/replays/http-1.pb").0, 404);

    let (status, metrics) = executor.http_get("/metrics");
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    for line in [
        r#"rl_arena_executor_matches_total{environment="pong",status="success"} 1"#,
        r#"rl_arena_executor_match_duration_seconds_count{environment="pong"} 1"#,
        "rl_arena_executor_matches_running 0",
        "rl_arena_executor_matches_queued 0",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    assert!(
        !metrics.contains("rl_arena_executor_replay_bytes_total 0\n"),
        "{metrics}"
    );
}
