//! `ValidateAgent` on real zip archives: runnable agents pass, broken and hostile ones fail with a reason;
//! validations pass through admission like matches.

mod support;

use std::io::Write;

use proto::pb;
use support::{Executor, cancel, health_check};
use tonic::Code;

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        for (name, body) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A request to validate `zip` as agent `agent_id` for pong.
fn pong_validation(agent_id: &str, zip: Vec<u8>) -> pb::ValidationRequest {
    pb::ValidationRequest {
        agent_id: agent_id.into(),
        code_zip: zip,
        environment: "pong".into(),
    }
}

async fn validate(executor: &Executor, zip: Vec<u8>) -> pb::ValidationResponse {
    let mut client = executor.client().await;
    client
        .validate_agent(pong_validation("a1", zip))
        .await
        .expect("validate")
        .into_inner()
}

/// A protocol agent in POSIX sh (builtins only): ready on init, stay on every step.
const SHELL_BOT: &[u8] = b"#!/bin/sh
while IFS= read -r line; do
    case $line in
    *'\"type\":\"init\"'*) printf '{\"type\":\"ready\"}\\n' ;;
    *'\"type\":\"step\"'*) printf '{\"action\":1}\\n' ;;
    *'\"type\":\"end\"'*) exit 0 ;;
    esac
done
";

#[tokio::test]
async fn runnable_agents_are_valid() {
    let executor = Executor::start(&[]);
    let cases: Vec<Vec<u8>> = vec![
        zip_of(&[("agent.py", b"def get_action(observation):\n    return 1\n")]),
        zip_of(&[(
            "my-bot/main.py",
            b"class Agent:\n    def get_action(self, obs):\n        return 0\n",
        )]),
        zip_of(&[("agent.py", b"def act(observation):\n    return 2\n")]),
        zip_of(&[
            ("agent.toml", b"command = [\"./bot.sh\"]\n"),
            ("bot.sh", SHELL_BOT),
        ]),
    ];
    for zip in cases {
        let report = validate(&executor, zip).await;
        assert!(report.valid, "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");
    }
}

#[tokio::test]
async fn broken_agents_are_invalid_with_a_reason() {
    let executor = Executor::start(&[]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (zip_of(&[("README.md", b"hello")]), "has no agent.toml"),
        (
            zip_of(&[("agent.py", b"def get_action(observation:\n")]),
            "agent.py: syntax error at line 1",
        ),
        (
            zip_of(&[("agent.py", b"def decide(observation):\n    return 1\n")]),
            "defines no entry point",
        ),
        (
            zip_of(&[("agent.toml", b"command = []\n")]),
            "agent.toml: command is empty",
        ),
        (
            zip_of(&[("agent.toml", b"command = [\"./missing\"]\n")]),
            "is not an executable file",
        ),
        (zip_of(&[("../../escape.py", b"x = 1\n")]), ""),
        // The smoke match catches what reading the code cannot.
        (
            zip_of(&[("agent.py", b"def get_action(observation):\n    return 7\n")]),
            "smoke match in pong against the built-in opponent: the agent ended as invalid_action",
        ),
        (
            zip_of(&[("agent.py", b"def get_action(observation):\n    raise ValueError('no idea')\n")]),
            "no idea",
        ),
        (
            zip_of(&[("agent.py", b"import sys\nprint('broken import', file=sys.stderr)\nimport not_a_module\n\ndef act(o):\n    return 1\n")]),
            "its stderr ends with",
        ),
        (
            zip_of(&[("agent.toml", b"command = [\"./bot.sh\"]\n"), ("bot.sh", b"#!/bin/sh\nexit 3\n")]),
            "smoke match in pong",
        ),
        (b"this is not a zip archive".to_vec(), ""),
    ];
    for (zip, want) in cases {
        let report = validate(&executor, zip).await;
        assert!(!report.valid, "{report:?}");
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert!(
            report.errors[0].contains(want),
            "{:?} does not contain {want:?}",
            report.errors[0]
        );
    }
}

#[tokio::test]
async fn bad_validation_requests_are_invalid_arguments() {
    let executor = Executor::start(&[]);
    let mut client = executor.client().await;
    let status = client
        .validate_agent(pong_validation("a1", Vec::new()))
        .await
        .expect_err("empty zip refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("code_zip is empty"));
    let status = client
        .validate_agent(pb::ValidationRequest {
            environment: "snake".into(),
            ..pong_validation(
                "a1",
                zip_of(&[("agent.py", b"def act(o):\n    return 1\n")]),
            )
        })
        .await
        .expect_err("unknown environment refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("known environments: pong"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn validations_take_a_match_slot_and_wait_in_its_queue() {
    let executor = Executor::start(&["--max-concurrent-matches", "1", "--max-queued-matches", "1"]);
    let mut client = executor.client().await;
    client
        .submit_match(support::long_pong("holds-the-slot"))
        .await
        .unwrap();
    let zip = zip_of(&[("agent.py", b"def get_action(observation):\n    return 1\n")]);
    let waiting = {
        let mut client = client.clone();
        let zip = zip.clone();
        tokio::spawn(async move { client.validate_agent(pong_validation("a1", zip)).await })
    };
    support::eventually("the validation waits in the queue", 400, || async {
        executor.metric("rl_arena_executor_matches_queued") == 1.0
    })
    .await;
    // The queue is full: another validation is refused like a match would be.
    let refused = client
        .validate_agent(pong_validation("a2", zip))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(health_check(&mut client).await.active_matches, 1);

    // Once the match is gone, the waiting validation takes the slot and runs.
    cancel(&mut client, "holds-the-slot").await;
    let report = waiting.await.unwrap().expect("validated").into_inner();
    assert!(report.valid, "{report:?}");
    assert_eq!(executor.metric("rl_arena_executor_matches_queued"), 0.0);
}
