//! Hostile agents that reach other processes: renicing or re-prioritising the I/O of every process of its
//! user or process group, the orchestrator's priority and CPU placement, and the same calls through the x32
//! and i386 system-call ABIs. Everything is refused, the opponent keeps its priority, host files are
//! untouched; each case holds with the orchestrator as root and unprivileged.

mod support;

use proto::outcome::MatchStatus;
use serde_json::json;
use support::{Arena, Mode, hostile};

in_both_modes!(priorities_of_others_cannot_change, priorities);

const OTHERS: &[&str] = &[
    "setpriority-user",
    "setpriority-pgrp",
    "setpriority-orchestrator",
    "ioprio-user",
    "ioprio-pgrp",
    "affinity-orchestrator",
];

/// The nice value of this process (field 19 of `/proc/self/stat`).
fn own_nice() -> i64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    after.split_whitespace().nth(16).unwrap().parse().unwrap()
}

fn priorities(mode: Mode) {
    let nice = own_nice();
    let mut attacks = OTHERS.to_vec();
    attacks.push("setpriority-self");
    // The attacker thinks first in step 1; the witness reports its own priority at its second move.
    let run = Arena::pong()
        .mode(mode)
        .agent("attacker", &hostile("attacker"))
        .agent("witness", &hostile("attacker"))
        .plan("attacker", json!({"attacks": attacks}))
        .plan("witness", json!({"report_nice_at": 2}))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    run.assert_denied("attacker", OTHERS);
    let (_, allowed) = run.attacks("attacker");
    assert!(
        allowed
            .iter()
            .any(|a| a.starts_with("attack setpriority-self: SUCCEEDED")),
        "an agent may lower its own priority: {allowed:?}"
    );
    let witness = run.agent("witness");
    assert!(witness.stderr_tail.contains("nice: 0"), "{witness:?}");
    assert_eq!(own_nice(), nice, "the test's own priority is unchanged");
    run.assert_unaffected("witness");
    run.assert_no_agent_process_left();
}

/// The x32 and i386 system-call ABIs of x86_64: the probe is an x86_64 program.
#[cfg(target_arch = "x86_64")]
mod abi {
    use proto::outcome::{AgentStatus, MatchStatus};

    use super::support::{Arena, Canaries, Mode, hostile, test_agent};
    use crate::support;

    crate::in_both_modes!(other_abis_are_refused, other_abis);

    /// An x32 call fails with `EPERM` (the filter's answer, not the kernel's `ENOSYS`), an i386 call kills
    /// the caller; the canary keeps its mode.
    fn other_abis(mode: Mode) {
        let canaries = Canaries::new();
        let arena = Arena::pong()
            .mode(mode)
            .agent("abi", &hostile("abi"))
            .agent("steady", &test_agent("steady"));
        let dir = arena.agent_dir("abi");
        let built = std::process::Command::new("gcc")
            .args(["-O1", "-no-pie", "-o"])
            .arg(dir.join("probe"))
            .arg(dir.join("probe.c"))
            .status()
            .expect("gcc runs");
        assert!(built.success(), "compiling the probe");
        std::fs::write(dir.join("canary"), canaries.canary.to_str().unwrap()).unwrap();
        let run = arena.run(&[]);

        canaries.assert_untouched();
        assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
        let abi = run.agent("abi");
        println!("{}", abi.stderr_tail);
        assert!(
            abi.stderr_tail.contains("abi i386-chmod: calling"),
            "{abi:?}"
        );
        assert!(!abi.stderr_tail.contains("RETURNED"), "{abi:?}");
        if run.has_layer("abi", "seccomp") {
            for call in ["x32-chmod", "x32-getpid"] {
                assert!(
                    abi.stderr_tail
                        .contains(&format!("abi {call}: result -1 errno 1")),
                    "{call} is refused by the filter: {abi:?}"
                );
            }
            // The filter kills a process that calls through another architecture: signal 31 (SIGSYS).
            assert_eq!(abi.status, AgentStatus::Crashed, "{abi:?}");
            assert!(abi.error_message.contains("signal 31"), "{abi:?}");
            assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
        }
        run.assert_unaffected("steady");
        run.assert_no_agent_process_left();
    }
}
