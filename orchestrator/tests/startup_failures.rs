//! Agents that never get ready: no answer to `init` in time, a Python module without a policy, a directory
//! with nothing to run. Each is charged, is out of the match and loses; the match still ends with a result.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn agent_that_never_answers_ready_times_out_and_is_killed() {
    let run = Arena::pong()
        .limit("init_ms", json!(1000))
        .agent("silent", &test_agent("never-ready"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let silent = run.agent("silent");
    assert_eq!(silent.status, AgentStatus::Timeout);
    assert_eq!(silent.errors, 1);
    assert_eq!(
        silent.error_message,
        "init: no {\"type\":\"ready\"} within 1000 ms"
    );
    assert!(
        silent.stderr_tail.contains("never-ready: got init"),
        "{silent:?}"
    );
    let replay = run.replay();
    assert!(
        replay
            .steps
            .iter()
            .all(|s| s.statuses[0] == MoveStatus::Crashed && s.actions[0] == json!(1))
    );
    run.assert_no_agent_process_left();
}

#[test]
fn python_module_without_a_policy_says_what_is_expected() {
    let run = Arena::pong()
        .agent("steady", &test_agent("steady"))
        .agent("empty", &test_agent("no-policy"))
        .run(&[]);

    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let empty = run.agent("empty");
    assert_eq!(empty.status, AgentStatus::Error);
    assert_eq!(empty.errors, 1);
    assert_eq!(
        empty.error_message,
        "init: agent cannot start: RuntimeError: agent.py defines none of: get_action(observation), \
         class Agent with get_action(observation), act(observation)"
    );
    run.assert_no_agent_process_left();
}

#[test]
fn directory_without_an_entry_point_is_not_runnable() {
    let arena = Arena::pong();
    let nothing = arena.dir.path().join("nothing");
    std::fs::create_dir_all(&nothing).unwrap();
    std::fs::write(nothing.join("README.md"), "no agent here").unwrap();
    let run = arena
        .agent_at("nothing", nothing)
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let nothing = run.agent("nothing");
    assert_eq!(nothing.status, AgentStatus::Error);
    assert!(
        nothing
            .error_message
            .starts_with("init: agent is not runnable:"),
        "{nothing:?}"
    );
    assert!(
        nothing.error_message.contains("no agent.toml"),
        "{nothing:?}"
    );
    assert!(
        nothing.error_message.contains("agent.py or main.py"),
        "{nothing:?}"
    );
}
