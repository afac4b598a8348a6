//! Reports to `MatchReporter` are accepted only with the match's own token: forged streams are refused with
//! `UNAUTHENTICATED`, counted, and change nothing in the real match's result.

mod support;

use proto::pb::match_reporter_client::MatchReporterClient;
use proto::pb::{self, match_event::Event, match_update::Update};
use support::{Executor, agent, pong_request, test_agent};
use tokio_stream::StreamExt;
use tonic::Code;

fn forged_events(match_id: &str) -> Vec<pb::MatchEvent> {
    let outcome = serde_json::json!({
        "match_id": match_id, "status": "success", "winner": "forger", "agents": [], "total_steps": 1,
        "execution_time_sec": 0.1, "seed": 1
    });
    vec![
        pb::MatchEvent {
            match_id: match_id.into(),
            event: Some(Event::Started(pb::MatchStarted::default())),
        },
        pb::MatchEvent {
            match_id: match_id.into(),
            event: Some(Event::Finished(pb::MatchFinished {
                outcome_json: outcome.to_string(),
            })),
        },
    ]
}

async fn forge(addr: &str, match_id: &str, token: Option<&str>) -> tonic::Status {
    let mut client = MatchReporterClient::connect(addr.to_string())
        .await
        .unwrap();
    let mut request = tonic::Request::new(tokio_stream::iter(forged_events(match_id)));
    if let Some(token) = token {
        request.metadata_mut().insert(
            proto::TOKEN_METADATA_KEY,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    client
        .report(request)
        .await
        .expect_err("forged report refused")
}

#[tokio::test]
async fn forged_reports_are_refused_and_change_nothing() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let mut request = pong_request(
        "forge-1",
        agent("a", &test_agent("slow-steps")),
        agent("b", &test_agent("slow-steps")),
    );
    request.environment_config_json = r#"{"max_steps": 40, "winning_score": 1000}"#.into();
    client.submit_match(request.clone()).await.unwrap();
    let mut watch = client
        .watch_match(pb::WatchMatchRequest {
            match_id: "forge-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    loop {
        if let Some(Update::Frame(_)) = watch.next().await.expect("open").unwrap().update {
            break;
        }
    }
    for token in [None, Some("0000"), Some("")] {
        let status = forge(&executor.addr, "forge-1", token).await;
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{token:?}: {status:?}"
        );
    }
    let status = forge(&executor.addr, "no-such-match", Some("abc")).await;
    assert_eq!(status.code(), Code::Unauthenticated);

    let result = client.run_match(request).await.unwrap().into_inner();
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);
    assert_ne!(result.winner_agent_id, "forger");
    assert_eq!(result.total_steps, 40);
    let (status, metrics) = executor.http_get("/metrics");
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("rl_arena_executor_reports_refused_total 4"),
        "{metrics}"
    );
    let log = executor.log.lock().unwrap().clone();
    assert!(log.contains("report refused"), "refusals are logged");
}
