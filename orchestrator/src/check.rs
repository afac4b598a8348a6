//! `orchestrator check-agent`: the static checks of an installed agent that `ValidateAgent` makes before any
//! smoke match, with the agent's limits. The launch is resolved exactly as a match resolves it
//! (`agent::launch`); an `agent.toml` command inside the directory must be an executable file; a Python module
//! must parse and define an entry point.
//!
//! Reading submitted code costs what the code makes it cost, so it is read the way an agent runs: this process
//! lowers its own address-space and CPU limits to the agent's before it reads anything (the `agent.toml` parse
//! happens here), and the Python parse (`python_check.py`) runs in the agent sandbox (rlimits, seccomp,
//! Landlock, a private scratch directory) under a wall-clock deadline.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use proto::process::orchestrator::AgentCheck;
use proto::spec::Limits;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::agent::Launch;
use crate::agent::launch;
use crate::config::CheckAgentArgs;
use crate::sandbox::{self, AgentBox};
use crate::{Error, Result};

/// The Python check, run as `python -I -c <this source> <module file>`.
const PYTHON_CHECK: &str = include_str!("python_check.py");
/// Most bytes kept of the check's stdout (its JSON report) and of its stderr.
const OUTPUT_MAX: usize = 64 * 1024;
/// Bytes of the check's stderr quoted when it failed.
const STDERR_SHOWN: usize = 1024;
/// CPU seconds the orchestrator's own reading may use beyond the check's deadline.
const CPU_SLACK_SEC: u64 = 5;

/// Checks the agent in `args.dir`. `Err` means it could not be checked (the infrastructure's failure); what is
/// wrong with the agent is in the report.
pub async fn check_agent(args: &CheckAgentArgs) -> Result<AgentCheck> {
    sandbox::harden_orchestrator();
    limit_self(args.memory_mb, args.timeout_ms)?;
    let mut report = AgentCheck::default();
    let launch = match launch::resolve(&args.dir, &args.python) {
        Ok(launch) => launch,
        Err(reason) => {
            report.errors.push(reason);
            return Ok(report);
        }
    };
    report.launch = Some(launch.kind.clone());
    if launch.kind == "agent.toml" {
        check_command(&launch, &mut report);
    } else {
        check_python(args, &launch, &mut report).await?;
    }
    sandbox::kill_descendants();
    Ok(report)
}

/// Gives this process the agent's address-space limit and a CPU limit of the deadline plus a little.
fn limit_self(memory_mb: u64, timeout_ms: u64) -> Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    let failed = |what: &str, e: nix::Error| Error::Check(format!("limiting {what}: {e}"));
    if memory_mb > 0 {
        let bytes = memory_mb.saturating_mul(1024 * 1024);
        setrlimit(Resource::RLIMIT_AS, bytes, bytes).map_err(|e| failed("the address space", e))?;
    }
    let cpu = timeout_ms.div_ceil(1000) + CPU_SLACK_SEC;
    setrlimit(Resource::RLIMIT_CPU, cpu, cpu + 1).map_err(|e| failed("the CPU time", e))
}

/// An `agent.toml` command given as a path must be an executable file.
fn check_command(launch: &Launch, report: &mut AgentCheck) {
    use std::os::unix::fs::PermissionsExt;
    let program = Path::new(&launch.program);
    let executable = std::fs::metadata(program)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.is_absolute() && !executable {
        let shown = program.strip_prefix(&launch.dir).unwrap_or(program);
        report.errors.push(format!(
            "agent.toml: command {} is not an executable file in the agent directory",
            shown.display()
        ));
    }
}

