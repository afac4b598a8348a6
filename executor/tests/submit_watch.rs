//! `SubmitMatch` returns at once, `WatchMatch` streams the current state then live events then the result,
//! `GetMatch` reports the state, and late or slow watchers are served without slowing the match.

mod support;

use proto::pb::{self, match_update::Update};
use support::{Executor, agent, example_agent, example_pong, get_match, pong_request, test_agent};
use tokio_stream::StreamExt;
use tonic::Code;

fn kinds(updates: &[pb::MatchUpdate]) -> Vec<&'static str> {
    updates
        .iter()
        .map(|u| match &u.update {
            Some(Update::Snapshot(_)) => "snapshot",
            Some(Update::Started(_)) => "started",
            Some(Update::Frame(_)) => "frame",
            Some(Update::AgentError(_)) => "agent_error",
            Some(Update::Finished(_)) => "finished",
            None => "none",
        })
        .collect()
}

#[tokio::test]
async fn watch_streams_snapshot_live_frames_and_the_result() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let request = pong_request(
        "watch-1",
        agent("slow", &test_agent("slow-ready")),
        agent("random", &example_agent("random-python")),
    );
    let info = client
        .submit_match(request)
        .await
        .expect("submit")
        .into_inner();
    assert_ne!(
        info.state(),
        pb::MatchState::Finished,
        "submit returns before the match ends"
    );
    assert_eq!(info.agent_ids, ["slow", "random"]);

    let stream = client
        .watch_match(pb::WatchMatchRequest {
            match_id: "watch-1".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let updates: Vec<pb::MatchUpdate> = stream.map(|u| u.expect("update")).collect().await;
    let seen = kinds(&updates);
    assert_eq!(seen.first(), Some(&"snapshot"), "{seen:?}");
    assert_eq!(seen.last(), Some(&"finished"), "{seen:?}");
    let frames: Vec<u32> = updates
        .iter()
        .filter_map(|u| match &u.update {
            Some(Update::Frame(f)) => Some(f.step),
            _ => None,
        })
        .collect();
    let Some(Update::Finished(result)) = &updates.last().unwrap().update else {
        unreachable!("checked above")
    };
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);
    assert!(!frames.is_empty());
    assert!(frames.windows(2).all(|w| w[0] < w[1]), "frames in order");
    assert!(*frames.last().unwrap() <= result.total_steps);

    // A late watcher of a finished match gets its state and result at once.
    let late: Vec<pb::MatchUpdate> = client
        .watch_match(pb::WatchMatchRequest {
            match_id: "watch-1".into(),
        })
        .await
        .expect("late watch")
        .into_inner()
        .map(|u| u.expect("update"))
        .collect()
        .await;
    assert_eq!(kinds(&late), ["snapshot", "finished"]);
    let got = get_match(&mut client, "watch-1").await;
    assert_eq!(got.state(), pb::MatchState::Finished);
    assert_eq!(got.result.as_ref(), Some(result));
    assert_eq!(got.current_step, result.total_steps);
}

#[tokio::test]
async fn a_watcher_that_stops_reading_or_leaves_does_not_hold_up_the_match() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let mut request = example_pong("watch-2", ["a", "b"]);
    request.environment_config_json = r#"{"max_steps": 1000, "winning_score": 1000}"#.into();
    client.submit_match(request.clone()).await.expect("submit");
    // One watcher that never reads, one that reads a single update and hangs up.
    let _stalled = client
        .clone()
        .watch_match(pb::WatchMatchRequest {
            match_id: "watch-2".into(),
        })
        .await
        .unwrap();
    let mut leaver = client
        .clone()
        .watch_match(pb::WatchMatchRequest {
            match_id: "watch-2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(leaver.next().await.is_some());
    drop(leaver);
    let result = client
        .run_match(request)
        .await
        .expect("result")
        .into_inner();
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);
    assert_eq!(
        result.total_steps, 1000,
        "all 1000 frames were played despite a stalled watcher"
    );
}

#[tokio::test]
async fn unknown_matches_are_not_found_and_bad_ids_invalid() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let status = client
        .get_match(pb::GetMatchRequest {
            match_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("no match with match_id \"nope\""),
        "{}",
        status.message()
    );
    let status = client
        .watch_match(pb::WatchMatchRequest {
            match_id: "../x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .cancel_match(pb::CancelMatchRequest {
            match_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn list_environments_describes_the_catalog() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let list = client
        .list_environments(pb::ListEnvironmentsRequest {})
        .await
        .unwrap()
        .into_inner();
    let pong = list
        .environments
        .iter()
        .find(|e| e.name == "pong")
        .expect("pong listed");
    assert_eq!(pong.players, 2);
    assert_eq!(pong.move_style, "simultaneous");
    assert!(!pong.description.is_empty());
    let names: Vec<_> = list.environments.iter().map(|e| e.name.as_str()).collect();
    for name in ["pong", "rps", "connectx", "tictactoe"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let ttt = list
        .environments
        .iter()
        .find(|e| e.name == "tictactoe")
        .unwrap();
    assert_eq!(ttt.move_style, "turn_based");
    for env in &list.environments {
        assert!(
            !env.action_description.is_empty() && !env.observation_description.is_empty(),
            "{env:?}"
        );
        let schema: serde_json::Value =
            serde_json::from_str(&env.config_schema_json).expect("schema is JSON");
        assert_eq!(schema["type"], "object", "{}", env.name);
    }
    let schema: serde_json::Value = serde_json::from_str(&pong.config_schema_json).unwrap();
    assert_eq!(schema["properties"]["winning_score"]["default"], 11);
    assert_eq!(schema["properties"]["max_steps"]["default"], 1000);
}
