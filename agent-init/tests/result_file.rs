//! The outcome is written to `--result-file`: the failure reason, or what was installed.

mod support;

use support::{Scratch, agent_zip};

#[test]
fn a_failure_reason_is_written_to_the_result_file() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.zip", b"not a zip");
    let result = scratch.root().join("termination-log");
    let out = scratch.install(&artifact, &["--result-file", result.to_str().unwrap()]);
    out.assert_code(10);
    let written = std::fs::read_to_string(&result).unwrap();
    assert_eq!(written, format!("{}\n", out.reason()));
    assert!(written.contains("archive is invalid"), "{written}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("agent-init: "))
            .count(),
        1
    );
}

#[test]
fn success_is_written_to_the_result_file_from_the_environment() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    let result = scratch.root().join("result.txt");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-init"))
        .env("AGENT_INIT_SOURCE", &artifact)
        .env("AGENT_INIT_DEST", scratch.dest())
        .env("AGENT_INIT_RESULT_FILE", &result)
        .env("AGENT_INIT_LOCAL_ROOTS", scratch.root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let written = std::fs::read_to_string(&result).unwrap();
    assert!(written.starts_with("installed 2 files"), "{written}");
    assert!(scratch.dest().join("agent.py").is_file());
}
