//! `CancelMatch`: a running match ends as `STATUS_CANCELLED`, its processes are gone and the replay of what
//! was played is kept; a queued match is cancelled before it starts.

mod support;

use proto::pb::{self, match_update::Update};
use support::{Executor, cancel, slow_pong, wait_for_step};
use tokio_stream::StreamExt;

fn long_match(id: &str) -> pb::MatchRequest {
    slow_pong(id, r#"{"max_steps": 1000, "winning_score": 1000}"#)
}

#[tokio::test]
async fn cancelling_a_running_match_keeps_the_partial_replay() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    client
        .submit_match(long_match("cancel-1"))
        .await
        .expect("submit");
    // Wait for real play before cancelling.
    let watch = wait_for_step(&mut client, "cancel-1", 3).await;
    let info = cancel(&mut client, "cancel-1").await;
    assert_eq!(info.state(), pb::MatchState::Finished);
    let result = info.result.expect("result");
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusCancelled,
        "{result:?}"
    );
    assert!(
        result.total_steps >= 3 && result.total_steps < 1000,
        "{}",
        result.total_steps
    );
    let replay_path = result
        .replay_url
        .strip_prefix("file://")
        .expect("partial replay stored");
    let replay: proto::replay::Replay =
        serde_json::from_slice(&std::fs::read(replay_path).unwrap()).unwrap();
    assert_eq!(replay.frames.len() as u32, result.total_steps);
    assert_eq!(executor.leftover_processes(), vec![]);

    // The watcher saw the end too, and the result is what GetMatch says.
    let rest: Vec<_> = watch.map(|u| u.unwrap()).collect().await;
    assert!(matches!(
        rest.last().and_then(|u| u.update.as_ref()),
        Some(Update::Finished(_))
    ));
    let got = client
        .get_match(pb::GetMatchRequest {
            match_id: "cancel-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
}

#[tokio::test]
async fn cancelling_a_queued_match_ends_it_before_it_starts() {
    let executor = Executor::start(&["--max-concurrent-matches", "1"]);
    let mut client = executor.client().await;
    client
        .submit_match(long_match("cancel-running"))
        .await
        .expect("submit first");
    let queued = client
        .submit_match(long_match("cancel-queued"))
        .await
        .expect("submit second")
        .into_inner();
    assert_eq!(queued.state(), pb::MatchState::Queued);
    let info = cancel(&mut client, "cancel-queued").await;
    let result = info.result.expect("result");
    assert_eq!(result.status(), pb::MatchStatus::StatusCancelled);
    assert_eq!(result.total_steps, 0);
    assert!(
        result.error_message.contains("before the match started"),
        "{}",
        result.error_message
    );
    let info = cancel(&mut client, "cancel-running").await;
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
    assert_eq!(executor.leftover_processes(), vec![]);
}
