//! The match: starts the agents, plays the environment step by step, charges faults, picks the winner.
//!
//! Rules this module keeps:
//! - Faults are the agent's, never the match's. A timeout, a malformed or illegal answer costs one error and
//!   the environment's default action; an agent that exits (or never gets ready) is out: one error, default
//!   actions for the rest of the match. More than `limits.max_errors` errors disqualify a playing agent and
//!   end the match.
//! - Time: each move may take `step_ms` plus what is left of the agent's bank; time over `step_ms` is drawn
//!   from the bank, a timeout empties it. The whole match, init included, has `limits.match_ms`.
//! - Winner: agents that are out (crashed, not started, disqualified) lose; of the others the one with the
//!   highest score wins, and a tie for the highest score is a draw.
//! - The match goes on while at least one agent still plays its own moves.
//! - Isolation: every agent runs in the sandbox of [`crate::sandbox`]; the layers in force are recorded per
//!   agent. When a required layer is unavailable, no agent is started and the match ends with an error. In
//!   turn-based games the agents not on move are paused (SIGSTOP) until their turn. An agent whose scratch
//!   directory grows past `limits.scratch_mb` is disqualified.
//!
//! [`play`] sets the match up and runs a `Match` through its phases: start (spawn, `init`, `ready`), step
//! until it must stop, finish (`end`, winner, outcome, replay). The parts:
//! - `setup`: the environment, the isolation layers named, each agent's launch and sandbox.
//! - `seat`: one player's agent process and account (errors, time bank, status).
//! - `judge`: what an answer to `init` or `step` counts as, and the fault it costs.
//! - `start`: starting the agents.
//! - `step`: one step of the match.
//! - `scratch`: the agents' scratch directories and their size check.
//! - `winner`: the winner rule.

mod clock;
mod judge;
mod scratch;
mod seat;
mod setup;
mod start;
mod step;
mod think;
mod winner;

use std::future::Future;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use envs::{Environment, MoveStyle};
use proto::outcome::{MatchOutcome, MatchStatus};
use proto::spec::MatchSpec;
use serde_json::json;

use crate::agent::protocol;
use crate::replay::Recorder;
use crate::report::Reporter;
use crate::sandbox::SandboxOptions;
use scratch::ScratchRoot;
use seat::Seat;

/// How to play, beyond what the spec says.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Interpreter for Python module agents.
    pub(crate) python: PathBuf,
    /// Time an agent has to exit after `end` before its process group is killed.
    pub(crate) exit_grace: Duration,
    /// Isolation settings on top of the spec's.
    pub(crate) sandbox: SandboxOptions,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            python: PathBuf::from("python3"),
            exit_grace: Duration::from_millis(500),
            sandbox: SandboxOptions::default(),
        }
    }
}

/// A played match.
#[derive(Debug, Clone)]
pub struct Played {
    /// The outcome; `replay_sha256` is the digest of `replay` when one was recorded.
    pub outcome: MatchOutcome,
    /// The replay JSON, when the spec asked for one and the environment could be created.
    pub replay: Option<Vec<u8>>,
}

