//! The report stream: match events sent to the executor's `MatchReporter` over one client-streaming call.
//!
//! The match never waits for the network. Events go into an unbounded queue that a background task forwards;
//! frames (the live view) are dropped while too many are queued, all other events are kept. When the call
//! fails the task reconnects with exponential backoff and, on the new call, first resends every event except
//! frames so that the executor sees a complete stream (`started`, `agent_error`s, replay chunks, `finished`).
//! It gives up after `retry` without a working call; the result file is the fallback then.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proto::outcome::AgentStatus;
use proto::pb::match_event::Event;
use proto::pb::match_reporter_client::MatchReporterClient;
use proto::pb::{self, MatchEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

use crate::{Error, Result};

/// Largest replay piece in one event.
pub(crate) const REPLAY_CHUNK_BYTES: usize = 1024 * 1024;
/// Frames that may wait in the queue; newer frames are dropped beyond this.
const MAX_QUEUED_FRAMES: usize = 256;
/// Longest wait for the stream to take one event, or for the server's ack after the last one.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls tried at most, the first included.
const MAX_CALLS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The sending side of the report stream; a disabled reporter ignores everything.
#[derive(Debug)]
pub struct Reporter {
    inner: Option<Inner>,
}

#[derive(Debug)]
struct Inner {
    match_id: String,
    tx: mpsc::UnboundedSender<MatchEvent>,
    queued_frames: Arc<AtomicUsize>,
    task: JoinHandle<bool>,
}

impl Reporter {
    /// A reporter that sends nothing.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Starts the background task that streams to `url`, sending `token` as `authorization: Bearer <token>`.
    pub(crate) fn start(
        url: &str,
        token: Option<&str>,
        match_id: &str,
        retry: Duration,
    ) -> Result<Self> {
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| Error::ReportUrl {
                url: url.clone(),
                message: e.to_string(),
            })?
            .connect_timeout(IO_TIMEOUT);
        let token = match token {
            Some(token) => Some(MetadataValue::try_from(format!("Bearer {token}")).map_err(
                |_| {
                    Error::Token {
                    path: "(report token)".into(),
                    message:
                        "the token has characters not allowed in gRPC metadata; use printable ASCII"
                            .into(),
                }
                },
            )?),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let queued_frames = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(
            Forwarder {
                endpoint,
                token,
                rx,
                queued_frames: Arc::clone(&queued_frames),
                retry,
                url,
            }
            .run(),
        );
        Ok(Self {
            inner: Some(Inner {
                match_id: match_id.to_string(),
                tx,
                queued_frames,
                task,
            }),
        })
    }

    fn send(&self, event: Event) {
        if let Some(inner) = &self.inner {
            let _ = inner.tx.send(MatchEvent {
                match_id: inner.match_id.clone(),
                event: Some(event),
            });
        }
    }

    /// Whether events go anywhere (callers skip building frames otherwise).
    pub(crate) fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The match started.
    pub(crate) fn started(&self, environment: &str, agent_ids: Vec<String>, seed: u64) {
        self.send(Event::Started(pb::MatchStarted {
            environment: environment.to_string(),
            agent_ids,
            seed,
        }));
    }

    /// One step was played; dropped when the stream is behind.
    pub(crate) fn frame(&self, step: u32, rewards: Vec<f64>, render_json: String) {
        let Some(inner) = &self.inner else { return };
        if inner.queued_frames.load(Ordering::Relaxed) >= MAX_QUEUED_FRAMES {
            tracing::debug!(step, "report stream is behind; frame dropped");
            return;
        }
        inner.queued_frames.fetch_add(1, Ordering::Relaxed);
        self.send(Event::Frame(pb::StepFrame {
            step,
            rewards,
            render_json,
        }));
    }

    /// An error was charged to an agent.
    pub(crate) fn agent_error(
        &self,
        player: usize,
        agent_id: &str,
        step: u32,
        kind: AgentStatus,
        message: &str,
    ) {
        self.send(Event::AgentError(pb::AgentErrorEvent {
            player: u32::try_from(player).unwrap_or(u32::MAX),
            agent_id: agent_id.to_string(),
            step,
            kind: pb::AgentStatus::from(kind).into(),
            message: message.to_string(),
        }));
    }

    /// The replay document, in pieces of at most [`REPLAY_CHUNK_BYTES`].
    pub(crate) fn replay(&self, bytes: &[u8]) {
        for chunk in bytes.chunks(REPLAY_CHUNK_BYTES) {
            self.send(Event::ReplayChunk(pb::ReplayChunk {
                data: chunk.to_vec(),
            }));
        }
    }

    /// Sends `finished`, closes the stream and waits (bounded) until the server acknowledged it or the
    /// reporter gave up. Returns whether the server acknowledged the whole stream.
    pub(crate) async fn finish(self, outcome_json: String) -> bool {
        self.send(Event::Finished(pb::MatchFinished { outcome_json }));
        let Some(inner) = self.inner else {
            return false;
        };
        drop(inner.tx);
        inner.task.await.unwrap_or(false)
    }
}

/// The background task: owns the queue and the calls.
struct Forwarder {
    endpoint: Endpoint,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    rx: mpsc::UnboundedReceiver<MatchEvent>,
    queued_frames: Arc<AtomicUsize>,
    retry: Duration,
    url: String,
}

/// How one call ended.
enum CallEnd {
    /// The server acknowledged the complete stream.
    Acked,
    /// The server refused the stream for good (bad token, unknown match).
    Rejected(tonic::Status),
    /// The call failed; worth another try.
    Failed(String),
}

impl Forwarder {
    async fn run(mut self) -> bool {
        // Everything but frames that was taken from the queue, to resend on a new call.
        let mut history: Vec<MatchEvent> = Vec::new();
        let mut backoff = FIRST_BACKOFF;
        let mut outage_since: Option<tokio::time::Instant> = None;
        for attempt in 1..=MAX_CALLS {
            let (end, progressed) = self.call(&mut history).await;
            if progressed {
                outage_since = None;
                backoff = FIRST_BACKOFF;
            }
            match end {
                CallEnd::Acked => {
                    tracing::debug!(url = %self.url, attempt, "report stream acknowledged");
                    return true;
                }
                CallEnd::Rejected(status) => {
                    tracing::error!(url = %self.url, code = ?status.code(), message = status.message(),
                        "executor rejected the report stream; the result file is the only record");
                    return false;
                }
                CallEnd::Failed(error) => {
                    let since = *outage_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= self.retry || attempt == MAX_CALLS {
                        tracing::error!(url = %self.url, attempt, %error,
                            "giving up on the report stream; the result file is the only record");
                        return false;
                    }
                    tracing::warn!(url = %self.url, attempt, %error, backoff_ms = backoff.as_millis() as u64,
                        "report stream failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        false
    }

    /// One call: connect, resend `history`, forward the queue until it closes, wait for the ack. Also says
    /// whether new events got through, which ends an outage.
    async fn call(&mut self, history: &mut Vec<MatchEvent>) -> (CallEnd, bool) {
        let channel = match self.endpoint.connect().await {
            Ok(channel) => channel,
            Err(e) => return (CallEnd::Failed(format!("connecting: {e}")), false),
        };
        let mut client = MatchReporterClient::new(channel);
        let (tx, rx) = mpsc::channel::<MatchEvent>(32);
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert(proto::TOKEN_METADATA_KEY, token.clone());
        }
        let call = tokio::spawn(async move { client.report(request).await });

        let mut healthy = true;
        let mut progressed = false;
        for event in history.iter() {
            if !forward(&tx, event.clone()).await {
                healthy = false;
                break;
            }
        }
        while healthy {
            let Some(event) = self.rx.recv().await else {
                break;
            };
            if matches!(event.event, Some(Event::Frame(_))) {
                self.queued_frames.fetch_sub(1, Ordering::Relaxed);
            } else {
                history.push(event.clone());
            }
            healthy = forward(&tx, event).await;
            progressed |= healthy;
        }
        drop(tx);

        let finished = history
            .iter()
            .any(|e| matches!(e.event, Some(Event::Finished(_))));
        let end = match tokio::time::timeout(IO_TIMEOUT, call).await {
            Ok(Ok(Ok(_ack))) if healthy && finished => CallEnd::Acked,
            Ok(Ok(Ok(_ack))) => {
                CallEnd::Failed("the server closed the stream before finished".into())
            }
            Ok(Ok(Err(status))) => match status.code() {
                tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::InvalidArgument
                | tonic::Code::NotFound
                | tonic::Code::FailedPrecondition => CallEnd::Rejected(status),
                _ => CallEnd::Failed(format!("{:?}: {}", status.code(), status.message())),
            },
            Ok(Err(join_error)) => {
                CallEnd::Failed(format!("report call task failed: {join_error}"))
            }
            Err(_) => CallEnd::Failed(format!("no ack within {} s", IO_TIMEOUT.as_secs())),
        };
        (end, progressed)
    }
}

/// Hands one event to the call; `false` when the call is gone or stuck.
async fn forward(tx: &mpsc::Sender<MatchEvent>, event: MatchEvent) -> bool {
    matches!(
        tokio::time::timeout(IO_TIMEOUT, tx.send(event)).await,
        Ok(Ok(()))
    )
}
