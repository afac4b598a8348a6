//! The `executor.MatchReporter` service: receives each orchestrator's event stream and keeps what the match's
//! waiter needs (the outcome and the replay). Only the holder of a match's token may report for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use proto::outcome::MatchOutcome;
use proto::pb::match_event::Event;
use proto::pb::match_update::Update;
use proto::pb::{self, MatchEvent, ReportAck};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::live::LiveMatch;
use crate::metrics::Metrics;

/// Largest replay accepted over a report stream.
const MAX_REPLAY_BYTES: usize = 256 * 1024 * 1024;

/// What a report stream delivered for one match.
#[derive(Debug, Default)]
pub struct Collected {
    pub started: bool,
    pub frames: u32,
    pub agent_errors: Vec<pb::AgentErrorEvent>,
    pub replay: Vec<u8>,
    pub outcome: Option<MatchOutcome>,
}

#[derive(Debug)]
struct Slot {
    token: String,
    collected: Mutex<Collected>,
    /// Where live events go for watchers.
    live: Arc<LiveMatch>,
}

/// The matches currently expecting reports, by match id.
#[derive(Debug, Default)]
pub struct ReportHub {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// A match's place in the hub; unregisters on drop.
#[derive(Debug)]
pub struct Registration {
    hub: Arc<ReportHub>,
    match_id: String,
    slot: Arc<Slot>,
}

impl ReportHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Expects reports for a live match, authenticated with a fresh random token.
    pub fn register(self: &Arc<Self>, live: &Arc<LiveMatch>) -> Registration {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let slot = Arc::new(Slot {
            token,
            collected: Mutex::new(Collected::default()),
            live: Arc::clone(live),
        });
        self.lock().insert(live.match_id.clone(), Arc::clone(&slot));
        Registration {
            hub: Arc::clone(self),
            match_id: live.match_id.clone(),
            slot,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self, match_id: &str) -> Option<Arc<Slot>> {
        self.lock().get(match_id).cloned()
    }
}

impl Registration {
    pub fn token(&self) -> &str {
        &self.slot.token
    }

    /// Takes what was reported so far.
    pub fn take(&self) -> Collected {
        std::mem::take(
            &mut *self
                .slot
                .collected
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut slots = self.hub.lock();
        if slots
            .get(&self.match_id)
            .is_some_and(|s| Arc::ptr_eq(s, &self.slot))
        {
            slots.remove(&self.match_id);
        }
    }
}

/// Compares two tokens in time independent of where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The gRPC service over a [`ReportHub`].
#[derive(Debug, Clone)]
pub struct ReporterService {
    hub: Arc<ReportHub>,
    metrics: Arc<Metrics>,
}

impl ReporterService {
    pub fn new(hub: Arc<ReportHub>, metrics: Arc<Metrics>) -> Self {
        Self { hub, metrics }
    }
}

#[tonic::async_trait]
impl pb::match_reporter_server::MatchReporter for ReporterService {
    async fn report(
        &self,
        request: Request<Streaming<MatchEvent>>,
    ) -> Result<Response<ReportAck>, Status> {
        let token = request
            .metadata()
            .get(proto::TOKEN_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let mut stream = request.into_inner();
        let Some(first) = stream.next().await.transpose()? else {
            return Ok(Response::new(ReportAck {}));
        };
        let match_id = first.match_id.clone();
        let slot = match (self.hub.slot(&match_id), token) {
            (Some(slot), Some(token)) if same_token(&slot.token, &token) => slot,
            _ => {
                self.metrics.report_refused();
                tracing::warn!(match_id = %match_id, "report refused: no running match with this token");
                return Err(Status::unauthenticated(format!(
                    "report for match {match_id:?} refused: the token does not match a running match"
                )));
            }
        };
        let mut event = Some(first);
        while let Some(ev) = event.take() {
            if ev.match_id != match_id {
                return Err(Status::invalid_argument(format!(
                    "report stream for match {match_id:?} carried an event for {:?}; use one stream per match",
                    ev.match_id
                )));
            }
            apply(&slot, &match_id, ev.event)?;
            event = stream.next().await.transpose()?;
        }
        Ok(Response::new(ReportAck {}))
    }
}

fn apply(slot: &Slot, match_id: &str, event: Option<Event>) -> Result<(), Status> {
    let mut c = slot
        .collected
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match event {
        Some(Event::Started(s)) => {
            c.started = true;
            tracing::info!(match_id, seed = s.seed, environment = %s.environment, "orchestrator reports the match started");
            slot.live.publish(Update::Started(s));
        }
        Some(Event::Frame(frame)) => {
            c.frames += 1;
            slot.live.publish(Update::Frame(frame));
        }
        Some(Event::AgentError(e)) => {
            tracing::info!(match_id, agent_id = %e.agent_id, step = e.step, message = %e.message, "agent error");
            c.agent_errors.push(e.clone());
            slot.live.publish(Update::AgentError(e));
        }
        Some(Event::ReplayChunk(chunk)) => {
            if c.replay.len() + chunk.data.len() > MAX_REPLAY_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "match {match_id}: replay larger than {MAX_REPLAY_BYTES} bytes"
                )));
            }
            c.replay.extend_from_slice(&chunk.data);
        }
        Some(Event::Finished(f)) => {
            let outcome: MatchOutcome = serde_json::from_str(&f.outcome_json).map_err(|e| {
                Status::invalid_argument(format!(
                    "match {match_id}: finished event has a bad outcome: {e}"
                ))
            })?;
            c.outcome = Some(outcome);
        }
        None => {}
    }
    Ok(())
}
