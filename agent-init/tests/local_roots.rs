//! Local sources lie strictly below a directory given with `--local-roots` (none by default):
//! paths outside, `..` escapes and symlinks pointing out are refused with the message a missing
//! path outside gets, links inside a copied tree are never followed, and special files never
//! block.

mod support;

use std::path::{Path, PathBuf};

use support::{Outcome, Scratch, agent_files, agent_zip};

/// Runs agent-init on `source` with `roots` as `--local-roots` (none when empty).
fn install(scratch: &Scratch, source: &Path, roots: &[&Path]) -> Outcome {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--source".into(),
        source.into(),
        "--dest".into(),
        scratch.dest().into(),
    ];
    if !roots.is_empty() {
        let joined: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        args.push("--local-roots".into());
        args.push(joined.join(",").into());
    }
    support::run(args)
}

/// The refusal's text with the path taken out, to compare refusals of different paths.
#[track_caller]
fn refusal(out: &Outcome, path: &Path) -> String {
    out.assert_code(10)
        .assert_reason_contains("is refused")
        .assert_reason_contains("--local-roots");
    out.reason().replace(&path.display().to_string(), "<path>")
}

/// The artifacts directory as the only root, with an agent archive in it.
fn with_root() -> (Scratch, PathBuf) {
    let scratch = Scratch::new();
    scratch.artifact("agent.zip", &agent_zip());
    let root = scratch.root().join("artifacts");
    (scratch, root)
}

#[test]
fn without_roots_local_sources_are_refused() {
    let (scratch, root) = with_root();
    let artifact = root.join("agent.zip");
    let before = scratch.snapshot();
    let out = install(&scratch, &artifact, &[]);
    refusal(&out, &artifact);
    scratch.assert_untouched(&before);
}

#[test]
fn a_source_below_a_root_is_installed_and_roots_come_from_the_environment() {
    let (scratch, root) = with_root();
    install(&scratch, &root.join("agent.zip"), &[&root]).assert_code(0);
    assert_eq!(scratch.installed(), agent_files());

    let scratch2 = Scratch::new();
    let artifact = scratch2.artifact("agent.zip", &agent_zip());
    let roots = format!(
        "/nonexistent-root,{}",
        scratch2.root().join("artifacts").display()
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-init"))
        .args(["--source".as_ref(), artifact.as_os_str()])
        .args(["--dest".as_ref(), scratch2.dest().as_os_str()])
        .env("AGENT_INIT_LOCAL_ROOTS", roots)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", output);
    assert_eq!(scratch2.installed(), agent_files());
}

#[test]
fn outside_the_roots_existing_and_missing_paths_get_the_same_refusal() {
    let (scratch, root) = with_root();
    let before = scratch.snapshot();
    let existing = scratch.outside().join("sentinel.txt");
    let missing = scratch.outside().join("no-such-file.txt");
    let missing_dir = scratch.root().join("no-such-dir/file.txt");
    let escape = root.join("../outside/sentinel.txt");
    let escape_missing = root.join("../outside/nothing.txt");
    let want = refusal(&install(&scratch, &existing, &[&root]), &existing);
    for path in [
        missing,
        missing_dir,
        escape,
        escape_missing,
        PathBuf::from("/etc/shadow"),
        PathBuf::from("/etc/no-such-file"),
        PathBuf::from("/proc/self/environ"),
        PathBuf::from("/root"),
    ] {
        let out = install(&scratch, &path, &[&root]);
        assert_eq!(refusal(&out, &path), want, "{}", path.display());
        scratch.assert_untouched(&before);
    }
    let url = format!("file://{}", existing.display());
    let out = install(&scratch, Path::new(&url), &[&root]);
    assert_eq!(refusal(&out, &existing), want);
}

#[test]
fn a_root_itself_is_not_a_source() {
    let (scratch, root) = with_root();
    let out = install(&scratch, &root, &[&root]);
    refusal(&out, &root);
}

#[test]
fn a_missing_path_below_a_root_is_unreachable() {
    let (scratch, root) = with_root();
    let missing = root.join("nope/agent.zip");
    install(&scratch, &missing, &[&root])
        .assert_code(11)
        .assert_reason_contains("nope/agent.zip");
}

#[test]
fn a_symlink_below_a_root_pointing_out_is_refused() {
    let (scratch, root) = with_root();
    std::os::unix::fs::symlink(
        scratch.outside().join("sentinel.txt"),
        root.join("file-link"),
    )
    .unwrap();
    std::os::unix::fs::symlink(scratch.outside(), root.join("dir-link")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    let before = scratch.snapshot();
    let existing = scratch.outside().join("sentinel.txt");
    let want = refusal(&install(&scratch, &existing, &[&root]), &existing);
    for path in [
        root.join("file-link"),
        root.join("dir-link"),
        root.join("dir-link/sentinel.txt"),
        root.join("dir-link/missing.txt"),
        root.join("etc/passwd"),
        root.join("etc/no-such-file"),
    ] {
        let out = install(&scratch, &path, &[&root]);
        assert_eq!(refusal(&out, &path), want, "{}", path.display());
        scratch.assert_untouched(&before);
    }
}

#[test]
fn a_symlink_staying_below_the_roots_is_followed() {
    let (scratch, root) = with_root();
    std::os::unix::fs::symlink("agent.zip", root.join("current.zip")).unwrap();
    install(&scratch, &root.join("current.zip"), &[&root]).assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[test]
fn links_inside_a_copied_directory_are_never_followed() {
    let (scratch, root) = with_root();
    let src = root.join("team-7");
    std::fs::create_dir_all(src.join("lib")).unwrap();
    std::fs::write(src.join("agent.py"), b"pass\n").unwrap();
    std::os::unix::fs::symlink("../agent.py", src.join("lib/main.py")).unwrap();
    install(&scratch, &src, &[&root]).assert_code(0);
    assert_eq!(
        std::fs::read_link(scratch.dest().join("lib/main.py")).unwrap(),
        Path::new("../agent.py"),
        "an inside link is copied as a link"
    );

    for target in [
        scratch.outside().join("sentinel.txt"),
        PathBuf::from("../../outside/sentinel.txt"),
        PathBuf::from("../agent.zip"),
    ] {
        let scratch2 = Scratch::new();
        let src = scratch2.root().join("artifacts/team-9");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("agent.py"), b"pass\n").unwrap();
        std::os::unix::fs::symlink(&target, src.join("secret.txt")).unwrap();
        let before = scratch2.snapshot();
        let root2 = scratch2.root().join("artifacts");
        install(&scratch2, &src, &[&root2])
            .assert_code(10)
            .assert_reason_contains("outside the destination");
        scratch2.assert_untouched(&before);
    }
}

#[test]
fn a_fifo_below_a_root_is_refused_without_blocking() {
    let (scratch, root) = with_root();
    let fifo = root.join("agent.py");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    install(&scratch, &fifo, &[&root])
        .assert_code(10)
        .assert_reason_contains("special file");

    let src = root.join("team-3");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("agent.py"), b"pass\n").unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(src.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    install(&scratch, &src, &[&root])
        .assert_code(10)
        .assert_reason_contains("fifo");
}
