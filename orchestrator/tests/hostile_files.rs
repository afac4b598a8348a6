//! Hostile agents against the file system: changing files' modes, owners, times and extended attributes
//! instead of reading them (host files, the opponent's, its own), leaving something behind for a later match,
//! and an agent.toml command that names the interpreter through `/proc/self/root` and `..` or a program
//! outside what agents may run. Everything is refused, host files and the opponent stay untouched, nothing
//! persists; each case holds with the orchestrator as root (agents under dedicated users) and unprivileged.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, Canaries, Mode, agent_python, hostile, test_agent, xattrs};

in_both_modes!(changing_files_is_refused, changing_files);
in_both_modes!(nothing_persists_to_a_later_match, nothing_persists);
in_both_modes!(commands_widen_nothing, commands_widen_nothing_case);
in_both_modes!(programs_outside_cannot_run, program_outside);

/// Changes that fail.
const REFUSED: &[&str] = &[
    "chown-canary",
    "lchown-binary",
    "setxattr-canary",
    "setxattr-own-dir",
    "setxattr-work-dir",
    "setxattr-scratch",
    "removexattr-binary",
];

/// Changes of modes and times: they report success and change nothing.
const IGNORED: &[&str] = &[
    "chmod-canary",
    "chmod-binary-setuid",
    "fchmod-own-file",
    "chmod-opponent",
    "chmod-opponent-file",
    "chmod-own-dir",
    "utime-canary",
    "utime-binary",
];

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode()
}

fn changing_files(mode: Mode) {
    let canaries = Canaries::new();
    let arena = Arena::pong()
        .mode(mode)
        .limit("stderr_bytes", json!(65536))
        .agent("attacker", &hostile("attacker"))
        .agent("steady", &test_agent("steady"));
    let opponent = arena.agent_dir("steady");
    let attacks = [REFUSED, IGNORED].concat();
    let arena = arena.plan(
        "attacker",
        json!({
            "attacks": attacks,
            "paths": {"canary": canaries.canary, "binary": canaries.binary, "opponent": opponent},
        }),
    );
    let own = arena.agent_dir("attacker");
    let modes = |dirs: &[&Path]| -> Vec<u32> {
        dirs.iter()
            .flat_map(|d| [mode_of(d), mode_of(&d.join("agent.py"))])
            .collect()
    };
    let before = modes(&[&opponent, &own]);
    let run = arena.run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    run.assert_denied("attacker", REFUSED);
    let (denied, reported) = run.attacks("attacker");
    for name in IGNORED {
        assert!(
            denied.iter().any(|d| d == name) || reported.iter().any(|r| r.contains(name)),
            "{name} ran"
        );
    }
    canaries.assert_untouched();
    assert_eq!(
        modes(&[&opponent, &own]),
        before,
        "no agent directory changed"
    );
    let mine = arena.scratch_dir("attacker").join("mine");
    assert_eq!(mode_of(&mine) & 0o7777, 0o600, "its own file kept its mode");
    for dir in [
        &opponent,
        &arena.agent_dir("attacker"),
        &arena.dir.path().join("agents"),
    ] {
        assert_eq!(xattrs(dir), "[]", "{}", dir.display());
    }
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}

fn nothing_persists(mode: Mode) {
    let arena = Arena::pong()
        .mode(mode)
        .limit("stderr_bytes", json!(65536))
        .agent("attacker", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan(
            "attacker",
            json!({"attacks": ["setxattr-work-dir", "setxattr-own-dir", "tmp-file", "shm-file"]}),
        );
    let first = arena.run(&[]);
    first.assert_denied(
        "attacker",
        &[
            "setxattr-work-dir",
            "setxattr-own-dir",
            "tmp-file",
            "shm-file",
        ],
    );
    // The next match in the same work directory finds nothing.
    let arena = arena.plan("attacker", json!({"attacks": ["getxattr-work-dir"]}));
    let second = arena.run(&[]);
    second.assert_denied("attacker", &["getxattr-work-dir"]);
    assert_eq!(xattrs(&arena.dir.path().join("agents")), "[]");
    for leftover in ["/tmp/rl-arena-hostile", "/dev/shm/rl-arena-hostile"] {
        assert!(!Path::new(leftover).exists(), "{leftover} was left behind");
    }
    second.assert_unaffected("steady");
    second.assert_no_agent_process_left();
}

/// The attacker as an agent.toml agent whose command names the tests' interpreter through `/proc/self/root`
/// and a `..` segment, a path from which a derived read rule would have been `/`.
fn commands_widen_nothing_case(mode: Mode) {
    let canaries = Canaries::new();
    let python = agent_python().canonicalize().unwrap();
    let parent = python.parent().unwrap();
    let devious = format!(
        "/proc/self/root{}/../{}/{}",
        parent.display(),
        parent.file_name().unwrap().to_string_lossy(),
        python.file_name().unwrap().to_string_lossy()
    );
    let other_match = tempfile::tempdir().unwrap();
    let replay = other_match.path().join("replay.json");
    std::fs::write(&replay, "{\"seed\": 1234}").unwrap();
    let arena = Arena::pong()
        .mode(mode)
        .limit("stderr_bytes", json!(65536))
        .agent("attacker", &hostile("attacker"))
        .agent("steady", &test_agent("steady"));
    std::fs::write(
        arena.agent_dir("attacker").join("agent.toml"),
        format!("command = [{devious:?}, \"run.py\"]\n"),
    )
    .unwrap();
    let reads = [
        "read-canary",
        "read-opponent",
        "read-spec",
        "read-shadow",
        "read-replay",
        "list-opponent",
    ];
    let opponent = arena.agent_dir("steady");
    let spec = arena.write_spec();
    let arena = arena.plan(
        "attacker",
        json!({
            "attacks": reads,
            "paths": {
                "canary": canaries.canary,
                "opponent": opponent,
                "opponent-file": opponent.join("agent.py"),
                "spec": spec,
                "shadow": "/etc/shadow",
                "replay": replay,
            },
        }),
    );
    let run = arena.run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let attacker = run.agent("attacker");
    assert_eq!(
        attacker.status,
        AgentStatus::Ok,
        "the command runs: {attacker:?}"
    );
    run.assert_denied("attacker", &reads);
    for secret in ["always stays", "\"seed\": 1234", "nobody may read", "root:"] {
        assert!(
            !attacker.stderr_tail.contains(secret),
            "{}",
            attacker.stderr_tail
        );
    }
    canaries.assert_untouched();
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}

/// A program outside what agents may run (a copy of a system binary in a directory of the host) does not
/// start: the agent is told why and loses.
fn program_outside(mode: Mode) {
    let canaries = Canaries::new();
    let arena = Arena::pong()
        .mode(mode)
        .agent("outsider", &test_agent("steady"))
        .agent("steady", &test_agent("steady"));
    std::fs::write(
        arena.agent_dir("outsider").join("agent.toml"),
        format!("command = [{:?}]\n", canaries.binary),
    )
    .unwrap();
    let run = arena.run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let outsider = run.agent("outsider");
    assert_eq!(outsider.status, AgentStatus::Error, "{outsider:?}");
    assert!(
        outsider
            .error_message
            .contains("outside what agents may run"),
        "{outsider:?}"
    );
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    canaries.assert_untouched();
}
