//! The HTTP endpoint: Prometheus metrics, liveness and readiness, and stored replays served so their URLs
//! open in a browser; with a replay token, replays only to those who present it.

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

/// A GET with an optional `Authorization` header: (status, whole response text).
fn get_with(executor: &Executor, path: &str, authorization: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let host = executor.http.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw)
}

#[tokio::test]
async fn a_replay_token_keeps_replays_private() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("replay.token");
    std::fs::write(&token_file, "0123456789abcdef0123\n").unwrap();
    let executor = Executor::start(&["--replay-token-file", token_file.to_str().unwrap()]);
    let result = executor
        .run_match(example_pong("private-1", ["a", "b"]))
        .await;
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);
    for (authorization, want) in [
        (None, 401),
        (Some("Bearer wrong-token-0000000000"), 401),
        (Some("Basic MDEyMzQ1Njc4OWFiY2RlZjAxMjM="), 401),
        (Some("Bearer 0123456789abcdef0123"), 200),
    ] {
        for file in ["private-1.json", "private-1.html"] {
            let (status, raw) = get_with(&executor, &format!("/replays/{file}"), authorization);
            assert_eq!(status, want, "{authorization:?} {file}: {raw:.300}");
            if want == 401 {
                assert!(
                    !raw.contains("private-1"),
                    "nothing of the replay: {raw:.300}"
                );
                assert!(
                    raw.to_ascii_lowercase()
                        .contains("www-authenticate: bearer")
                );
            }
        }
    }
    // Health and metrics stay open.
    assert_eq!(get_with(&executor, "/healthz", None).0, 200);
    assert_eq!(get_with(&executor, "/metrics", None).0, 200);

    // A token shorter than 16 bytes is refused at start.
    std::fs::write(&token_file, "short").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--replay-token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("shorter than 16 bytes"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}