/// Plays `spec` to its end and returns the outcome and replay. Never fails: whatever goes wrong with the
/// environment or the agents is described in the outcome. `shutdown` resolving cancels the match.
#[tracing::instrument(skip_all, fields(match_id = %spec.match_id, env = %spec.environment))]
pub async fn play(
    spec: &MatchSpec,
    options: &PlayOptions,
    reporter: &Reporter,
    shutdown: impl Future<Output = ()>,
) -> Played {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(spec.limits.match_ms);
    let seats = seat::seats_of(spec);
    let env = match setup::environment(spec, options) {
        Ok(env) => env,
        Err(message) => {
            tracing::error!(%message, "match cannot be played");
            reporter.started(&spec.environment, agent_ids(spec), spec.seed);
            return unplayed(spec, &seats, started, message);
        }
    };
    reporter.started(&spec.environment, agent_ids(spec), spec.seed);
    let mut game = Match::new(spec, env, seats, reporter, deadline, started);
    // Removed (unless the options keep it) when this function returns, after the agents stopped.
    let scratch_root = match ScratchRoot::new(options.sandbox.scratch_root.as_deref()) {
        Ok(root) => root,
        Err(e) => {
            let message = format!("creating the agents' scratch directory: {e}");
            return refused(&game, message);
        }
    };
    let prepared = setup::prepare_seats(
        spec,
        options,
        game.turn_based,
        scratch_root.path(),
        &mut game.seats,
        reporter,
    );
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return refused(&game, message),
    };

    tokio::pin!(shutdown);
    let stop = tokio::select! {
        biased;
        () = &mut shutdown => Stop::Cancelled,
        stop = game.run(prepared) => stop,
    };
    game.finish(stop, options.exit_grace).await
}

/// A match being played: the environment, the seats and what each step reports and records.
struct Match<'a> {
    spec: &'a MatchSpec,
    reporter: &'a Reporter,
    env: Box<dyn Environment>,
    seats: Vec<Seat>,
    recorder: Option<Recorder>,
    turn_based: bool,
    /// When the whole match, init included, is over.
    deadline: tokio::time::Instant,
    started: Instant,
    /// Steps played so far.
    steps: u32,
    /// Whether the start is over (every agent answered `init` or is out).
    ready: bool,
    /// The render's JSON, reused from step to step.
    render: Vec<u8>,
    /// When the scratch directories were last walked; `None` before the first walk.
    scratch_walked: Option<Instant>,
}

/// Why a match stopped.
enum Stop {
    Done,
    Disqualified,
    NobodyPlays,
    MatchTimeout,
    Cancelled,
}

impl<'a> Match<'a> {
    fn new(
        spec: &'a MatchSpec,
        env: Box<dyn Environment>,
        seats: Vec<Seat>,
        reporter: &'a Reporter,
        deadline: tokio::time::Instant,
        started: Instant,
    ) -> Self {
        let recorder = spec.record_replay.then(|| {
            Recorder::new(
                &spec.match_id,
                &spec.environment,
                env.config(),
                spec.seed,
                agent_ids(spec),
                env.render(),
            )
        });
        Self {
            spec,
            reporter,
            turn_based: matches!(env.info().move_style, MoveStyle::TurnBased),
            env,
            seats,
            recorder,
            deadline,
            started,
            steps: 0,
            ready: false,
            render: Vec::new(),
            scratch_walked: None,
        }
    }

    /// Starts the agents, then plays steps until the match stops, all within the match deadline.
    async fn run(&mut self, prepared: Vec<setup::Start>) -> Stop {
        if !self.start(prepared).await {
            return Stop::MatchTimeout;
        }
        self.ready = true;
        loop {
            if let ControlFlow::Break(stop) = self.step().await {
                return stop;
            }
        }
    }

    /// Ends the match: picks the winner, sends `end` to the agents still running and stops them, and
    /// builds the outcome and the replay.
    async fn finish(mut self, stop: Stop, grace: Duration) -> Played {
        let scores = self.env.scores();
        let match_ms = self.spec.limits.match_ms;
        let culprits = match stop {
            Stop::MatchTimeout => {
                let step = self.ready.then_some(self.steps + 1);
                clock::attribute(&mut self.seats, match_ms, step, self.reporter).await
            }
            _ => String::new(),
        };
        let (status, message) = stop.status(self.steps, match_ms, &culprits);
        let winner = match status {
            MatchStatus::Success | MatchStatus::Timeout => winner::pick(&self.seats, &scores),
            MatchStatus::Error | MatchStatus::Cancelled => None,
        };
        let result = json!({ "status": status, "scores": scores, "winner": winner });
        seat::stop_all(&mut self.seats, &protocol::end_message(result), grace).await;

        let end = End {
            status,
            winner,
            scores,
            steps: self.steps,
            message,
        };
        let mut outcome = outcome(self.spec, &self.seats, self.started, end);
        tracing::info!(
            peak_rss_kib = peak_rss_kib(),
            "orchestrator memory after the match"
        );
        let replay = match self.recorder.map(|r| r.finish(&outcome)) {
            Some(Ok((bytes, digest))) => {
                outcome.replay_sha256 = Some(digest);
                Some(bytes)
            }
            Some(Err(error)) => {
                tracing::error!(%error, "replay could not be encoded; the match has no replay");
                None
            }
            None => None,
        };
        Played { outcome, replay }
    }
}

