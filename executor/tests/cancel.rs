//! `CancelMatch`: a running match ends as `STATUS_CANCELLED`, its processes are gone and the replay of what
//! was played is kept; a queued match is cancelled before it starts; a match cancelled right after it was
//! submitted leaves nothing behind (no process, no work or scratch directory).

mod support;

use proto::pb::{self, match_update::Update};
use support::{Executor, assert_cancelled_after_play, cancel, get_match, slow_pong, wait_for_step};
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
    // The result says what happened: an API cancel, after how many steps.
    assert_cancelled_after_play(&result, "cancelled by a CancelMatch request", 3);
    assert!(result.total_steps < 1000, "{}", result.total_steps);
    for agent in &result.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::Ok, "{agent:?}");
    }
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
    let got = get_match(&mut client, "cancel-1").await;
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
    assert_eq!(
        result.error_message,
        "cancelled by a CancelMatch request before the match started"
    );
    for agent in &result.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::NotStarted, "{agent:?}");
    }
    let info = cancel(&mut client, "cancel-running").await;
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn cancelling_right_after_submitting_leaves_nothing_behind() {
    // Whatever the executor's helpers put in the temporary directory would show here.
    let tmp = tempfile::tempdir().unwrap();
    let executor = Executor::start_with(
        tempfile::tempdir().unwrap(),
        &[],
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    let mut client = executor.client().await;
    for attempt in 0..20 {
        let id = format!("cancel-early-{attempt}");
        client.submit_match(long_match(&id)).await.unwrap();
        // Every other time, cancel when the orchestrator reports it started: it is setting up the agents.
        if attempt % 2 == 1 {
            let mut watch = client
                .watch_match(pb::WatchMatchRequest {
                    match_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            while let Some(update) = watch.next().await {
                match update.unwrap().update {
                    Some(Update::Started(_)) => break,
                    Some(Update::Finished(r)) => panic!("finished before it was cancelled: {r:?}"),
                    _ => {}
                }
            }
        }
        let info = cancel(&mut client, &id).await;
        let result = info.result.expect("result");
        assert_eq!(
            result.status(),
            pb::MatchStatus::StatusCancelled,
            "{result:?}"
        );
        assert!(
            result
                .error_message
                .starts_with("cancelled by a CancelMatch request"),
            "{}",
            result.error_message
        );
        let work: Vec<_> = std::fs::read_dir(executor.data_dir.path().join("work"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(work, Vec::<std::path::PathBuf>::new(), "attempt {attempt}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, Vec::<std::path::PathBuf>::new(), "attempt {attempt}");
        assert_eq!(executor.leftover_processes(), vec![], "attempt {attempt}");
    }
}
