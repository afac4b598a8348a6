//! `orchestrator::verify` on replays of real matches: each environment's replay (starter kits, plus a
//! faulty agent whose default actions are recorded) verifies, plain and gzip-compressed; a single changed
//! byte in an action, a reward, a render value, a state hash, the seed or the outcome makes verification fail
//! and the error names the step and what diverged.

#[path = "fixtures/matches.rs"]
mod matches;
mod support;

use std::io::Write;

use matches::{Played, play, quick_config};
use orchestrator::verify::{VerifyError, read_replay, verify, verify_file};
use proto::replay::{MoveStatus, Replay};
use support::{example, test_agent};

fn kits(env: &str) -> Played {
    let python = format!("{env}-python");
    let shell = format!("{env}-shell");
    play(
        env,
        quick_config(env),
        11,
        &[(&python, example(&python)), (&shell, example(&shell))],
    )
}

fn text(m: &Played) -> String {
    String::from_utf8(m.replay_bytes.clone()).expect("replays are UTF-8")
}

fn parse(text: &str) -> Replay {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("tampered replay no longer parses: {e}"))
}

/// Changes one byte of `text`: the first ASCII digit (or hex digit, for hashes) after `field` inside the
/// entry of step `step` (`None`: the first `field` of the document) becomes another one.
#[track_caller]
fn tamper(text: &str, step: Option<u32>, field: &str) -> String {
    tamper_with(text, step, field, |b| match b {
        b'9' => b'8',
        b'f' => b'e',
        b'0'..=b'8' | b'a'..=b'e' => b + 1,
        other => other ^ 1,
    })
}

/// Like [`tamper`], with the replacement byte computed by `change`.
#[track_caller]
fn tamper_with(text: &str, step: Option<u32>, field: &str, change: impl Fn(u8) -> u8) -> String {
    let start = match step {
        Some(step) => text
            .find(&format!("{{\"step\":{step},\"actions\":["))
            .unwrap_or_else(|| panic!("step {step} not found")),
        None => 0,
    };
    let at = start
        + text[start..]
            .find(field)
            .unwrap_or_else(|| panic!("{field} not found after byte {start}"))
        + field.len();
    let offset = text[at..]
        .bytes()
        .position(|b| b.is_ascii_hexdigit())
        .unwrap_or_else(|| panic!("no digit after {field}"));
    let mut bytes = text.as_bytes().to_vec();
    let b = &mut bytes[at + offset];
    let changed = change(*b);
    assert_ne!(changed, *b, "the tampered byte must change");
    *b = changed;
    String::from_utf8(bytes).expect("still UTF-8")
}

#[track_caller]
fn step_error(replay: &Replay) -> (u32, String) {
    match verify(replay) {
        Err(VerifyError::Step { step, what }) => (step, what),
        other => panic!("expected a step error, got {other:?}"),
    }
}

#[test]
fn replays_of_every_environment_verify() {
    for env in ["pong", "rps", "connectx", "tictactoe"] {
        let m = kits(env);
        let replay = parse(&text(&m));
        let report = verify(&replay).unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(report.environment, env);
        assert_eq!(report.steps, m.outcome.total_steps, "{env}");
        assert!(report.steps > 0 && report.outcome_checked, "{env}");
        let scores: Vec<f64> = m.outcome.agents.iter().map(|a| a.score).collect();
        assert_eq!(report.scores, scores, "{env}");
        let last = replay.frames.last().map(|s| s.state_hash.clone());
        assert_eq!(Some(report.final_state_hash.clone()), last, "{env}");
        assert!(report.to_string().contains("verified"), "{report}");

        // The file itself, plain and gzip-compressed (whatever its name).
        assert_eq!(
            verify_file(&m.replay_path).ok().as_ref(),
            Some(&report),
            "{env}"
        );
        let gz_path = m.dir.path().join("replay.json.gz");
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz_path).expect("creating the gzip file"),
            flate2::Compression::default(),
        );
        encoder.write_all(&m.replay_bytes).expect("compressing");
        encoder.finish().expect("finishing the gzip file");
        assert_eq!(read_replay(&gz_path).ok().as_ref(), Some(&replay), "{env}");
        assert_eq!(verify_file(&gz_path).ok(), Some(report), "{env}");
    }
}

