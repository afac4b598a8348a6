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

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use proto::outcome::{AgentOutcome, AgentStatus, Isolation, MatchOutcome, MatchStatus};
use proto::replay::MoveStatus;
use proto::spec::MatchSpec;
use serde_json::{Map, Value, json};
use tokio::time::timeout_at;

use crate::agent::protocol::{self, Ready};
use crate::agent::{AgentProcess, Launch, ProcessLimits, Reply, Sent, launch};
use crate::envs::{self, Environment, MoveStyle};
use crate::replay::{Recorder, StepRecord};
use crate::report::Reporter;
use crate::sandbox::{self, AgentBox, Prepared, SandboxOptions};

/// How to play, beyond what the spec says.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Interpreter for Python module agents.
    pub python: PathBuf,
    /// Time an agent has to exit after `end` before its process group is killed.
    pub exit_grace: Duration,
    /// Isolation settings on top of the spec's.
    pub sandbox: SandboxOptions,
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

/// One player's agent and its account.
struct Seat {
    player: usize,
    agent_id: String,
    process: Option<AgentProcess>,
    /// Why the agent no longer plays its own moves; `None` while it does.
    out: Option<MoveStatus>,
    status: AgentStatus,
    errors: u32,
    first_error: String,
    stderr: String,
    bank: Duration,
    time_used: Duration,
    /// CPU seconds the agent's processes used, sampled until they were stopped.
    cpu_seconds: f64,
    /// The isolation layers in force for the agent.
    isolation: Isolation,
    /// The agent's private writable directory, checked against `limits.scratch_mb`.
    scratch: Option<PathBuf>,
}

impl Seat {
    fn playing(&self) -> bool {
        self.out.is_none()
    }

    /// Charges one error to the agent and tells the executor.
    fn charge(
        &mut self,
        status: AgentStatus,
        step: Option<u32>,
        message: &str,
        reporter: &Reporter,
    ) {
        self.errors += 1;
        self.status = self.status.max(status);
        let full = match step {
            Some(step) => format!("step {step}: {message}"),
            None => format!("init: {message}"),
        };
        tracing::warn!(player = self.player, agent_id = %self.agent_id, step, kind = ?status, message,
            errors = self.errors, "agent fault");
        reporter.agent_error(
            self.player,
            &self.agent_id,
            step.unwrap_or(0),
            status,
            &full,
        );
        if self.first_error.is_empty() {
            self.first_error = full;
        }
    }

    /// Takes the agent out of the match and stops its process at once.
    async fn retire(&mut self, why: MoveStatus) {
        self.out = Some(why);
        if let Some(mut process) = self.process.take() {
            self.stderr = process.stop(None, Duration::ZERO).await;
            self.cpu_seconds = process.cpu_seconds();
        }
    }

    fn outcome(&self, score: f64) -> AgentOutcome {
        AgentOutcome {
            agent_id: self.agent_id.clone(),
            score,
            errors: self.errors,
            status: self.status,
            error_message: self.first_error.clone(),
            stderr_tail: self.stderr.clone(),
            time_used_sec: self.time_used.as_secs_f64(),
            cpu_time_sec: self.cpu_seconds,
            isolation: self.isolation.clone(),
        }
    }
}

/// Why the step loop stopped.
enum Stop {
    Done,
    Disqualified,
    NobodyPlays,
    MatchTimeout,
    Cancelled,
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
    let mut seats: Vec<Seat> = spec
        .agents
        .iter()
        .enumerate()
        .map(|(player, agent)| Seat {
            player,
            agent_id: agent.agent_id.clone(),
            process: None,
            out: None,
            status: AgentStatus::Ok,
            errors: 0,
            first_error: String::new(),
            stderr: String::new(),
            bank: Duration::from_millis(spec.limits.bank_ms),
            time_used: Duration::ZERO,
            cpu_seconds: 0.0,
            isolation: Isolation::default(),
            scratch: None,
        })
        .collect();

    let made = make_env(spec).and_then(|env| {
        check_sandbox(spec, options)?;
        Ok(env)
    });
    let mut env = match made {
        Ok(env) => env,
        Err(message) => {
            tracing::error!(%message, "match cannot be played");
            reporter.started(&spec.environment, agent_ids(spec), spec.seed);
            let outcome = build_outcome(
                spec,
                &seats,
                &[],
                MatchStatus::Error,
                None,
                0,
                started,
                message,
            );
            return Played {
                outcome,
                replay: None,
            };
        }
    };
    reporter.started(&spec.environment, agent_ids(spec), spec.seed);
    let mut recorder = spec.record_replay.then(|| {
        Recorder::new(
            &spec.match_id,
            &spec.environment,
            env.config(),
            spec.seed,
            agent_ids(spec),
            env.render(),
        )
    });

