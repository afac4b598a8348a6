//! The allow-list lets agent runtimes run unchanged: a Python agent using NumPy (its BLAS thread pool
//! included), a thread pool, temporary files, copies and timers, a native C program with threads, and every
//! starter kit (Python and shell) in its environment, with the orchestrator as root (agents under dedicated users) and unprivileged. A call
//! the runtime needs that the filter refused would charge the agent.

#[path = "fixtures/matches.rs"]
mod matches;
mod support;

use proto::outcome::MatchStatus;
use serde_json::json;
use support::{Arena, Mode, example, test_agent};

in_both_modes!(numpy_and_common_library_calls_run, common_calls);
in_both_modes!(every_starter_kit_runs, starter_kits);
in_both_modes!(native_programs_run, native);

fn common_calls(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .config(json!({"max_steps": 10, "winning_score": 1000}))
        .limit("step_ms", json!(5_000))
        .agent("runtime", &test_agent("runtime"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    run.assert_unaffected("runtime");
    let runtime = run.agent("runtime");
    assert!(
        runtime.stderr_tail.contains("runtime: started"),
        "{runtime:?}"
    );
    for layer in ["seccomp", "landlock_fs", "rlimits"] {
        run.has_layer("runtime", layer);
    }
    run.assert_no_agent_process_left();
}

/// The kits of each environment: a Python module agent and a protocol agent.
const KITS: [(&str, &str, &str); 4] = [
    ("pong", "pong-python", "pong-shell"),
    ("rps", "rps-python", "rps-shell"),
    ("connectx", "connectx-python", "connectx-shell"),
    ("tictactoe", "tictactoe-python", "tictactoe-shell"),
];

fn starter_kits(mode: Mode) {
    for (env, python, shell) in KITS {
        let run = Arena::game(env)
            .mode(mode)
            .config(matches::quick_config(env))
            .limit("step_ms", json!(2_000))
            .agent(python, &example(python))
            .agent(shell, &example(shell))
            .run(&[]);
        assert_eq!(
            run.outcome.status,
            MatchStatus::Success,
            "{env}: {}",
            run.stderr()
        );
        assert!(run.outcome.total_steps > 0, "{env}");
        run.assert_unaffected(python);
        run.assert_unaffected(shell);
        run.assert_no_agent_process_left();
    }
}

fn native(mode: Mode) {
    let arena = Arena::pong()
        .mode(mode)
        .config(json!({"max_steps": 20, "winning_score": 1000}))
        .limit("step_ms", json!(5_000))
        .agent("native", &test_agent("native"))
        .agent("steady", &test_agent("steady"));
    let dir = arena.agent_dir("native");
    let built = std::process::Command::new("gcc")
        .args(["-O1", "-pthread", "-o"])
        .arg(dir.join("agent"))
        .arg(dir.join("agent.c"))
        .status()
        .expect("gcc runs");
    assert!(built.success(), "compiling the native agent");
    let run = arena.run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    run.assert_unaffected("native");
    let native = run.agent("native");
    assert!(native.stderr_tail.contains("native: started"), "{native:?}");
    run.assert_no_agent_process_left();
}
