//! The install is atomic: the destination appears complete or not at all, an existing non-empty
//! destination is refused, and staging left by an interrupted run is cleaned up.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Scratch, TarItem, agent_files, agent_zip, gzip, tar};

#[test]
fn an_empty_existing_destination_is_filled() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.dest()).unwrap();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    scratch.install(&artifact, &[]).assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[test]
fn a_non_empty_destination_is_refused_and_kept() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.dest()).unwrap();
    std::fs::write(scratch.dest().join("old.py"), b"old").unwrap();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &[])
        .assert_code(12)
        .assert_reason_contains("not empty");
    assert_eq!(scratch.snapshot(), before);
}

#[test]
fn a_failure_late_in_the_archive_leaves_no_partial_state() {
    let scratch = Scratch::new();
    let bytes = gzip(&tar(&[
        TarItem::File("agent/agent.py", b"pass\n", 0o644),
        TarItem::File("agent/lib/a.py", b"a\n", 0o644),
        TarItem::File("agent/../../escape.py", b"x", 0o644),
    ]));
    let artifact = scratch.artifact("agent.tgz", &bytes);
    let before = scratch.snapshot();
    scratch.install(&artifact, &[]).assert_code(10);
    scratch.assert_untouched(&before);
}

#[test]
fn staging_left_by_an_interrupted_run_is_removed_on_retry() {
    let scratch = Scratch::new();
    let stale = scratch
        .root()
        .join("agents/.agent-0.agent-init-interrupted");
    std::fs::create_dir_all(stale.join("content/half")).unwrap();
    std::fs::write(stale.join("content/half/agent.py"), b"half").unwrap();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    scratch.install(&artifact, &[]).assert_code(0);
    assert!(!stale.exists());
    let siblings: Vec<_> = std::fs::read_dir(scratch.root().join("agents"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, vec![std::ffi::OsString::from("agent-0")]);
}

#[test]
fn an_unwritable_destination_is_an_internal_failure() {
    let scratch = Scratch::new();
    let parent = scratch.root().join("agents");
    std::fs::create_dir_all(&parent).unwrap();
    // A file where the parent directory should be cannot be written through, even as root.
    let blocked = scratch.root().join("blocked");
    std::fs::write(&blocked, b"not a directory").unwrap();
    std::fs::set_permissions(&blocked, std::fs::Permissions::from_mode(0o444)).unwrap();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    let out = support::run([
        "--source".as_ref(),
        artifact.as_os_str(),
        "--dest".as_ref(),
        blocked.join("agent-0").as_os_str(),
        "--local-roots".as_ref(),
        scratch.root().as_os_str(),
    ]);
    out.assert_code(12)
        .assert_reason_contains("cannot be written");
}
