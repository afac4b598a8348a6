//! `ValidateAgent`: unpacks an agent archive the way a match would, checks that the agent can be started, and
//! plays a short smoke match of it against a built-in opponent in the requested environment.

use std::path::Path;

use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use proto::spec::{AgentSpec, Limits, MatchSpec};
use tempfile::TempDir;
use tokio::process::Command;

use crate::agent_init::{Install, install};
use crate::backend::Tools;
use crate::config::AgentLimitArgs;
use crate::error::{Error, Result};

/// Largest archive accepted for validation.
pub(crate) const MAX_ZIP_BYTES: usize = 64 * 1024 * 1024;

/// How long the Python check may take.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks what a Python module agent defines without running it: it must parse and define an entry point (the
/// adapter's rules, read from the syntax tree).
const PYTHON_CHECK: &str = r#"
import ast, json, sys
path = sys.argv[1]
out = {"errors": [], "warnings": []}
try:
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
except SyntaxError as e:
    out["errors"].append(f"{path}: syntax error at line {e.lineno}: {e.msg}")
    tree = None
except Exception as e:
    out["errors"].append(f"{path}: cannot read it: {e}")
    tree = None
if tree is not None:
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    has_agent = "Agent" in classes and any(
        isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == "get_action" for m in classes["Agent"].body
    )
    subclasses_agent = any(
        (isinstance(b, ast.Name) and b.id == "Agent") or (isinstance(b, ast.Attribute) and b.attr == "Agent")
        for c in classes.values() for b in c.bases
    )
    if not ({"create_agent", "get_action", "act"} & functions or subclasses_agent or has_agent):
        out["errors"].append(
            f"{path}: defines no entry point; define create_agent(), a subclass of rl_arena.core.agent.Agent, "
            "get_action(observation), a class Agent with get_action, or act(observation)"
        )
print(json.dumps(out))
"#;

/// The built-in opponent of smoke matches: a Python module agent that always answers action 0. When that is
/// illegal, the environment's default action is played for it and only the opponent is charged.
const SMOKE_OPPONENT: &str = "def get_action(observation):\n    return 0\n";
/// Steps of a smoke match in pong (the other games end on their own quickly).
const SMOKE_PONG_STEPS: u64 = 50;
/// Wall-clock budget of a smoke match.
const SMOKE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// What validation found: the archive is valid when there are no errors.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

/// `ValidateAgent` with the helper programs and agent limits of this executor.
#[derive(Debug)]
pub(crate) struct Validator {
    tools: Tools,
    limits: AgentLimitArgs,
}

impl Validator {
    pub(crate) fn new(tools: Tools, limits: AgentLimitArgs) -> Self {
        Self { tools, limits }
    }

    /// Validates one agent archive (a zip), in `environment` when one is given.
    pub(crate) async fn validate(&self, code_zip: Vec<u8>, environment: &str) -> Result<Report> {
        if code_zip.is_empty() {
            return Err(Error::InvalidArgument(
                "code_zip is empty; send the agent as a zip archive".into(),
            ));
        }
        if code_zip.len() > MAX_ZIP_BYTES {
            return Err(Error::InvalidArgument(format!(
                "code_zip is {} bytes; the limit is {MAX_ZIP_BYTES}",
                code_zip.len()
            )));
        }
        let mut report = Report::default();
        if environment.is_empty() {
            report.warnings.push(
                "environment not given: only checked that the agent can be started".to_string(),
            );
        } else {
            orchestrator::envs::info(environment)
                .map_err(|e| Error::InvalidArgument(format!("environment: {e}")))?;
        }
        let work = blocking(|| {
            let work = tempfile::tempdir().map_err(Error::io("creating a validation directory"))?;
            std::fs::write(work.path().join("agent.zip"), code_zip)
                .map_err(Error::io("writing the archive"))?;
            Ok(work)
        })
        .await?;
        let checked = self.check(&work, environment, &mut report).await;
        // Removing the unpacked agent is file system work too.
        if let Err(e) = tokio::task::spawn_blocking(move || drop(work)).await {
            tracing::warn!(error = %e, "removing a validation directory failed");
        }
        checked.map(|()| report)
    }

