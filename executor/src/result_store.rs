//! Finished matches, kept beside the replays (`results/<match_id>.pb`) so that `GetMatch` and a repeated
//! `RunMatch` answer the same after an executor restart and on every replica.
//!
//! The stored format is a protobuf message holding the wire `MatchResponse` ([`Record`]); it never changes, so
//! results written by any version stay readable. The rest of the executor sees [`StoredMatch`]: the conversion
//! happens here, at the store's edge.

use proto::pb;

use crate::blob_store::BlobStore;
use crate::error::{Error, Result};
use crate::info::{MatchInfo, MatchResult, MatchState, Submitted};

/// What is kept of a finished match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredMatch {
    pub(crate) submitted: Submitted,
    pub(crate) result: MatchResult,
}

/// The stored format of a finished match: field numbers and types never change.
#[derive(Clone, PartialEq, prost::Message)]
struct Record {
    /// Digest of the request, to tell a repeated request from a different one with the same id.
    #[prost(string, tag = "1")]
    fingerprint: String,
    #[prost(message, optional, tag = "2")]
    response: Option<pb::MatchResponse>,
    #[prost(string, tag = "3")]
    environment: String,
    #[prost(string, repeated, tag = "4")]
    agent_ids: Vec<String>,
}

impl StoredMatch {
    /// The match's state as the API shows it.
    pub(crate) fn info(&self) -> MatchInfo {
        MatchInfo {
            match_id: self.result.outcome.match_id.clone(),
            state: MatchState::Finished,
            current_step: self.result.outcome.total_steps,
            result: Some(self.result.clone()),
            environment: self.submitted.environment.clone(),
            agent_ids: self.submitted.agent_ids.clone(),
        }
    }
}

impl From<&StoredMatch> for Record {
    fn from(stored: &StoredMatch) -> Self {
        Self {
            fingerprint: stored.submitted.fingerprint.clone(),
            response: Some(pb::MatchResponse::from(&stored.result)),
            environment: stored.submitted.environment.clone(),
            agent_ids: stored.submitted.agent_ids.clone(),
        }
    }
}

/// Results in a blob store.
#[derive(Debug, Clone)]
pub(crate) struct ResultStore {
    blobs: BlobStore,
}

impl ResultStore {
    pub(crate) fn new(blobs: BlobStore) -> Self {
        Self { blobs }
    }

    fn name(match_id: &str) -> String {
        format!("results/{match_id}.pb")
    }

    /// Stores a match's result unless one is stored already: the first result recorded is final, whoever
    /// records it (a report stream, a waiter, a canceller, the reconciler, on any replica). Returns the
    /// stored result: this one, or the one recorded first.
    pub(crate) async fn create(&self, stored: StoredMatch) -> Result<StoredMatch> {
        let match_id = &stored.result.outcome.match_id;
        let record = Record::from(&stored);
        let name = Self::name(match_id);
        if self
            .blobs
            .create(&name, prost::Message::encode_to_vec(&record))
            .await?
        {
            return Ok(stored);
        }
        tracing::info!(match_id = %match_id, "a result was recorded first; it stays");
        self.get(match_id).await?.ok_or_else(|| {
            Error::Store(format!(
                "result of match {match_id} exists but cannot be read back"
            ))
        })
    }

    pub(crate) async fn get(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        let Some(bytes) = self.blobs.get(&Self::name(match_id)).await? else {
            return Ok(None);
        };
        let record = <Record as prost::Message>::decode(&bytes[..])
            .map_err(|e| Error::Store(format!("result of match {match_id} is corrupt: {e}")))?;
        let response = record
            .response
            .ok_or_else(|| Error::Store(format!("stored result of match {match_id} is empty")))?;
        Ok(Some(StoredMatch {
            submitted: Submitted {
                fingerprint: record.fingerprint,
                environment: record.environment,
                agent_ids: record.agent_ids,
            },
            result: MatchResult::from(&response),
        }))
    }
}

#[cfg(test)]
mod tests {
    use proto::outcome::MatchStatus;

    use super::*;
    use crate::info::{Entrants, ReplayLinks};

    fn stored() -> StoredMatch {
        let mut outcome = Entrants {
            match_id: "m1",
            seed: 5,
            agent_ids: vec!["a", "b"],
        }
        .failed(MatchStatus::Success, "");
        outcome.total_steps = 12;
        outcome.winner = Some("a".into());
        outcome.replay_sha256 = Some("00".repeat(32));
        StoredMatch {
            submitted: Submitted {
                fingerprint: "fp".into(),
                environment: "pong".into(),
                agent_ids: vec!["a".into(), "b".into()],
            },
            result: MatchResult {
                outcome,
                replay: Some(ReplayLinks {
                    json_url: "file:///r/m1.json".into(),
                    html_url: "file:///r/m1.html".into(),
                }),
                replay_error: None,
            },
        }
    }

    #[tokio::test]
    async fn results_survive_a_new_store_on_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let stored = stored();
        ResultStore::new(BlobStore::local(dir.path()).unwrap())
            .create(stored.clone())
            .await
            .unwrap();
        let reopened = ResultStore::new(BlobStore::local(dir.path()).unwrap());
        assert_eq!(reopened.get("m1").await.unwrap(), Some(stored));
        assert_eq!(reopened.get("m2").await.unwrap(), None);
        let info = reopened.get("m1").await.unwrap().unwrap().info();
        assert_eq!(info.state, MatchState::Finished);
        assert_eq!(info.current_step, 12);
    }

    #[tokio::test]
    async fn the_first_result_recorded_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::new(BlobStore::local(dir.path()).unwrap());
        let first = stored();
        let mut second = stored();
        second.result.outcome.status = MatchStatus::Cancelled;
        second.result.outcome.error_message = "cancelled by a CancelMatch request".into();
        assert_eq!(store.create(first.clone()).await.unwrap(), first);
        assert_eq!(store.create(second).await.unwrap(), first);
        assert_eq!(store.get("m1").await.unwrap(), Some(first));
    }

    #[tokio::test]
    async fn the_stored_format_is_the_wire_response_in_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::new(BlobStore::local(dir.path()).unwrap());
        let stored = stored();
        store.create(stored.clone()).await.unwrap();
        let bytes = std::fs::read(dir.path().join("results/m1.pb")).unwrap();
        let expected = Record {
            fingerprint: "fp".into(),
            response: Some(pb::MatchResponse {
                replay_url: "file:///r/m1.json".into(),
                replay_html_url: "file:///r/m1.html".into(),
                ..stored.result.outcome.to_response()
            }),
            environment: "pong".into(),
            agent_ids: vec!["a".into(), "b".into()],
        };
        assert_eq!(bytes, prost::Message::encode_to_vec(&expected));

        // A record without a response (never written by the executor) is an error, not an empty result.
        let empty = Record {
            response: None,
            ..expected
        };
        std::fs::write(
            dir.path().join("results/m3.pb"),
            prost::Message::encode_to_vec(&empty),
        )
        .unwrap();
        let err = store.get("m3").await.unwrap_err().to_string();
        assert!(err.contains("stored result of match m3 is empty"), "{err}");
    }
}
