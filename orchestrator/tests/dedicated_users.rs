//! Dedicated agent users: with the privilege to change user ids, each seat runs under a uid and gid of its own
//! from the configured range (not root, not shared between seats or with a concurrent match), and nothing of
//! that uid survives the match: no process, no file it owns, no lock. Without the privilege the layer is
//! reported unavailable with its reason, and requiring it refuses the match.

mod support;

use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use proto::outcome::MatchStatus;
use serde_json::json;
use support::{Arena, Mode, Run, hostile, is_root};

const BASE: u32 = 3_100_000;
const COUNT: u32 = 50;

/// The flags of a range of its own, with its lock directory in `dir`.
fn range_flags(dir: &Path) -> Vec<String> {
    vec![
        "--agent-uid-base".into(),
        BASE.to_string(),
        "--agent-uid-count".into(),
        COUNT.to_string(),
        "--agent-uid-lock-dir".into(),
        dir.join("locks").display().to_string(),
    ]
}

/// The uid, gid and groups the agent `id` reported.
#[track_caller]
fn identity(run: &Run, id: &str) -> (u32, u32, String) {
    let (_, reported) = run.attacks(id);
    let line = reported
        .iter()
        .find_map(|l| l.strip_prefix("attack whoami: SUCCEEDED "))
        .unwrap_or_else(|| panic!("{id} says who it is: {reported:?}"));
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_default()
            .to_string()
    };
    (
        field("uid=").parse().unwrap(),
        field("gid=").parse().unwrap(),
        line.split_once("groups=")
            .map_or("", |(_, g)| g)
            .to_string(),
    )
}

fn whoami_arena(mode: Mode) -> Arena {
    let plan = json!({"attacks": ["whoami", "write-scratch"]});
    Arena::pong()
        .mode(mode)
        .agent("a", &hostile("attacker"))
        .agent("b", &hostile("attacker"))
        .plan("a", plan.clone())
        .plan("b", plan)
}

#[test]
fn each_seat_runs_as_a_user_of_its_own() {
    if !is_root() {
        println!(
            "the tests do not run as root: no user ids to hand out; the unprivileged case covers this"
        );
    }
    let arena = whoami_arena(Mode::AsIs);
    let flags = range_flags(arena.dir.path());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let agent_dir_mode = std::fs::metadata(arena.agent_dir("a")).unwrap().mode();
    let run = arena.run(&flags);
    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    if !run.has_layer("a", "dedicated_uid") {
        assert!(!is_root(), "root hands out dedicated users");
        return;
    }
    let (a, b) = (identity(&run, "a"), identity(&run, "b"));
    for (uid, gid, groups) in [&a, &b] {
        assert!((BASE..BASE + COUNT).contains(uid), "{uid} is in the range");
        assert_eq!(uid, gid);
        assert_eq!(groups, "[]", "no supplementary groups");
    }
    assert_ne!(a.0, b.0, "the seats have different users");

    // Nothing of the users survives: no process, no file they own, no lock, the directories as they were.
    run.assert_no_agent_process_left();
    for uid in [a.0, b.0] {
        assert!(
            processes_of(uid).is_empty(),
            "processes of uid {uid} are left"
        );
        let lock = OpenOptions::new()
            .write(true)
            .open(arena.dir.path().join("locks").join(uid.to_string()))
            .unwrap();
        assert!(
            nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok(),
            "uid {uid} is given back"
        );
    }
    for scratch in [arena.scratch_dir("a"), arena.scratch_dir("b")] {
        for entry in [scratch.clone(), scratch.join("left-behind")] {
            let meta = std::fs::symlink_metadata(&entry).unwrap();
            assert_eq!(meta.uid(), 0, "{} belongs to root again", entry.display());
        }
    }
    assert_eq!(
        std::fs::metadata(arena.agent_dir("a")).unwrap().mode(),
        agent_dir_mode,
        "the agent directory's mode is restored"
    );
}

