//! Finished matches, kept beside the replays (`results/<match_id>.pb`) so that `GetMatch` and a repeated
//! `RunMatch` answer the same after an executor restart.

use proto::pb;

use crate::blob_store::BlobStore;
use crate::error::{Error, Result};

/// What is kept of a finished match.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredMatch {
    /// Digest of the request, to tell a repeated request from a different one with the same id.
    #[prost(string, tag = "1")]
    pub fingerprint: String,
    #[prost(message, optional, tag = "2")]
    pub response: Option<pb::MatchResponse>,
    #[prost(string, tag = "3")]
    pub environment: String,
    #[prost(string, repeated, tag = "4")]
    pub agent_ids: Vec<String>,
}

impl StoredMatch {
    /// The match's state as the API shows it.
    pub fn info(&self) -> pb::MatchInfo {
        pb::MatchInfo {
            match_id: self
                .response
                .as_ref()
                .map(|r| r.match_id.clone())
                .unwrap_or_default(),
            state: pb::MatchState::Finished.into(),
            current_step: self.response.as_ref().map_or(0, |r| r.total_steps),
            result: self.response.clone(),
            environment: self.environment.clone(),
            agent_ids: self.agent_ids.clone(),
        }
    }
}

/// Results in a blob store.
#[derive(Debug, Clone)]
pub struct ResultStore {
    blobs: BlobStore,
}

impl ResultStore {
    pub fn new(blobs: BlobStore) -> Self {
        Self { blobs }
    }

    fn name(match_id: &str) -> String {
        format!("results/{match_id}.pb")
    }

    pub async fn put(&self, stored: &StoredMatch) -> Result<()> {
        let match_id = stored
            .response
            .as_ref()
            .map(|r| r.match_id.as_str())
            .unwrap_or_default();
        self.blobs
            .put(&Self::name(match_id), prost::Message::encode_to_vec(stored))
            .await
    }

    pub async fn get(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        let Some(bytes) = self.blobs.get(&Self::name(match_id)).await? else {
            return Ok(None);
        };
        let stored = <StoredMatch as prost::Message>::decode(&bytes[..])
            .map_err(|e| Error::Store(format!("result of match {match_id} is corrupt: {e}")))?;
        Ok(Some(stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_survive_a_new_store_on_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let stored = StoredMatch {
            fingerprint: "fp".into(),
            response: Some(pb::MatchResponse {
                match_id: "m1".into(),
                total_steps: 12,
                ..Default::default()
            }),
            environment: "pong".into(),
            agent_ids: vec!["a".into(), "b".into()],
        };
        ResultStore::new(BlobStore::local(dir.path()).unwrap())
            .put(&stored)
            .await
            .unwrap();
        let reopened = ResultStore::new(BlobStore::local(dir.path()).unwrap());
        assert_eq!(reopened.get("m1").await.unwrap(), Some(stored));
        assert_eq!(reopened.get("m2").await.unwrap(), None);
        let info = reopened.get("m1").await.unwrap().unwrap().info();
        assert_eq!(info.state(), pb::MatchState::Finished);
        assert_eq!(info.current_step, 12);
    }
}
