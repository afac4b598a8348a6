//! Sandbox policy: a match refuses to start when a required layer is missing, a NumPy agent runs unchanged
//! inside the sandbox, and `unsafe` stays confined to the one module that needs it.

mod support;

use std::path::Path;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, hostile, test_agent};

#[test]
fn missing_required_layer_refuses_the_match() {
    let run = Arena::pong()
        .limit("required_isolation", json!(["seccomp"]))
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"))
        .run(&["--disable-isolation", "seccomp"]);

    assert_eq!(run.outcome.status, MatchStatus::Error);
    assert!(
        run.outcome
            .error_message
            .contains("seccomp: disabled by configuration"),
        "{}",
        run.outcome.error_message
    );
    assert!(run.outcome.error_message.contains("no agent was started"));
    assert!(run.agent_pids().is_empty(), "no agent was started");
    for id in ["a", "b"] {
        assert_eq!(run.agent(id).status, AgentStatus::NotStarted, "{id}");
    }
    assert!(
        run.agent("a")
            .isolation
            .unavailable
            .contains(&"seccomp: disabled by configuration".to_string())
    );
}

#[test]
fn required_layer_from_the_environment_and_unknown_names() {
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let output = arena
        .command(&[])
        .env("ORCHESTRATOR_REQUIRE_ISOLATION", "landlock_fs,seccomp")
        .env(
            "ORCHESTRATOR_DISABLE_ISOLATION",
            "landlock_fs,landlock_net,landlock_scopes",
        )
        .output()
        .unwrap();
    let run = arena.collect(output);
    assert_eq!(run.outcome.status, MatchStatus::Error);
    assert!(
        run.outcome
            .error_message
            .contains("landlock_fs: disabled by configuration")
    );
    assert!(run.agent_pids().is_empty());

    let run = Arena::pong()
        .limit("required_isolation", json!(["selinux"]))
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"))
        .run(&[]);
    assert_eq!(run.outcome.status, MatchStatus::Error);
    assert!(
        run.outcome.error_message.contains("\"selinux\" is unknown"),
        "{}",
        run.outcome.error_message
    );
}

#[test]
fn every_outcome_and_replay_names_the_layers_in_force() {
    let run = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"))
        .run(&[]);
    assert_eq!(run.outcome.status, MatchStatus::Success);
    let replay = run.replay();
    let recorded = replay.outcome.expect("the replay has the outcome");
    for (agent, in_replay) in run.outcome.agents.iter().zip(&recorded.agents) {
        println!(
            "{}: applied {:?}, unavailable {:?}",
            agent.agent_id, agent.isolation.applied, agent.isolation.unavailable
        );
        assert_eq!(agent.isolation, in_replay.isolation);
        for layer in [
            "bounded_io",
            "process_group",
            "clean_env",
            "closed_fds",
            "parent_death_signal",
            "rlimits",
        ] {
            assert!(
                agent.isolation.applied.iter().any(|l| l == layer),
                "{layer}: {agent:?}"
            );
        }
        // Every layer but the turn-based game's pause (this is a simultaneous game).
        assert_eq!(
            agent.isolation.applied.len() + agent.isolation.unavailable.len(),
            15,
            "every layer is either applied or unavailable with a reason: {agent:?}"
        );
    }
}

#[test]
fn numpy_agent_runs_unchanged_in_the_sandbox() {
    let python = testkit::python_with(&["numpy"], &["numpy"]);
    let run = Arena::pong()
        .limit("step_ms", json!(2_000))
        .agent("numpy", &hostile("numpy"))
        .agent("steady", &test_agent("steady"))
        .run(&["--python", python.to_str().unwrap()]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let numpy = run.agent("numpy");
    assert_eq!(numpy.status, AgentStatus::Ok, "{numpy:?}");
    assert_eq!(numpy.errors, 0, "{numpy:?}");
    assert!(numpy.cpu_time_sec > 0.0, "{numpy:?}");
    for layer in ["seccomp", "landlock_fs", "rlimits"] {
        run.has_layer("numpy", layer);
    }
    run.assert_no_agent_process_left();
}

#[test]
fn unsafe_code_is_allowed_in_one_module_only() {
    let needle = concat!("allow(", "unsafe_code)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let allowed = root.join("orchestrator/src/sandbox/child.rs");
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != ".git" && name != "node_modules" {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path).is_ok_and(|text| text.contains(needle))
            {
                found.push(path);
            }
        }
    }
    let allowed = allowed.canonicalize().unwrap();
    let elsewhere: Vec<_> = found
        .iter()
        .filter(|p| p.canonicalize().ok().as_ref() != Some(&allowed))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "unsafe code allowed outside the sandbox child module: {elsewhere:?}"
    );
    assert_eq!(
        found.len(),
        1,
        "the sandbox child module allows unsafe code"
    );
}