/// What `python_check.py` prints.
#[derive(serde::Deserialize)]
struct Found {
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// Parses the Python module in the agent sandbox and adds what it found to `report`.
async fn check_python(
    args: &CheckAgentArgs,
    launch: &Launch,
    report: &mut AgentCheck,
) -> Result<()> {
    let module = launch.kind.as_str();
    let options = args.sandbox.options();
    options.check().map_err(Error::Check)?;
    let temporary;
    let root = match &args.sandbox.scratch_dir {
        Some(dir) => dir.as_path(),
        None => {
            temporary = tempfile::tempdir()
                .map_err(|e| Error::Check(format!("creating a scratch directory: {e}")))?;
            temporary.path()
        }
    };
    let limits = Limits {
        memory_mb: args.memory_mb,
        match_ms: args.timeout_ms,
        init_ms: 0,
        ..Limits::default()
    };
    let agent_box = AgentBox {
        dir: &launch.dir,
        scratch: root.join("check"),
        runtime: &launch.runtime,
        interpreter: Some(Path::new(&launch.program)),
        own_dir: true,
        limits: &limits,
        turn_based: false,
    };
    let prepared = sandbox::prepare(&options, &agent_box)
        .map_err(|e| Error::Check(format!("preparing the sandbox: {e}")))?;
    let missing = sandbox::missing_required(&options.required, &prepared.isolation, false);
    if !missing.is_empty() {
        return Err(Error::Check(format!(
            "required isolation unavailable on this machine: {}",
            missing.join("; ")
        )));
    }
    let mut isolation = prepared.isolation.clone();
    let mut command = Command::new(&launch.program);
    command
        .args(["-I", "-c", PYTHON_CHECK, module])
        .current_dir(&launch.dir)
        .env_clear()
        .env("HOME", &prepared.scratch)
        .env("TMPDIR", &prepared.scratch)
        .env("LANG", "C.UTF-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let uid = prepared.uid();
    // The hold on a dedicated user lasts until the check is over.
    let _tenancy = prepared.install(&mut command);
    let mut child = sandbox::spawn(command).map_err(|e| {
        Error::Check(format!(
            "starting {}: {e}",
            launch.program.to_string_lossy()
        ))
    })?;
    if let Some(pid) = child.id() {
        sandbox::verify_started(pid, uid, &mut isolation);
    }
    report.isolation = isolation;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let deadline = Duration::from_millis(args.timeout_ms);
    let finished = tokio::time::timeout(deadline, async {
        tokio::join!(child.wait(), bounded(stdout), bounded(stderr))
    })
    .await;
    let Ok((status, out, err)) = finished else {
        let _ = child.kill().await;
        report.errors.push(format!(
            "{module}: reading it took longer than {} s; an agent's code must be readable within the agent's limits",
            deadline.as_secs()
        ));
        return Ok(());
    };
    let status = status.map_err(|e| Error::Check(format!("waiting for the check: {e}")))?;
    match serde_json::from_slice::<Found>(&out) {
        Ok(found) if status.success() => {
            report.errors.extend(found.errors);
            report.warnings.extend(found.warnings);
        }
        _ => report.errors.push(format!(
            "{module}: cannot be read within the agent's limits ({} MiB of memory, {} s): {}",
            args.memory_mb,
            deadline.as_secs(),
            failure(status, &err)
        )),
    }
    Ok(())
}

/// A failed check in words: how it ended and the end of what it wrote on stderr.
fn failure(status: ExitStatus, stderr: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let ended = match (status.code(), status.signal()) {
        (Some(code), _) => format!("the check exited with code {code}"),
        (None, Some(signal)) => format!("the check was killed by signal {signal}"),
        _ => status.to_string(),
    };
    let text = String::from_utf8_lossy(stderr);
    let tail = common::text::tail(text.trim(), STDERR_SHOWN);
    if tail.is_empty() {
        ended
    } else {
        format!("{ended}; its stderr ends with: {tail}")
    }
}

/// What a pipe delivers until it closes, keeping at most [`OUTPUT_MAX`] bytes and discarding the rest, so the
/// writer never blocks on a full pipe.
async fn bounded(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_MAX.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}