/// Faulty answers are replaced by the environment's default action; the replay records the action applied,
/// so it verifies all the same.
#[test]
fn replays_with_faulty_agents_verify() {
    for env in ["rps", "connectx"] {
        let kit = format!("{env}-shell");
        let m = play(
            env,
            quick_config(env),
            3,
            &[("garbage", test_agent("garbage")), (&kit, example(&kit))],
        );
        assert!(m.outcome.agents[0].errors > 0, "{:?}", m.outcome);
        let replay = parse(&text(&m));
        assert!(
            replay
                .frames
                .iter()
                .any(|s| s.statuses[0] == MoveStatus::InvalidAction),
            "the garbage agent's moves are recorded as invalid"
        );
        let report = verify(&replay).unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(report.steps, m.outcome.total_steps);
    }
}

#[test]
fn a_changed_action_is_caught_at_its_step() {
    // rps: any other legal sign changes the round's result, so the rewards of that very step differ.
    let m = kits("rps");
    let next_sign = |b: u8| b'0' + (b - b'0' + 1) % 3;
    let (step, what) = step_error(&parse(&tamper_with(
        &text(&m),
        Some(17),
        "\"actions\":[",
        next_sign,
    )));
    assert_eq!(step, 17, "{what}");
    assert!(what.starts_with("rewards differ: recorded"), "{what}");

    // connectx: another column is either illegal (full) or puts the checker elsewhere on the board.
    let m = kits("connectx");
    let text = text(&m);
    let replay = parse(&text);
    let step = replay.frames.len() as u32 / 2 + 1;
    let mover = replay.frames[step as usize - 1]
        .statuses
        .iter()
        .position(|s| *s == MoveStatus::Ok);
    let field = if mover == Some(0) {
        "\"actions\":["
    } else {
        "\"actions\":[null,"
    };
    let (at, what) = step_error(&parse(&tamper(&text, Some(step), field)));
    assert_eq!(at, step, "{what}");
    assert!(
        what.starts_with("render differs at board[") || what.contains("action is illegal"),
        "{what}"
    );
}

#[test]
fn a_changed_reward_is_caught_at_its_step() {
    let m = kits("rps");
    let (step, what) = step_error(&parse(&tamper(&text(&m), Some(9), "\"rewards\":[")));
    assert_eq!(step, 9, "{what}");
    assert!(what.starts_with("rewards differ: recorded"), "{what}");
}

#[test]
fn a_changed_render_value_is_caught_at_its_step() {
    let m = kits("pong");
    let (step, what) = step_error(&parse(&tamper(&text(&m), Some(37), "\"x\":")));
    assert_eq!(step, 37, "{what}");
    assert!(
        what.starts_with("render differs at ball.x: recorded "),
        "{what}"
    );

    let m = kits("tictactoe");
    let (step, what) = step_error(&parse(&tamper(&text(&m), Some(3), "\"board\":[")));
    assert_eq!(step, 3, "{what}");
    assert!(
        what.starts_with("render differs at board[0]: recorded "),
        "{what}"
    );
}

#[test]
fn a_changed_state_hash_is_caught_at_its_step() {
    let m = kits("pong");
    let original = parse(&text(&m));
    let tampered = parse(&tamper(&text(&m), Some(120), "\"state_hash\":\""));
    let (step, what) = step_error(&tampered);
    assert_eq!(step, 120, "{what}");
    let recorded = &tampered.frames[119].state_hash;
    let actual = &original.frames[119].state_hash;
    assert_eq!(
        what,
        format!(
            "state hash differs: recorded {}..., re-simulated {}...",
            &recorded[..16],
            &actual[..16]
        )
    );
}

#[test]
fn another_seed_diverges_from_the_first_step() {
    let m = kits("pong");
    let mut replay = parse(&text(&m));
    replay.seed += 1;
    let (step, what) = step_error(&replay);
    assert_eq!(step, 1, "{what}");
    assert!(what.starts_with("render differs at ball."), "{what}");
}

