//! Recording the replay (schema v1): config, seed, agents, initial render, every step, the outcome.
//!
//! State hashes: `h0` is 32 zero bytes; after step `k`, `hk = SHA-256(h(k-1) || canonical JSON of
//! env.state())`, where `h(k-1)` is the raw 32-byte digest and canonical JSON has object keys sorted
//! by their UTF-8 bytes and no whitespace. Each step stores `hk` as lowercase hex.
//!
//! Steps are encoded as they are recorded, so that a long match keeps bytes rather than a tree of values per
//! step; the document is assembled from them at the end, byte for byte what encoding the whole [`Replay`]
//! would give.
//!
//! Replay digest: the replay is written with `outcome.replay_sha256 = null` (a document cannot contain its own
//! digest). `MatchOutcome::replay_sha256` in the result file and the `finished` event is the SHA-256 of exactly
//! those bytes, so hashing the replay file (or the reassembled `replay_chunk`s) reproduces it.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use proto::outcome::MatchOutcome;
use proto::replay::{MoveStatus, Replay, SCHEMA_VERSION};

use crate::envs::Environment;
#[cfg(doc)]
use proto::replay::ReplayStep;

/// Builds a replay step by step.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Everything but the steps, which are kept encoded in `steps`.
    replay: Replay,
    /// The JSON of the steps recorded so far, comma-separated, without the enclosing brackets.
    steps: Vec<u8>,
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

