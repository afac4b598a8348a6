//! The rules of match requests, at the wire edge: a `Submission` checks the match id and takes the request's
//! fingerprint (all that finding an earlier match with the same id needs), then turns the rest of the request
//! into a [`MatchPlan`] or an error that names the field and the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::ids::{MATCH_ID_RULE, is_valid_match_id};
use proto::pb;
use proto::spec::{AgentSpec, Limits, MatchSpec};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::agent_sources::{AgentSources, LocalCode};
use crate::config::{AgentLimitArgs, ExecutorArgs};
use crate::error::{Error, Result, quoted};
use crate::info::Entrants;

/// URL schemes `agent-init` fetches; their reachability is its business, not the request's.
const REMOTE_SCHEMES: &[&str] = &[
    "http", "https", "s3", "gs", "az", "azure", "abfs", "abfss", "oci",
];

/// Longest agent id accepted.
const AGENT_ID_MAX_LEN: usize = 128;

/// A request whose match id is checked, with its fingerprint; [`Submission::plan`] validates the rest.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    request: pb::MatchRequest,
    fingerprint: String,
}

/// A validated match, ready for a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchPlan {
    pub match_id: String,
    pub environment: String,
    /// Configuration as given (the environment adds its defaults).
    pub config: Map<String, Value>,
    /// Never 0: a request without a seed gets a random one here, so it is known before the match starts.
    pub seed: u64,
    pub agents: Vec<AgentSource>,
    /// The whole match's wall-clock budget.
    pub timeout: Duration,
    pub record_replay: bool,
    pub limits: Limits,
}

/// Where one player's agent comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSource {
    pub agent_id: String,
    /// What `agent-init --source` gets: a `file://` URL of a local path (found below a local code root) or a
    /// remote URL.
    pub source: String,
}

impl MatchPlan {
    /// The agent ids in seat order.
    pub(crate) fn agent_ids(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.agent_id.clone()).collect()
    }

    /// What an outcome of this match that could not be played names.
    pub(crate) fn entrants(&self) -> Entrants<'_> {
        Entrants {
            match_id: &self.match_id,
            seed: self.seed,
            agent_ids: self.agents.iter().map(|a| a.agent_id.as_str()).collect(),
        }
    }

    /// The match spec the orchestrator plays, as JSON, with agent `i` installed in the `i`-th directory.
    pub(crate) fn spec_json(
        &self,
        agent_dirs: impl IntoIterator<Item = PathBuf>,
    ) -> Result<Vec<u8>> {
        self.spec_json_within(agent_dirs, self.timeout)
    }

    /// [`Self::spec_json`] for an orchestrator that starts when only `budget` is left of the match's budget
    /// (the rest went to the queue and the agent installs): its own time limit is what is left.
    pub(crate) fn spec_json_within(
        &self,
        agent_dirs: impl IntoIterator<Item = PathBuf>,
        budget: Duration,
    ) -> Result<Vec<u8>> {
        let limits = Limits {
            match_ms: u64::try_from(budget.as_millis())
                .unwrap_or(u64::MAX)
                .min(self.limits.match_ms),
            ..self.limits.clone()
        };
        let spec = MatchSpec {
            match_id: self.match_id.clone(),
            environment: self.environment.clone(),
            config: self.config.clone(),
            seed: self.seed,
            agents: self
                .agents
                .iter()
                .zip(agent_dirs)
                .map(|(a, dir)| AgentSpec {
                    agent_id: a.agent_id.clone(),
                    dir,
                })
                .collect(),
            limits,
            record_replay: self.record_replay,
        };
        serde_json::to_vec_pretty(&spec)
            .map_err(|e| Error::Internal(format!("encoding the match spec: {e}")))
    }
}

impl Submission {
    /// Checks the match id (the only check of it: everything after relies on it) and takes the request's
    /// fingerprint.
    pub(crate) fn new(request: pb::MatchRequest) -> Result<Self> {
        check_match_id(&request.match_id)?;
        let fingerprint = fingerprint(&request);
        Ok(Self {
            request,
            fingerprint,
        })
    }

    pub(crate) fn match_id(&self) -> &str {
        &self.request.match_id
    }

