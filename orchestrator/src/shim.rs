//! The agent shim (`agent-shim`): a small static program an init container places (`agent-shim install`)
//! into a volume that an agent's own container mounts, where it is the container's command. It connects to
//! its seat's socket (`run --socket`), receives the agent's ends of three pipes the orchestrator made, prepares
//! the agent of `--app` and its sandbox when the orchestrator asks, starts it with those pipes as its stdin,
//! stdout and stderr (the orchestrator reads and writes the other ends directly: nothing is relayed), and
//! carries out the orchestrator's control requests: stop and
//! resume its process group, read its CPU time and usage, kill it, end. See `agent::control` for the
//! contract.
//!
//! Nothing of the agent's image runs outside the sandbox: the shim is linked statically (it loads no library
//! of the image), and the image's Python is found from its path, never run to ask where it lives. The shim
//! ends with 0 when the orchestrator ends it or goes away (the orchestrator owns the result), and survives
//! SIGTERM once connected (the orchestrator ends the match and then the shim).
//!
//! - `config`: the command line.

mod config;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

pub use config::{InstallArgs, RunArgs, ShimCli, ShimCommand};

use crate::agent::control::{self, Reply, Request, Role, SeatSetup, Usage};
use crate::agent::local::{self, LocalChild, SeatPlan, Stdio3};
use crate::agent::remote::socket_address;
use crate::agent::{Launch, Unready};
use crate::sandbox::{self, Prepared, SandboxOptions};
use crate::{Error, Result};

/// The first pause between tries to reach the orchestrator; each next one doubles, up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(10);
const MAX_RETRY: Duration = Duration::from_millis(500);

/// Runs a command of the binary.
pub async fn run(command: ShimCommand) -> Result<()> {
    match command {
        ShimCommand::Run(args) => serve(args).await,
        ShimCommand::Install(args) => install(&args.dest),
    }
}

/// Copies this binary to `dest` (through a temporary sibling and a rename), mode 0555.
fn install(dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| Error::ShimInstall {
        path: dest.display().to_string(),
        source,
    };
    let me = std::env::current_exe().map_err(failed)?;
    let mut staged = dest.as_os_str().to_os_string();
    staged.push(".tmp");
    std::fs::copy(&me, &staged).map_err(failed)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o555)).map_err(failed)?;
    std::fs::rename(&staged, dest).map_err(failed)?;
    tracing::info!(dest = %dest.display(), "agent shim installed");
    Ok(())
}

/// Connects to the seat's socket and serves the orchestrator until it ends the shim or goes away.
async fn serve(args: RunArgs) -> Result<()> {
    sandbox::harden_orchestrator();
    let until = Instant::now() + Duration::from_secs(args.connect_timeout_sec);
    let mut term = signal(SignalKind::terminate()).map_err(Error::SeatControl)?;
    let connected = tokio::select! {
        connected = connect_all(&args.socket, until) => connected?,
        _ = term.recv() => {
            tracing::info!("stopped before the orchestrator was reached");
            return Ok(());
        }
    };
    let (control, [stdin, stdout, stderr]) = connected;
    let (reader, writer) = control.into_split();
    // SIGTERM is noticed and ignored from here on: the orchestrator ends the match, then the shim.
    let shim = Shim {
        args,
        lines: BufReader::new(reader).lines(),
        writer,
        stdio: Some([stdin, stdout, stderr]),
        prepared: None,
        child: None,
        exited: false,
        _term: term,
    };
    let result = shim.serve().await;
    sandbox::kill_descendants();
    result
}

/// Makes the two connections of a seat, each opened with its hello: the control connection, and the stdio one,
/// over which the orchestrator passes the agent's ends of its three pipes (stdin, stdout, stderr).
async fn connect_all(socket: &Path, until: Instant) -> Result<(UnixStream, [OwnedFd; 3])> {
    let control = connect(socket, Role::Control, until).await?;
    let stdio = connect(socket, Role::Stdio, until).await?;
    let received = tokio::time::timeout_at(until, control::receive_stdio(&stdio))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        .map_err(|source| Error::SeatConnect {
            path: socket.display().to_string(),
            source,
        })?;
    Ok((control, received))
}

/// One connection to the seat's socket for `role`; tries again, backing off, while the socket is not there
/// or nobody listens yet, until `until`.
async fn connect(socket: &Path, role: Role, until: Instant) -> Result<UnixStream> {
    let failed = |source| Error::SeatConnect {
        path: socket.display().to_string(),
        source,
    };
    let mut pause = FIRST_RETRY;
    loop {
        let attempt = match socket_address(socket) {
            Ok((address, _dir)) => UnixStream::connect(&address).await,
            Err(error) => Err(error),
        };
        match attempt {
            Ok(mut stream) => {
                stream.write_all(&role.hello()).await.map_err(failed)?;
                return Ok(stream);
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && Instant::now() + pause < until =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY);
            }
            Err(error) => return Err(failed(error)),
        }
    }
}

