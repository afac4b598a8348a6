//! Hostile agents that look beyond their own process: the opponent's code, the orchestrator's secrets, the
//! network, other processes. Every attempt is denied, the secrets never reach anything the agent writes.

mod support;

use proto::outcome::AgentStatus;
use support::network::{self, Listeners};
use support::shims::{self, Hosting};
use support::{Arena, hostile, test_agent};

/// Secrets the orchestrator has and agents must not learn.
const SECRET_ENV: &str = "hostile-test-secret-0f9c2d";
const TOKEN: &str = "hostile-test-token-7b1e44";
/// A line of the opponent's code.
const OPPONENT_CODE: &str = "always stays (action 1)";

local_and_behind_shims!(opponent_code_cannot_be_read, opponent_code_unread);

fn opponent_code_unread(hosting: Hosting) {
    let arena = Arena::pong()
        .agent("snoop", &hostile("snoop-code"))
        .agent("opponent", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("snoop", "opponent", AgentStatus::Crashed);
    let snoop = run.agent("snoop");
    println!("{}", snoop.stderr_tail);
    if run.has_layer("snoop", "landlock_fs") {
        for probe in [
            "absolute",
            "dotdot",
            "listdir",
            "symlink",
            "proc-cwd",
            "proc-root",
        ] {
            assert!(
                snoop
                    .stderr_tail
                    .contains(&format!("snoop {probe}: denied")),
                "{probe} must be denied: {}",
                snoop.stderr_tail
            );
        }
    }
    assert!(
        !snoop.stderr_tail.contains(OPPONENT_CODE),
        "{}",
        snoop.stderr_tail
    );
}

#[test]
fn secrets_of_the_orchestrator_stay_secret() {
    let arena = Arena::pong()
        .agent("hunter", &hostile("snoop-secrets"))
        .agent("steady", &test_agent("steady"));
    let token = arena.dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let output = arena
        .command(&[
            "--report-to",
            "http://127.0.0.1:9",
            "--token-file",
            token.to_str().unwrap(),
            "--report-retry-ms",
            "0",
        ])
        .env("RL_ARENA_TEST_SECRET", SECRET_ENV)
        .output()
        .unwrap();
    let run = arena.collect(output);

    run.assert_hostile_lost("hunter", "steady", AgentStatus::Crashed);
    let hunter = run.agent("hunter");
    println!("{}", hunter.stderr_tail);
    assert!(hunter.stderr_tail.contains("hunt env:"), "the hunt ran");
    for secret in [SECRET_ENV, TOKEN] {
        assert!(
            !hunter.stderr_tail.contains(secret),
            "{}",
            hunter.stderr_tail
        );
        let loot = std::fs::read_to_string(arena.scratch_dir("hunter").join("loot"))
            .expect("the hunter wrote its loot");
        assert!(!loot.contains(secret), "{loot}");
        assert!(!String::from_utf8_lossy(&run.result_bytes).contains(secret));
    }
    assert!(
        hunter
            .stderr_tail
            .contains("hunt orchestrator-environ: denied")
            && hunter.stderr_tail.contains("hunt orchestrator-mem: denied")
            && hunter.stderr_tail.contains("hunt token-file: denied"),
        "{}",
        hunter.stderr_tail
    );
    // Beyond stdio the agent holds only what its own runtime opened: pipes and /dev/null, never a socket
    // or a file of the match.
    for line in hunter
        .stderr_tail
        .lines()
        .filter(|l| l.starts_with("hunt fd-"))
    {
        let target = line.split_once(": ").map_or("", |(_, t)| t);
        assert!(
            target.starts_with("pipe:") || target == "/dev/null",
            "inherited descriptor: {line}"
        );
    }
}

local_and_behind_shims!(network_is_closed, network_closed);

/// No socket of any family: behind shims, the seats' own sockets (pathname Unix sockets the agent's
/// container shares with the orchestrator) included.
fn network_closed(hosting: Hosting) {
    let listeners = Listeners::bind();
    let arena = Arena::pong()
        .agent("net", &hostile("network"))
        .agent("steady", &test_agent("steady"));
    let seats = [shims::seat_socket(&arena, 0), shims::seat_socket(&arena, 1)];
    listeners.write_targets(&arena.agent_dir("net"), &seats);
    let run = hosting.run(&arena);

    run.assert_hostile_lost("net", "steady", AgentStatus::Crashed);
    let net = run.agent("net");
    println!("{}", net.stderr_tail);
    let seats = seats.iter().map(|s| format!("unix {}", s.display()));
    for what in network::DENIED.map(String::from).into_iter().chain(seats) {
        assert!(
            net.stderr_tail.contains(&format!("net {what}: denied")),
            "{what}: {}",
            net.stderr_tail
        );
    }
    listeners.assert_nothing_reached();
}

local_and_behind_shims!(
    other_processes_cannot_be_signalled_or_traced,
    others_unsignalled
);

/// The agent's parent is the orchestrator, or behind a shim the shim.
fn others_unsignalled(hosting: Hosting) {
    let arena = Arena::pong()
        .agent("sig", &hostile("signals"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    // The orchestrator (and the shim) survived the SIGKILL attempt: it wrote a complete result.
    run.assert_hostile_lost("sig", "steady", AgentStatus::Crashed);
    let sig = run.agent("sig");
    println!("{}", sig.stderr_tail);
    assert!(
        !sig.stderr_tail.contains("SUCCEEDED"),
        "{}",
        sig.stderr_tail
    );
    for what in [
        "kill-orchestrator",
        "ptrace-attach",
        "process-vm-readv",
        "setpriority-orchestrator",
        "prlimit-orchestrator",
    ] {
        assert!(
            sig.stderr_tail.contains(&format!("sig {what}: denied")),
            "{what}: {}",
            sig.stderr_tail
        );
    }
}
