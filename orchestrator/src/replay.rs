//! Recording the replay (schema v1): config, seed, agents, initial render, every step, the outcome.
//!
//! State hashes: `h0` is 32 zero bytes; after step `k`, `hk = SHA-256(h(k-1) || canonical JSON of
//! env.state())`, where `h(k-1)` is the raw 32-byte digest and canonical JSON has object keys sorted
//! by their UTF-8 bytes and no whitespace. Each step stores `hk` as lowercase hex.
//!
//! Replay digest: the replay is written with `outcome.replay_sha256 = null` (a document cannot contain its own
//! digest). `MatchOutcome::replay_sha256` in the result file and the `finished` event is the SHA-256 of exactly
//! those bytes, so hashing the replay file (or the reassembled `replay_chunk`s) reproduces it.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use proto::outcome::MatchOutcome;
use proto::replay::{MoveStatus, Replay, ReplayStep, SCHEMA_VERSION};

/// Builds a replay step by step.
#[derive(Debug)]
pub struct Recorder {
    replay: Replay,
    /// The last chained state hash (raw bytes).
    chain: [u8; 32],
}

/// One played step, as recorded.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub step: u32,
    pub actions: Vec<Value>,
    pub rewards: Vec<f64>,
    pub statuses: Vec<MoveStatus>,
    pub time_ms: Vec<f64>,
    pub render: Value,
    /// The environment's full state after the step (hashed, not stored).
    pub state: Value,
}

impl Recorder {
    /// Starts a replay of a match.
    pub fn new(
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
            chain: [0; 32],
        }
    }

    /// Appends a step and extends the hash chain.
    pub fn push(&mut self, record: StepRecord) {
        self.chain = chain_hash(&self.chain, &record.state);
        self.replay.steps.push(ReplayStep {
            step: record.step,
            actions: record.actions,
            rewards: record.rewards,
            statuses: record.statuses,
            time_ms: record.time_ms,
            render: record.render,
            state_hash: hex::encode(self.chain),
        });
    }

    /// Closes the replay with the outcome and returns its JSON bytes and their SHA-256 (hex). The outcome's
    /// own `replay_sha256` is left out of the document (see the module docs).
    pub fn finish(
        mut self,
        outcome: &MatchOutcome,
    ) -> Result<(Vec<u8>, String), serde_json::Error> {
        let mut embedded = outcome.clone();
        embedded.replay_sha256 = None;
        self.replay.outcome = Some(embedded);
        let bytes = serde_json::to_vec(&self.replay)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        Ok((bytes, digest))
    }
}

/// `SHA-256(prev || canonical_json(state))`.
pub fn chain_hash(prev: &[u8; 32], state: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical_json(state).as_bytes());
    hasher.finalize().into()
}

/// JSON with object keys sorted and no whitespace, independent of how maps are ordered in memory.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x\"y", "c": 1.5});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":"x\"y","b":[1,{"a":null,"z":true}],"c":1.5}"#
        );
    }

    #[test]
    fn chain_starts_from_zero_and_links_steps() {
        let state = json!({"t": 1});
        let first = chain_hash(&[0; 32], &state);
        let mut expected = Sha256::new();
        expected.update([0u8; 32]);
        expected.update(br#"{"t":1}"#);
        assert_eq!(first, <[u8; 32]>::from(expected.finalize()));
        assert_ne!(chain_hash(&first, &state), first);
    }
}
