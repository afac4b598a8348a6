//! The executor's marks on a match's objects: the labels the watches select on, and the annotations that tell
//! any replica what the Job's match was submitted as (to record its result, answer for it when another replica
//! follows it, or cancel it). [`super::job`] writes them; [`JobMeta`] reads them back.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::error::{Error, Result};
use crate::info::{Entrants, Submitted};
use crate::request::MatchPlan;

/// Label that marks every object the executor manages (the watches select on it).
pub(super) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub(super) const MANAGED_BY: &str = "rl-arena-executor";
/// Label holding the match id (match ids are valid label values).
pub(super) const MATCH_ID_LABEL: &str = "match-id";
pub(super) const COMPONENT_LABEL: &str = "component";
pub(super) const COMPONENT: &str = "match-executor";
/// Annotation with the request fingerprint: a repeated request attaches only when it matches.
pub(super) const FINGERPRINT_ANNOTATION: &str = "rl-arena.dev/fingerprint";
/// Annotation with the environment, so any replica can record the result of a Job it did not create.
pub(super) const ENVIRONMENT_ANNOTATION: &str = "rl-arena.dev/environment";
/// Annotation with the agent ids in seat order (a JSON array).
pub(super) const AGENT_IDS_ANNOTATION: &str = "rl-arena.dev/agent-ids";
/// The labels of a match's Job, pod and Secret.
pub(super) fn labels(match_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (MATCH_ID_LABEL.to_string(), match_id.to_string()),
        (COMPONENT_LABEL.to_string(), COMPONENT.to_string()),
    ])
}

/// The annotations of a match's Job: the request's fingerprint, the environment and the agents.
pub(super) fn annotations(fingerprint: &str, plan: &MatchPlan) -> Result<BTreeMap<String, String>> {
    let agent_ids: Vec<&str> = plan.agents.iter().map(|a| a.agent_id.as_str()).collect();
    Ok(BTreeMap::from([
        (FINGERPRINT_ANNOTATION.to_string(), fingerprint.to_string()),
        (ENVIRONMENT_ANNOTATION.to_string(), plan.environment.clone()),
        (
            AGENT_IDS_ANNOTATION.to_string(),
            serde_json::to_string(&agent_ids)
                .map_err(|e| Error::Internal(format!("encoding agent ids: {e}")))?,
        ),
    ]))
}

/// A Job's match.
#[derive(Debug, Clone)]
pub(super) struct JobMeta {
    pub(super) match_id: String,
    pub(super) submitted: Submitted,
}

impl JobMeta {
    /// `None` for a Job without the executor's match-id label or fingerprint annotation.
    pub(super) fn of(job: &Job) -> Option<Self> {
        let annotations = job.annotations();
        Some(Self {
            match_id: job.labels().get(MATCH_ID_LABEL)?.clone(),
            submitted: Submitted {
                fingerprint: annotations.get(FINGERPRINT_ANNOTATION)?.clone(),
                environment: annotations
                    .get(ENVIRONMENT_ANNOTATION)
                    .cloned()
                    .unwrap_or_default(),
                agent_ids: annotations
                    .get(AGENT_IDS_ANNOTATION)
                    .and_then(|a| serde_json::from_str(a).ok())
                    .unwrap_or_default(),
            },
        })
    }

    /// What a failed outcome of this match names; the Job does not record the seed, which is reported as 0.
    pub(super) fn entrants(&self) -> Entrants<'_> {
        Entrants {
            match_id: &self.match_id,
            seed: 0,
            agent_ids: self
                .submitted
                .agent_ids
                .iter()
                .map(String::as_str)
                .collect(),
        }
    }
}
