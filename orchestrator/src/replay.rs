//! Recording the replay (schema version 2, `proto::replay`): config, seed, agents, initial render, one frame per
//! step, the outcome.
//!
//! State hashes: `h0` is 32 zero bytes; after step `k`, `hk = SHA-256(h(k-1) || canonical JSON of
//! env.state())`, where `h(k-1)` is the raw 32-byte digest and canonical JSON (`envs::canonical`) has object
//! keys sorted by their UTF-8 bytes and no whitespace. Each frame stores `hk` as lowercase hex, and that
//! canonical JSON as its `state`.
//!
//! Frames are encoded as they are recorded, so that a long match keeps bytes rather than a tree of values per
//! step; the document is assembled from them at the end, byte for byte what encoding the whole [`Replay`]
//! would give.
//!
//! Replay digest: the replay is written with `outcome.replay_sha256 = null` (a document cannot contain its own
//! digest). `MatchOutcome::replay_sha256` in the result file and the `finished` event is the SHA-256 of exactly
//! those bytes, so hashing the replay file (or the reassembled `replay_chunk`s) reproduces it.

use std::time::SystemTime;

use envs::Environment;
use envs::canonical::canonical_json;
use proto::outcome::MatchOutcome;
#[cfg(doc)]
use proto::replay::Frame;
use proto::replay::{Metadata, MoveStatus, OutcomeWithTextSeed, Replay, SCHEMA_VERSION};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Builds a replay step by step.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Everything but the frames, which are kept encoded in `frames`.
    replay: Replay,
    /// When recording started: the replay's `start_time`.
    started: SystemTime,
    /// The JSON of the frames recorded so far, comma-separated, without the enclosing brackets.
    frames: Vec<u8>,
    /// Frames recorded so far.
    count: u32,
    /// The last chained state hash (raw bytes).
    chain: [u8; 32],
    /// Reused buffer for the canonical JSON of each state.
    state: Vec<u8>,
    /// The first step that could not be encoded; `finish` reports it.
    failed: Option<serde_json::Error>,
}

/// One played step, as recorded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepRecord<'a> {
    pub(crate) step: u32,
    pub(crate) actions: &'a [Value],
    pub(crate) rewards: &'a [f64],
    pub(crate) statuses: &'a [MoveStatus],
    pub(crate) time_ms: &'a [f64],
    /// The JSON of the environment's render after the step ([`Environment::write_render`]).
    pub(crate) render: &'a [u8],
}

/// The fields of [`Frame`] before `info`, in its order, to encode a frame around parts that are already JSON.
#[derive(Serialize)]
struct FrameHead<'a> {
    step: u32,
    actions: &'a [Value],
    rewards: &'a [f64],
    statuses: &'a [MoveStatus],
    time_ms: &'a [f64],
}

impl Recorder {
    /// Starts a replay of a match.
    pub(crate) fn new(
        match_id: &str,
        environment: &str,
        config: Map<String, Value>,
        seed: u64,
        agents: Vec<String>,
        initial_render: Value,
    ) -> Self {
        Self {
            replay: Replay {
                schema_version: SCHEMA_VERSION,
                engine_version: env!("CARGO_PKG_VERSION").to_string(),
                match_id: match_id.to_string(),
                environment: environment.to_string(),
                config,
                seed,
                metadata: Metadata::new(environment, &agents, None, None),
                agents,
                start_time: None,
                end_time: None,
                duration: None,
                num_frames: 0,
                initial_render,
                frames: Vec::new(),
                outcome: None,
            },
            started: SystemTime::now(),
            frames: Vec::new(),
            count: 0,
            chain: [0; 32],
            state: Vec::new(),
            failed: None,
        }
    }

    /// Appends the frame of a step: its record, and `env`'s info and state after it (the state extends the
    /// hash chain). A step that cannot be encoded fails the replay, at `finish`.
    pub(crate) fn push(&mut self, record: StepRecord<'_>, env: &dyn Environment) {
        if self.failed.is_none() {
            if let Err(error) = self.encode(record, env) {
                self.failed = Some(error);
            }
        }
    }

