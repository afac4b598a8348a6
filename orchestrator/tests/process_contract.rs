//! The process contract (`proto::process::orchestrator`): `orchestrator run` started the way the executor's
//! builder starts it plays the match, and the binary exits with the contract's codes.

mod support;

use proto::process::orchestrator::{Exit, LogFormat, Run};
use support::{Arena, BIN, test_agent};

fn code(exit: Exit) -> Option<i32> {
    Some(i32::from(exit.code()))
}

#[test]
fn a_run_built_by_the_contract_exits_with_its_codes() {
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let run = Run {
        result_file: Some(arena.result_path()),
        replay_out: Some(arena.replay_path()),
        result_max_bytes: Some(4096),
        log_format: LogFormat::Json,
        ..Run::new(arena.write_spec())
    };
    let output = std::process::Command::new(BIN)
        .args(run.args())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), code(Exit::Finished), "{output:?}");
    let played = arena.collect(output);
    assert!(played.outcome.total_steps > 0);

    let missing = Run {
        result_file: Some(arena.dir.path().join("missing.result")),
        ..Run::new(arena.dir.path().join("missing-spec.json"))
    };
    let output = std::process::Command::new(BIN)
        .args(missing.args())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), code(Exit::Failed), "{output:?}");

    let output = std::process::Command::new(BIN)
        .args(["run", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), code(Exit::Usage), "{output:?}");
}