    let turn_based = matches!(env.info().move_style, MoveStyle::TurnBased);
    // Agents' private writable directories live in one directory of this match (temporary unless the options
    // keep it), never beside the read-only agent directories.
    let refuse = |seats: &[Seat], message: String| {
        tracing::error!(%message, "match refused");
        let outcome = build_outcome(
            spec,
            seats,
            &[],
            MatchStatus::Error,
            None,
            0,
            started,
            message,
        );
        Played {
            outcome,
            replay: None,
        }
    };
    let scratch_root = match ScratchRoot::new(options.sandbox.scratch_root.as_deref()) {
        Ok(root) => root,
        Err(e) => {
            return refuse(
                &seats,
                format!("creating the agents' scratch directory: {e}"),
            );
        }
    };
    let prepared = match prepare_seats(
        spec,
        options,
        turn_based,
        scratch_root.path(),
        &mut seats,
        reporter,
    ) {
        Ok(prepared) => prepared,
        Err(message) => return refuse(&seats, message),
    };

    tokio::pin!(shutdown);
    let mut steps = 0u32;
    let stop = tokio::select! {
        biased;
        () = &mut shutdown => Stop::Cancelled,
        stop = async {
            let config = env.config();
            match timeout_at(deadline, start_agents(spec, prepared, &config, &mut seats, reporter)).await {
                Err(_) => Stop::MatchTimeout,
                Ok(()) => step_loop(spec, env.as_mut(), turn_based, &mut seats, reporter, recorder.as_mut(),
                    &mut steps, deadline).await,
            }
        } => stop,
    };

    let scores = env.scores();
    let (status, message) = match stop {
        Stop::Done | Stop::Disqualified | Stop::NobodyPlays => {
            (MatchStatus::Success, String::new())
        }
        Stop::MatchTimeout => (
            MatchStatus::Timeout,
            format!(
                "match exceeded its time budget of {} ms after {steps} steps; the result covers what was played",
                spec.limits.match_ms
            ),
        ),
        Stop::Cancelled => (
            MatchStatus::Cancelled,
            "match cancelled by a shutdown request".to_string(),
        ),
    };
    let winner = match status {
        MatchStatus::Success | MatchStatus::Timeout => pick_winner(&seats, &scores),
        MatchStatus::Error | MatchStatus::Cancelled => None,
    };
    stop_agents(&mut seats, status, winner, &scores, options.exit_grace).await;

