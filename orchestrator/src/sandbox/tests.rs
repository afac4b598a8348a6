//! Unit tests of the sandbox's pure parts: layer names, required-layer checks, rlimits, scratch accounting.

use super::*;

fn isolation(applied: &[&str], unavailable: &[&str]) -> Isolation {
    Isolation {
        applied: applied.iter().map(|s| s.to_string()).collect(),
        unavailable: unavailable.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn unknown_and_always_on_layers_are_refused() {
    let unknown = SandboxOptions {
        required: vec!["selinux".into()],
        ..SandboxOptions::default()
    };
    let err = unknown.check().unwrap_err();
    assert!(
        err.contains("\"selinux\" is unknown") && err.contains("seccomp"),
        "{err}"
    );
    let always_on = SandboxOptions {
        disabled: vec![BOUNDED_IO.into()],
        ..SandboxOptions::default()
    };
    assert!(
        always_on
            .check()
            .unwrap_err()
            .contains("cannot be disabled")
    );
}

#[test]
fn missing_required_layers_carry_their_reason() {
    let found = isolation(
        &[SECCOMP],
        &["landlock_fs: the kernel has no Landlock support"],
    );
    let required = vec![
        SECCOMP.to_string(),
        LANDLOCK_FS.to_string(),
        PAUSE_OFF_TURN.to_string(),
    ];
    assert_eq!(
        missing_required(&required, &found, false),
        ["landlock_fs: the kernel has no Landlock support"]
    );
    assert_eq!(
        missing_required(&required, &found, true),
        [
            "landlock_fs: the kernel has no Landlock support",
            "pause_off_turn: not available"
        ]
    );
}

#[test]
fn rlimits_follow_the_spec() {
    let limits = Limits {
        memory_mb: 256,
        scratch_mb: 8,
        match_ms: 60_000,
        init_ms: 10_000,
        ..Limits::default()
    };
    let got = rlimits(&limits);
    let find = |r: libc::c_int| got.iter().find(|(res, ..)| *res == r).copied();
    assert_eq!(
        find(libc::RLIMIT_AS as libc::c_int),
        Some((libc::RLIMIT_AS as libc::c_int, 256 << 20, 256 << 20))
    );
    assert_eq!(
        find(libc::RLIMIT_FSIZE as libc::c_int).map(|l| l.1),
        Some(8 << 20)
    );
    assert_eq!(find(libc::RLIMIT_CORE as libc::c_int).map(|l| l.1), Some(0));
    assert_eq!(find(libc::RLIMIT_CPU as libc::c_int).map(|l| l.1), Some(75));
    let unlimited = Limits {
        memory_mb: 0,
        ..Limits::default()
    };
    assert!(
        rlimits(&unlimited)
            .iter()
            .all(|(r, ..)| *r != libc::RLIMIT_AS as libc::c_int)
    );
}

#[test]
fn scratch_usage_counts_bytes_and_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), vec![0u8; 1000]).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b"), vec![0u8; 24]).unwrap();
    assert_eq!(scratch_usage(dir.path(), 100), (1024, 3));
    assert!(scratch_usage(dir.path(), 1).1 > 1);
}
