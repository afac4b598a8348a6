//! CPU starvation in a simultaneous game: an agent whose background threads spin all the time cannot take the
//! CPU of an honest agent that thinks: while the honest agent is on move every thread of the spinner is
//! stopped, and the honest agent that needs 100 ms of computing per move answers every move in time, whichever
//! seat it has and whichever user the orchestrator runs as.

mod support;

use std::fs::OpenOptions;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proto::outcome::MatchStatus;
use serde_json::json;
use support::{Arena, Mode, hostile, test_agent, thread_states};

in_both_modes!(
    spinning_threads_stop_while_the_opponent_thinks,
    stopped_while_opponent_thinks
);
in_both_modes!(
    spinning_threads_take_no_cpu_from_the_opponent,
    honest_answers_in_time
);

fn pong(mode: Mode, honest_first: bool) -> Arena {
    let arena = Arena::pong()
        .config(json!({"max_steps": 6, "winning_score": 1000}))
        .mode(mode);
    let arena = if honest_first {
        arena
            .agent("honest", &test_agent("compute"))
            .agent("spinner", &hostile("attacker"))
    } else {
        arena
            .agent("spinner", &hostile("attacker"))
            .agent("honest", &test_agent("compute"))
    };
    arena.plan("spinner", json!({"spin": 4}))
}

/// Holds the honest agent inside its second move (a FIFO it waits on) and checks that meanwhile every
/// thread of the spinner is stopped.
fn stopped_while_opponent_thinks(mode: Mode) {
    for honest_first in [true, false] {
        let arena = pong(mode, honest_first).limit("step_ms", json!(60_000));
        let turn = arena.agent_dir("honest").join("turn");
        nix::unistd::mkfifo(&turn, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let log = arena.dir.path().join("orchestrator.log");
        let orchestrator = arena
            .command(&[])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(OpenOptions::new().write(true).open(turn));
        });
        let fifo = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the honest agent reached its move")
            .unwrap();
        let spinner = support::read_pids(&arena.scratch_dir("spinner").join("pids"))[0];
        // Stopping takes effect within the first millisecond of the step; poll for it.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut states = thread_states(spinner);
        while !(states.len() >= 5 && states.iter().all(|&s| s == 'T')) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
            states = thread_states(spinner);
        }
        drop(fifo);
        let status = orchestrator.wait_with_output().unwrap().status;
        let run = arena.collect(Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&log).unwrap(),
        });
        if run.has_layer("spinner", "serial_thinking") {
            assert!(
                states.len() >= 5 && states.iter().all(|&s| s == 'T'),
                "every thread of the spinner is stopped while the honest agent thinks: {states:?}"
            );
        }
        assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
        run.assert_unaffected("honest");
        run.assert_no_agent_process_left();
    }
}

/// 100 ms of computing per move against 128 spinning threads: unprotected, that takes more than six seconds
/// of a two-core machine; the step limit leaves a loaded machine ample time otherwise.
fn honest_answers_in_time(mode: Mode) {
    for honest_first in [true, false] {
        let run = pong(mode, honest_first)
            .limit("step_ms", json!(5_000))
            .plan("spinner", json!({"spin": 128}))
            .run(&[]);

        assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
        assert_eq!(run.outcome.total_steps, 6);
        run.assert_unaffected("honest");
        let honest = run.agent("honest");
        assert!(honest.cpu_time_sec >= 0.5, "it computed: {honest:?}");
        run.assert_no_agent_process_left();
    }
}
