//! One step of a [`Match`]: send every observation, let the players on move think one after the other (the
//! others stopped, within the match deadline), judge the answers, step the environment, then render, report and
//! record the step and police the seats (scratch directories, error limit).
//!
//! The step loop is the hot path of a match: a step allocates and calls into the kernel only for what the
//! agents' pipes, the render and the replay need.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use envs::StepResult;
use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;
use serde_json::Value;

use super::scratch::SCRATCH_WALK_EVERY;
use super::seat::Seat;
use super::think::{self, Answered, Turn};
use super::{Match, Stop, judge};
use crate::replay::StepRecord;

/// The moves of one step, in seat order.
struct Moves {
    /// The action each player's move applies; `None` for players not on move.
    actions: Vec<Option<Value>>,
    statuses: Vec<MoveStatus>,
    time_ms: Vec<f64>,
}

impl Match<'_> {
    /// Plays one step; `Break` says why the match stops.
    pub(super) async fn step(&mut self) -> ControlFlow<Stop> {
        if !self.seats.iter().any(Seat::playing) {
            return ControlFlow::Break(Stop::NobodyPlays);
        }
        let step = self.steps + 1;
        let movers = self.env.to_move();
        let Some(replies) = self.ask(step, &movers).await else {
            return ControlFlow::Break(Stop::MatchTimeout);
        };
        let moves = self.judge(step, &movers, replies).await;
        let result = self.env.step(&moves.actions);
        self.steps = step;
        self.publish(step, &result, moves);
        self.police(step, result.done).await
    }

    /// Sends every observation before any answer is awaited, then lets the players on move think one after
    /// the other (see [`super::think`]); `None` when the match deadline passed first.
    async fn ask(&mut self, step: u32, movers: &[usize]) -> Option<Vec<Answered>> {
        let per_move_cpu = tracing::enabled!(tracing::Level::DEBUG);
        let step_ms = Duration::from_millis(self.spec.limits.step_ms);
        let env = self.env.as_ref();
        let seats = &mut self.seats;
        let turns: Vec<Turn> = think::order(movers, step)
            .filter_map(|player| seats.get_mut(player)?.ask(step, env, step_ms, per_move_cpu))
            .collect();
        let answered = self.think(turns).await?;
        for answer in &answered {
            self.seats[answer.player].log_move_cpu(step, answer.cpu_before);
        }
        Some(answered)
    }

    /// Judges the replies, charges the faults and the time, and takes out agents that are gone. Players on
    /// move keep the default action unless they answered a legal one.
    async fn judge(&mut self, step: u32, movers: &[usize], replies: Vec<Answered>) -> Moves {
        let limits = &self.spec.limits;
        let step_ms = Duration::from_millis(limits.step_ms);
        let players = self.seats.len();
        let mut moves = Moves {
            actions: vec![None; players],
            statuses: vec![MoveStatus::Idle; players],
            time_ms: vec![0.0; players],
        };
        for &player in movers {
            if let Some(seat) = self.seats.get(player) {
                moves.actions[player] = Some(self.env.default_action(player));
                moves.statuses[player] = seat.absent_move();
            }
        }
        let mut gone = Vec::new();
        for Answered {
            player,
            budget,
            reply,
            ..
        } in replies
        {
            let env = self.env.as_ref();
            let judged = judge::answer(reply, step, budget, limits.max_line_bytes, |raw| {
                env.parse_action(player, raw)
            });
            let seat = &mut self.seats[player];
            if let Some(fault) = judged.fault {
                seat.charge(fault.status, Some(step), &fault.message, self.reporter);
            }
            if judged.status == MoveStatus::Crashed {
                gone.push(player);
            }
            if judged.action.is_some() {
                moves.actions[player] = judged.action;
            }
            seat.spend(judged.elapsed, step_ms);
            moves.statuses[player] = judged.status;
            moves.time_ms[player] = judged.elapsed.as_secs_f64() * 1000.0;
        }
        for player in gone {
            self.seats[player].retire(MoveStatus::Crashed).await;
        }
        moves
    }

    /// Renders the step once for the report stream's frame and the replay, when either wants it, and
    /// records it.
    fn publish(&mut self, step: u32, result: &StepResult, moves: Moves) {
        let reporting = self.reporter.enabled();
        if self.recorder.is_some() || reporting {
            self.render.clear();
            if let Err(error) = self.env.write_render(&mut self.render) {
                tracing::error!(%error, step, "the render could not be encoded");
                self.render.clear();
                self.render.extend_from_slice(b"null");
            }
            if reporting {
                let json = String::from_utf8_lossy(&self.render).into_owned();
                self.reporter.frame(step, result.rewards.clone(), json);
            }
        }
        if let Some(recorder) = self.recorder.as_mut() {
            let actions: Vec<Value> = moves
                .actions
                .into_iter()
                .map(|a| a.unwrap_or(Value::Null))
                .collect();
            let record = StepRecord {
                step,
                actions: &actions,
                rewards: &result.rewards,
                statuses: &moves.statuses,
                time_ms: &moves.time_ms,
                render: &self.render,
            };
            recorder.push(record, self.env.as_ref());
        }
    }

    /// Disqualifies agents over their scratch or error limits; `Break` when the match stops after this step.
    /// Scratch directories are walked after the first and the last step and otherwise at most every
    /// `SCRATCH_WALK_EVERY`.
    async fn police(&mut self, step: u32, done: bool) -> ControlFlow<Stop> {
        let limits = &self.spec.limits;
        if done
            || self
                .scratch_walked
                .is_none_or(|at| at.elapsed() >= SCRATCH_WALK_EVERY)
        {
            for seat in self.seats.iter_mut().filter(|s| s.playing()) {
                let Some(message) = seat.excess(limits.scratch_mb) else {
                    continue;
                };
                seat.charge(
                    AgentStatus::Disqualified,
                    Some(step),
                    &message,
                    self.reporter,
                );
                seat.retire(MoveStatus::Disqualified).await;
            }
            self.scratch_walked = Some(Instant::now());
        }
        let mut disqualified = false;
        for seat in &mut self.seats {
            disqualified |= seat
                .disqualify_over(limits.max_errors, step, self.reporter)
                .await;
        }
        if disqualified {
            ControlFlow::Break(Stop::Disqualified)
        } else if done {
            ControlFlow::Break(Stop::Done)
        } else {
            ControlFlow::Continue(())
        }
    }
}
