//! Rules shared by the games of `kaggle-environments`: configuration, episode length and rewards (the board
//! games' turns are in [`super::board`]).
//!
//! Kaggle counts steps from 0; after step `n` the shared observation field `step` is `n`, and a game still
//! running when `step >= episodeSteps - 1` ends as it stands. Rewards there are the running outcome of each
//! agent (`1` won, `-1` lost, `0` draw or still playing); here the reward of a step is the change of that
//! outcome, so the rewards of a game add up to its final scores.
//!
//! An invalid action makes the agent lose at once in kaggle. Here [`super::Environment::parse_action`]
//! rejects it and the match loop applies its own policy: a limit of zero invalid actions gives kaggle's
//! outcome.

use serde_json::{Map, Value};

use super::EnvError;
use super::config::{ConfigReader, IntParam, Param};

/// Kaggle's timing settings; the orchestrator's match limits play their part.
const TIMING_KEYS: [&str; 4] = ["actTimeout", "agentTimeout", "runTimeout", "timeout"];

/// A configuration reader for a kaggle game; its timing keys get a hint instead of a bare "unknown key".
pub(crate) fn reader<'a>(
    env: &'static str,
    map: &'a Map<String, Value>,
    params: &[Param],
) -> Result<ConfigReader<'a>, EnvError> {
    if let Some(key) = map.keys().find(|k| TIMING_KEYS.contains(&k.as_str())) {
        return Err(EnvError::Config {
            env,
            message: format!(
                "{key} is a kaggle timing setting; set the match's time limits instead"
            ),
        });
    }
    ConfigReader::new(env, map, params)
}

/// `episodeSteps`: the game lasts at most `episodeSteps - 1` steps.
pub(crate) const fn episode_steps(default: i64, min: i64) -> IntParam {
    IntParam {
        key: "episodeSteps",
        default,
        min,
        max: 1_000_000,
        description: "kaggle's episode length: the game ends after at most episodeSteps - 1 steps",
    }
}

/// The most steps a game with kaggle's `episodeSteps` lasts: `episodeSteps - 1`, and at least one.
pub(crate) fn max_steps(episode_steps: u64) -> u64 {
    episode_steps.saturating_sub(1).max(1)
}

/// Whether kaggle's episode limit ends the game after `step` steps.
pub(crate) fn episode_over(step: u64, episode_steps: u64) -> bool {
    step >= episode_steps.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_keys_get_a_hint() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"actTimeout": 1}"#).unwrap_or_default();
        let err = reader("rps", &map, &[Param::Int(episode_steps(10, 1))])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "rps config: actTimeout is a kaggle timing setting; set the match's time limits instead"
            )
        );
    }
}
