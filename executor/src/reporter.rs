//! The `executor.MatchReporter` service: receives each orchestrator's event stream and keeps what the match's
//! waiter needs (the outcome; a local match's replay is its orchestrator's file). Only the holder of a match's
//! token may report for it.
//!
//! With a `ReportSink` (the backend's, when its matches may report to any replica) a report may arrive at any
//! replica: its token is the HMAC-SHA256 of the match id under a key all replicas share ([`ReportKey`]), so it
//! is verified without local state, and the outcome and replay (spooled to a file as it arrives, within a cap:
//! `replay_spool`) are recorded in the shared stores before the stream is acknowledged.
//!
//! This is an edge: report events arrive as wire messages and go to watchers as `LiveEvent`s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use proto::outcome::MatchOutcome;
use proto::pb::match_event::Event;
use proto::pb::{self, MatchEvent, ReportAck};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::error::quoted;
use crate::live::{LiveEvent, LiveMatch};
use crate::metrics::Metrics;
use crate::recorder::Replay;
use crate::replay_spool::{Spool, SpoolSettings};

/// What a report stream delivered for one match that its waiter needs.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) outcome: Option<MatchOutcome>,
}

#[derive(Debug)]
struct Slot {
    token: String,
    collected: Mutex<Collected>,
    /// Where live events go for watchers; `None` for a match not waited for on this replica.
    live: Option<Arc<LiveMatch>>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        self.collected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key of report tokens that every replica can verify: token = hex(HMAC-SHA256(key, match_id)).
#[derive(Clone)]
pub struct ReportKey(Vec<u8>);

impl std::fmt::Debug for ReportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportKey(..)")
    }
}

impl ReportKey {
    /// A key from its bytes; surrounding whitespace (a trailing newline in a mounted Secret) is ignored.
    pub fn new(bytes: &[u8]) -> crate::Result<Self> {
        let text = bytes.trim_ascii();
        if text.len() < 16 {
            return Err(crate::Error::InvalidConfig(
                "report token key is shorter than 16 bytes; generate one with `openssl rand -hex 32`".into(),
            ));
        }
        Ok(Self(text.to_vec()))
    }

