//! Reading replays of both schema versions, and the seed written as text.

use super::*;

/// A replay of schema version 1 recorded by an earlier orchestrator (pong, seed above 2^53).
const V1_PONG: &str = include_str!("../../tests/fixtures/replays/v1-pong.json");

#[test]
fn version_1_replays_read_as_frames_without_info_or_state() {
    let replay = from_slice(V1_PONG.as_bytes()).unwrap();
    let old: v1::Replay = serde_json::from_str(V1_PONG).unwrap();
    assert_eq!(replay.schema_version, 1);
    assert_eq!(
        replay.seed, 2_577_073_586_370_302_348,
        "the seed is read exactly"
    );
    assert_eq!(replay.frames.len(), old.steps.len());
    assert_eq!(replay.num_frames as usize, old.steps.len());
    for (frame, step) in replay.frames.iter().zip(&old.steps) {
        assert_eq!(
            (frame.step, &frame.actions, &frame.rewards, &frame.statuses),
            (step.step, &step.actions, &step.rewards, &step.statuses)
        );
        assert_eq!(
            (&frame.render, &frame.state_hash),
            (&step.render, &step.state_hash)
        );
        assert_eq!((&frame.info, &frame.state), (&Value::Null, &Value::Null));
    }
    let outcome = replay.outcome.as_ref().unwrap();
    assert_eq!(replay.outcome, old.outcome);
    assert_eq!(replay.metadata.agents, old.agents);
    assert_eq!(replay.metadata.duration, Some(outcome.execution_time_sec));
    assert_eq!(replay.metadata.final_score.as_deref(), Some("0 - 0"));
    assert_eq!(replay.start_time, None);
}

#[test]
fn version_2_writes_seeds_as_text_and_reads_back_what_it_wrote() {
    let mut replay = from_slice(V1_PONG.as_bytes()).unwrap();
    replay.schema_version = SCHEMA_VERSION;
    let text = serde_json::to_string(&replay).unwrap();
    assert!(
        text.contains(r#""seed":"2577073586370302348""#),
        "{}",
        &text[..400]
    );
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["outcome"]["seed"], "2577073586370302348");
    assert_eq!(document["metadata"]["finalScore"], "0 - 0");
    assert_eq!(from_slice(text.as_bytes()).unwrap(), replay);
}

#[test]
fn unknown_versions_and_non_replays_are_refused() {
    for (json, want) in [
        (
            r#"{"schema_version": 3}"#,
            "replay schema version 3 is not supported",
        ),
        (r#"{"schema_version": "2"}"#, "not a replay document"),
        (r#"{"frames": []}"#, "not a replay document"),
        (
            r#"{"schema_version": 2, "frames": []}"#,
            "not a replay document",
        ),
        ("[1, 2]", "not a replay document"),
    ] {
        let error = from_slice(json.as_bytes()).unwrap_err().to_string();
        assert!(error.contains(want), "{json}: {error}");
    }
}
