//! Agents as sandboxed child processes of this process: how a seat's agent is prepared (its launch resolved,
//! an `agent.toml` command resolved inside what it may run, its sandbox built), started with the stdio it is
//! given, and controlled (its process group stopped, resumed and killed; its CPU time and what it uses read
//! from `/proc`). The orchestrator runs its local seats this way, and so does the agent shim in an agent's
//! own container.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use proto::outcome::Isolation;
use proto::spec::Limits;
use tokio::process::Child;

use super::Unready;
use super::control::Usage;
use super::launch::{self, Launch};
use crate::sandbox::{self, AgentBox, Prepared, SandboxOptions, Tenancy};

/// Entries a scratch directory may hold; walking more each step would cost the match too much (a walk stops
/// one past it).
pub(crate) const SCRATCH_ENTRIES: usize = 10_000;

/// What preparing one seat's agent needs.
#[derive(Debug)]
pub(crate) struct SeatPlan<'a> {
    /// The agent's directory.
    pub(crate) dir: &'a Path,
    /// Where its private writable directory is made.
    pub(crate) scratch: PathBuf,
    /// Whether no other seat runs from `dir`.
    pub(crate) own_dir: bool,
    pub(crate) limits: &'a Limits,
    pub(crate) turn_based: bool,
    /// The interpreter of Python module agents.
    pub(crate) python: &'a Path,
    /// Whether that interpreter may be run to ask where it is installed: the operator's may, an agent
    /// image's may not (nothing of the image runs outside the sandbox) and is found from its path instead.
    pub(crate) ask_python: bool,
    pub(crate) sandbox: &'a SandboxOptions,
}

/// Resolves how the agent of `plan` starts and prepares its sandbox, without starting anything.
pub(crate) fn prepare(plan: &SeatPlan<'_>) -> Result<(Launch, Prepared), Unready> {
    let resolved = if plan.ask_python {
        launch::resolve(plan.dir, plan.python)
    } else {
        launch::resolve_without_running(plan.dir, plan.python)
    };
    let mut launch = resolved.map_err(Unready::CannotRun)?;
    if launch.is_manifest() {
        let program =
            sandbox::resolve_program(plan.sandbox, &agent_box(&launch, plan), &launch.program)
                .map_err(Unready::CannotRun)?;
        launch.program = program.into_os_string();
    }
    let sandbox =
        sandbox::prepare(plan.sandbox, &agent_box(&launch, plan)).map_err(Unready::Refused)?;
    Ok((launch, sandbox))
}

/// What the sandbox of an agent started as `launch` needs to know.
fn agent_box<'a>(launch: &'a Launch, plan: &SeatPlan<'a>) -> AgentBox<'a> {
    AgentBox {
        dir: &launch.dir,
        scratch: plan.scratch.clone(),
        runtime: &launch.runtime,
        interpreter: (!launch.is_manifest()).then(|| Path::new(&launch.program)),
        own_dir: plan.own_dir,
        limits: plan.limits,
        turn_based: plan.turn_based,
    }
}

/// Descriptors an agent starts with: its stdin, stdout and stderr.
#[derive(Debug)]
pub(crate) struct Stdio3 {
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
}

impl Stdio3 {
    /// Pipes to this process.
    pub(crate) fn piped() -> Self {
        Self {
            stdin: Stdio::piped(),
            stdout: Stdio::piped(),
            stderr: Stdio::piped(),
        }
    }
}

/// A started agent process, in its own process group.
#[derive(Debug)]
pub(crate) struct LocalChild {
    child: Child,
    pgid: Option<Pid>,
    /// Its private writable directory, `None` without a sandbox.
    scratch: Option<PathBuf>,
    /// Set once the group was killed, so that no recycled group id is signalled.
    stopped: bool,
    /// The agent's hold on its dedicated user, given back (after the group is killed) when this is dropped.
    tenancy: Option<Tenancy>,
}