/// The fields of [`ReplayStep`] before `render`, in its order, to encode a step around a render that is
/// already JSON.
#[derive(Serialize)]
struct StepHead<'a> {
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
                agents,
                initial_render,
                steps: Vec::new(),
                outcome: None,
            },
            steps: Vec::new(),
            chain: [0; 32],
            state: Vec::new(),
            failed: None,
        }
    }

    /// Appends a step and extends the hash chain with `env`'s state after it. A step that cannot be encoded
    /// fails the replay, at `finish`.
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
        let head = StepHead {
            step: record.step,
            actions: record.actions,
            rewards: record.rewards,
            statuses: record.statuses,
            time_ms: record.time_ms,
        };
        let mark = self.steps.len();
        if mark > 0 {
            self.steps.push(b',');
        }
        serde_json::to_writer(&mut self.steps, &head)?;
        // The head's closing brace gives way to the last two fields of `ReplayStep`.
        if self.steps.pop() != Some(b'}') {
            self.steps.truncate(mark);
            return Err(serde::ser::Error::custom(
                "a step's head is not a JSON object",
            ));
        }
        self.steps.extend_from_slice(br#","render":"#);
        self.steps.extend_from_slice(record.render);
        self.steps.extend_from_slice(br#","state_hash":""#);
        let mut hex = [0u8; 64];
        hex::encode_to_slice(self.chain, &mut hex).map_err(serde::ser::Error::custom)?;
        self.steps.extend_from_slice(&hex);
        self.steps.extend_from_slice(br#""}"#);
        Ok(())
    }

    /// Closes the replay with the outcome and returns its JSON bytes and their SHA-256 (hex). The outcome's
    /// own `replay_sha256` is left out of the document (see the module docs).
    pub(crate) fn finish(
        self,
        outcome: &MatchOutcome,
    ) -> Result<(Vec<u8>, String), serde_json::Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let mut embedded = outcome.clone();
        embedded.replay_sha256 = None;
        // `steps` and `outcome` are the last two fields: the head is everything before the steps' items.
        let head = serde_json::to_vec(&self.replay)?;
        let Some(head) = head.strip_suffix(br#"[],"outcome":null}"#) else {
            return Err(serde::ser::Error::custom(
                "the replay's last fields are not `steps` and `outcome`",
            ));
        };
        let tail = serde_json::to_vec(&embedded)?;
        let mut bytes = Vec::with_capacity(head.len() + self.steps.len() + tail.len() + 16);
        bytes.extend_from_slice(head);
        bytes.push(b'[');
        bytes.extend_from_slice(&self.steps);
        bytes.extend_from_slice(br#"],"outcome":"#);
        bytes.extend_from_slice(&tail);
        bytes.push(b'}');
        let digest = hex::encode(Sha256::digest(&bytes));
        Ok((bytes, digest))
    }
}

/// Steps of a match played with default actions to measure what one step of an environment takes in its
/// replay.
const SAMPLE_STEPS: u32 = 64;
/// What an agent's entry in the outcome takes besides its stderr tail (id, numbers, first error, isolation).
const AGENT_OUTCOME_BYTES: u64 = 4096;

/// An upper estimate, in bytes, of the replay of a match of `env` (freshly made; it is played here) between
/// `agents` with `limits`: the document around the steps as written for a short sample played with default
/// actions, `env.max_steps()` steps of twice the largest step of that sample (numbers of the longest forms,
/// the longest move status), and an outcome whose every agent has a full stderr tail of characters that JSON
/// escapes. Used to refuse a configuration whose replay could not be kept before the match is played.
pub fn size_bound(
    mut env: Box<dyn Environment>,
    match_id: &str,
    seed: u64,
    agents: &[String],
    limits: &proto::spec::Limits,
) -> u64 {
    let mut recorder = Recorder::new(
        match_id,
        env.info().name,
        env.config(),
        seed,
        agents.to_vec(),
        env.render(),
    );
    let players = env.info().players;
    let mut largest_step = 0u64;
    let mut render = Vec::new();
    for step in 1..=SAMPLE_STEPS {
        let movers = env.to_move();
        let actions: Vec<Option<Value>> = (0..players)
            .map(|p| movers.contains(&p).then(|| env.default_action(p)))
            .collect();
        let result = env.step(&actions);
        render.clear();
        if env.write_render(&mut render).is_err() {
            render.extend_from_slice(b"null");
        }
        let recorded: Vec<Value> = actions
            .into_iter()
            .map(|a| a.unwrap_or(Value::Null))
            .collect();
        let before = recorder.steps.len();
        recorder.push(
            StepRecord {
                step: u32::MAX - step,
                actions: &recorded,
                rewards: &vec![-f64::MAX / 3.0; players],
                statuses: &vec![MoveStatus::InvalidAction; players],
                time_ms: &vec![-f64::MAX / 7.0; players],
                render: &render,
            },
            env.as_ref(),
        );
        largest_step = largest_step.max((recorder.steps.len() - before) as u64);
        if result.done {
            break;
        }
    }
    let sample = recorder.steps.len() as u64;
    let outcome = MatchOutcome {
        match_id: match_id.to_string(),
        status: proto::outcome::MatchStatus::Success,
        winner: None,
        agents: Vec::new(),
        total_steps: u32::MAX,
        execution_time_sec: f64::MAX,
        seed,
        error_message: String::new(),
        replay_sha256: None,
    };
    let document = recorder
        .finish(&outcome)
        .map_or(0, |(bytes, _)| bytes.len() as u64);
    // A stderr character JSON escapes as `\u00XX` takes six bytes.
    let per_agent = AGENT_OUTCOME_BYTES + 6 * limits.stderr_bytes as u64;
    document.saturating_sub(sample)
        + env.max_steps().saturating_mul(2 * largest_step)
        + per_agent * agents.len() as u64
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

/// JSON with object keys sorted and no whitespace, independent of how maps are ordered in memory.
pub(crate) fn canonical_json(value: &Value) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}

/// Appends the canonical JSON of `value` to `out`.
pub(crate) fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            // Maps are usually ordered by key already; sorting is needed only when they keep insertion order.
            if map.keys().is_sorted() {
                for (i, (key, item)) in map.iter().enumerate() {
                    write_member(i, key, item, out)?;
                }
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (key, item)) in members.into_iter().enumerate() {
                    write_member(i, key, item, out)?;
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

fn write_member(
    index: usize,
    key: &str,
    item: &Value,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    if index > 0 {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    write_canonical(item, out)
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
            stderr_tail: "\"steps\":[],\"outcome\":null}".into(),
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
            seed: 7,
            error_message: String::new(),
            replay_sha256: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn assembled_replay_is_the_encoding_of_the_whole_document() {
        let config = json!({"steps": [], "outcome": null, "max_steps": 3});
        let serde_json::Value::Object(config) = config else {
            unreachable!()
        };
        let mut recorder = Recorder::new(
            "m",
            "pong",
            config,
            7,
            vec!["a".into(), "b".into()],
            json!({"x": 0.1}),
        );
        let mut env = crate::envs::pong::Pong::new(&Map::new(), 5).unwrap();
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
            recorder.push(record, &env);
        }
        let (bytes, digest) = recorder.finish(&outcome()).unwrap();
        let replay: Replay = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&replay).unwrap(), bytes);
        assert_eq!(replay.steps.len(), 3);
        assert_eq!(replay.steps[2].state_hash, hex::encode(chain));
        assert_eq!(replay.steps[1].actions[1], json!({"move": "up"}));
        let embedded = replay.outcome.unwrap();
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
        assert!(replay.steps.is_empty());
        assert_eq!(serde_json::to_vec(&replay).unwrap(), bytes);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x\"y", "c": 1.5});
        assert_eq!(
            canonical_json(&value).unwrap(),
            r#"{"a":"x\"y","b":[1,{"a":null,"z":true}],"c":1.5}"#
        );
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