    /// Reads the key file given with `--report-token-key-file`.
    pub(crate) async fn load(path: &std::path::Path) -> crate::Result<Self> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(crate::Error::io(format!(
                "reading the report token key {}",
                path.display()
            )))?;
        Self::new(&bytes)
    }

    /// The report token of a match.
    pub fn token(&self, match_id: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(match_id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is the report token of `match_id`.
    pub(crate) fn verify(&self, match_id: &str, token: &str) -> bool {
        same_token(&self.token(match_id), token)
    }
}

/// Where reports for matches not registered on this replica go, and where every finished report is recorded.
#[tonic::async_trait]
pub(crate) trait ReportSink: Send + Sync + std::fmt::Debug {
    /// Whether `token` authorises reports for `match_id`.
    fn verify(&self, match_id: &str, token: &str) -> bool;
    /// Records a finished match's outcome and replay in the shared stores.
    async fn record(
        &self,
        match_id: &str,
        outcome: MatchOutcome,
        replay: Option<Replay>,
    ) -> crate::Result<()>;
}

/// The matches currently expecting reports, by match id.
#[derive(Debug, Default)]
pub(crate) struct ReportHub {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// A match's place in the hub; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    hub: Arc<ReportHub>,
    match_id: String,
    slot: Arc<Slot>,
}

impl ReportHub {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Expects reports for a live match, authenticated with a fresh random token.
    pub(crate) fn register(self: &Arc<Self>, live: &Arc<LiveMatch>) -> Registration {
        self.register_with_token(live, hex::encode(rand::random::<[u8; 32]>()))
    }

    /// Expects reports for a live match, authenticated with the given token.
    pub(crate) fn register_with_token(
        self: &Arc<Self>,
        live: &Arc<LiveMatch>,
        token: String,
    ) -> Registration {
        let slot = Arc::new(Slot {
            token,
            collected: Mutex::new(Collected::default()),
            live: Some(Arc::clone(live)),
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
    pub(crate) fn token(&self) -> &str {
        &self.slot.token
    }

    /// Takes what was reported so far.
    pub(crate) fn take(&self) -> Collected {
        std::mem::take(&mut *self.slot.lock())
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
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The gRPC service over a [`ReportHub`].
#[derive(Debug, Clone)]
pub(crate) struct ReporterService {
    hub: Arc<ReportHub>,
    metrics: Arc<Metrics>,
    /// Where reports are recorded, with where their replays are spooled.
    sink: Option<(Arc<dyn ReportSink>, SpoolSettings)>,
}

impl ReporterService {
    pub(crate) fn new(hub: Arc<ReportHub>, metrics: Arc<Metrics>) -> Self {
        Self {
            hub,
            metrics,
            sink: None,
        }
    }

    /// Also accepts reports verified by `sink` for matches not registered here, and records every finished
    /// report there, with the replay the stream carried spooled as `spool` says.
    pub(crate) fn with_sink(mut self, sink: Arc<dyn ReportSink>, spool: SpoolSettings) -> Self {
        self.sink = Some((sink, spool));
        self
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
        let sink = self.sink.as_ref();
        let slot = match (self.hub.slot(&match_id), token) {
            (Some(slot), Some(token)) if same_token(&slot.token, &token) => slot,
            (_, Some(token)) if sink.is_some_and(|(s, _)| s.verify(&match_id, &token)) => {
                Arc::new(Slot {
                    token,
                    collected: Mutex::new(Collected::default()),
                    live: None,
                })
            }
            _ => {
                self.metrics.report_refused();
                tracing::warn!(match_id = %match_id, "report refused: no running match with this token");
                return Err(Status::unauthenticated(format!(
                    "report for match {} refused: the token does not match a running match",
                    quoted(&match_id)
                )));
            }
        };
        // Only a sink records the stream's replay; a local match's replay is its orchestrator's own file.
        let mut spool = sink.map(|(_, settings)| Spool::new(settings.clone()));
        let mut event = Some(first);
        while let Some(ev) = event.take() {
            if ev.match_id != match_id {
                return Err(Status::invalid_argument(format!(
                    "report stream for match {} carried an event for {}; use one stream per match",
                    quoted(&match_id),
                    quoted(&ev.match_id)
                )));
            }
            match ev.event {
                Some(Event::ReplayChunk(chunk)) => {
                    if let Some(spool) = spool.as_mut() {
                        spool.write(&chunk.data).await;
                    }
                }
                other => apply(&slot, &match_id, other)?,
            }
            event = stream.next().await.transpose()?;
        }
        if let (Some((sink, _)), Some(spool)) = (sink, spool) {
            let outcome = slot.lock().outcome.clone();
            if let Some(mut outcome) = outcome {
                // A stopped orchestrator says it was cancelled; the match followed here knows why.
                if let Some(live) = &slot.live {
                    live.settle(&mut outcome);
                }
                let replay = spool.finish(&outcome).await;
                // Recorded before the acknowledgement: once the orchestrator exits, the result is stored.
                sink.record(&match_id, outcome, replay).await.map_err(|e| {
                    tracing::error!(match_id = %match_id, error = %e, "recording a reported result failed");
                    Status::unavailable(format!("match {match_id}: recording the result failed: {e}"))
                })?;
            }
        }
        Ok(Response::new(ReportAck {}))
    }
}

fn apply(slot: &Slot, match_id: &str, event: Option<Event>) -> Result<(), Status> {
    let live = |event: LiveEvent| {
        if let Some(live) = &slot.live {
            live.publish(event);
        }
    };
    match event {
        Some(Event::Started(s)) => {
            tracing::info!(match_id, seed = s.seed, environment = %s.environment, "orchestrator reports the match started");
            live(LiveEvent::Started(s.into()));
        }
        Some(Event::Frame(frame)) => live(LiveEvent::Frame(frame.into())),
        Some(Event::AgentError(e)) => {
            tracing::info!(match_id, agent_id = %e.agent_id, step = e.step, message = %e.message, "agent error");
            live(LiveEvent::AgentError(e.into()));
        }
        // Handled by the stream's spool.
        Some(Event::ReplayChunk(_)) => {}
        Some(Event::Finished(f)) => {
            let outcome: MatchOutcome = serde_json::from_str(&f.outcome_json).map_err(|e| {
                Status::invalid_argument(format!(
                    "match {match_id}: finished event has a bad outcome: {e}"
                ))
            })?;
            slot.lock().outcome = Some(outcome);
        }
        None => {}
    }
    Ok(())
}
