//! Results of finished matches survive an executor restart: `GetMatch`, `WatchMatch` and a repeated
//! `RunMatch` answer from the stored result on the same data directory.

mod support;

use proto::pb;
use support::{Executor, example_pong};
use tonic::Code;

#[tokio::test]
async fn finished_results_survive_a_restart() {
    let executor = Executor::start(&[]);
    let request = example_pong("restart-1", ["a", "b"]);
    let result = executor.run_match(request.clone()).await;
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);

    let data = executor.kill();
    let executor = Executor::start_in(data, &[]);
    let mut client = executor.client().await;
    let info = client
        .get_match(pb::GetMatchRequest {
            match_id: "restart-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.state(), pb::MatchState::Finished);
    assert_eq!(info.result.as_ref(), Some(&result));
    assert_eq!(info.agent_ids, ["a", "b"]);
    let again = client
        .run_match(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, result);
    let mut different = request;
    different.environment_config_json = r#"{"winning_score": 2}"#.into();
    let status = client.run_match(different).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    let log = executor.log.lock().unwrap().clone();
    assert!(
        !log.contains("\"match started\""),
        "no match was played again:\n{log}"
    );
}