#[test]
fn concurrent_matches_never_share_a_user() {
    if !is_root() {
        println!("the tests do not run as root: no user ids to hand out");
        return;
    }
    let locks = tempfile::tempdir().unwrap();
    let flags = range_flags(locks.path());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // The first match waits in its first move until the second one is over.
    let plan = json!({"attacks": ["whoami", "wait-gate"]});
    let first = Arena::pong()
        .limit("step_ms", json!(60_000))
        .agent("a", &hostile("attacker"))
        .agent("b", &hostile("attacker"))
        .plan("a", plan.clone())
        .plan("b", plan);
    for id in ["a", "b"] {
        let gate = first.agent_dir(id).join("gate");
        nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    }
    let log = first.dir.path().join("orchestrator.log");
    let running = first
        .command(&flags)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let gate_a = open_gate(&first.agent_dir("a").join("gate"));

    let second = whoami_arena(Mode::AsIs).run(&flags);
    assert_eq!(
        second.outcome.status,
        MatchStatus::Success,
        "{}",
        second.stderr()
    );

    drop(gate_a);
    let gate_b = open_gate(&first.agent_dir("b").join("gate"));
    drop(gate_b);
    let output = running.wait_with_output().unwrap();
    let first = first.collect(std::process::Output {
        status: output.status,
        stdout: Vec::new(),
        stderr: std::fs::read(&log).unwrap(),
    });
    let mut uids = vec![
        identity(&first, "a").0,
        identity(&first, "b").0,
        identity(&second, "a").0,
        identity(&second, "b").0,
    ];
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 4, "four seats, four users: {uids:?}");
}

#[test]
fn without_the_privilege_the_layer_is_unavailable_and_can_be_required() {
    let run = whoami_arena(Mode::Unprivileged).run(&[]);
    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let a = run.agent("a");
    assert!(
        a.isolation
            .unavailable
            .iter()
            .any(|u| u.starts_with("dedicated_uid: the orchestrator cannot change user ids")),
        "{a:?}"
    );
    let refused = whoami_arena(Mode::Unprivileged).run(&["--require-isolation", "dedicated_uid"]);
    assert_eq!(refused.outcome.status, MatchStatus::Error);
    assert!(
        refused.outcome.error_message.contains("dedicated_uid"),
        "{}",
        refused.outcome.error_message
    );
    assert!(refused.agent_pids().is_empty(), "no agent was started");
}

/// Opens the FIFO `path` for writing once the agent waits on it; dropping the file lets the agent go on.
#[track_caller]
fn open_gate(path: &Path) -> std::fs::File {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(OpenOptions::new().write(true).open(path));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the agent reached its gate")
        .expect("opening the gate")
}

/// Living processes whose real uid is `uid`.
fn processes_of(uid: u32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next()?.parse::<u32>().ok())
                    == Some(uid)
            }) && support::is_alive(*pid)
        })
        .collect()
}

/// A Python installed behind a directory only root may search (a virtual environment in a private directory
/// here, an interpreter under `/root` elsewhere) still runs under a dedicated user: the agent passes the
/// private directory in a mount namespace of its own, which shows it the installation and nothing else.
#[test]
fn a_python_behind_a_private_directory_runs_under_a_dedicated_user() {
    if !is_root() {
        println!("the tests do not run as root: no user ids to hand out");
        return;
    }
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let venv = private.path().join("venv");
    let made = std::process::Command::new(support::agent_python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success(), "creating a private virtual environment");
    std::fs::write(private.path().join("secret"), "behind the cover").unwrap();
    let python = venv.join("bin/python");
    let arena = Arena::pong()
        .agent("a", &hostile("attacker"))
        .agent("b", &hostile("attacker"));
    let plan = json!({"attacks": ["whoami", "read-secret"], "paths": {"secret": private.path().join("secret")}});
    let arena = arena.plan("a", plan.clone()).plan("b", plan);
    let run = arena.run(&["--python", python.to_str().unwrap()]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let a = run.agent("a");
    if !run.has_layer("a", "dedicated_uid") {
        assert!(
            a.isolation
                .unavailable
                .iter()
                .any(|u| u.contains("CAP_SYS_ADMIN")),
            "only a missing CAP_SYS_ADMIN keeps the dedicated user away: {a:?}"
        );
        return;
    }
    let (uid, _, _) = identity(&run, "a");
    assert!(uid >= 3_000_000, "{uid}");
    run.assert_denied("a", &["read-secret"]);
    run.assert_unaffected("b");
    run.assert_no_agent_process_left();
}
