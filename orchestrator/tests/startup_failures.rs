//! Agents that never get ready: no answer to `init` in time, a Python module without a policy (or with an
//! ambiguous rl-arena agent), a directory with nothing to run. Each is charged, is out of the match and
//! loses; the match still ends with a result.

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
            .frames
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
        "init: agent cannot start: RuntimeError: agent.py defines none of: create_agent(), a subclass of \
         rl_arena.core.agent.Agent, get_action(observation), class Agent with get_action(observation), \
         act(observation)"
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

/// Modules written against rl-arena's `Agent` that do not say which agent plays are refused at `init` with the
/// fix, whether the import is served by an installed rl-arena package or by the adapter's stand-in.
#[test]
fn ambiguous_rl_arena_modules_say_what_is_expected() {
    let cases = [
        (
            "from rl_arena.core.agent import Agent\nSPEED = 3\n",
            "agent.py defines none of: create_agent(), a subclass of rl_arena.core.agent.Agent",
        ),
        (
            "from rl_arena.core.agent import Agent\n\n\nclass Half(Agent):\n    pass\n",
            "agent.py: Half does not implement act(observation)",
        ),
        (
            "from rl_arena.core.agent import Agent\n\n\nclass A(Agent):\n    def act(self, o):\n        return 1\n\n\n\
             class B(A):\n    pass\n",
            "agent.py defines 2 subclasses of rl_arena.core.agent.Agent (A, B); define create_agent() to say \
             which one plays",
        ),
        (
            "def create_agent():\n    return 42\n",
            "agent.py: create_agent() returned int, which has no act(observation) method",
        ),
    ];
    for (source, expected) in cases {
        let arena = Arena::pong();
        let dir = arena.dir.path().join("module");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("agent.py"), source).unwrap();
        let run = arena
            .agent_at("module", dir)
            .agent("steady", &test_agent("steady"))
            .run(&[]);
        assert_eq!(run.outcome.winner.as_deref(), Some("steady"), "{source}");
        let module = run.agent("module");
        assert_eq!(module.status, AgentStatus::Error, "{source}");
        assert!(
            module.error_message.contains(expected),
            "{source}: {:?} should contain {expected:?}",
            module.error_message
        );
        run.assert_no_agent_process_left();
    }
}