impl Stop {
    /// The match's status, and its message, after `steps` steps of a match with `match_ms`.
    /// `culprits` names the agents that ran out the clock of a match over its budget.
    fn status(&self, steps: u32, match_ms: u64, culprits: &str) -> (MatchStatus, String) {
        match self {
            Stop::Done | Stop::Disqualified | Stop::NobodyPlays => {
                (MatchStatus::Success, String::new())
            }
            Stop::MatchTimeout => (
                MatchStatus::Timeout,
                format!(
                    "match exceeded its time budget of {match_ms} ms after {steps} steps; {culprits}{}the \
                     result covers what was played",
                    if culprits.is_empty() { "" } else { "; " }
                ),
            ),
            Stop::Cancelled => (
                MatchStatus::Cancelled,
                "match cancelled by a shutdown request".to_string(),
            ),
        }
    }
}

/// How a match ended, as its outcome says.
struct End {
    status: MatchStatus,
    /// The winner's seat.
    winner: Option<usize>,
    /// Scores in seat order; empty when no environment ran.
    scores: Vec<f64>,
    steps: u32,
    message: String,
}

/// The outcome of a match that ended as `end`.
fn outcome(spec: &MatchSpec, seats: &[Seat], started: Instant, end: End) -> MatchOutcome {
    MatchOutcome {
        match_id: spec.match_id.clone(),
        status: end.status,
        winner: end
            .winner
            .and_then(|w| seats.get(w))
            .map(|s| s.agent_id.clone()),
        agents: seats
            .iter()
            .map(|seat| seat.outcome(end.scores.get(seat.player).copied().unwrap_or(0.0)))
            .collect(),
        total_steps: end.steps,
        execution_time_sec: started.elapsed().as_secs_f64(),
        seed: spec.seed,
        error_message: end.message,
        replay_sha256: None,
    }
}

/// A match that ended with an error before any agent started; it has no replay.
fn unplayed(spec: &MatchSpec, seats: &[Seat], started: Instant, message: String) -> Played {
    let end = End {
        status: MatchStatus::Error,
        winner: None,
        scores: Vec::new(),
        steps: 0,
        message,
    };
    Played {
        outcome: outcome(spec, seats, started, end),
        replay: None,
    }
}

/// A match refused before any agent started: its scratch directory or a sandbox could not be made.
fn refused(game: &Match<'_>, message: String) -> Played {
    tracing::error!(%message, "match refused");
    unplayed(game.spec, &game.seats, game.started, message)
}

fn agent_ids(spec: &MatchSpec) -> Vec<String> {
    spec.agents.iter().map(|a| a.agent_id.clone()).collect()
}

/// The orchestrator's peak resident memory (`VmHWM`), in KiB; 0 when `/proc` does not say.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The executor may run matches on spawned tasks.
    #[test]
    fn play_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let spec: MatchSpec = serde_json::from_value(json!({
            "match_id": "m", "environment": "none", "seed": 1, "agents": [{"agent_id": "a", "dir": "."}]
        }))
        .unwrap();
        let reporter = Reporter::disabled();
        let options = PlayOptions::default();
        let future = play(&spec, &options, &reporter, std::future::pending::<()>());
        assert_send(&future);
    }
}
