//! The RL Arena backend and web app play our replays. The executor writes replays into the directory it shares
//! with the backend and publishes their URLs relative to it (`--store-url file://<dir> --replay-base-url
//! replays`, docs/deploy.md); it plays a real pong match, and a Node reproduction of the platform's reading
//! (`tests/platform/replay_reader.js`: the backend's path join and `transformExecutorReplayForFrontend`, the
//! web app's `ReplayCanvas` and replay dialog) opens the file at `replay_url` and draws one frame per step, the
//! last with the result's score. The `rl-arena` package's own `MatchRecorder.load` reads the file too, and its
//! pong, given the replay's seed and actions, returns every frame's `info`.

mod support;

use std::path::Path;

use proto::pb;
use serde_json::Value;
use support::rl_arena::python_with_rl_arena;
use support::{Executor, agent, example_agent, script_json, workspace};

/// Seed above 2^53: a JavaScript number would round it.
const SEED: u64 = 2_577_073_586_370_302_348;

/// Runs the Node reproduction on `replay_url` and `replay_html_url` under the storage directory `base`.
#[track_caller]
fn read_as_the_platform(base: &Path, replay_url: &str, html_url: &str) -> Value {
    let node = testkit::provision::NODE.require();
    script_json(
        &node,
        "platform/replay_reader.js",
        &[base.as_os_str(), replay_url.as_ref(), html_url.as_ref()],
    )
}

#[tokio::test]
async fn the_backend_opens_and_the_web_app_draws_a_replay_in_the_shared_directory() {
    let storage = tempfile::tempdir().unwrap();
    let store_url = format!("file://{}", storage.path().display());
    let executor = Executor::start(&["--store-url", &store_url, "--replay-base-url", "replays"]);
    let request = pb::MatchRequest {
        match_id: "2b9c3f0e-5d1a-4c7e-9a43-1f2e3d4c5b6a".into(),
        environment: "pong".into(),
        // Deterministic agents whose paddles are too slow to return every ball: a game with points.
        agents: vec![
            agent("left", &example_agent("pong-shell")),
            agent("right", &example_agent("pong-shell")),
        ],
        timeout_sec: 120,
        record_replay: true,
        seed: SEED,
        environment_config_json:
            r#"{"winning_score": 2, "max_steps": 600, "paddle_speed": 0.01, "ball_speed": 0.04}"#
                .into(),
        limits: None,
    };
    let response = executor
        .client()
        .await
        .run_match(request.clone())
        .await
        .expect("run match")
        .into_inner();
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    assert_eq!(
        response.replay_url,
        format!("replays/{}.json", request.match_id)
    );
    assert_eq!(
        response.replay_html_url,
        format!("replays/{}.html", request.match_id)
    );

    let seen = read_as_the_platform(
        storage.path(),
        &response.replay_url,
        &response.replay_html_url,
    );
    let backend = &seen["backend"];
    assert_eq!(backend["error"], Value::Null, "{backend}");
    assert_eq!(
        backend["path"],
        storage
            .path()
            .join(&response.replay_url)
            .display()
            .to_string()
    );
    assert_eq!(backend["html_exists"], true, "{backend}");

    let web = &seen["web"];
    let frames = web["frames"].as_array().expect("frames drawn");
    assert_eq!(
        web["total_frames"], response.total_steps,
        "one frame per step"
    );
    assert_eq!(frames.len() as u32, response.total_steps);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame["placeholder"], Value::Null, "frame {i}: {frame}");
        for key in ["ball", "paddles"] {
            let xy: Vec<f64> = frame[key]
                .as_array()
                .unwrap_or_else(|| panic!("frame {i}: no {key}: {frame}"))
                .iter()
                .map(|v| v.as_f64().expect("a coordinate"))
                .collect();
            assert!(
                xy.len() == 2 && xy.iter().all(|c| (0.0..=800.0).contains(c)),
                "frame {i}: {key} {xy:?} is on the canvas"
            );
        }
    }
    let scores: Vec<String> = response
        .agent_results
        .iter()
        .map(|a| a.score.to_string())
        .collect();
    let last = frames.last().expect("a frame");
    assert_eq!(
        last["score"],
        serde_json::json!(scores),
        "the last frame shows the result"
    );
    assert!(scores.contains(&"2".to_string()), "{scores:?}");

    // The frames are the replay's own: the last one drawn is where the file puts the ball and the paddles.
    let file: Value =
        serde_json::from_slice(&std::fs::read(storage.path().join(&response.replay_url)).unwrap())
            .unwrap();
    let info = &file["frames"][frames.len() - 1]["info"];
    let (ball, paddles) = (&info["ball_pos"], &info["paddle_positions"]);
    let at = |v: &Value, i: usize| v[i].as_f64().unwrap();
    assert_eq!(at(&last["ball"], 0), at(ball, 0) * 800.0);
    assert_eq!(at(&last["ball"], 1), at(ball, 1) * 450.0);
    assert_eq!(at(&last["paddles"], 1), at(paddles, 1) * 450.0);

    // The replay dialog's summary, and the seed read exactly by JavaScript.
    assert_eq!(web["dialog"]["final_score"], scores.join(" - "));
    assert!(web["dialog"]["duration"].as_str().unwrap().ends_with('s'));
    assert!(web["dialog"]["played"].is_string(), "{web}");
    assert_eq!(web["seed"], SEED.to_string());
    assert_eq!(web["outcome_seed"], SEED.to_string());

    // The rl-arena package's recorder loads the document as one of its own recordings.
    let python = python_with_rl_arena();
    let replay_file = storage.path().join(&response.replay_url);
    let loaded = script_json(
        &python,
        "python/load_with_rl_arena.py",
        &[replay_file.as_os_str()],
    );
    assert_eq!(loaded["frames"], response.total_steps);
    assert_eq!(loaded["states"], response.total_steps);
    assert_eq!(loaded["last_step"], response.total_steps);
    assert_eq!(loaded["metadata"]["environment"], "pong");
    assert_eq!(loaded["last_info"], *info);
    let points: Vec<f64> = response.agent_results.iter().map(|a| a.score).collect();
    let loaded_points: Vec<f64> = loaded["last_info"]["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .map(|s| s.as_f64().expect("a score"))
        .collect();
    assert_eq!(loaded_points, points);

    // Each frame's info is what rl-arena's own pong returns from `step()` for the same actions, bit for bit.
    let compared = script_json(
        &python,
        "python/pong_info_with_rl_arena.py",
        &[replay_file.as_os_str()],
    );
    assert_eq!(compared["frames"], response.total_steps);
    assert_eq!(compared["differences"], serde_json::json!([]), "{compared}");

    // What the platform does with what it cannot use: a `file://` URL is not under its storage directory, and
    // a version 1 replay (`steps`, no `info`) has no frames to play.
    let absolute = format!(
        "file://{}",
        storage.path().join(&response.replay_url).display()
    );
    let seen = read_as_the_platform(storage.path(), &absolute, "");
    assert_eq!(seen["backend"]["error"], "Replay file not found");
    let old = storage.path().join("replays/v1-pong.json");
    std::fs::copy(
        workspace().join("proto/tests/fixtures/replays/v1-pong.json"),
        &old,
    )
    .unwrap();
    let seen = read_as_the_platform(storage.path(), "replays/v1-pong.json", "");
    assert_eq!(seen["web"]["total_frames"], 0, "{seen}");
}