    /// Digest of everything in the request that defines its match.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks the rest of the request against the executor's settings and the agent sources it allows.
    pub(crate) async fn plan(
        &self,
        settings: &ExecutorArgs,
        sources: &AgentSources,
    ) -> Result<MatchPlan> {
        let req = &self.request;
        let invalid = |msg: String| Error::InvalidArgument(msg);
        let env = envs::info(&req.environment).map_err(|e| match e {
            envs::EnvError::Unknown { known, .. } => invalid(format!(
                "environment: unknown environment {}; known environments: {known}",
                quoted(&req.environment)
            )),
            e => invalid(format!("environment: {e}")),
        })?;
        if req.agents.len() != env.players {
            return Err(invalid(format!(
                "agents: {} takes exactly {} agents, got {}",
                env.name,
                env.players,
                req.agents.len()
            )));
        }
        let mut agents = Vec::with_capacity(req.agents.len());
        for (i, agent) in req.agents.iter().enumerate() {
            agents.push(agent_source(i, agent, &req.agents[..i], sources).await?);
        }
        let timeout_sec = match req.timeout_sec {
            0 => settings.default_timeout_sec,
            t if t > settings.max_timeout_sec => {
                return Err(invalid(format!(
                    "timeout_sec {t} is out of range: give 1 to {} seconds, or 0 for the default of {}",
                    settings.max_timeout_sec, settings.default_timeout_sec
                )));
            }
            t => t,
        };
        let config = parse_config(&req.environment_config_json)?;
        let seed = if req.seed == 0 {
            rand::random_range(1..=u64::MAX)
        } else {
            req.seed
        };
        let game = envs::make(env.name, &config, seed)
            .map_err(|e| invalid(format!("environment_config_json: {e}")))?;
        let limits = limits(req.limits.as_ref(), &settings.agent_limits, timeout_sec)?;
        if req.record_replay {
            let steps = game.max_steps();
            let ids: Vec<String> = agents.iter().map(|a| a.agent_id.clone()).collect();
            let bound = replay_bound::size_bound(game, &req.match_id, seed, &ids, &limits);
            if bound > settings.max_replay_bytes {
                return Err(invalid(format!(
                    "record_replay: the replay of up to {steps} steps of {} could take {bound} bytes, over this \
                     executor's replay limit of {} bytes (max-replay-bytes); shorten the episode in \
                     environment_config_json or set record_replay to false",
                    env.name, settings.max_replay_bytes
                )));
            }
        }
        Ok(MatchPlan {
            match_id: req.match_id.clone(),
            environment: env.name.to_string(),
            config,
            seed,
            agents,
            timeout: Duration::from_secs(u64::from(timeout_sec)),
            record_replay: req.record_replay,
            limits,
        })
    }
}

/// Checks a match id against the rule, with the rule in the message.
pub(crate) fn check_match_id(match_id: &str) -> Result<()> {
    if is_valid_match_id(match_id) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "match_id {} is invalid: it must be {MATCH_ID_RULE}",
            quoted(match_id)
        )))
    }
}

/// Digest of everything in a request that defines its match; metadata order does not matter.
fn fingerprint(req: &pb::MatchRequest) -> String {
    let agents: Vec<_> = req
        .agents
        .iter()
        .map(|a| {
            let metadata: std::collections::BTreeMap<_, _> = a.metadata.iter().collect();
            json!([a.agent_id, a.code_url, a.version, a.docker_image, metadata])
        })
        .collect();
    let limits = req
        .limits
        .as_ref()
        .map(|l| json!([l.init_ms, l.step_ms, l.bank_ms, l.max_errors, l.memory_mb]));
    let doc = json!([
        req.match_id,
        req.environment,
        agents,
        req.timeout_sec,
        req.record_replay,
        req.seed,
        req.environment_config_json,
        limits
    ]);
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// The request of a sample pong match (`executor render-job`): one agent per source, `oci://` sources as
/// images.
pub(crate) fn sample_request(match_id: &str, sources: &[String]) -> pb::MatchRequest {
    pb::MatchRequest {
        match_id: match_id.to_string(),
        environment: "pong".into(),
        agents: sources
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let (code_url, docker_image) = match source.strip_prefix("oci://") {
                    Some(image) => (String::new(), image.to_string()),
                    None => (source.clone(), String::new()),
                };
                pb::AgentData {
                    agent_id: format!("agent-{}", i + 1),
                    code_url,
                    docker_image,
                    ..Default::default()
                }
            })
            .collect(),
        seed: 1,
        record_replay: true,
        ..Default::default()
    }
}

/// The agent limits of a match: the executor's defaults, changed by the request within the executor's bounds.
fn limits(
    requested: Option<&pb::MatchLimits>,
    settings: &AgentLimitArgs,
    timeout_sec: u32,
) -> Result<Limits> {
    let requested = requested.cloned().unwrap_or_default();
    let pick = |field: &str, asked: u64, default: u64, max: u64| {
        if asked == 0 {
            Ok(default)
        } else if asked > max {
            Err(Error::InvalidArgument(format!(
                "limits.{field} {asked} is above this executor's maximum of {max}; ask for at most {max}, or 0 for \
                 the default of {default}"
            )))
        } else {
            Ok(asked)
        }
    };
    let s = settings;
    Ok(Limits {
        init_ms: pick(
            "init_ms",
            requested.init_ms.into(),
            s.agent_init_ms,
            s.agent_max_init_ms,
        )?,
        step_ms: pick(
            "step_ms",
            requested.step_ms.into(),
            s.agent_step_ms,
            s.agent_max_step_ms,
        )?,
        bank_ms: pick(
            "bank_ms",
            requested.bank_ms.into(),
            s.agent_bank_ms,
            s.agent_max_bank_ms,
        )?,
        max_errors: u32::try_from(pick(
            "max_errors",
            requested.max_errors.into(),
            s.agent_max_errors.into(),
            s.agent_max_errors_cap.into(),
        )?)
        .unwrap_or(u32::MAX),
        memory_mb: pick(
            "memory_mb",
            requested.memory_mb.into(),
            s.agent_memory_mb,
            s.agent_max_memory_mb,
        )?,
        match_ms: u64::from(timeout_sec) * 1000,
        ..Limits::default()
    })
}

