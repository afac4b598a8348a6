//! The report stream to the executor's `MatchReporter`: a small in-test server on 127.0.0.1:0 checks the
//! token, the order of the events and reassembles the replay from its chunks. A refused token or an
//! unreachable server does not stop the match from finishing and writing its result file.

mod support;

use std::sync::{Arc, Mutex};

use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use proto::pb::match_event::Event;
use proto::pb::match_reporter_server::{MatchReporter, MatchReporterServer};
use proto::pb::{MatchEvent, ReportAck};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{Arena, BIN, example, test_agent};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status, Streaming};

const TOKEN: &str = "secret-token-1";

/// What the server saw: one entry per call, with its events.
#[derive(Clone, Default)]
struct Reporter {
    calls: Arc<Mutex<Vec<Vec<MatchEvent>>>>,
    refused: Arc<Mutex<u32>>,
}

#[tonic::async_trait]
impl MatchReporter for Reporter {
    async fn report(
        &self,
        request: Request<Streaming<MatchEvent>>,
    ) -> Result<Response<ReportAck>, Status> {
        let authorization = request
            .metadata()
            .get(proto::TOKEN_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if authorization != format!("Bearer {TOKEN}") {
            *self.refused.lock().unwrap() += 1;
            return Err(Status::unauthenticated("bad report token"));
        }
        let mut stream = request.into_inner();
        let mut events = Vec::new();
        while let Some(event) = stream.message().await? {
            events.push(event);
        }
        self.calls.lock().unwrap().push(events);
        Ok(Response::new(ReportAck {}))
    }
}

/// Starts the reporter server on a free local port; returns its URL.
async fn serve(reporter: Reporter) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MatchReporterServer::new(reporter))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