    fn encode(
        &mut self,
        record: StepRecord<'_>,
        env: &dyn Environment,
    ) -> Result<(), serde_json::Error> {
        self.chain = chain_state(&self.chain, env, &mut self.state)?;
        let head = FrameHead {
            step: record.step,
            actions: record.actions,
            rewards: record.rewards,
            statuses: record.statuses,
            time_ms: record.time_ms,
        };
        let mark = self.frames.len();
        if mark > 0 {
            self.frames.push(b',');
        }
        serde_json::to_writer(&mut self.frames, &head)?;
        // The head's closing brace gives way to the remaining fields of `Frame`.
        if self.frames.pop() != Some(b'}') {
            self.frames.truncate(mark);
            return Err(serde::ser::Error::custom(
                "a frame's head is not a JSON object",
            ));
        }
        self.frames.extend_from_slice(br#","info":"#);
        if let Err(error) = env.write_step_info(&mut self.frames) {
            self.frames.truncate(mark);
            return Err(error);
        }
        self.frames.extend_from_slice(br#","render":"#);
        self.frames.extend_from_slice(record.render);
        self.frames.extend_from_slice(br#","state":"#);
        self.frames.extend_from_slice(&self.state);
        self.frames.extend_from_slice(br#","state_hash":""#);
        let mut hex = [0u8; 64];
        hex::encode_to_slice(self.chain, &mut hex).map_err(serde::ser::Error::custom)?;
        self.frames.extend_from_slice(&hex);
        self.frames.extend_from_slice(br#""}"#);
        self.count += 1;
        Ok(())
    }

    /// Closes the replay with the outcome and returns its JSON bytes and their SHA-256 (hex). The outcome's
    /// own `replay_sha256` is left out of the document (see the module docs).
    pub(crate) fn finish(
        mut self,
        outcome: &MatchOutcome,
    ) -> Result<(Vec<u8>, String), serde_json::Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let ended = SystemTime::now();
        let start_time = humantime::format_rfc3339_millis(self.started).to_string();
        let replay = &mut self.replay;
        replay.metadata = Metadata::new(
            &replay.environment,
            &replay.agents,
            Some(outcome),
            Some(start_time.clone()),
        );
        replay.start_time = Some(start_time);
        replay.end_time = Some(humantime::format_rfc3339_millis(ended).to_string());
        replay.duration = Some(
            ended
                .duration_since(self.started)
                .unwrap_or_default()
                .as_secs_f64(),
        );
        replay.num_frames = self.count;
        let mut embedded = outcome.clone();
        embedded.replay_sha256 = None;
        // `frames` and `outcome` are the last two fields: the head is everything before the frames' items.
        let head = serde_json::to_vec(&self.replay)?;
        let Some(head) = head.strip_suffix(br#"[],"outcome":null}"#) else {
            return Err(serde::ser::Error::custom(
                "the replay's last fields are not `frames` and `outcome`",
            ));
        };
        let tail = serde_json::to_vec(&OutcomeWithTextSeed(&embedded))?;
        let mut bytes = Vec::with_capacity(head.len() + self.frames.len() + tail.len() + 16);
        bytes.extend_from_slice(head);
        bytes.push(b'[');
        bytes.extend_from_slice(&self.frames);
        bytes.extend_from_slice(br#"],"outcome":"#);
        bytes.extend_from_slice(&tail);
        bytes.push(b'}');
        let digest = hex::encode(Sha256::digest(&bytes));
        Ok((bytes, digest))
    }
}

/// `SHA-256(prev || canonical_json(state))`.
pub fn chain_hash(prev: &[u8; 32], state: &Value) -> Result<[u8; 32], serde_json::Error> {
    Ok(chain_step(prev, canonical_json(state)?.as_bytes()))
}

/// `SHA-256(prev || canonical JSON of env.state())`, written with [`Environment::write_state`] into `buf`
/// (reused from step to step): the one way both the recorder and `verify` extend the chain.
pub(crate) fn chain_state(
    prev: &[u8; 32],
    env: &dyn Environment,
    buf: &mut Vec<u8>,
) -> Result<[u8; 32], serde_json::Error> {
    buf.clear();
    env.write_state(buf)?;
    Ok(chain_step(prev, buf))
}

fn chain_step(prev: &[u8; 32], canonical_state: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical_state);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use proto::outcome::{AgentOutcome, AgentStatus, MatchStatus};
    use serde_json::json;

    use super::*;

    fn outcome() -> MatchOutcome {
        let agent = |id: &str| AgentOutcome {
            agent_id: id.into(),
            score: 2.5,
            errors: 0,
            status: AgentStatus::Ok,
            error_message: String::new(),
            stderr_tail: "\"frames\":[],\"outcome\":null}".into(),
            time_used_sec: 0.25,
            cpu_time_sec: 0.125,
            isolation: Default::default(),
        };
        MatchOutcome {
            match_id: "m".into(),
            status: MatchStatus::Success,
            winner: Some("a".into()),
            agents: vec![agent("a"), agent("b")],
            total_steps: 3,
            execution_time_sec: 1.5,
            seed: u64::MAX - 1,
            error_message: String::new(),
            replay_sha256: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn assembled_replay_is_the_encoding_of_the_whole_document() {
        let config = json!({"frames": [], "outcome": null, "max_steps": 3});
        let serde_json::Value::Object(config) = config else {
            unreachable!()
        };
        let mut recorder = Recorder::new(
            "m",
            "pong",
            config,
            u64::MAX - 1,
            vec!["a".into(), "b".into()],
            json!({"x": 0.1}),
        );
        let mut env = envs::make("pong", &Map::new(), 5).unwrap();
        let mut chain = [0; 32];
        for step in 1..=3u32 {
            env.step(&[Some(json!(0)), Some(json!(2))]);
            chain = chain_hash(&chain, &env.state()).unwrap();
            let render = serde_json::to_vec(&json!({"y": step, "z": 1e300, "s": "é\""})).unwrap();
            let record = StepRecord {
                step,
                actions: &[json!(1), json!({"move": "up"})],
                rewards: &[0.5, -0.5],
                statuses: &[MoveStatus::Ok, MoveStatus::Timeout],
                time_ms: &[1.25, 3.0e-5],
                render: &render,
            };
            recorder.push(record, env.as_ref());
        }
        let (bytes, digest) = recorder.finish(&outcome()).unwrap();
        let replay: Replay = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&replay).unwrap(), bytes);
        assert_eq!(replay.frames.len(), 3);
        assert_eq!(replay.num_frames, 3);
        assert_eq!(replay.frames[2].state_hash, hex::encode(chain));
        assert_eq!(
            replay.frames[2].state,
            env.state(),
            "the hashed state is the frame's"
        );
        let mut info = Vec::new();
        env.write_step_info(&mut info).unwrap();
        assert_eq!(
            replay.frames[2].info,
            serde_json::from_slice::<Value>(&info).unwrap()
        );
        assert_eq!(replay.frames[1].actions[1], json!({"move": "up"}));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""seed":"18446744073709551614""#),
            "seeds are decimal strings"
        );
        let (start, end) = (replay.start_time.unwrap(), replay.end_time.unwrap());
        assert!(start.ends_with('Z') && start <= end, "{start} {end}");
        assert_eq!(replay.metadata.timestamp, Some(start));
        assert_eq!(replay.metadata.final_score.as_deref(), Some("2.5 - 2.5"));
        let embedded = replay.outcome.unwrap();
        assert_eq!(embedded.seed, u64::MAX - 1);
        assert_eq!(
            embedded.replay_sha256, None,
            "the digest is not in the document"
        );
        assert_eq!(
            embedded.agents[1].stderr_tail,
            outcome().agents[1].stderr_tail
        );
        assert_eq!(digest, hex::encode(Sha256::digest(&bytes)));
    }

    #[test]
    fn replay_without_steps_is_well_formed() {
        let recorder = Recorder::new("m", "rps", Map::new(), 1, vec![], Value::Null);
        let (bytes, _) = recorder.finish(&outcome()).unwrap();
        let replay: Replay = serde_json::from_slice(&bytes).unwrap();
        assert!(replay.frames.is_empty());
        assert_eq!(replay.num_frames, 0);
        assert_eq!(serde_json::to_vec(&replay).unwrap(), bytes);
    }

    #[test]
    fn chain_starts_from_zero_and_links_steps() {
        let state = json!({"t": 1});
        let first = chain_hash(&[0; 32], &state).unwrap();
        let mut expected = Sha256::new();
        expected.update([0u8; 32]);
        expected.update(br#"{"t":1}"#);
        assert_eq!(first, <[u8; 32]>::from(expected.finalize()));
        assert_ne!(chain_hash(&first, &state).unwrap(), first);
    }
}
