//! Hostile agents against process supervision: escaping with double forks and `setsid` while the orchestrator
//! is SIGKILLed mid-match, and computing in a background thread while the opponent is on move.

mod support;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, hostile, is_alive, thread_states};

/// How long a test waits for a condition before failing.
const PATIENCE: Duration = Duration::from_secs(60);

/// Opens the FIFO at `path` for writing from a helper thread: the open returns once the agent opened it for
/// reading, which is the agent's way of saying "I am there".
#[track_caller]
fn wait_for_reader(path: &Path) -> std::fs::File {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(OpenOptions::new().write(true).open(path));
    });
    rx.recv_timeout(PATIENCE)
        .expect("the agent reached the FIFO")
        .expect("opening the FIFO")
}

/// The mode of the test's FIFOs: readable by the agent, which may run under a dedicated user (its directory
/// keeps everyone else out).
fn fifo_mode() -> nix::sys::stat::Mode {
    nix::sys::stat::Mode::from_bits_truncate(0o644)
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `PATIENCE`.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// Living processes whose working directory is `dir`: every process an agent started shares it.
fn processes_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
                && is_alive(pid)
        })
        .collect()
}

fn pids_in(file: PathBuf) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn nothing_survives_a_killed_orchestrator() {
    let arena = Arena::pong()
        .limit("step_ms", json!(60_000))
        .agent("escaper", &hostile("escape"))
        .agent("steady", &support::test_agent("steady"));
    let dir = arena.agent_dir("escaper");
    nix::unistd::mkfifo(&dir.join("ready"), fifo_mode()).unwrap();
    let log = std::fs::File::create(arena.dir.path().join("orchestrator.log")).unwrap();
    let mut orchestrator = arena
        .command(&[])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    let fifo = wait_for_reader(&dir.join("ready"));
    let mut pids = pids_in(arena.scratch_dir("escaper").join("pids"));
    pids.extend(pids_in(arena.scratch_dir("steady").join("pids")));
    assert!(pids.len() >= 2, "both agents recorded their pids: {pids:?}");
    assert!(
        !processes_in(&dir).is_empty(),
        "the escaper runs while the orchestrator lives"
    );
    orchestrator.kill().unwrap();
    orchestrator.wait().unwrap();
    drop(fifo);

    for pid in &pids {
        assert!(
            eventually(|| !is_alive(*pid)),
            "agent process {pid} survived the orchestrator"
        );
    }
    assert!(
        eventually(|| processes_in(&dir).is_empty()),
        "processes {:?} started by the escaper survived",
        processes_in(&dir)
    );
    let log = std::fs::read_to_string(arena.dir.path().join("orchestrator.log")).unwrap();
    if !log.contains("\"seccomp\"") {
        println!("seccomp is not in force on this machine: the escape attempts ran unfiltered");
    }
}

#[test]
fn agent_off_turn_is_paused_with_all_its_threads() {
    let arena = Arena::game("tictactoe")
        .agent("x", &hostile("fifo-first-empty"))
        .agent("o", &hostile("background-thread"));
    let x_dir = arena.agent_dir("x");
    nix::unistd::mkfifo(&x_dir.join("turn"), fifo_mode()).unwrap();
    let log_path = arena.dir.path().join("orchestrator.log");
    let mut orchestrator = arena
        .command(&[])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // X is on move and waits for us: O must be stopped, background thread included.
    let fifo = wait_for_reader(&x_dir.join("turn"));
    let o_pid = pids_in(arena.scratch_dir("o").join("pids"))[0];
    let states = || thread_states(o_pid);
    let paused = eventually(|| {
        let s = states();
        s.len() >= 2 && s.iter().all(|&c| c == 'T')
    });
    let seen = states();
    drop(fifo);
    let status = orchestrator.wait().unwrap();
    let output = Output {
        status,
        stdout: Vec::new(),
        stderr: std::fs::read(&log_path).unwrap(),
    };
    let run = arena.collect(output);

    if run.has_layer("o", "pause_off_turn") {
        assert!(
            paused,
            "every thread of the agent off turn is stopped: states {seen:?}"
        );
    }
    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.winner.as_deref(), Some("x"));
    assert_eq!(run.agent("o").status, AgentStatus::Ok);
    assert!(run.agent("o").cpu_time_sec > 0.0, "CPU time is recorded");
    run.assert_no_agent_process_left();
    run.assert_memory_bounded();
}