/// Starts the agent of `launch` with `stdio`, inside `sandbox` when given; returns it with the isolation
/// found in force. `Err` is a message for the agent's author (the agent cannot run).
pub(crate) fn spawn(
    launch: &Launch,
    sandbox: Option<Prepared>,
    stdio: Stdio3,
) -> Result<(LocalChild, Isolation), String> {
    let cannot =
        |e: std::io::Error| format!("cannot start {} ({}): {e}", launch.display(), launch.kind);
    let (child, mut isolation, tenancy, uid, scratch) = match sandbox {
        Some(prepared) => {
            let uid = prepared.uid();
            let scratch = prepared.scratch.clone();
            // A dedicated user may be unable to search the directories above the agent's own: it runs its
            // program from its working directory, which it enters before it changes user.
            let mut command = launch.command(Some(&scratch), uid.is_some());
            command
                .stdin(stdio.stdin)
                .stdout(stdio.stdout)
                .stderr(stdio.stderr);
            let isolation = prepared.isolation.clone();
            let tenancy = prepared.install(&mut command);
            let child = sandbox::spawn(command).map_err(cannot)?;
            (child, isolation, tenancy, uid, Some(scratch))
        }
        None => {
            let mut command = launch.command(None, false);
            command
                .stdin(stdio.stdin)
                .stdout(stdio.stdout)
                .stderr(stdio.stderr);
            (
                command.spawn().map_err(cannot)?,
                Isolation::default(),
                None,
                None,
                None,
            )
        }
    };
    if let Some(pid) = child.id() {
        sandbox::verify_started(pid, uid, &mut isolation);
    }
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    Ok((
        LocalChild {
            child,
            pgid,
            scratch,
            stopped: false,
            tenancy,
        },
        isolation,
    ))
}

impl LocalChild {
    /// The child's own pipes, taken once.
    pub(crate) fn take_pipes(
        &mut self,
    ) -> Option<(
        tokio::process::ChildStdin,
        tokio::process::ChildStdout,
        tokio::process::ChildStderr,
    )> {
        match (
            self.child.stdin.take(),
            self.child.stdout.take(),
            self.child.stderr.take(),
        ) {
            (Some(stdin), Some(stdout), Some(stderr)) => Some((stdin, stdout, stderr)),
            _ => None,
        }
    }

    /// The process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `signal` to the group while it has not been killed; true when it was delivered.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let Some(pgid) = self.pgid.filter(|_| !self.stopped) else {
            return false;
        };
        match killpg(pgid, signal) {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(pgid = pgid.as_raw(), %error, ?signal, "signalling agent group failed");
                false
            }
        }
    }

    /// Waits for the exit and says how it went (a verb phrase). Cancel-safe.
    pub(crate) async fn wait(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => describe(status),
            Err(error) => format!("could not be waited for ({error})"),
        }
    }

    /// SIGKILL to the whole group: the agent and everything it started.
    pub(crate) fn kill(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(pgid) = self.pgid {
            match killpg(pgid, Signal::SIGKILL) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(error) => {
                    tracing::warn!(pgid = pgid.as_raw(), %error, "killing agent process group failed")
                }
            }
        }
        let _ = self.child.start_kill();
    }

    /// CPU time: `(seconds over the whole run, nanoseconds of the live threads)`; `None` once it is gone.
    pub(crate) fn cpu(&self) -> Option<(f64, u64)> {
        let pid = self.child.id().filter(|_| !self.stopped)?;
        sandbox::cpu_time(pid)
    }

    /// What the agent uses: its scratch directory, the deleted files it keeps open (read as its own user
    /// when it has one), its threads.
    pub(crate) fn usage(&self) -> Usage {
        let (scratch_bytes, scratch_entries) = self
            .scratch
            .as_deref()
            .map_or((0, 0), |dir| sandbox::scratch_usage(dir, SCRATCH_ENTRIES));
        let pid = self.child.id().filter(|_| !self.stopped);
        let unlinked_bytes = pid.map_or(0, |pid| match &self.tenancy {
            Some(tenancy) => tenancy.identity().as_agent(|| sandbox::unlinked_bytes(pid)),
            None => sandbox::unlinked_bytes(pid),
        });
        Usage {
            scratch_bytes,
            scratch_entries,
            unlinked_bytes,
            threads: pid.and_then(sandbox::threads),
        }
    }
}

impl Drop for LocalChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a process ended, as a verb phrase.
pub(crate) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "exited".to_string(),
    }
}