    let mut outcome = build_outcome(
        spec, &seats, &scores, status, winner, steps, started, message,
    );
    tracing::info!(
        peak_rss_kib = peak_rss_kib(),
        "orchestrator memory after the match"
    );
    let replay = match recorder.map(|r| r.finish(&outcome)) {
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

/// The directory holding the agents' scratch directories: a given one (kept), or a temporary one removed
/// when the match ends.
enum ScratchRoot {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl ScratchRoot {
    fn new(kept: Option<&Path>) -> std::io::Result<Self> {
        match kept {
            Some(dir) => std::fs::create_dir_all(dir).map(|()| Self::Kept(dir.to_path_buf())),
            None => tempfile::Builder::new()
                .prefix("rl-arena-scratch-")
                .tempdir()
                .map(Self::Temporary),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Self::Kept(dir) => dir,
            Self::Temporary(dir) => dir.path(),
        }
    }
}

fn agent_ids(spec: &MatchSpec) -> Vec<String> {
    spec.agents.iter().map(|a| a.agent_id.clone()).collect()
}

/// Creates the environment and checks that the spec seats the right number of agents.
fn make_env(spec: &MatchSpec) -> Result<Box<dyn Environment>, String> {
    let env = envs::make(&spec.environment, &spec.config, spec.seed).map_err(|e| e.to_string())?;
    let players = env.info().players;
    if players != spec.agents.len() {
        return Err(format!(
            "{} is played by {players} agents, the spec has {}; list one agent per player",
            spec.environment,
            spec.agents.len()
        ));
    }
    Ok(env)
}

/// Checks the layer names of the spec and the options.
fn check_sandbox(spec: &MatchSpec, options: &PlayOptions) -> Result<(), String> {
    options.sandbox.check()?;
    sandbox::check_names("required", &spec.limits.required_isolation)
}

/// Resolves how each agent starts and prepares its sandbox, without starting anything. Agents that cannot
/// run are charged and left out. `Err` refuses the match: a required isolation layer is unavailable, or a
/// sandbox could not be prepared.
fn prepare_seats(
    spec: &MatchSpec,
    options: &PlayOptions,
    turn_based: bool,
    scratch_root: &Path,
    seats: &mut [Seat],
    reporter: &Reporter,
) -> Result<Vec<Option<(Launch, Prepared)>>, String> {
    let mut required = spec.limits.required_isolation.clone();
    required.extend(options.sandbox.required.iter().cloned());
    let mut prepared = Vec::new();
    let mut missing = Vec::new();
    for (seat, agent) in seats.iter_mut().zip(&spec.agents) {
        let launch = match launch::resolve(&agent.dir, &options.python) {
            Ok(launch) => launch,
            Err(message) => {
                seat.charge(AgentStatus::Error, None, &message, reporter);
                seat.out = Some(MoveStatus::Crashed);
                prepared.push(None);
                continue;
            }
        };
        let agent_box = AgentBox {
            dir: &launch.dir,
            scratch: scratch_root.join(format!("agent-{}", seat.player + 1)),
            program: Path::new(&launch.program),
            limits: &spec.limits,
            turn_based,
        };
        let sandbox = sandbox::prepare(&options.sandbox, &agent_box)
            .map_err(|e| format!("preparing the sandbox of agent {}: {e}", seat.agent_id))?;
        seat.isolation = sandbox.isolation.clone();
        seat.scratch = Some(sandbox.scratch.clone());
        for reason in sandbox::missing_required(&required, &sandbox.isolation, turn_based) {
            if !missing.contains(&reason) {
                missing.push(reason);
            }
        }
        prepared.push(Some((launch, sandbox)));
    }
    if !missing.is_empty() {
        return Err(format!(
            "required isolation unavailable on this machine: {}; no agent was started (run on a kernel with \
             these layers or drop them from the required list)",
            missing.join("; ")
        ));
    }
    Ok(prepared)
}

/// Starts every prepared agent and waits (concurrently) for each to answer `ready` within `init_ms`.
async fn start_agents(
    spec: &MatchSpec,
    prepared: Vec<Option<(Launch, Prepared)>>,
    config: &Map<String, Value>,
    seats: &mut [Seat],
    reporter: &Reporter,
) {
    let limits = ProcessLimits {
        max_line_bytes: spec.limits.max_line_bytes,
        stderr_bytes: spec.limits.stderr_bytes,
    };
    let num_players = seats.len();
    let mut receipts = Vec::new();
    for (seat, prepared) in seats.iter_mut().zip(prepared) {
        let Some((launch, sandbox)) = prepared else {
            receipts.push(None);
            continue;
        };
        let (mut process, isolation) =
            match AgentProcess::spawn_with(&launch, limits, Some(sandbox)) {
                Ok(spawned) => spawned,
                Err(message) => {
                    seat.charge(AgentStatus::Error, None, &message, reporter);
                    seat.out = Some(MoveStatus::Crashed);
                    receipts.push(None);
                    continue;
                }
            };
        seat.isolation = isolation;
        tracing::info!(player = seat.player, agent_id = %seat.agent_id, command = %launch.display(),
            pid = process.pid(), applied = ?seat.isolation.applied, unavailable = ?seat.isolation.unavailable,
            "agent started");
        let init = protocol::init_message(
            seat.player,
            num_players,
            &spec.environment,
            config,
            &spec.limits,
        );
        receipts.push(Some(process.send(&init)));
        seat.process = Some(process);
    }

    let budget = Duration::from_millis(spec.limits.init_ms);
    let waits = seats
        .iter_mut()
        .zip(receipts)
        .filter_map(|(seat, receipt)| {
            let receipt = receipt?;
            Some(async move {
                let reply = wait_reply(seat.process.as_mut(), receipt, budget, None).await;
                (seat, reply)
            })
        });
    let mut failed = Vec::new();
    for (seat, reply) in join_all(waits).await {
        let failure = match reply {
            Reply::Line { line, .. } => match protocol::parse_ready(&line) {
                Ok(Ready::Ready) => None,
                Ok(Ready::Failed(message)) => {
                    Some((AgentStatus::Error, format!("agent cannot start: {message}")))
                }
                Err(message) => Some((AgentStatus::Error, message)),
            },
            Reply::TooLong { .. } => Some((
                AgentStatus::Error,
                format!(
                    "answer to init is longer than {} bytes",
                    spec.limits.max_line_bytes
                ),
            )),
            Reply::TimedOut => Some((
                AgentStatus::Timeout,
                format!(
                    "no {{\"type\":\"ready\"}} within {} ms",
                    spec.limits.init_ms
                ),
            )),
            Reply::Gone(reason) => Some((
                AgentStatus::Crashed,
                format!("agent {reason} before it was ready"),
            )),
        };
        if let Some((status, message)) = failure {
            seat.charge(status, None, &message, reporter);
            failed.push(seat.player);
        } else {
            tracing::debug!(player = seat.player, "agent ready");
        }
    }
    for player in failed {
        seats[player].retire(MoveStatus::Crashed).await;
    }
}

/// Waits for the answer to a sent message.
async fn wait_reply(
    process: Option<&mut AgentProcess>,
    sent: Sent,
    budget: Duration,
    step: Option<u32>,
) -> Reply {
    match process {
        Some(process) => process.receive(sent, budget, step).await,
        None => Reply::Gone("was stopped".into()),
    }
}

/// Plays steps until the environment is done or the match must stop.
#[allow(clippy::too_many_arguments)]
async fn step_loop(
    spec: &MatchSpec,
    env: &mut dyn Environment,
    turn_based: bool,
    seats: &mut [Seat],
    reporter: &Reporter,
    mut recorder: Option<&mut Recorder>,
    steps: &mut u32,
    deadline: tokio::time::Instant,
) -> Stop {
    let limits = &spec.limits;
    let step_ms = Duration::from_millis(limits.step_ms);
    let mut scratch_walked: Option<Instant> = None;
    // The render's JSON, reused from step to step.
    let mut render = Vec::new();
    loop {
        if !seats.iter().any(Seat::playing) {
            return Stop::NobodyPlays;
        }
        let step = *steps + 1;
        let movers = env.to_move();

        // Off turn, an agent is stopped so that it cannot compute on its opponent's time.
        if turn_based {
            for seat in seats.iter_mut() {
                let on_move = movers.contains(&seat.player);
                if let Some(process) = seat.process.as_mut() {
                    if on_move {
                        process.resume();
                    } else {
                        process.pause();
                    }
                }
            }
        }

        // Every observation goes out before any answer is awaited.
        let mut receipts: Vec<Option<(Sent, Option<u64>)>> =
            (0..seats.len()).map(|_| None).collect();
        let per_move_cpu = tracing::enabled!(tracing::Level::DEBUG);
        for &player in &movers {
            let Some(seat) = seats.get_mut(player) else {
                continue;
            };
            let Some(process) = seat.process.as_mut().filter(|_| seat.out.is_none()) else {
                continue;
            };
            let bank_ms = u64::try_from(seat.bank.as_millis()).unwrap_or(u64::MAX);
            let message = protocol::step_message(step, env.observation(player), bank_ms);
            // Reading /proc around every move costs dozens of system calls per step; per-move CPU is a debug
            // figure, and each agent's total is read when it stops.
            let cpu_before = per_move_cpu
                .then(|| process.sample_cpu().map(|(_, ns)| ns))
                .flatten();
            receipts[player] = Some((process.send(&message), cpu_before));
        }
        let waits = seats
            .iter_mut()
            .zip(receipts)
            .filter_map(|(seat, receipt)| {
                let (receipt, cpu_before) = receipt?;
                let budget = step_ms + seat.bank;
                Some(async move {
                    let reply =
                        wait_reply(seat.process.as_mut(), receipt, budget, Some(step)).await;
                    if let Some(before) = cpu_before {
                        let after = seat
                            .process
                            .as_mut()
                            .and_then(AgentProcess::sample_cpu)
                            .map_or(before, |(_, ns)| ns);
                        let cpu_ms = after.saturating_sub(before) as f64 / 1e6;
                        tracing::debug!(player = seat.player, step, cpu_ms, "agent move");
                    }
                    (seat.player, budget, reply)
                })
            });
        let Ok(replies) = timeout_at(deadline, join_all(waits)).await else {
            return Stop::MatchTimeout;
        };

        let mut actions: Vec<Option<Value>> = vec![None; seats.len()];
        let mut statuses = vec![MoveStatus::Idle; seats.len()];
        let mut time_ms = vec![0.0; seats.len()];
        for &player in &movers {
            if let Some(seat) = seats.get(player) {
                actions[player] = Some(env.default_action(player));
                statuses[player] = seat.out.unwrap_or(MoveStatus::Crashed);
            }
        }
        let mut gone = Vec::new();
        for (player, budget, reply) in replies {
            let seat = &mut seats[player];
            let (status, elapsed) = match reply {
                Reply::Line { line, elapsed } => {
                    let parsed = protocol::parse_answer(&line).and_then(|raw| {
                        env.parse_action(player, &raw)
                            .map_err(|why| format!("invalid action: {why}"))
                    });
                    match parsed {
                        Ok(action) => {
                            actions[player] = Some(action);
                            (MoveStatus::Ok, elapsed)
                        }
                        Err(message) => {
                            seat.charge(AgentStatus::InvalidAction, Some(step), &message, reporter);
                            (MoveStatus::InvalidAction, elapsed)
                        }
                    }
                }
                Reply::TooLong { elapsed } => {
                    let message = format!("answer longer than {} bytes", limits.max_line_bytes);
                    seat.charge(AgentStatus::InvalidAction, Some(step), &message, reporter);
                    (MoveStatus::InvalidAction, elapsed)
                }
                Reply::TimedOut => {
                    let message = format!("timed out after {} ms", budget.as_millis());
                    seat.charge(AgentStatus::Timeout, Some(step), &message, reporter);
                    (MoveStatus::Timeout, budget)
                }
                Reply::Gone(reason) => {
                    seat.charge(
                        AgentStatus::Crashed,
                        Some(step),
                        &format!("agent {reason}"),
                        reporter,
                    );
                    gone.push(player);
                    (MoveStatus::Crashed, Duration::ZERO)
                }
            };
            seat.bank = seat.bank.saturating_sub(elapsed.saturating_sub(step_ms));
            seat.time_used += elapsed;
            statuses[player] = status;
            time_ms[player] = elapsed.as_secs_f64() * 1000.0;
        }
        for player in gone {
            seats[player].retire(MoveStatus::Crashed).await;
        }

        let result = env.step(&actions);
        *steps = step;
        if recorder.is_some() || reporter.enabled() {
            render.clear();
            if let Err(error) = env.write_render(&mut render) {
                tracing::error!(%error, step, "the render could not be encoded");
                render.clear();
                render.extend_from_slice(b"null");
            }
            if reporter.enabled() {
                let json = String::from_utf8_lossy(&render).into_owned();
                reporter.frame(step, result.rewards.clone(), json);
            }
        }
        if let Some(recorder) = recorder.as_deref_mut() {
            let actions: Vec<Value> = actions
                .into_iter()
                .map(|a| a.unwrap_or(Value::Null))
                .collect();
            let record = StepRecord {
                step,
                actions: &actions,
                rewards: &result.rewards,
                statuses: &statuses,
                time_ms: &time_ms,
                render: &render,
            };
            recorder.push(record, env);
        }

        // A walk costs about ten system calls per agent, as much as the rest of a fast step: walk after the
        // first and the last step and otherwise at most every `SCRATCH_WALK_EVERY`.
        if result.done || scratch_walked.is_none_or(|at| at.elapsed() >= SCRATCH_WALK_EVERY) {
            check_scratch(seats, limits.scratch_mb, step, reporter).await;
            scratch_walked = Some(Instant::now());
        }
        if disqualify(seats, limits.max_errors, step, reporter).await {
            return Stop::Disqualified;
        }
        if result.done {
            return Stop::Done;
        }
    }
}

/// Entries a scratch directory may hold; walking more each step would cost the match too much.
const SCRATCH_ENTRIES: usize = 10_000;
/// The least time between two walks of the scratch directories. Between walks an agent can write only what
/// it writes in that time, each file capped by the file-size rlimit.
const SCRATCH_WALK_EVERY: Duration = Duration::from_millis(20);

/// Disqualifies playing agents whose scratch directory grew past `scratch_mb` (or `SCRATCH_ENTRIES`):
/// the file-size rlimit caps each file, this caps their sum.
async fn check_scratch(seats: &mut [Seat], scratch_mb: u64, step: u32, reporter: &Reporter) {
    let limit = scratch_mb.saturating_mul(1024 * 1024);
    for seat in seats.iter_mut().filter(|s| s.playing()) {
        let Some(scratch) = &seat.scratch else {
            continue;
        };
        let (bytes, entries) = sandbox::scratch_usage(scratch, SCRATCH_ENTRIES);
        if bytes <= limit && entries <= SCRATCH_ENTRIES {
            continue;
        }
        let message = format!(
            "disqualified: the scratch directory holds {bytes} bytes in {entries} entries, over the limit of \
             {scratch_mb} MiB and {SCRATCH_ENTRIES} entries"
        );
        seat.charge(AgentStatus::Disqualified, Some(step), &message, reporter);
        seat.retire(MoveStatus::Disqualified).await;
    }
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

/// Disqualifies playing agents with more than `max_errors` errors; true when any was.
async fn disqualify(seats: &mut [Seat], max_errors: u32, step: u32, reporter: &Reporter) -> bool {
    let mut any = false;
    for seat in seats
        .iter_mut()
        .filter(|s| s.playing() && s.errors > max_errors)
    {
        let message = format!(
            "step {step}: disqualified after {} errors (the limit is {max_errors})",
            seat.errors
        );
        tracing::warn!(player = seat.player, agent_id = %seat.agent_id, step, errors = seat.errors,
            "agent disqualified");
        reporter.agent_error(
            seat.player,
            &seat.agent_id,
            step,
            AgentStatus::Disqualified,
            &message,
        );
        seat.status = AgentStatus::Disqualified;
        seat.retire(MoveStatus::Disqualified).await;
        any = true;
    }
    any
}

/// The winner's seat: agents that are out lose; the highest score among the rest wins; a tie is a draw.
fn pick_winner(seats: &[Seat], scores: &[f64]) -> Option<usize> {
    let playing: Vec<bool> = seats.iter().map(Seat::playing).collect();
    best_of(&playing, scores)
}

/// The index with the unique highest score among `eligible` ones.
fn best_of(eligible: &[bool], scores: &[f64]) -> Option<usize> {
    let score = |i: usize| scores.get(i).copied().unwrap_or(0.0);
    let candidates: Vec<usize> = (0..eligible.len()).filter(|&i| eligible[i]).collect();
    let best = candidates
        .iter()
        .copied()
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    let tied = candidates
        .iter()
        .filter(|&&i| score(i) == score(best))
        .count();
    (tied == 1).then_some(best)
}

/// Sends `end` to every agent still running, then stops them all (concurrently).
async fn stop_agents(
    seats: &mut [Seat],
    status: MatchStatus,
    winner: Option<usize>,
    scores: &[f64],
    grace: Duration,
) {
    let result = json!({ "status": status, "scores": scores, "winner": winner });
    let end = protocol::end_message(result);
    let stops = seats.iter_mut().filter_map(|seat| {
        let mut process = seat.process.take()?;
        let end = &end;
        Some(async move {
            seat.stderr = process.stop(Some(end), grace).await;
            seat.cpu_seconds = process.cpu_seconds();
        })
    });
    join_all(stops).await;
}

#[allow(clippy::too_many_arguments)]
fn build_outcome(
    spec: &MatchSpec,
    seats: &[Seat],
    scores: &[f64],
    status: MatchStatus,
    winner: Option<usize>,
    steps: u32,
    started: Instant,
    error_message: String,
) -> MatchOutcome {
    MatchOutcome {
        match_id: spec.match_id.clone(),
        status,
        winner: winner
            .and_then(|w| seats.get(w))
            .map(|s| s.agent_id.clone()),
        agents: seats
            .iter()
            .map(|seat| seat.outcome(scores.get(seat.player).copied().unwrap_or(0.0)))
            .collect(),
        total_steps: steps,
        execution_time_sec: started.elapsed().as_secs_f64(),
        seed: spec.seed,
        error_message,
        replay_sha256: None,
    }
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

    #[test]
    fn winner_rules() {
        let cases: &[(&[bool], &[f64], Option<usize>)] = &[
            (&[true, true], &[3.0, 1.0], Some(0)),
            (&[true, true], &[1.0, 3.0], Some(1)),
            (&[true, true], &[2.0, 2.0], None),
            (&[false, true], &[5.0, 1.0], Some(1)),
            (&[true, false], &[0.0, 4.0], Some(0)),
            (&[false, false], &[1.0, 0.0], None),
            (&[true, true, false], &[1.0, 1.0, 9.0], None),
            (&[true, true, true], &[1.0, 2.0, 2.0], None),
        ];
        for (eligible, scores, expected) in cases {
            assert_eq!(
                best_of(eligible, scores),
                *expected,
                "{eligible:?} {scores:?}"
            );
        }
    }
}