#[test]
fn outcome_and_document_errors_are_named() {
    let m = kits("rps");
    let text = text(&m);
    let tampered = parse(&tamper(&text, None, "\"total_steps\":"));
    let err = verify(&tampered)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("outcome: total_steps is "), "{err}");

    let mut replay = parse(&text);
    if let Some(outcome) = replay.outcome.as_mut() {
        outcome.agents[1].score += 1.0;
    }
    let err = verify(&replay)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("outcome: rps-shell's score is "), "{err}");

    let mut replay = parse(&text);
    replay.environment = "chess".into();
    let err = verify(&replay)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("replay environment: unknown environment \"chess\""),
        "{err}"
    );

    let mut replay = parse(&text);
    replay.schema_version = 3;
    assert!(matches!(
        verify(&replay),
        Err(VerifyError::Schema { found: 3 })
    ));
    let future = m.dir.path().join("future.json");
    std::fs::write(
        &future,
        text.replacen("\"schema_version\":2", "\"schema_version\":3", 1),
    )
    .expect("writing the replay");
    let err = read_replay(&future)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "replay schema version 3 is not supported; this orchestrator reads versions 1 and 2"
    );

    let mut replay = parse(&text);
    replay.num_frames += 1;
    let err = verify(&replay)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("num_frames is "), "{err}");

    let mut replay = parse(&text);
    replay.frames[4].statuses[1] = MoveStatus::Idle;
    let (step, what) = step_error(&replay);
    assert_eq!(
        (step, what.as_str()),
        (5, "player 1 was on move but is recorded as idle")
    );

    let missing = m.dir.path().join("missing.json");
    assert!(matches!(
        read_replay(&missing),
        Err(VerifyError::Read { .. })
    ));
    let junk = m.dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"not\": \"a replay\"}").expect("writing junk");
    let err = read_replay(&junk)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("is not a replay document"), "{err}");
}

/// The seed is a decimal string in version 2; a number is read the same.
#[test]
fn seeds_are_read_as_text_or_as_numbers() {
    let m = play(
        "pong",
        quick_config("pong"),
        u64::MAX - 7,
        &[
            ("python", example("pong-python")),
            ("shell", example("pong-shell")),
        ],
    );
    let text = text(&m);
    let seed = format!("\"seed\":\"{}\"", u64::MAX - 7);
    assert!(text.contains(&seed), "the seed is written as text");
    let numeric = text.replace(&seed, &format!("\"seed\":{}", u64::MAX - 7));
    let path = m.dir.path().join("numeric-seed.json");
    std::fs::write(&path, &numeric).expect("writing the replay");
    let report = verify_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Some(report), verify_file(&m.replay_path).ok());
}

/// Replays of schema version 1, recorded by an earlier orchestrator, still verify; a changed action in one is
/// still caught.
#[test]
fn version_1_replays_still_verify() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/fixtures/replays");
    for env in ["pong", "rps", "connectx", "tictactoe"] {
        let path = fixtures.join(format!("v1-{env}.json"));
        let replay = read_replay(&path).unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(replay.schema_version, 1, "{env}");
        let report = verify(&replay).unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(report.steps as usize, replay.frames.len(), "{env}");
        assert!(report.steps > 0 && report.outcome_checked, "{env}");
    }
    let pong = read_replay(&fixtures.join("v1-pong.json")).expect("the pong fixture");
    assert_eq!(
        pong.seed, 2_577_073_586_370_302_348,
        "a seed above 2^53 is read exactly"
    );

    let text = std::fs::read_to_string(fixtures.join("v1-rps.json")).expect("the rps fixture");
    let next_sign = |b: u8| b'0' + (b - b'0' + 1) % 3;
    let tampered = tamper_with(&text, Some(5), "\"actions\":[", next_sign);
    let replay = proto::replay::from_slice(tampered.as_bytes()).expect("still a replay");
    let (step, what) = step_error(&replay);
    assert_eq!(step, 5, "{what}");
}
/// Version 2 frames carry the environment's info and state: a changed value in either is caught at its step.
#[test]
fn a_changed_info_or_state_is_caught_at_its_step() {
    let m = kits("pong");
    let text = text(&m);
    let (step, what) = step_error(&parse(&tamper(&text, Some(21), "\"ball_pos\":[")));
    assert_eq!(step, 21, "{what}");
    assert!(
        what.starts_with("info differs at ball_pos[0]: recorded "),
        "{what}"
    );

    let (step, what) = step_error(&parse(&tamper(&text, Some(12), "\"velocity\":[")));
    assert_eq!(step, 12, "{what}");
    assert!(
        what.starts_with("state differs at velocity[0]: recorded "),
        "{what}"
    );
}
