//! `ValidateAgent`: unpacks an agent archive the way a match would and checks that the agent can be started.

use std::path::Path;

use proto::pb;
use tokio::process::Command;

use crate::backend::local::{Install, install};
use crate::error::{Error, Result};
use crate::matches::Matches;

/// Largest archive accepted for validation.
pub const MAX_ZIP_BYTES: usize = 64 * 1024 * 1024;

/// How long the Python check may take.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks what a Python module agent defines without running it: it must parse and define an entry point.
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
    if not ("get_action" in functions or has_agent or "act" in functions):
        out["errors"].append(
            f"{path}: defines no entry point; define get_action(observation), a class Agent with get_action, or act(observation)"
        )
print(json.dumps(out))
"#;

/// Validates one agent archive.
pub async fn validate(
    req: &pb::ValidationRequest,
    core: &Matches,
) -> Result<pb::ValidationResponse> {
    if req.code_zip.is_empty() {
        return Err(Error::InvalidArgument(
            "code_zip is empty; send the agent as a zip archive".into(),
        ));
    }
    if req.code_zip.len() > MAX_ZIP_BYTES {
        return Err(Error::InvalidArgument(format!(
            "code_zip is {} bytes; the limit is {MAX_ZIP_BYTES}",
            req.code_zip.len()
        )));
    }
    let mut warnings = Vec::new();
    if req.environment.is_empty() {
        warnings
            .push("environment not given: only checked that the agent can be started".to_string());
    } else {
        orchestrator::envs::info(&req.environment)
            .map_err(|e| Error::InvalidArgument(format!("environment: {e}")))?;
    }
    let work = tempfile::tempdir().map_err(Error::io("creating a validation directory"))?;
    let zip_path = work.path().join("agent.zip");
    std::fs::write(&zip_path, &req.code_zip).map_err(Error::io("writing the archive"))?;
    let dest = work.path().join("agent");
    let result_file = work.path().join("init.txt");
    let dir = match install(
        core.backend.agent_init_bin(),
        &zip_path,
        &dest,
        &result_file,
    )
    .await?
    {
        Install::Done(dir) => dir,
        Install::BadArtifact(reason) => return Ok(invalid(vec![reason], warnings)),
        Install::Failed(reason) => {
            return Err(Error::Internal(format!("unpacking the archive: {reason}")));
        }
    };
    let python = core.backend.python();
    let launch = match orchestrator::agent::launch::resolve(&dir, Path::new(python)) {
        Ok(launch) => launch,
        Err(reason) => {
            return Ok(invalid(
                vec![reason.replace(&dir.display().to_string(), "the archive")],
                warnings,
            ));
        }
    };
    let mut errors = Vec::new();
    if launch.kind == "agent.toml" {
        let program = Path::new(&launch.program);
        if program.is_absolute() && !is_executable(program) {
            let shown = program.strip_prefix(&dir).unwrap_or(program);
            errors.push(format!(
                "agent.toml: command {} is not an executable file in the archive",
                shown.display()
            ));
        }
    } else {
        let (mut e, mut w) = check_python(python, &dir, &launch.kind).await?;
        errors.append(&mut e);
        warnings.append(&mut w);
    }
    if errors.is_empty() {
        Ok(pb::ValidationResponse {
            valid: true,
            errors,
            warnings,
        })
    } else {
        Ok(invalid(errors, warnings))
    }
}

fn invalid(errors: Vec<String>, warnings: Vec<String>) -> pb::ValidationResponse {
    pb::ValidationResponse {
        valid: false,
        errors,
        warnings,
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
