//! The few Kubernetes API calls a match makes besides the shared watches: create the Job (or attach to the Job
//! of the same request) and its Secret, owned by it from its creation, get a Job, delete a Job. Every write
//! names the field manager; 429 and 5xx answers and transport errors are retried with backoff.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};

use super::diagnose::is_finished;
use super::job::{FIELD_MANAGER, MatchObjects, SPEC_VOLUME, owner_reference};
use super::meta::{FINGERPRINT_ANNOTATION, MATCH_ID_LABEL};
use crate::error::{Error, Result};

/// Attempts per call, the first included.
const ATTEMPTS: u32 = 5;
/// First backoff; doubled per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How a match found its Job.
#[derive(Debug, Clone)]
pub enum Attached {
    /// This call created it.
    Created(Box<Job>),
    /// It existed already for the same request.
    Existing(Box<Job>),
}

/// Jobs and Secrets of matches in one namespace.
#[derive(Debug, Clone)]
pub struct JobApi {
    jobs: Api<Job>,
    secrets: Api<Secret>,
}

impl JobApi {
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            jobs: Api::namespaced(client.clone(), namespace),
            secrets: Api::namespaced(client, namespace),
        }
    }

    /// Creates the Job, then its Secret owned by it (deleting the Job deletes the Secret; the pod waits for
    /// the Secret's volume until it exists). When the Job exists already, attaches to it if it carries the
    /// same request fingerprint, else answers a conflict.
    pub async fn create_or_attach(
        &self,
        objects: &MatchObjects,
        match_id: &str,
        fingerprint: &str,
    ) -> Result<Attached> {
        let name = objects.job.name_any();
        let post = post();
        let job = match retry("create job", || self.jobs.create(&post, &objects.job)).await {
            Ok(job) => job,
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let existing = retry("get job", || self.jobs.get_opt(&name))
                    .await
                    .map_err(|e| api_error("reading the existing match Job", &name, e))?;
                return match existing {
                    Some(job) => self.attach(&job, objects, match_id, fingerprint).await,
                    // Deleted between the two calls: a retry of the request creates it anew.
                    None => Err(Error::Unavailable(format!(
                        "match Job {name} was being deleted; send the request again"
                    ))),
                };
            }
            Err(e) => return Err(api_error("creating the match Job", &name, e)),
        };
        if let Err(e) = self.create_secret(&job, &objects.secret).await {
            // Without its Secret the pod would wait for its volume until the deadline.
            if let Err(delete) = self.delete(&name).await {
                tracing::warn!(job = %name, error = %delete, "deleting a match Job without its Secret failed");
            }
            return Err(e);
        }
        Ok(Attached::Created(Box::new(job)))
    }

    /// Attaches to an existing Job made for the same request; refuses one made for another. A running Job
    /// whose creator stopped before creating its Secret gets it now (an existing one is left as it is).
    pub async fn attach(
        &self,
        job: &Job,
        objects: &MatchObjects,
        match_id: &str,
        fingerprint: &str,
    ) -> Result<Attached> {
        let attached = same_request(job, match_id, fingerprint)?;
        if !is_finished(job) {
            if let Err(e) = self.create_secret(job, &objects.secret).await {
                tracing::warn!(job = %job.name_any(), error = %e, "creating the Secret of an attached match Job failed");
            }
        }
        Ok(attached)
    }

    /// Creates the Secret that `job` mounts, owned by it (an owner set at creation needs no permission
    /// beyond `create`, even where the OwnerReferencesPermissionEnforcement admission plugin runs). One that
    /// exists already (a create that timed out went through, or the Job's creator made it) is kept: Secrets
    /// are immutable, and the name is the Job's own.
    async fn create_secret(&self, job: &Job, secret: &Secret) -> Result<()> {
        let Some(owner) = owner_reference(job) else {
            return Err(Error::Internal(format!(
                "match Job {} has no uid",
                job.name_any()
            )));
        };
        let mut secret = secret.clone();
        if let Some(name) = mounted_secret(job) {
            secret.metadata.name = Some(name);
        }
        secret.metadata.owner_references = Some(vec![owner]);
        let name = secret.name_any();
        let post = post();
        match retry("create secret", || self.secrets.create(&post, &secret)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(api_error("creating the match Secret", &name, e)),
        }
    }

    /// The Job named `name`, if it exists.
    pub async fn get(&self, name: &str) -> Result<Option<Job>> {
        retry("get job", || self.jobs.get_opt(name))
            .await
            .map_err(|e| api_error("reading the match Job", name, e))
    }

    /// Deletes a Job and, in the foreground, its pods and Secret; a Job already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.delete_with(name, &DeleteParams::foreground()).await
    }

    /// Deletes a Job without waiting for its dependents (the janitor).
    pub(super) async fn delete_background(&self, name: &str) -> Result<()> {
        self.delete_with(name, &DeleteParams::background()).await
    }

    async fn delete_with(&self, name: &str, params: &DeleteParams) -> Result<()> {
        match retry("delete job", || self.jobs.delete(name, params)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(api_error("deleting the match Job", name, e)),
        }
    }
}

/// The name of the Secret a match Job mounts.
fn mounted_secret(job: &Job) -> Option<String> {
    job.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == SPEC_VOLUME)?
        .secret
        .as_ref()?
        .secret_name
        .clone()
}

/// An existing Job, when it was made for the same request.
fn same_request(job: &Job, match_id: &str, fingerprint: &str) -> Result<Attached> {
    let same_match = job.labels().get(MATCH_ID_LABEL).map(String::as_str) == Some(match_id);
    let same_request = job
        .annotations()
        .get(FINGERPRINT_ANNOTATION)
        .map(String::as_str)
        == Some(fingerprint);
    if same_match && same_request {
        Ok(Attached::Existing(Box::new(job.clone())))
    } else {
        Err(Error::Conflict(format!(
            "match_id {match_id:?} is already used by a different request (its Job {} is running); send the \
             identical request to attach to it, or use a new match_id",
            job.name_any()
        )))
    }
}

/// Create parameters: every write names the field manager.
fn post() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.into()),
    }
}

/// Runs an API call, retrying 429, 5xx and transport failures with exponential backoff.
async fn retry<T, F, Fut>(what: &'static str, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::warn!(call = what, attempt, error = %e, backoff_ms = backoff.as_millis() as u64, "kubernetes API call failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Whether a failed call may succeed when repeated.
fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(r) => r.code == 429 || r.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn api_error(context: &str, name: &str, e: kube::Error) -> Error {
    let message = format!("kubernetes: {context} {name}: {e}");
    if retryable(&e) {
        Error::Unavailable(message)
    } else {
        Error::Internal(message)
    }
}
