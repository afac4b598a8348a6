//! Hostile agents that abuse resources: memory, CPU, a stalled stdin, new processes and threads, a slow
//! start. Each match still completes, the hostile agent is charged, the opponent wins, nothing survives; with
//! the agents as local child processes and behind shims (in containers of their own) alike.

mod support;

use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;
use serde_json::json;
use support::shims::Hosting;
use support::{Arena, hostile, test_agent};

local_and_behind_shims!(ten_gib_allocation_fails_and_disqualifies, memory_hog);

fn memory_hog(hosting: Hosting) {
    let arena = Arena::pong()
        .limit("memory_mb", json!(512))
        .agent("hog", &hostile("memory"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("hog", "steady", AgentStatus::Disqualified);
    let hog = run.agent("hog");
    if run.has_layer("hog", "rlimits") {
        assert!(hog.error_message.contains("MemoryError"), "{hog:?}");
    }
}

local_and_behind_shims!(busy_loop_times_out_until_disqualified, busy_loop);

fn busy_loop(hosting: Hosting) {
    let arena = Arena::pong()
        .limit("step_ms", json!(200))
        .agent("spinner", &hostile("busy-loop"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("spinner", "steady", AgentStatus::Disqualified);
    let spinner = run.agent("spinner");
    assert_eq!(spinner.error_message, "step 3: timed out after 200 ms");
    assert_eq!(spinner.errors, 4, "{spinner:?}");
    let replay = run.replay();
    assert_eq!(replay.frames[1].statuses[0], MoveStatus::Ok);
    assert_eq!(replay.frames[2].statuses[0], MoveStatus::Timeout);
}

local_and_behind_shims!(agent_that_stops_reading_cannot_block_the_match, deaf_agent);

fn deaf_agent(hosting: Hosting) {
    let arena = Arena::game("connectx")
        .limit("step_ms", json!(200))
        .agent("deaf", &hostile("deaf"))
        .agent("steady", &test_agent("first-empty"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("deaf", "steady", AgentStatus::Disqualified);
    assert!(
        run.agent("deaf")
            .error_message
            .starts_with("step 1: timed out"),
        "{:?}",
        run.agent("deaf")
    );
}

local_and_behind_shims!(fork_bomb_gets_no_process, fork_bomb);

fn fork_bomb(hosting: Hosting) {
    let arena = Arena::pong()
        .agent("bomb", &hostile("fork-bomb"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    if run.has_layer("bomb", "seccomp") {
        run.assert_hostile_lost("bomb", "steady", AgentStatus::Error);
        let bomb = run.agent("bomb");
        assert!(
            bomb.error_message.contains("PermissionError"),
            "fork is refused: {bomb:?}"
        );
        assert!(bomb.stderr_tail.contains("started 0 children"), "{bomb:?}");
    } else {
        // Without seccomp the bounded bomb's children share the agent's process group and die with it.
        assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
        run.assert_no_agent_process_left();
    }
}

local_and_behind_shims!(subprocess_is_refused, subprocess);

fn subprocess(hosting: Hosting) {
    let arena = Arena::pong()
        .agent("spawner", &hostile("subprocess"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    if run.has_layer("spawner", "seccomp") {
        run.assert_hostile_lost("spawner", "steady", AgentStatus::Error);
        let spawner = run.agent("spawner");
        assert!(
            spawner.error_message.contains("PermissionError"),
            "{spawner:?}"
        );
    } else {
        run.assert_no_agent_process_left();
    }
}

local_and_behind_shims!(thread_bomb_is_bounded, thread_bomb);

fn thread_bomb(hosting: Hosting) {
    let arena = Arena::pong()
        .limit("memory_mb", json!(256))
        .agent("threads", &hostile("thread-bomb"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("threads", "steady", AgentStatus::Disqualified);
    let threads = run.agent("threads");
    assert!(
        threads.error_message.contains("can't start new thread"),
        "{threads:?}"
    );
    assert!(threads.stderr_tail.contains("thread-bomb:"), "{threads:?}");
}

local_and_behind_shims!(
    slow_import_uses_the_init_allowance_then_timeouts_count,
    slow_import
);

fn slow_import(hosting: Hosting) {
    let arena = Arena::pong()
        .limit("init_ms", json!(5_000))
        .limit("step_ms", json!(200))
        .agent("slow", &hostile("slow-import"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("slow", "steady", AgentStatus::Disqualified);
    let slow = run.agent("slow");
    assert_eq!(
        slow.error_message, "step 1: timed out after 200 ms",
        "the slow import is not charged: {slow:?}"
    );
}
