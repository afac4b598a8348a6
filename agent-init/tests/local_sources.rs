//! Local sources: directories are copied, single files placed, `file://` URLs accepted, and a
//! missing source is the infrastructure's fault.

mod support;

use support::{Scratch, agent_files, agent_zip};

#[test]
fn a_directory_is_copied_as_is() {
    let scratch = Scratch::new();
    let src = scratch.root().join("src");
    std::fs::create_dir_all(src.join("lib")).unwrap();
    std::fs::write(
        src.join("agent.py"),
        b"def get_action(obs):\n    return 0\n",
    )
    .unwrap();
    std::fs::write(src.join("lib/util.py"), b"X = 1\n").unwrap();
    std::os::unix::fs::symlink("agent.py", src.join("main.py")).unwrap();
    scratch.install(&src, &[]).assert_code(0);
    let mut want = agent_files();
    want.insert("main.py".to_owned());
    assert_eq!(scratch.installed(), want);
    assert_eq!(
        std::fs::read(scratch.dest().join("lib/util.py")).unwrap(),
        b"X = 1\n"
    );
}

#[test]
fn a_directory_with_a_symlink_pointing_out_is_refused() {
    let scratch = Scratch::new();
    let src = scratch.root().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("agent.py"), b"pass\n").unwrap();
    std::os::unix::fs::symlink(scratch.outside(), src.join("secrets")).unwrap();
    let before = scratch.snapshot();
    scratch
        .install(&src, &[])
        .assert_code(10)
        .assert_reason_contains("outside the destination");
    scratch.assert_untouched(&before);
}

#[test]
fn a_single_python_file_becomes_agent_py() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("my_bot.py", b"def act(obs):\n    return 1\n");
    scratch.install(&artifact, &[]).assert_code(0);
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).unwrap(),
        b"def act(obs):\n    return 1\n"
    );
}

#[test]
fn another_single_file_keeps_its_name_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let artifact = scratch.artifact("bot", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&artifact, std::fs::Permissions::from_mode(0o755)).unwrap();
    scratch.install(&artifact, &[]).assert_code(0);
    let meta = std::fs::metadata(scratch.dest().join("bot")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
}

#[test]
fn a_file_url_is_a_local_path() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    let url = format!("file://{}", artifact.display());
    scratch.install(&url, &[]).assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[test]
fn a_missing_source_is_unreachable() {
    let scratch = Scratch::new();
    let missing = scratch.root().join("nope/agent.zip");
    let before = scratch.snapshot();
    scratch
        .install(&missing, &[])
        .assert_code(11)
        .assert_reason_contains("nope/agent.zip");
    scratch.assert_untouched(&before);
}

#[test]
fn unsupported_schemes_are_usage_errors() {
    let scratch = Scratch::new();
    scratch
        .install("ftp://127.0.0.1/agent.zip", &[])
        .assert_code(2)
        .assert_reason_contains("ftp");
}
