//! `--sha256`: a matching digest installs, a wrong one is refused before anything is unpacked.

mod support;

use support::{Scratch, agent_files, agent_zip, sha256_hex};

#[test]
fn a_matching_digest_installs() {
    let scratch = Scratch::new();
    let bytes = agent_zip();
    let artifact = scratch.artifact("agent.zip", &bytes);
    let digest = format!("sha256:{}", sha256_hex(&bytes).to_uppercase());
    scratch
        .install(&artifact, &["--sha256", &digest])
        .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[test]
fn a_wrong_digest_is_refused_and_nothing_installed() {
    let scratch = Scratch::new();
    let bytes = agent_zip();
    let artifact = scratch.artifact("agent.zip", &bytes);
    let wrong = sha256_hex(b"something else");
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--sha256", &wrong])
        .assert_code(10)
        .assert_reason_contains(&format!("expected {wrong}, got {}", sha256_hex(&bytes)));
    scratch.assert_untouched(&before);
}

#[test]
fn a_malformed_digest_is_a_usage_error() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    scratch
        .install(&artifact, &["--sha256", "abc"])
        .assert_code(2)
        .assert_reason_contains("64 hex digits");
}

#[test]
fn a_digest_for_a_directory_is_a_usage_error() {
    let scratch = Scratch::new();
    let src = scratch.root().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("agent.py"), b"pass\n").unwrap();
    scratch
        .install(&src, &["--sha256", &sha256_hex(b"x")])
        .assert_code(2)
        .assert_reason_contains("directory");
}
