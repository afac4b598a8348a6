//! Agents made with the `rl-arena` package's own submission tools (`create_submission_template`,
//! `package_agent`), stored as the RL Arena backend stores uploads, play pong through `RunMatch` from either
//! seat: with the package installed, and with an interpreter that lacks it (the adapter's stand-in base). The
//! packaged archive also passes `ValidateAgent`. The orchestrator image installs the versions played here.

mod support;

use std::process::Command;

use proto::pb;
use support::rl_arena::{RL_ARENA_PINS, Submissions, python_with_rl_arena};
use support::{Executor, agent, example_agent, pong_request, workspace};

/// Plays each submission from seat 1 and from seat 2 against the random example agent, all at once, and checks
/// that it won, was told its seat and reset, and imported `rl_arena` from where `origin` says.
async fn play_from_both_seats(executor: &Executor, submissions: &Submissions, origin: &str) {
    let mut games = Vec::new();
    for (kind, stored, banner) in [
        ("py", &submissions.py, "follower reset"),
        (
            "zip",
            &submissions.zip,
            "tracker reset: player_id={seat} dead_zone=0.015",
        ),
    ] {
        for seat in 0..2usize {
            let mine = agent("rl-arena", &submissions.path(stored));
            let random = agent("random", &example_agent("random-python"));
            let (first, second) = if seat == 0 {
                (mine, random)
            } else {
                (random, mine)
            };
            let mut request =
                pong_request(&format!("rl-arena-{kind}-seat{}", seat + 1), first, second);
            request.environment_config_json = r#"{"winning_score": 3, "max_steps": 2000}"#.into();
            let mut client = executor.client().await;
            let banner = banner.replace("{seat}", &seat.to_string());
            games.push(async move {
                let response = client
                    .run_match(request)
                    .await
                    .expect("run match")
                    .into_inner();
                (kind, seat, banner, response)
            });
        }
    }
    for (kind, seat, banner, response) in futures_util::future::join_all(games).await {
        let what = format!("{kind} submission in seat {}", seat + 1);
        assert_eq!(
            response.status(),
            pb::MatchStatus::StatusSuccess,
            "{what}: {response:?}"
        );
        let mine = &response.agent_results[seat];
        assert_eq!(mine.agent_id, "rl-arena", "{what}");
        assert_eq!(mine.status(), pb::AgentStatus::Ok, "{what}: {mine:?}");
        assert_eq!(mine.errors, 0, "{what}: {mine:?}");
        assert!(
            mine.stderr_tail.contains(&banner)
                && mine.stderr_tail.contains(&format!("player_id={seat} ")),
            "{what}: told seat {seat} and reset before playing: {:?}",
            mine.stderr_tail
        );
        assert!(
            mine.stderr_tail.contains(&format!("rl_arena={origin}")),
            "{what}: rl_arena from {origin}: {:?}",
            mine.stderr_tail
        );
        assert_eq!(
            response.winner_agent_id, "rl-arena",
            "{what}: an agent that follows the ball with its own paddle beats random moves: {response:?}"
        );
        assert_eq!(mine.score, 3.0, "{what}");
    }
}

#[tokio::test]
async fn rl_arena_submissions_play_from_either_seat_with_the_package_installed() {
    let python = python_with_rl_arena();
    let submissions = Submissions::make(&python);
    let executor = Executor::start_in_dir(
        submissions.storage.path(),
        &["--python", python.to_str().unwrap()],
    );
    let installed = Command::new(&python)
        .args([
            "-c",
            "import rl_arena, sys; sys.stdout.write(rl_arena.__file__)",
        ])
        .output()
        .unwrap();
    let installed = String::from_utf8(installed.stdout).unwrap();
    assert!(installed.ends_with("rl_arena/__init__.py"), "{installed}");
    play_from_both_seats(&executor, &submissions, &installed).await;

    // The packaged archive passes ValidateAgent, smoke match included.
    let report = executor
        .client()
        .await
        .validate_agent(pb::ValidationRequest {
            agent_id: "rl-arena".into(),
            code_zip: std::fs::read(submissions.path(&submissions.zip)).unwrap(),
            environment: "pong".into(),
        })
        .await
        .expect("validate")
        .into_inner();
    assert!(report.valid && report.errors.is_empty(), "{report:?}");
    assert!(executor.leftover_processes().is_empty());
}

#[tokio::test]
async fn rl_arena_submissions_play_where_the_package_is_not_installed() {
    let submissions = Submissions::make(&python_with_rl_arena());
    // A bare virtual environment: no rl-arena, no numpy.
    let bare = tempfile::tempdir().unwrap();
    let made = Command::new(testkit::provision::PYTHON3.require())
        .args(["-m", "venv", "--without-pip"])
        .arg(bare.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let python = bare.path().join("bin/python");
    let lacks = Command::new(&python)
        .args(["-c", "import rl_arena"])
        .output()
        .unwrap();
    assert!(
        !lacks.status.success(),
        "the bare environment has no rl_arena"
    );

    let executor = Executor::start_in_dir(
        submissions.storage.path(),
        &["--python", python.to_str().unwrap()],
    );
    play_from_both_seats(&executor, &submissions, "stand-in").await;
    assert!(executor.leftover_processes().is_empty());
}

/// The orchestrator image installs the `rl-arena` package these tests play with, and the golden-fixture
/// script pins the same versions, so the image runs submissions as the tests do and its pong is the one the
/// goldens were recorded from.
#[test]
fn the_orchestrator_image_installs_the_tested_rl_arena() {
    let pins = |text: &str, line_has: &str| -> Vec<String> {
        let mut pins: Vec<String> = text
            .lines()
            .filter(|line| line.contains(line_has))
            .flat_map(|line| line.split(|c: char| c.is_whitespace() || "[],\"'".contains(c)))
            .filter(|word| word.contains("=="))
            .map(str::to_string)
            .collect();
        pins.sort();
        pins
    };
    let mut tested: Vec<String> = RL_ARENA_PINS.iter().map(|p| p.to_string()).collect();
    tested.sort();
    let read = |path: &str| std::fs::read_to_string(workspace().join(path)).expect(path);
    let dockerfile = read("docker/orchestrator.Dockerfile");
    assert_eq!(
        pins(&dockerfile, "=="),
        tested,
        "docker/orchestrator.Dockerfile"
    );
    let record = read("envs/tests/fixtures/pong/record.py");
    assert_eq!(
        pins(&record, "PINS = "),
        tested,
        "envs/tests/fixtures/pong/record.py"
    );
}
