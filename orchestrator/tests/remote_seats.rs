//! Seats whose agents run in containers of their own, emulated with real processes (`support::shims`): the
//! orchestrator listens on one Unix socket per seat (`run --seat-socket`), and one `agent-shim run` per seat,
//! each under a uid of its own, connects, takes the agent's pipe ends and runs its agent there. The same match
//! gives the same result and replay as with local seats; a crash, a killed container and a cancel are
//! attributed as in a local match. Hostile agents behind shims are in the hostile tests (`Hosting::Shims`).

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use proto::replay::Replay;
use serde_json::json;
use support::shims::{Shims, run_remote};
use support::{Arena, Run, example, is_root, test_agent};

/// What two runs of one match must share: everything but times, CPU and digests.
#[track_caller]
fn assert_same_match(local: &Run, remote: &Run) {
    let strip = |outcome: &MatchOutcome| {
        let mut o = outcome.clone();
        o.execution_time_sec = 0.0;
        o.replay_sha256 = None;
        for a in &mut o.agents {
            a.time_used_sec = 0.0;
            a.cpu_time_sec = 0.0;
        }
        o
    };
    assert_eq!(
        strip(&remote.outcome),
        strip(&local.outcome),
        "{}",
        remote.stderr()
    );
    let steps = |replay: Replay| {
        replay
            .frames
            .into_iter()
            .map(|f| {
                let mut frame = serde_json::to_value(f).unwrap();
                frame.as_object_mut().unwrap().remove("time_ms");
                frame
            })
            .collect::<Vec<_>>()
    };
    let (local_replay, remote_replay) = (local.replay(), remote.replay());
    assert_eq!(remote_replay.agents, local_replay.agents);
    let (local_steps, remote_steps) = (steps(local_replay), steps(remote_replay));
    assert_eq!(remote_steps.len(), local_steps.len());
    if let Some((l, r)) = local_steps.iter().zip(&remote_steps).find(|(l, r)| l != r) {
        panic!("a step differs:\nlocal:  {l}\nremote: {r}");
    }
}

#[test]
fn seats_behind_shims_play_the_same_match_as_local_seats() {
    // Agents that play the same moves every time (the Python one through the adapter).
    let make = || {
        Arena::pong()
            .config(json!({ "max_steps": 120, "winning_score": 1000, "ball_speed": 0.04 }))
            .agent("steady", &test_agent("steady"))
            .agent("pong-shell", &example("pong-shell"))
    };
    let local = make().run(&[]);
    let arena = make();
    let (remote, logs) = run_remote(&arena);

    assert_eq!(
        remote.outcome.status,
        MatchStatus::Success,
        "{}",
        remote.stderr()
    );
    assert_eq!(remote.outcome.total_steps, 120);
    assert_same_match(&local, &remote);
    for agent in &remote.outcome.agents {
        assert!(agent.time_used_sec > 0.0, "{agent:?}");
        for layer in ["bounded_io", "rlimits", "serial_thinking"] {
            assert!(
                agent.isolation.applied.iter().any(|l| l == layer),
                "{agent:?}"
            );
        }
        if is_root() {
            assert!(
                agent.isolation.applied.iter().any(|l| l == "dedicated_uid"),
                "each shim runs under a uid of its own: {agent:?}"
            );
        }
    }
    assert!(
        remote
            .agent("pong-shell")
            .stderr_tail
            .contains("pong-shell: I am player 1"),
        "stderr comes through the pipe the shim passed on"
    );
    for log in &logs {
        assert!(log.contains("agent started"), "{log}");
    }
    remote.assert_no_agent_process_left();
}

#[test]
fn turn_based_seats_behind_shims_are_paused_off_turn_as_local_ones() {
    let make = || {
        Arena::game("tictactoe")
            .agent("first", &example("tictactoe-python"))
            .agent("second", &example("tictactoe-shell"))
    };
    let local = make().run(&[]);
    let arena = make();
    let (remote, _) = run_remote(&arena);
    assert_eq!(
        remote.outcome.status,
        MatchStatus::Success,
        "{}",
        remote.stderr()
    );
    assert_same_match(&local, &remote);
    for agent in &remote.outcome.agents {
        assert!(
            agent
                .isolation
                .applied
                .iter()
                .any(|l| l == "pause_off_turn"),
            "{agent:?}"
        );
    }
}

