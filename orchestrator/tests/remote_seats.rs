//! Seats whose agents run in containers of their own, emulated with real processes: the orchestrator listens
//! on one Unix socket per seat (`run --seat-socket`), and one `agent-shim run` per seat, each under a uid of
//! its own, connects, takes the agent's pipe ends and runs its agent there. The same match gives the same result and replay as with local
//! seats; a crash, a killed container and a cancel are attributed as in a local match.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use proto::replay::Replay;
use serde_json::json;
use support::{Arena, Run, agent_python, example, is_root, test_agent};

/// The shim binary under test.
const SHIM: &str = env!("CARGO_BIN_EXE_agent-shim");
/// The first uid the shims run as when the tests run as root (seat N gets this plus N).
const SHIM_UID_BASE: u32 = 2_999_100;

/// One shim per seat of an arena, each in its own "container": its own uid (when the tests run as root), its
/// own scratch root, and a seat directory it shares with the orchestrator only.
struct Shims {
    children: Vec<Child>,
    sockets: Vec<PathBuf>,
}

impl Shims {
    /// Starts a shim for each of the `agents` (their directories, in seat order).
    #[track_caller]
    fn start(arena: &Arena, agents: &[&str]) -> Self {
        let mut children = Vec::new();
        let mut sockets = Vec::new();
        for (i, id) in agents.iter().enumerate() {
            let seat = arena
                .dir
                .path()
                .join("seats")
                .join(format!("agent-{}", i + 1));
            let scratch = arena
                .dir
                .path()
                .join("containers")
                .join(format!("agent-{}", i + 1));
            for dir in [&seat, &scratch] {
                std::fs::create_dir_all(dir).unwrap();
                // Like an emptyDir: anyone of the pod who mounts it may write there.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            let socket = seat.join("seat.sock");
            let mut command = if is_root() {
                let uid = SHIM_UID_BASE + i as u32 + 1;
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(SHIM);
                command
            } else {
                Command::new(SHIM)
            };
            command
                .args(["run", "--socket"])
                .arg(&socket)
                .arg("--app")
                .arg(arena.agent_dir(id))
                .arg("--python")
                .arg(agent_python())
                .arg("--scratch-root")
                .arg(&scratch)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0);
            children.push(command.spawn().expect("starting agent-shim"));
            sockets.push(socket);
        }
        Self { children, sockets }
    }

    /// The orchestrator's `--seat-socket` argument.
    fn flag(&self) -> String {
        self.sockets
            .iter()
            .map(|s| s.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits for every shim; each must have ended with 0. Returns their logs.
    #[track_caller]
    fn finish(mut self) -> Vec<String> {
        self.children
            .drain(..)
            .map(|child| {
                let output = child.wait_with_output().unwrap();
                let log = String::from_utf8_lossy(&output.stderr).into_owned();
                assert!(
                    output.status.success(),
                    "agent-shim ended with {}:\n{log}",
                    output.status
                );
                log
            })
            .collect()
    }
}

impl Drop for Shims {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the arena's match with every seat behind a shim.
#[track_caller]
fn run_remote(arena: &Arena, agents: &[&str]) -> (Run, Vec<String>) {
    let shims = Shims::start(arena, agents);
    let run = arena.run(&["--seat-socket", &shims.flag()]);
    let logs = shims.finish();
    (run, logs)
}

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
    let (remote, logs) = run_remote(&arena, &["steady", "pong-shell"]);

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
    let (remote, _) = run_remote(&arena, &["first", "second"]);
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
    let (remote, _) = run_remote(&arena, &["crash", "steady"]);
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
    let shims = Shims::start(&arena, &["victim", "steady"]);
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
    let shims = Shims::start(&arena, &["a", "b"]);
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
    let (run, _) = run_remote(&arena, &["steady", "ghost"]);
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
