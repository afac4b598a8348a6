//! SIGTERM drains: the executor reports NOT_SERVING, refuses new matches, lets running ones finish within the
//! grace period (or cancels them after it), records their results and exits cleanly; a second signal exits
//! at once.

mod support;

use nix::sys::signal::Signal;
use proto::pb;
use proto::pb::executor_client::ExecutorClient;
use support::{Executor, agent, eventually, get_match, pong_request, test_agent, wait_for_play};
use tonic::Code;
use tonic::transport::Channel;

fn slow_match(id: &str, steps: u32) -> pb::MatchRequest {
    let mut request = pong_request(
        id,
        agent("a", &test_agent("slow-steps")),
        agent("b", &test_agent("slow-steps")),
    );
    request.environment_config_json = format!(r#"{{"max_steps": {steps}, "winning_score": 1000}}"#);
    request
}

/// Waits until `HealthCheck` reports the executor unhealthy, that is draining.
async fn wait_until_draining(client: &ExecutorClient<Channel>) {
    eventually("health reports draining", 200, || {
        let mut probe = client.clone();
        async move {
            !probe
                .health_check(pb::HealthCheckRequest {})
                .await
                .unwrap()
                .into_inner()
                .healthy
        }
    })
    .await;
}

#[tokio::test]
async fn sigterm_lets_running_matches_finish_and_refuses_new_ones() {
    let mut executor = Executor::start(&["--drain-grace-sec", "120"]);
    let client = executor.client().await;
    client
        .clone()
        .submit_match(slow_match("drain-1", 60))
        .await
        .unwrap();
    let running = {
        let mut client = client.clone();
        tokio::spawn(async move { client.run_match(slow_match("drain-1", 60)).await })
    };
    wait_for_play(&executor, "drain-1", 2).await;
    executor.signal(Signal::SIGTERM);

    let mut probe = client.clone();
    wait_until_draining(&probe).await;
    let refused = probe.run_match(slow_match("drain-2", 5)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("shutting down"),
        "{}",
        refused.message()
    );

    let result = running
        .await
        .unwrap()
        .expect("the running match finishes")
        .into_inner();
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.total_steps, 60);
    let status = executor.wait();
    assert!(status.success(), "clean exit after the drain: {status:?}");
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn matches_still_running_after_the_grace_period_are_cancelled_and_recorded() {
    let mut executor = Executor::start(&["--drain-grace-sec", "1"]);
    let mut client = executor.client().await;
    client
        .submit_match(slow_match("drain-3", 1000))
        .await
        .unwrap();
    wait_for_play(&executor, "drain-3", 2).await;
    executor.signal(Signal::SIGTERM);
    let status = executor.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(executor.leftover_processes(), vec![]);

    let data = executor.kill();
    let executor = Executor::start_in(data, &[]);
    let info = get_match(&mut executor.client().await, "drain-3").await;
    let result = info.result.expect("result recorded");
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusCancelled,
        "{result:?}"
    );
    assert!(result.total_steps < 1000);
    assert!(
        result
            .error_message
            .starts_with("cancelled: the executor shut down after"),
        "{}",
        result.error_message
    );
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let mut executor = Executor::start(&["--drain-grace-sec", "600"]);
    let mut client = executor.client().await;
    client
        .submit_match(slow_match("drain-4", 1000))
        .await
        .unwrap();
    wait_for_play(&executor, "drain-4", 2).await;
    executor.signal(Signal::SIGTERM);
    let mut probe = client.clone();
    wait_until_draining(&probe).await;
    executor.signal(Signal::SIGINT);
    let status = executor.wait();
    assert_eq!(status.code(), Some(130), "{status:?}");
    // The orchestrator and agents do not outlive the executor.
    let orphans = || executor.leftover_processes();
    for _ in 0..200 {
        if orphans().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(orphans(), vec![]);
    assert!(
        probe.health_check(pb::HealthCheckRequest {}).await.is_err(),
        "the executor is gone"
    );
}
