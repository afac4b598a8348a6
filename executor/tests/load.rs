//! Backpressure: 200 concurrent `RunMatch` calls against a small concurrency limit either complete or get
//! `RESOURCE_EXHAUSTED` with a retry hint, and nothing leaks: no processes, no work directories, no fds.

mod support;

use proto::pb;
use support::{Executor, agent, eventually, example_agent, pong_request};
use tonic::Code;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn two_hundred_concurrent_requests_complete_or_are_refused_cleanly() {
    let executor = Executor::start(&["--max-concurrent-matches", "2", "--max-queued-matches", "6"]);
    let pid = executor.pid();
    let baseline = open_fds(pid);
    let shell = example_agent("pong-shell");
    let mut calls = Vec::new();
    for i in 0..200 {
        let mut client = executor.client().await;
        let mut request =
            pong_request(&format!("load-{i}"), agent("a", &shell), agent("b", &shell));
        request.environment_config_json = r#"{"max_steps": 20}"#.into();
        calls.push(tokio::spawn(async move {
            let result = client.run_match(request).await;
            drop(client);
            result
        }));
    }
    let (mut done, mut refused) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => {
                let response = response.into_inner();
                assert_eq!(
                    response.status(),
                    pb::MatchStatus::StatusSuccess,
                    "{response:?}"
                );
                done += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("retry"), "{}", status.message());
                refused += 1;
            }
        }
    }
    assert_eq!(done + refused, 200);
    assert!(
        done >= 8,
        "at least the running and queued ones complete: {done}"
    );
    assert!(refused > 0, "a burst of 200 exceeds 2 running + 6 queued");

    assert_eq!(executor.leftover_processes(), vec![]);
    let work = std::fs::read_dir(executor.data_dir.path().join("work"))
        .unwrap()
        .count();
    assert_eq!(work, 0, "no work directory left");
    eventually(
        "the executor's fds return to their baseline",
        200,
        || async { open_fds(pid) <= baseline },
    )
    .await;
    let (_, metrics) = executor.http_get("/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains(&format!(
            r#"rl_arena_executor_requests_rejected_total{{reason="exhausted"}} {refused}"#
        )),
        "{metrics}"
    );
}