#[test]
fn a_crash_behind_a_shim_is_the_agents_as_in_a_local_match() {
    let make = || {
        Arena::pong()
            .agent("crash", &test_agent("crash"))
            .agent("steady", &test_agent("steady"))
    };
    let local = make().run(&[]);
    let arena = make();
    let (remote, _) = run_remote(&arena);
    let crash = remote.agent("crash");
    assert_eq!(crash.status, AgentStatus::Crashed);
    assert_eq!(crash.error_message, "step 5: agent exited with status 3");
    assert!(
        crash.stderr_tail.contains("crash agent: giving up now"),
        "{crash:?}"
    );
    assert_eq!(remote.outcome.winner.as_deref(), Some("steady"));
    assert_same_match(&local, &remote);
}

/// Reads the orchestrator's log lines until `count` lines contain `needle`; returns what was read.
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    needle: &str,
    count: usize,
) -> String {
    let mut log = String::new();
    let mut seen = 0;
    while seen < count {
        let line = lines.next().expect("the orchestrator logs on").unwrap();
        seen += usize::from(line.contains(needle));
        log.push_str(&line);
        log.push('\n');
    }
    log
}

/// Starts the orchestrator of `arena` behind `shims` with its log piped, and reads it until both agents are
/// ready.
fn start_until_ready(
    arena: &Arena,
    shims: &Shims,
) -> (Child, impl Iterator<Item = std::io::Result<String>>, String) {
    let mut child = arena
        .command(&["--seat-socket", &shims.flag()])
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = read_until(&mut lines, "agent ready", 2);
    (child, lines, log)
}

/// Reads the rest of the log and collects the run.
fn collect(
    arena: &Arena,
    mut child: Child,
    lines: impl Iterator<Item = std::io::Result<String>>,
    mut log: String,
) -> Run {
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    let status = child.wait().unwrap();
    arena.collect(std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: log.into_bytes(),
    })
}

#[test]
fn a_container_killed_mid_match_is_its_agents_crash() {
    // The victim takes 100 ms a move: the match is under way when its container dies.
    let arena = Arena::pong()
        .config(json!({ "max_steps": 300, "winning_score": 100000 }))
        .agent("victim", &test_agent("sleepy"))
        .agent("steady", &test_agent("steady"));
    let shims = Shims::start(&arena);
    let (child, lines, log) = start_until_ready(&arena, &shims);
    // The container of seat 1 dies as a whole, as an OOM kill takes it: the shim and, with it, its agent.
    killpg(
        Pid::from_raw(shims.children[0].id() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let run = collect(&arena, child, lines, log);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let victim = run.agent("victim");
    assert_eq!(victim.status, AgentStatus::Crashed, "{victim:?}");
    assert!(
        victim.error_message.contains("ended with its container"),
        "{victim:?}"
    );
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    assert_eq!(run.agent("steady").status, AgentStatus::Ok);
    run.assert_no_agent_process_left();
}

#[test]
fn a_cancel_ends_the_match_and_every_shim_with_0() {
    let arena = Arena::pong()
        .config(json!({ "max_steps": 100000, "winning_score": 100000 }))
        .agent("a", &test_agent("sleepy"))
        .agent("b", &test_agent("steady"));
    let shims = Shims::start(&arena);
    let (child, lines, log) = start_until_ready(&arena, &shims);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let run = collect(&arena, child, lines, log);
    shims.finish();

    assert_eq!(run.outcome.status, MatchStatus::Cancelled);
    assert_eq!(
        run.outcome.error_message,
        "match cancelled by a shutdown request"
    );
    run.assert_no_agent_process_left();
}

#[test]
fn a_seat_whose_shim_cannot_find_its_agent_is_charged() {
    let arena = Arena::pong()
        .agent("steady", &test_agent("steady"))
        .agent_at("ghost", PathBuf::from("/nonexistent/agent"));
    let (run, _) = run_remote(&arena);
    let ghost = run.agent("ghost");
    assert_eq!(ghost.status, AgentStatus::Error, "{ghost:?}");
    assert!(ghost.error_message.contains("does not exist"), "{ghost:?}");
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
}

#[test]
fn seat_sockets_must_match_the_agents() {
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let only_one = arena.dir.path().join("one.sock");
    let run = arena.run(&["--seat-socket", &only_one.display().to_string()]);
    assert_eq!(run.outcome.status, MatchStatus::Error);
    assert!(
        run.outcome
            .error_message
            .contains("1 seat sockets were given for 2 agents"),
        "{}",
        run.outcome.error_message
    );
}