    /// Unpacks the archive in `work`, checks the agent's launch and code, then plays the smoke match.
    async fn check(&self, work: &TempDir, environment: &str, report: &mut Report) -> Result<()> {
        let dest = work.path().join("agent");
        let result_file = work.path().join("init.txt");
        let dir = match install(
            &self.tools.agent_init,
            work.path().join("agent.zip"),
            &dest,
            &result_file,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await?
        {
            Install::Done(dir) => dir,
            Install::BadArtifact(reason) => {
                report.errors.push(reason);
                return Ok(());
            }
            Install::Failed(reason) => {
                return Err(Error::Internal(format!("unpacking the archive: {reason}")));
            }
            Install::Cancelled => {
                return Err(Error::Internal(
                    "unpacking the archive was cancelled".into(),
                ));
            }
        };
        let python = self.tools.python.as_str();
        let launch = match orchestrator::agent::launch::resolve(&dir, Path::new(python)) {
            Ok(launch) => launch,
            Err(reason) => {
                report
                    .errors
                    .push(reason.replace(&dir.display().to_string(), "the archive"));
                return Ok(());
            }
        };
        if launch.kind == "agent.toml" {
            let program = Path::new(&launch.program);
            if program.is_absolute() && !is_executable(program).await {
                let shown = program.strip_prefix(&dir).unwrap_or(program);
                report.errors.push(format!(
                    "agent.toml: command {} is not an executable file in the archive",
                    shown.display()
                ));
            }
        } else {
            let (mut errors, mut warnings) = check_python(python, &dir, &launch.kind).await?;
            report.errors.append(&mut errors);
            report.warnings.append(&mut warnings);
        }
        if report.errors.is_empty() && !environment.is_empty() {
            match &self.tools.orchestrator {
                Ok(orchestrator) => {
                    let errors = self
                        .smoke_match(orchestrator, &dir, environment, work.path())
                        .await?;
                    report.errors.extend(errors);
                }
                Err(skipped) => report.warnings.push((*skipped).to_string()),
            }
        }
        Ok(())
    }

    /// Plays a short match of the agent against the built-in opponent, through the real orchestrator and its
    /// sandbox: the agent must load, answer `ready`, and make legal moves in time. Returns the errors found.
    async fn smoke_match(
        &self,
        orchestrator: &Path,
        dir: &Path,
        environment: &str,
        work: &Path,
    ) -> Result<Vec<String>> {
        let opponent = work.join("opponent");
        let mut config = serde_json::Map::new();
        match environment {
            "pong" => {
                config.insert("max_steps".into(), SMOKE_PONG_STEPS.into());
            }
            "rps" => {
                config.insert("episodeSteps".into(), (SMOKE_PONG_STEPS + 1).into());
            }
            _ => {}
        }
        let limits = &self.limits;
        let spec = MatchSpec {
            match_id: "validate".into(),
            environment: environment.to_string(),
            config,
            seed: 1,
            agents: vec![
                AgentSpec {
                    agent_id: "candidate".into(),
                    dir: dir.to_path_buf(),
                },
                AgentSpec {
                    agent_id: "builtin-opponent".into(),
                    dir: opponent,
                },
            ],
            limits: Limits {
                init_ms: limits.agent_init_ms,
                step_ms: limits.agent_step_ms,
                bank_ms: limits.agent_bank_ms,
                // The opponent's illegal moves must not end the match early; the candidate may make none.
                max_errors: u32::MAX,
                match_ms: u64::try_from(SMOKE_BUDGET.as_millis()).unwrap_or(u64::MAX),
                memory_mb: limits.agent_memory_mb,
                ..Limits::default()
            },
            record_replay: false,
        };
        let spec_path = work.join("smoke.json");
        let result_path = work.join("smoke-result.json");
        let spec_json = serde_json::to_vec(&spec)
            .map_err(|e| Error::Internal(format!("encoding the smoke spec: {e}")))?;
        let (spec_file, opponent_dir) = (spec_path.clone(), spec.agents[1].dir.clone());
        blocking(move || {
            std::fs::create_dir_all(&opponent_dir)
                .map_err(Error::io("creating the smoke opponent"))?;
            std::fs::write(opponent_dir.join("agent.py"), SMOKE_OPPONENT)
                .map_err(Error::io("writing the smoke opponent"))?;
            std::fs::write(&spec_file, spec_json).map_err(Error::io("writing the smoke spec"))
        })
        .await?;
        let run = Command::new(orchestrator)
            .arg("run")
            .arg("--spec")
            .arg(&spec_path)
            .arg("--result-file")
            .arg(&result_path)
            .arg("--python")
            .arg(&self.tools.python)
            .arg("--log-format")
            .arg("json")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let status = tokio::time::timeout(SMOKE_BUDGET + SMOKE_BUDGET, run)
            .await
            .map_err(|_| Error::Internal("the smoke match did not finish".into()))?
            .map_err(Error::io("running the smoke match"))?;
        let outcome: MatchOutcome = tokio::fs::read(&result_path)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::Internal(format!("the smoke match left no result ({status})")))?;
        let Some(candidate) = outcome.agents.first() else {
            return Err(Error::Internal(
                "the smoke match result has no agents".into(),
            ));
        };
        if candidate.status == AgentStatus::Ok
            && candidate.errors == 0
            && outcome.status == MatchStatus::Success
        {
            return Ok(Vec::new());
        }
        let status = serde_json::to_value(candidate.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut error = format!(
            "smoke match in {environment} against the built-in opponent: the agent ended as {status} with {} error(s)",
            candidate.errors
        );
        if !candidate.error_message.is_empty() {
            error.push_str(&format!(": {}", candidate.error_message));
        } else if !outcome.error_message.is_empty() {
            error.push_str(&format!(": {}", outcome.error_message));
        }
        let tail = candidate.stderr_tail.trim();
        if !tail.is_empty() {
            error.push_str(&format!("; its stderr ends with: {tail}"));
        }
        Ok(vec![error])
    }
}

/// Runs file system work on a blocking thread, off the runtime's workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("validation file task: {e}")))?
}

async fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::metadata(path)
        .await
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

async fn check_python(
    python: &str,
    dir: &Path,
    module: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Report {
        errors: Vec<String>,
        warnings: Vec<String>,
    }
    let run = Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(PYTHON_CHECK)
        .arg(module)
        .current_dir(dir)
        .env_clear()
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(CHECK_TIMEOUT, run)
        .await
        .map_err(|_| {
            Error::Internal(format!(
                "checking the Python agent took longer than {} s",
                CHECK_TIMEOUT.as_secs()
            ))
        })?
        .map_err(Error::io(format!("running {python} to check the agent")))?;
    let report: Report = serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::Internal(format!(
            "checking the Python agent failed ({e}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    })?;
    Ok((report.errors, report.warnings))
}
