//! Invalid requests through gRPC: `INVALID_ARGUMENT` with a message naming the field; the executor keeps
//! serving and nothing is left behind.

mod support;

use proto::pb;
use support::{Executor, example_agent, example_pong, health_check};
use tonic::Code;

#[tokio::test]
async fn invalid_requests_are_refused_with_the_field_and_the_fix() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let good = || example_pong("m1", ["a", "b"]);
    // A missing path inside a local code root is named; one outside any root is refused the same way
    // whether or not it exists.
    let missing = format!("{}-missing", example_agent("pong-python"));
    let missing_message = format!("agents[1].code_url {missing:?} cannot be read");
    type Edit = Box<dyn Fn(&mut pb::MatchRequest)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|r| r.match_id = "../../etc".into()),
            "match_id \"../../etc\" is invalid: it must be 1 to 63 characters",
        ),
        (
            Box::new(|r| r.match_id = "-bad".into()),
            "starting and ending with a letter or digit",
        ),
        (
            Box::new(|r| r.environment = "go".into()),
            "known environments: pong",
        ),
        (
            Box::new(|r| r.agents.truncate(1)),
            "pong takes exactly 2 agents, got 1",
        ),
        (
            Box::new(|r| r.agents[1].agent_id = "a".into()),
            "agent ids must be unique",
        ),
        (
            Box::new(|r| r.agents[0].agent_id.clear()),
            "agents[0].agent_id is empty",
        ),
        (
            Box::new(move |r| r.agents[1].code_url = missing.clone()),
            &missing_message,
        ),
        (
            Box::new(|r| r.agents[1].code_url = "/does/not/exist".into()),
            "agents[1].code_url is refused: local code must lie inside a directory the operator allows with \
             --local-code-roots",
        ),
        (
            Box::new(|r| {
                r.agents[0].code_url.clear();
                r.agents[0].docker_image = "not an image".into();
            }),
            "agents[0].docker_image \"not an image\" is not an image reference",
        ),
        (
            Box::new(|r| r.timeout_sec = 100_000),
            "timeout_sec 100000 is out of range",
        ),
        (
            Box::new(|r| r.environment_config_json = r#"{"winning_score": "many"}"#.into()),
            "environment_config_json: pong config",
        ),
    ];
    for (edit, want) in &cases {
        let mut req = good();
        edit(&mut req);
        let status = client.run_match(req.clone()).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{req:?}: {status:?}");
        assert!(
            status.message().contains(want),
            "{:?} does not contain {want:?}",
            status.message()
        );
    }
    // Huge inputs are refused as invalid with a short message that quotes only their start: an error that
    // echoed all of them would not fit in a status.
    let huge = |c: char| std::iter::repeat_n(c, 100_000).collect::<String>();
    let long_inputs: [(pb::MatchRequest, &str); 4] = [
        (
            pb::MatchRequest {
                match_id: huge('m'),
                ..good()
            },
            "match_id \"mmmm",
        ),
        (
            {
                let mut r = good();
                r.agents[0].code_url = format!("https://agents.example/{}", &huge('u')[..60_000]);
                r.agents[0].code_url = format!("nope{}", r.agents[0].code_url);
                r
            },
            "agents[0].code_url \"nopehttps",
        ),
        (
            {
                let mut r = good();
                r.agents[1].code_url.clear();
                r.agents[1].docker_image = huge('i');
                r
            },
            "agents[1].docker_image \"iiii",
        ),
        (
            pb::MatchRequest {
                environment: huge('e'),
                ..good()
            },
            "unknown environment \"eeee",
        ),
    ];
    for (req, want) in long_inputs {
        let status = client.run_match(req).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(want), "{:?}", status.message());
        assert!(status.message().len() < 1024, "{}", status.message().len());
    }
    for id in [huge('g'), "x".repeat(70)] {
        for status in [
            client
                .get_match(pb::GetMatchRequest {
                    match_id: id.clone(),
                })
                .await
                .expect_err("refused"),
            client
                .cancel_match(pb::CancelMatchRequest {
                    match_id: id.clone(),
                })
                .await
                .expect_err("refused"),
        ] {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(status.message().len() < 1024);
        }
    }

    // A request with both code_url and docker_image follows the one rule: give exactly one.
    let mut both = good();
    both.agents[0].docker_image = "registry.example/agents/a:1".into();
    let status = client.run_match(both).await.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("agents[0] has both code_url and docker_image; give exactly one"),
        "{:?}",
        status.message()
    );

    // Still serving after all that.
    assert!(health_check(&mut client).await.healthy);
    assert_eq!(executor.leftover_processes(), vec![]);
}
