//! SIGTERM during a match: the match ends as cancelled, the result file is still written and every agent
//! process is killed; a SIGTERM while the match is still being set up leaves nothing behind either.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use proto::outcome::MatchStatus;
use serde_json::json;
use support::{Arena, BIN, test_agent};

#[test]
fn sigterm_cancels_the_match_and_kills_the_agents() {
    let arena = Arena::pong()
        .config(json!({ "max_steps": 100000, "winning_score": 100000 }))
        .agent("a", &test_agent("sleepy"))
        .agent("b", &test_agent("steady"));
    let spec = arena.write_spec();
    let mut child = std::process::Command::new(BIN)
        .args(["run", "--spec"])
        .arg(&spec)
        .arg("--result-file")
        .arg(arena.result_path())
        .arg("--replay-out")
        .arg(arena.replay_path())
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until both agents answered ready: the match is under way.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let mut ready = 0;
    while ready < 2 {
        let line = lines
            .next()
            .expect("the orchestrator logs until both agents are ready")
            .unwrap();
        ready += usize::from(line.contains("agent ready"));
        log.push_str(&line);
        log.push('\n');
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    let status = child.wait().unwrap();
    let output = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: log.into_bytes(),
    };
    let run = arena.collect(output);

    assert_eq!(run.outcome.status, MatchStatus::Cancelled);
    assert_eq!(run.outcome.winner, None);
    assert_eq!(
        run.outcome.error_message,
        "match cancelled by a shutdown request"
    );
    assert!(run.outcome.total_steps < 100000);
    assert_eq!(run.replay().frames.len() as u32, run.outcome.total_steps);
    run.assert_no_agent_process_left();
}

#[test]
fn sigterm_while_the_match_is_set_up_removes_the_scratch_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let arena = Arena::pong()
        .config(json!({ "max_steps": 100000, "winning_score": 100000 }))
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let spec = arena.write_spec();
    for attempt in 0..5 {
        let _ = std::fs::remove_file(arena.result_path());
        // Without --scratch-dir the agents' scratch directories live in a temporary directory under TMPDIR.
        let mut child = std::process::Command::new(BIN)
            .args(["run", "--spec"])
            .arg(&spec)
            .arg("--result-file")
            .arg(arena.result_path())
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Signal as soon as the scratch directory exists: the agents are being prepared and started.
        while std::fs::read_dir(tmp.path()).unwrap().next().is_none() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "attempt {attempt}: the orchestrator exited before it made its scratch directory"
            );
            std::thread::yield_now();
        }
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "attempt {attempt}: {status:?}");
        let outcome: proto::outcome::MatchOutcome =
            serde_json::from_slice(&std::fs::read(arena.result_path()).unwrap()).unwrap();
        assert_eq!(outcome.status, MatchStatus::Cancelled, "attempt {attempt}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, Vec::<std::path::PathBuf>::new(), "attempt {attempt}");
    }
}