async fn agent_source(
    i: usize,
    agent: &pb::AgentData,
    earlier: &[pb::AgentData],
    sources: &AgentSources,
) -> Result<AgentSource> {
    let invalid = |msg: String| Err(Error::InvalidArgument(msg));
    let id = &agent.agent_id;
    if id.is_empty() {
        return invalid(format!(
            "agents[{i}].agent_id is empty; give every agent an id"
        ));
    }
    if id.len() > AGENT_ID_MAX_LEN || id.chars().any(char::is_control) {
        return invalid(format!(
            "agents[{i}].agent_id is invalid: at most {AGENT_ID_MAX_LEN} bytes and no control characters"
        ));
    }
    if let Some(j) = earlier.iter().position(|a| a.agent_id == *id) {
        return invalid(format!(
            "agents[{i}].agent_id {id:?} is the same as agents[{j}].agent_id; agent ids must be unique in a match"
        ));
    }
    let url = agent.code_url.as_str();
    let image = agent.docker_image.trim();
    match (url.is_empty(), image.is_empty()) {
        (true, true) => {
            return invalid(format!(
                "agents[{i}] has neither code_url nor docker_image; give the agent's code as a path, file://, \
                 http(s)://, s3://, gs:// or az:// URL, or as an OCI image reference"
            ));
        }
        (false, false) => {
            return invalid(format!(
                "agents[{i}] has both code_url and docker_image; give exactly one: the agent's code, or an OCI \
                 image holding it"
            ));
        }
        (true, false) => return oci_source(i, id, image),
        (false, true) => {}
    }
    let path = match url.split_once("://") {
        Some(("file", rest)) => Path::new(rest),
        Some((scheme, _)) if REMOTE_SCHEMES.contains(&scheme) => {
            return Ok(AgentSource {
                agent_id: id.clone(),
                source: url.to_string(),
            });
        }
        Some((scheme, _)) => {
            return invalid(format!(
                "agents[{i}].code_url {}: scheme {} is not supported; give a local path, a file:// URL or one of \
                 {}",
                quoted(url),
                quoted(scheme),
                REMOTE_SCHEMES
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None => Path::new(url),
    };
    let path = match sources.locate(path).await? {
        LocalCode::Found(path) => path,
        LocalCode::Unreadable(e) => {
            return invalid(format!(
                "agents[{i}].code_url {} cannot be read ({e}); give a path or file:// URL the executor can read",
                quoted(url)
            ));
        }
        // The same words whether or not the path exists, and without the path: nothing to learn from them.
        LocalCode::Refused => {
            return invalid(format!(
                "agents[{i}].code_url is refused: local code must lie inside a directory the operator allows with \
                 --local-code-roots (a relative path is taken relative to the first of them)"
            ));
        }
    };
    Ok(AgentSource {
        agent_id: id.clone(),
        // As a `file://` URL: an argument that is a plain absolute path could be taken for a path inside the
        // match pod's volumes by a node that maps them (the test cluster simulator rewrites such arguments).
        source: url::Url::from_file_path(&path)
            .map(String::from)
            .map_err(|()| {
                Error::InvalidArgument(format!(
                    "agents[{i}].code_url {} is not an absolute local path",
                    quoted(url)
                ))
            })?,
    })
}

/// An OCI image reference (`registry/repo:tag` or `registry/repo@sha256:...`, optionally after `oci://` or
/// `docker://`) as an `agent-init` source, checked with the grammar `agent-init` pulls with.
fn oci_source(i: usize, id: &str, image: &str) -> Result<AgentSource> {
    let reference = image
        .strip_prefix("oci://")
        .or_else(|| image.strip_prefix("docker://"))
        .unwrap_or(image);
    proto::image::check_reference(reference).map_err(|reason| {
        Error::InvalidArgument(format!(
            "agents[{i}].docker_image {} is not an image reference ({reason}); give registry/repository:tag \
             or registry/repository@sha256:digest",
            quoted(image)
        ))
    })?;
    Ok(AgentSource {
        agent_id: id.to_string(),
        source: format!("oci://{reference}"),
    })
}

fn parse_config(json: &str) -> Result<Map<String, Value>> {
    if json.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::InvalidArgument(
            "environment_config_json must be a JSON object, such as {\"winning_score\": 5}".into(),
        )),
        Err(e) => Err(Error::InvalidArgument(format!(
            "environment_config_json is not valid JSON ({e}); give a JSON object or leave it empty"
        ))),
    }
}

mod replay_bound;
#[cfg(test)]
mod tests;
