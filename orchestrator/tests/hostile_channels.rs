//! Hostile agents that collude or hide resources: the two seats of a match try every channel between them
//! (Unix sockets, System V IPC, POSIX message queues, locks and notifications on shared files, files in shared
//! directories), memory the address-space limit does not see (`memfd`, shared mappings), disk the scratch walk
//! would not see (space kept past a file's end, deleted files kept open), and thousands of small threads.
//! Everything is refused or charged; the honest opponent is unaffected; each case holds with the orchestrator
//! as root and unprivileged.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, Mode, hostile, test_agent};

in_both_modes!(seats_cannot_collude, collusion);
in_both_modes!(hidden_memory_is_refused, hidden_memory);
in_both_modes!(space_past_a_files_end_is_refused, keep_size);
in_both_modes!(deleted_files_kept_open_count, deleted_files);
in_both_modes!(threads_are_capped, thread_bomb);

const CHANNELS: &[&str] = &[
    "unix-socket",
    "socketpair",
    "sysv-shm",
    "sysv-msg",
    "sysv-sem",
    "mq-open",
    "flock-runtime",
    "lockf-runtime",
    "inotify",
    "shm-file",
    "tmp-file",
];

/// The keys of the System V objects the attacker asks for (0x7A110B to 0x7A110D).
const SYSV_KEYS: [&str; 3] = ["8000779", "8000780", "8000781"];

/// The System V objects of the machine, as `/proc/sysvipc` lists them (kind, key and id).
fn sysv_objects() -> Vec<String> {
    ["shm", "msg", "sem"]
        .iter()
        .flat_map(|kind| {
            std::fs::read_to_string(format!("/proc/sysvipc/{kind}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(|l| {
                    format!(
                        "{kind} {}",
                        l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn collusion(mode: Mode) {
    let before = sysv_objects();
    let plan = json!({"attacks": CHANNELS, "paths": {"runtime-file": "/etc/ld.so.cache"}});
    let run = Arena::pong()
        .mode(mode)
        .limit("stderr_bytes", json!(65536))
        .agent("a", &hostile("attacker"))
        .agent("b", &hostile("attacker"))
        .plan("a", plan.clone())
        .plan("b", plan)
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    for seat in ["a", "b"] {
        run.assert_denied(seat, CHANNELS);
    }
    let created: Vec<String> = sysv_objects()
        .into_iter()
        .filter(|o| !before.contains(o))
        .filter(|o| SYSV_KEYS.iter().any(|k| o.split(' ').nth(1) == Some(*k)))
        .collect();
    assert!(
        created.is_empty(),
        "System V objects were left: {created:?}"
    );
    run.assert_no_agent_process_left();
}

fn hidden_memory(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .limit("memory_mb", json!(2048))
        .limit("step_ms", json!(20_000))
        .agent("hog", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan("hog", json!({"attacks": ["memfd-3g", "shared-anon-3g"]}))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    run.assert_denied("hog", &["memfd-3g", "shared-anon-3g"]);
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}

fn keep_size(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .limit("scratch_mb", json!(16))
        .agent("hoarder", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan("hoarder", json!({"attacks": ["fallocate-keep-size"]}))
        .run(&[]);

    // Refused by the filter; were it not, the scratch walk counts the blocks and disqualifies.
    let hoarder = run.agent("hoarder");
    if run.has_layer("hoarder", "seccomp") {
        run.assert_denied("hoarder", &["fallocate-keep-size"]);
    } else {
        assert_eq!(hoarder.status, AgentStatus::Disqualified, "{hoarder:?}");
    }
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}

fn deleted_files(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .limit("scratch_mb", json!(16))
        .limit("step_ms", json!(20_000))
        .agent("hider", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan("hider", json!({"attacks": ["unlinked-files"]}))
        .run(&[]);

    run.assert_hostile_lost("hider", "steady", AgentStatus::Disqualified);
    let hider = run.agent("hider");
    assert!(
        hider
            .error_message
            .contains("in deleted files it keeps open")
            && !hider.error_message.contains("(0 of them"),
        "{hider:?}"
    );
}

fn thread_bomb(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .limit("step_ms", json!(20_000))
        .agent("threads", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan("threads", json!({"attacks": ["thread-bomb"]}))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    let threads = run.agent("threads");
    let started: usize = threads
        .stderr_tail
        .lines()
        .find_map(|l| l.strip_prefix("thread-bomb: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("the bomb reports its threads: {threads:?}"));
    // The kernel stops a dedicated user at the cap; a shared user's agent is disqualified over it.
    assert!(
        started < 256
            || threads
                .error_message
                .contains("threads, over the limit of 256"),
        "{started} threads: {threads:?}"
    );
    if threads.status == AgentStatus::Disqualified {
        assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    }
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}
