//! Results of finished matches survive an executor restart: `GetMatch`, `WatchMatch` and a repeated
//! `RunMatch` answer from the stored result on the same data directory. After `kill -9`, a restarted executor
//! adopts the matches the killed one left: it records them (the result and replay their orchestrators wrote,
//! else a failure saying the executor restarted), removes their work directories, and nothing of the old run
//! keeps running.

mod support;

use std::net::TcpListener;

use proto::pb;
use support::{
    Executor, agent, assert_cancelled_after_play, example_agent, example_pong, get_match,
    long_pong, pong_request, processes_under, stored_replay, wait_for_play,
};
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
    let info = get_match(&mut client, "restart-1").await;
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

/// The entries of the executor's work root.
fn work_dirs(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(data.join("work"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_match_left_by_a_killed_executor_is_recorded_on_restart() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let request = pb::MatchRequest {
        timeout_sec: 600,
        ..long_pong("killed-1")
    };
    client.submit_match(request.clone()).await.unwrap();
    wait_for_play(&executor, "killed-1", 3).await;
    let data = executor.kill();
    assert_eq!(
        work_dirs(data.path()).len(),
        1,
        "the killed executor left its work directory"
    );

    let executor = Executor::start_in(data, &[]);
    assert_eq!(
        work_dirs(executor.data_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        executor.leftover_processes(),
        vec![],
        "nothing of the old run runs on"
    );
    let mut client = executor.client().await;
    let info = client
        .get_match(pb::GetMatchRequest {
            match_id: "killed-1".into(),
        })
        .await
        .expect("the match is known after the restart")
        .into_inner();
    assert_eq!(info.state(), pb::MatchState::Finished);
    let result = info.result.expect("result");
    assert_cancelled_after_play(
        &result,
        "cancelled: the executor restarted during the match",
        3,
    );
    // The replay its orchestrator wrote is stored whole.
    stored_replay(&result);

    // The same request again answers with that result instead of playing the match again.
    let again = client.run_match(request).await.unwrap().into_inner();
    assert_eq!(again, result);
    let log = executor.log.lock().unwrap().clone();
    assert!(
        !log.contains("\"match started\""),
        "no match was played again:\n{log}"
    );
}

#[tokio::test]
async fn a_match_killed_while_installing_is_recorded_as_failed_and_nothing_of_it_runs_on() {
    // An agent download that never ends keeps agent-init busy in the work directory.
    let stalling = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/agent.zip", stalling.local_addr().unwrap());
    stalling.set_nonblocking(true).unwrap();
    let stalling = tokio::net::TcpListener::from_std(stalling).unwrap();
    let executor = Executor::start(&["--agent-source-allow-hosts", "127.0.0.1"]);
    let mut client = executor.client().await;
    let mut request = pong_request(
        "killed-2",
        agent("stuck", &url),
        agent("b", &example_agent("random-python")),
    );
    request.timeout_sec = 600;
    client.submit_match(request).await.unwrap();
    let (accepted, _) = tokio::time::timeout(std::time::Duration::from_secs(60), stalling.accept())
        .await
        .expect("agent-init connects")
        .unwrap();
    let data = executor.kill();
    // agent-init dies with the executor that started it.
    support::eventually("agent-init is gone", 200, || {
        let data = data.path().to_path_buf();
        async move { processes_under(&data).is_empty() }
    })
    .await;
    drop(accepted);

    let executor = Executor::start_in(data, &[]);
    assert_eq!(
        work_dirs(executor.data_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
    let info = get_match(&mut executor.client().await, "killed-2").await;
    let result = info.result.expect("result");
    assert_eq!(result.status(), pb::MatchStatus::StatusError, "{result:?}");
    assert_eq!(
        result.error_message,
        "the executor restarted before the match started"
    );
    for agent in &result.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::NotStarted, "{agent:?}");
    }
    assert_eq!(executor.leftover_processes(), vec![]);
}
