//! `executor render-job`: the Job and Secret that `serve` would create for a sample pong match, built by the
//! same code from a request that goes through the same validation as a real one.

use super::job::{JobSettings, MatchObjects};
use crate::agent_sources::AgentSources;
use crate::config::RenderJobArgs;
use crate::error::{Error, Result};
use crate::reporter::ReportKey;
use crate::request::{Submission, sample_request};

/// Report address shown by `render-job` when none is configured.
const SAMPLE_REPORT_ADDRESS: &str = "http://rl-arena-executor.rl-arena:50051";

/// The Job and Secret YAML of the sample match. The token is the real one when a key file is configured, else
/// a placeholder.
pub async fn render_sample(args: &RenderJobArgs) -> Result<String> {
    let settings = &args.serve.executor;
    let submission = Submission::new(sample_request(&args.match_id, &args.agents))?;
    let sources = AgentSources::resolve(settings).await?;
    let plan = submission.plan(settings, &sources).await?;
    let k = &settings.kubernetes;
    let address = k
        .report_address
        .clone()
        .unwrap_or_else(|| SAMPLE_REPORT_ADDRESS.to_string());
    let token = match &k.report_token_key_file {
        Some(path) => ReportKey::load(path).await?.token(&plan.match_id),
        None => "hex(HMAC-SHA256(report-token-key, match_id))".to_string(),
    };
    let objects = JobSettings::new(k, &address)?.allowing(&sources).build(
        &plan,
        submission.fingerprint(),
        &token,
    )?;
    render_yaml(&objects)
}

/// The Job and Secret as a YAML stream (Job first), for `executor render-job`; k8s-openapi writes each
/// object's `apiVersion` and `kind`.
fn render_yaml(objects: &MatchObjects) -> Result<String> {
    let encode = |v: serde_json::Result<serde_json::Value>| -> Result<String> {
        let value = v.map_err(|e| Error::Internal(format!("encoding a manifest: {e}")))?;
        serde_yaml::to_string(&value)
            .map_err(|e| Error::Internal(format!("writing a manifest as YAML: {e}")))
    };
    let job = encode(serde_json::to_value(&objects.job))?;
    let secret = encode(serde_json::to_value(&objects.secret))?;
    Ok(format!("---\n{job}---\n{secret}"))
}
