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
    // Thinking one after the other concerns simultaneous games only.
    let serial = vec![SERIAL_THINKING.to_string()];
    assert_eq!(
        missing_required(&serial, &found, false),
        ["serial_thinking: not available"]
    );
    assert!(missing_required(&serial, &found, true).is_empty());
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
    let got = rlimits(&limits, false);
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
    let nproc = |dedicated| {
        rlimits(&limits, dedicated)
            .iter()
            .find(|(r, ..)| *r == libc::RLIMIT_NPROC as libc::c_int)
            .map(|l| l.1)
    };
    assert_eq!(nproc(true), Some(THREADS), "a dedicated user's threads");
    assert_eq!(
        nproc(false),
        Some(PROCESSES),
        "a backstop for a shared user"
    );
    let unlimited = Limits {
        memory_mb: 0,
        ..Limits::default()
    };
    assert!(
        rlimits(&unlimited, false)
            .iter()
            .all(|(r, ..)| *r != libc::RLIMIT_AS as libc::c_int)
    );
}

#[test]
fn scratch_usage_counts_blocks_and_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), vec![1u8; 100_000]).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    // A sparse file holds almost nothing; space preallocated past a file's end holds all of it.
    let sparse = std::fs::File::create(dir.path().join("sub/sparse")).unwrap();
    sparse.set_len(1 << 30).unwrap();
    let kept = std::fs::File::create(dir.path().join("sub/kept")).unwrap();
    nix::fcntl::fallocate(
        &kept,
        nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        0,
        4 << 20,
    )
    .unwrap();
    assert_eq!(kept.metadata().unwrap().len(), 0);
    let (bytes, entries) = scratch_usage(dir.path(), 100);
    assert_eq!(entries, 4);
    assert!(
        (100_000 + (4 << 20)..1 << 30).contains(&bytes),
        "{bytes} bytes"
    );
    assert!(scratch_usage(dir.path(), 1).1 > 1);
}

#[test]
fn deleted_files_kept_open_are_counted_and_threads_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone");
    std::fs::write(&path, vec![1u8; 3 << 20]).unwrap();
    let held = std::fs::File::open(&path).unwrap();
    let me = std::process::id();
    let before = unlinked_bytes(me);
    std::fs::remove_file(&path).unwrap();
    assert!(unlinked_bytes(me) >= before + (3 << 20));
    drop(held);
    assert!(threads(me).is_some_and(|n| n >= 1));
    assert_eq!(threads(u32::MAX), None);
}

#[test]
fn the_root_directory_is_no_read_path() {
    let options = SandboxOptions {
        read_paths: vec![PathBuf::from("/usr/../")],
        ..SandboxOptions::default()
    };
    assert!(
        options
            .check()
            .unwrap_err()
            .contains("is the root directory")
    );
}

#[test]
fn agent_commands_resolve_inside_what_agents_may_run() {
    let dir = tempfile::tempdir().unwrap();
    let agent_dir = dir.path().join("agent");
    std::fs::create_dir(&agent_dir).unwrap();
    std::fs::write(agent_dir.join("bot"), "#!/bin/sh\n").unwrap();
    let outside = dir.path().join("elsewhere");
    std::fs::write(&outside, "#!/bin/sh\n").unwrap();
    std::os::unix::fs::symlink(&outside, agent_dir.join("link")).unwrap();
    let limits = Limits::default();
    let agent = AgentBox {
        dir: &agent_dir,
        scratch: dir.path().join("scratch"),
        runtime: &[],
        interpreter: None,
        own_dir: true,
        limits: &limits,
        turn_based: false,
    };
    let options = SandboxOptions::default();
    let resolve = |program: &Path| resolve_program(&options, &agent, program.as_os_str());
    assert_eq!(
        resolve(&agent_dir.join("./bot")),
        Ok(agent_dir.join("./bot"))
    );
    assert_eq!(
        resolve(Path::new("/proc/self/root/bin/../bin/sh")),
        Ok(PathBuf::from("/proc/self/root/bin/../bin/sh")),
        "a devious path to the runtime still names the runtime"
    );
    for refused in [outside.clone(), agent_dir.join("link")] {
        let err = resolve(&refused).unwrap_err();
        assert!(err.contains("outside what agents may run"), "{err}");
    }
    let missing = agent_dir.join("missing");
    assert_eq!(resolve(&missing), Ok(missing.clone()), "fails at start");
    // The operator may add a directory.
    let widened = SandboxOptions {
        read_paths: vec![dir.path().to_path_buf()],
        ..SandboxOptions::default()
    };
    assert!(resolve_program(&widened, &agent, outside.as_os_str()).is_ok());
}