async fn run_reporting(arena: &Arena, url: &str, token: &str, extra: &[&str]) -> support::Run {
    let spec = arena.write_spec();
    let token_file = arena.dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let output = tokio::process::Command::new(BIN)
        .arg("run")
        .arg("--spec")
        .arg(&spec)
        .arg("--result-file")
        .arg(arena.result_path())
        .arg("--replay-out")
        .arg(arena.replay_path())
        .arg("--report-to")
        .arg(url)
        .arg("--token-file")
        .arg(&token_file)
        .args(extra)
        .output()
        .await
        .expect("running the orchestrator");
    arena.collect(output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_and_the_replay_reassembles() {
    let reporter = Reporter::default();
    let url = serve(reporter.clone()).await;
    // An agent that makes one error and is disqualified for it.
    let arena = Arena::pong()
        .agent("pong", &example("pong-python"))
        .agent("raises", &test_agent("raises"))
        .limit("max_errors", json!(0));
    let run = run_reporting(&arena, &url, TOKEN, &[]).await;
    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.agent("raises").status, AgentStatus::Disqualified);

    let calls = reporter.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one stream per match");
    let events = &calls[0];
    assert!(events.iter().all(|e| e.match_id == "test-match"));
    let kinds: Vec<&'static str> = events
        .iter()
        .map(
            |e| match e.event.as_ref().expect("every event has a body") {
                Event::Started(_) => "started",
                Event::Frame(_) => "frame",
                Event::AgentError(_) => "agent_error",
                Event::ReplayChunk(_) => "replay_chunk",
                Event::Finished(_) => "finished",
            },
        )
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"finished"));
    let first_chunk = kinds
        .iter()
        .position(|k| *k == "replay_chunk")
        .expect("replay chunks were sent");
    assert!(
        kinds[first_chunk..kinds.len() - 1]
            .iter()
            .all(|k| *k == "replay_chunk"),
        "{kinds:?}"
    );
    assert!(
        kinds[1..first_chunk]
            .iter()
            .all(|k| *k == "frame" || *k == "agent_error"),
        "{kinds:?}"
    );

    let Some(Event::Started(started)) = &events[0].event else {
        unreachable!()
    };
    assert_eq!(started.environment, "pong");
    assert_eq!(started.agent_ids, ["pong", "raises"]);
    assert_eq!(started.seed, 42);

    let frames: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Frame(frame)) => Some(frame.step),
            _ => None,
        })
        .collect();
    assert!(!frames.is_empty());
    assert!(
        frames.windows(2).all(|w| w[0] < w[1]),
        "frames in step order"
    );
    assert!(
        frames
            .iter()
            .all(|&s| s >= 1 && s <= run.outcome.total_steps)
    );

    let errors: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::AgentError(error)) => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors.len(),
        2,
        "the invalid action, then the disqualification: {errors:?}"
    );
    assert_eq!(
        (
            errors[0].player,
            errors[0].agent_id.as_str(),
            errors[0].step
        ),
        (1, "raises", 1)
    );
    assert_eq!(
        errors[0].kind,
        i32::from(proto::pb::AgentStatus::InvalidAction)
    );
    assert!(
        errors[0]
            .message
            .starts_with("step 1: agent reported an error"),
        "{:?}",
        errors[0]
    );
    assert_eq!(
        errors[1].kind,
        i32::from(proto::pb::AgentStatus::Disqualified)
    );

    let chunks: Vec<&[u8]> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::ReplayChunk(chunk)) => Some(chunk.data.as_slice()),
            _ => None,
        })
        .collect();
    assert!(chunks.iter().all(|c| c.len() <= 1024 * 1024));
    let replay: Vec<u8> = chunks.concat();
    assert_eq!(
        Some(&replay),
        run.replay_bytes.as_ref(),
        "the chunks form the replay file"
    );
    assert_eq!(
        run.outcome.replay_sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&replay)).as_str())
    );

    let Some(Event::Finished(finished)) = &events.last().unwrap().event else {
        unreachable!()
    };
    assert_eq!(
        finished.outcome_json.as_bytes(),
        run.result_bytes,
        "finished carries the result file"
    );
    let outcome: MatchOutcome = serde_json::from_str(&finished.outcome_json).unwrap();
    assert_eq!(outcome, run.outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_matches_send_more_than_one_replay_chunk() {
    let reporter = Reporter::default();
    let url = serve(reporter.clone()).await;
    let arena = Arena::pong()
        .config(json!({ "max_steps": 3000, "winning_score": 100000 }))
        .agent("pong", &example("pong-python"))
        .agent("random", &example("random-python"));
    let run = run_reporting(&arena, &url, TOKEN, &[]).await;
    assert_eq!(run.outcome.total_steps, 3000);

    let calls = reporter.calls.lock().unwrap().clone();
    let chunks: Vec<Vec<u8>> = calls[0]
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::ReplayChunk(chunk)) => Some(chunk.data.clone()),
            _ => None,
        })
        .collect();
    assert!(
        chunks.len() >= 2,
        "a replay of {} bytes",
        run.replay_bytes.as_ref().unwrap().len()
    );
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.len() == 1024 * 1024)
    );
    assert_eq!(Some(chunks.concat()), run.replay_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_token_does_not_stop_the_match() {
    let reporter = Reporter::default();
    let url = serve(reporter.clone()).await;
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let run = run_reporting(&arena, &url, "wrong-token", &[]).await;

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.total_steps, 40);
    assert_eq!(
        *reporter.refused.lock().unwrap(),
        1,
        "a refused token is not retried"
    );
    assert!(reporter.calls.lock().unwrap().is_empty());
    assert!(
        run.stderr().contains("executor rejected the report stream"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_reporter_does_not_stop_the_match() {
    // A port that was free a moment ago: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let run = run_reporting(&arena, &url, TOKEN, &["--report-retry-ms", "300"]).await;

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.total_steps, 40);
    assert!(
        run.stderr().contains("giving up on the report stream"),
        "{}",
        run.stderr()
    );
}