/// A shim connected to its orchestrator.
struct Shim {
    args: RunArgs,
    lines: Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
    /// The agent's ends of its stdin, stdout and stderr pipes, until it starts with them.
    stdio: Option<[OwnedFd; 3]>,
    prepared: Option<(Launch, Prepared)>,
    child: Option<LocalChild>,
    /// Set once the agent's end was reported.
    exited: bool,
    /// Held so that SIGTERM is noticed (and ignored) rather than fatal.
    _term: tokio::signal::unix::Signal,
}

impl Shim {
    /// Answers requests until `end` or the end of the connection; reports the agent's end when it comes.
    async fn serve(mut self) -> Result<()> {
        loop {
            let waiting = !self.exited;
            tokio::select! {
                line = self.lines.next_line() => match line {
                    Ok(Some(line)) => {
                        if !self.handle(&line).await? {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return Err(Error::SeatControl(error)),
                },
                status = wait(self.child.as_mut()), if waiting => {
                    self.exited = true;
                    self.reply(&Reply::Exited { status }).await?;
                }
            }
        }
        if let Some(child) = self.child.as_mut() {
            child.kill();
        }
        Ok(())
    }

    /// Carries out one request; false when the shim is to end.
    async fn handle(&mut self, line: &str) -> Result<bool> {
        let request = match serde_json::from_str::<Request>(line) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(%error, "the orchestrator sent a line that is no request");
                return Ok(true);
            }
        };
        let reply = match request {
            Request::Prepare(setup) => Some(self.prepare(setup)),
            Request::Start => Some(self.start()),
            Request::Pause => {
                self.signal(Signal::SIGSTOP);
                None
            }
            Request::Resume => {
                self.signal(Signal::SIGCONT);
                None
            }
            Request::Cpu => Some(Reply::Cpu {
                sample: self.child.as_ref().and_then(LocalChild::cpu),
            }),
            Request::Usage => Some(Reply::Usage(
                self.child
                    .as_ref()
                    .map_or_else(Usage::default, LocalChild::usage),
            )),
            Request::Kill => {
                if let Some(child) = self.child.as_mut() {
                    child.kill();
                }
                None
            }
            Request::End => return Ok(false),
        };
        if let Some(reply) = reply {
            self.reply(&reply).await?;
        }
        Ok(true)
    }

    /// Resolves how the agent starts and prepares its sandbox in this container.
    fn prepare(&mut self, setup: SeatSetup) -> Reply {
        let options = SandboxOptions {
            required: Vec::new(),
            disabled: setup.disabled,
            read_paths: self.args.agent_read_paths.clone(),
            scratch_root: None,
            uids: None,
            own_user: Some(setup.own_user),
        };
        // The agent's home is this directory, and it runs elsewhere: the path must be absolute.
        let scratch_root = std::path::absolute(&self.args.scratch_root)
            .unwrap_or_else(|_| self.args.scratch_root.clone());
        let plan = SeatPlan {
            dir: &self.args.app,
            scratch: scratch_root.join("agent"),
            own_dir: true,
            limits: &setup.limits,
            turn_based: setup.turn_based,
            python: &self.args.python,
            ask_python: false,
            sandbox: &options,
        };
        match local::prepare(&plan) {
            Ok((launch, sandbox)) => {
                let reply = Reply::Prepared {
                    isolation: sandbox.isolation.clone(),
                    command: launch.display(),
                };
                self.prepared = Some((launch, sandbox));
                reply
            }
            Err(Unready::CannotRun(message)) => Reply::CannotRun { message },
            Err(Unready::Refused(message)) => Reply::Refused { message },
        }
    }

    /// Starts the prepared agent with the pipes the orchestrator passed as its stdio.
    fn start(&mut self) -> Reply {
        let (Some((launch, sandbox)), Some([stdin, stdout, stderr])) =
            (self.prepared.take(), self.stdio.take())
        else {
            return Reply::CannotRun {
                message: "the agent shim was asked to start an agent it had not prepared".into(),
            };
        };
        let stdio = Stdio3 {
            stdin: Stdio::from(stdin),
            stdout: Stdio::from(stdout),
            stderr: Stdio::from(stderr),
        };
        match local::spawn(&launch, Some(sandbox), stdio) {
            Ok((child, isolation)) => {
                let pid = child.pid().unwrap_or(0);
                tracing::info!(pid, command = %launch.display(), applied = ?isolation.applied,
                    unavailable = ?isolation.unavailable, "agent started");
                self.child = Some(child);
                Reply::Started { pid, isolation }
            }
            Err(message) => Reply::CannotRun { message },
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(child) = &self.child {
            child.signal(signal);
        }
    }

    async fn reply(&mut self, reply: &Reply) -> Result<()> {
        self.writer
            .write_all(&control::encode(reply))
            .await
            .map_err(Error::SeatControl)
    }
}

/// How the agent ended, once it did; never without an agent.
async fn wait(child: Option<&mut LocalChild>) -> String {
    match child {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}
