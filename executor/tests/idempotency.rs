//! `match_id` names one request: concurrent and repeated requests attach to the same match, a different
//! request with the same id is refused, and a finished match answers from its stored result.

mod support;

use proto::pb;
use support::{Executor, agent, example_agent, pong_request, test_agent};
use tonic::Code;

#[tokio::test]
async fn twenty_identical_requests_at_once_play_one_match() {
    let executor = Executor::start(&[]);
    let client = executor.client().await;
    let request = pong_request(
        "same-1",
        agent("a", &example_agent("pong-python")),
        agent("b", &example_agent("random-python")),
    );
    let mut calls = Vec::new();
    for _ in 0..20 {
        let mut client = client.clone();
        let request = request.clone();
        calls.push(tokio::spawn(async move { client.run_match(request).await }));
    }
    let mut responses = Vec::new();
    for call in calls {
        responses.push(
            call.await
                .unwrap()
                .expect("every caller gets the result")
                .into_inner(),
        );
    }
    let first = &responses[0];
    assert_eq!(first.status(), pb::MatchStatus::StatusSuccess, "{first:?}");
    for r in &responses {
        assert_eq!(r, first, "every caller sees the same match");
    }
    let log = executor.log.lock().unwrap().clone();
    let started = log
        .lines()
        .filter(|l| l.contains("\"match started\""))
        .count();
    assert_eq!(started, 1, "exactly one match was played:\n{log}");
}

#[tokio::test]
async fn a_different_request_with_a_used_id_is_refused_and_a_finished_one_is_remembered() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let request = pong_request(
        "same-2",
        agent("a", &test_agent("slow-ready")),
        agent("b", &example_agent("random-python")),
    );
    let submitted = client
        .submit_match(request.clone())
        .await
        .expect("submit")
        .into_inner();
    assert_eq!(submitted.match_id, "same-2");
    assert_ne!(submitted.state(), pb::MatchState::Finished);

    let mut different = request.clone();
    different.seed = 99;
    let status = client
        .run_match(different.clone())
        .await
        .expect_err("conflict while running");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status
            .message()
            .contains("already used by a different request (running)"),
        "{}",
        status.message()
    );

    let result = client
        .run_match(request.clone())
        .await
        .expect("attach")
        .into_inner();
    assert_eq!(result.status(), pb::MatchStatus::StatusSuccess);

    let again = client
        .run_match(request)
        .await
        .expect("stored result")
        .into_inner();
    assert_eq!(
        again, result,
        "a finished match answers with its stored result"
    );
    let status = client
        .run_match(different)
        .await
        .expect_err("conflict when finished");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains("(finished)"),
        "{}",
        status.message()
    );
}
