//! One running agent, spoken to over the wire protocol: a child process in its own process group, or an agent
//! in a container of its own whose shim hands it the pipes the orchestrator made as its stdio.
//!
//! - [`launch`]: how an agent directory is started.
//! - `local`: preparing, starting and controlling an agent as a sandboxed child process (the orchestrator's
//!   local seats, and the shim's agent).
//! - `remote`: seats whose agents run in containers of their own, through their shims.
//! - `control`: the contract between the orchestrator and a shim.
//! - `stdio`: the orchestrator's ends of an agent's stdin, stdout and stderr (pipes, whichever the host).
//! - `protocol`: the messages and the line reader.
//! - `stderr`: the bounded head-and-tail capture of the agent's stderr.
//!
//! The match loop reads and writes the agent's stdin and stdout itself, without helper tasks: a line is
//! written at once with a non-blocking write and an answer already there is read at once, so a fast step costs
//! no wake-ups. Only what does not fit waits, with a deadline: an agent that stops reading never blocks the
//! match, because a write that does not finish before its deadline is the agent's timeout, and at most
//! `WRITE_QUEUE` lines wait for it. The process group is killed with SIGKILL when the agent is stopped and,
//! as a guard, when it is dropped.
//!
//! Where the agent runs is behind [`Ready`] (how it starts) and the process's host (how it is paused,
//! resumed, killed and read): the protocol, deadlines, pausing, stderr capture and accounting are the same
//! for both.

pub(crate) mod control;
pub mod launch;
pub(crate) mod local;
pub(crate) mod protocol;
pub(crate) mod remote;
pub(crate) mod stderr;
pub(crate) mod stdio;

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use proto::outcome::Isolation;
use proto::spec::MatchSpec;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::timeout_at;

pub(crate) use control::Usage;
pub(crate) use launch::Launch;
use local::{LocalChild, Stdio3};
use protocol::{Incoming, LineSplitter};
use stderr::StderrBuffer;
use stdio::Ends;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use crate::sandbox::{Prepared, SandboxOptions};

/// Lines waiting for an agent that does not read; one more means it is not reading at all.
const WRITE_QUEUE: usize = 4;
/// Bytes read from stdout at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Reads of lines nobody asked for before a message is sent; a flooding agent cannot hold the match longer.
const DISCARD_READS: usize = 16;
/// How long to wait for an exited agent's status when describing a crash.
const EXIT_STATUS_WAIT: Duration = Duration::from_millis(500);
/// How long to wait for the stderr reader to collect the last output after the group was killed.
const STDERR_DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Limits of one agent process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessLimits {
    pub max_line_bytes: usize,
    pub stderr_bytes: usize,
}

/// The result of asking an agent something.
#[derive(Debug)]
pub enum Reply {
    /// A line arrived after `elapsed` (from the end of the write to the answer's newline).
    Line { line: Vec<u8>, elapsed: Duration },
    /// The agent wrote a line longer than the limit.
    TooLong { elapsed: Duration },
    /// Nothing arrived before the deadline; the late answer will be discarded.
    TimedOut,
    /// The agent is gone; the reason is a verb phrase such as "exited with status 3".
    Gone(String),
}

/// A message handed to [`AgentProcess::send`], to be passed to [`AgentProcess::receive`] or
/// [`AgentProcess::advance`].
#[derive(Debug)]
pub(crate) struct Sent(SentState);

impl Sent {
    /// When the message was fully written, once it was.
    pub(crate) fn written_at(&self) -> Option<Instant> {
        match self.0 {
            SentState::Written(at) => Some(at),
            _ => None,
        }
    }
}

/// What became of a sent message, with the instants its answer arrived at.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A line arrived at this instant.
    Line(Vec<u8>, Instant),
    /// A line longer than the limit was under way at this instant.
    TooLong(Instant),
    /// Lines already wait for the agent: it is not reading (as good as a timeout).
    NotReading,
    /// The agent is gone; the reason is a verb phrase.
    Gone(String),
}

impl Answer {
    /// The reply this answer makes, `elapsed` giving the time charged for an arrival instant.
    pub(crate) fn into_reply(self, elapsed: impl Fn(Instant) -> Duration) -> Reply {
        match self {
            Answer::Line(line, at) => Reply::Line {
                line,
                elapsed: elapsed(at),
            },
            Answer::TooLong(at) => Reply::TooLong {
                elapsed: elapsed(at),
            },
            Answer::NotReading => Reply::TimedOut,
            Answer::Gone(reason) => Reply::Gone(reason),
        }
    }
}

#[derive(Debug)]
enum SentState {
    /// Fully written at this instant.
    Written(Instant),
    /// Part of it (or of earlier lines) waits for the pipe to drain.
    Pending,
    /// Writing failed (the agent closed its stdin or exited).
    WriteFailed(String),
    /// `WRITE_QUEUE` lines already wait: the agent is not reading.
    Stuck,
    /// The agent was already found gone, for this reason.
    Gone(String),
    /// Its stdout closed while nothing was asked.
    OutputClosed,
}

/// Where a match's agents run.
#[derive(Debug, Clone, Default)]
pub enum Hosting {
    /// As sandboxed child processes of the orchestrator.
    #[default]
    Local,
    /// Each in a container of its own, whose shim connects to the seat's socket (one per seat, in seat
    /// order).
    Containers(Vec<PathBuf>),
}

/// What preparing a match's seats needs.
#[derive(Debug)]
pub(crate) struct Seating<'a> {
    pub(crate) spec: &'a MatchSpec,
    pub(crate) python: &'a Path,
    pub(crate) sandbox: &'a SandboxOptions,
    pub(crate) turn_based: bool,
    /// Where local agents' scratch directories are made (`agent-N` inside).
    pub(crate) scratch_root: &'a Path,
}

impl Hosting {
    /// Prepares the agent of every seat of `seating`, in seat order, waiting for remote seats until `until`.
    /// `Err` refuses the match: the seats cannot be set up at all.
    pub(crate) async fn prepare(
        &self,
        seating: &Seating<'_>,
        until: tokio::time::Instant,
    ) -> Result<Vec<Result<Ready, Unready>>, String> {
        let agents = &seating.spec.agents;
        match self {
            Hosting::Local => Ok((0..agents.len())
                .map(|i| prepare_local(seating, i))
                .collect()),
            Hosting::Containers(sockets) => {
                if sockets.len() != agents.len() {
                    return Err(format!(
                        "{} seat sockets were given for {} agents; give one per seat",
                        sockets.len(),
                        agents.len()
                    ));
                }
                let setup = control::SeatSetup {
                    limits: seating.spec.limits.clone(),
                    turn_based: seating.turn_based,
                    disabled: seating.sandbox.disabled.clone(),
                    own_user: Ok(()),
                };
                let prepared = remote::prepare_all(sockets, setup, until).await?;
                Ok(prepared
                    .into_iter()
                    .map(|seat| seat.map(Ready::Remote))
                    .collect())
            }
        }
    }
}

/// Prepares seat `i` of `seating` as a child process of this orchestrator.
fn prepare_local(seating: &Seating<'_>, i: usize) -> Result<Ready, Unready> {
    let agents = &seating.spec.agents;
    let dir = &agents[i].dir;
    let shared = agents
        .iter()
        .filter(|other| same_dir(&other.dir, dir))
        .count()
        > 1;
    let plan = local::SeatPlan {
        dir,
        scratch: seating.scratch_root.join(format!("agent-{}", i + 1)),
        own_dir: !shared,
        limits: &seating.spec.limits,
        turn_based: seating.turn_based,
        python: seating.python,
        ask_python: true,
        sandbox: seating.sandbox,
    };
    let (launch, sandbox) = local::prepare(&plan)?;
    Ok(Ready::Local { launch, sandbox })
}

/// Whether two agent directories are the same directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Why a seat's agent cannot be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unready {
    /// The agent cannot run: a message for its author. It is charged and left out.
    CannotRun(String),
    /// The match cannot be played (the infrastructure's fault): every seat is refused.
    Refused(String),
}

/// A seat's agent, prepared and ready to start.
#[derive(Debug)]
pub(crate) enum Ready {
    /// A child process of this orchestrator, in the sandbox prepared for it.
    Local { launch: Launch, sandbox: Prepared },
    /// An agent in a container of its own, prepared by its shim.
    Remote(remote::Prepared),
}

impl Ready {
    /// The isolation layers planned for the agent.
    pub(crate) fn isolation(&self) -> &Isolation {
        match self {
            Ready::Local { sandbox, .. } => &sandbox.isolation,
            Ready::Remote(prepared) => &prepared.isolation,
        }
    }

    /// Starts the agent and returns it with the isolation found in force, and how it was started (for logs).
    /// `Err` is a message for the agent's author (the agent cannot run).
    pub(crate) async fn start(
        self,
        limits: ProcessLimits,
    ) -> Result<(AgentProcess, Isolation, String), String> {
        match self {
            Ready::Local { launch, sandbox } => {
                let (process, isolation) =
                    AgentProcess::spawn_with(&launch, limits, Some(sandbox))?;
                Ok((process, isolation, launch.display()))
            }
            Ready::Remote(prepared) => {
                let command = prepared.command.clone();
                let (connected, pid, isolation) = prepared.start().await?;
                let host = Host::Remote {
                    control: connected.control,
                    pid,
                };
                let process = AgentProcess::assemble(host, connected.ends, limits)?;
                Ok((process, isolation, command))
            }
        }
    }
}

/// Where an agent process runs, and how it is paused, resumed, killed and read.
#[derive(Debug)]
enum Host {
    Local(Box<LocalChild>),
    /// In a container of its own; `pid` is the agent's in that container.
    Remote {
        control: remote::Control,
        pid: u32,
    },
}

impl Host {
    /// Stops (SIGSTOP) or resumes (SIGCONT) the agent's group; true when the signal went out.
    fn signal(&mut self, signal: Signal) -> bool {
        match self {
            Host::Local(child) => child.signal(signal),
            Host::Remote { control, .. } => control.post(if signal == Signal::SIGSTOP {
                &control::Request::Pause
            } else {
                &control::Request::Resume
            }),
        }
    }

    async fn wait(&mut self) -> String {
        match self {
            Host::Local(child) => child.wait().await,
            Host::Remote { control, .. } => control.wait().await,
        }
    }

    fn kill(&mut self) {
        match self {
            Host::Local(child) => child.kill(),
            Host::Remote { control, .. } => control.kill(),
        }
    }

    async fn cpu(&mut self) -> Option<(f64, u64)> {
        match self {
            Host::Local(child) => child.cpu(),
            Host::Remote { control, .. } => control.cpu().await,
        }
    }

    async fn usage(&mut self) -> Usage {
        match self {
            Host::Local(child) => child.usage(),
            Host::Remote { control, .. } => control.usage().await,
        }
    }

    fn pid(&self) -> Option<u32> {
        match self {
            Host::Local(child) => child.pid(),
            Host::Remote { pid, .. } => Some(*pid),
        }
    }
}

/// A started agent process.
pub struct AgentProcess {
    host: Host,
    /// `None` once the agent was told the match ended (stdin closed).
    stdin: Option<pipe::Sender>,
    /// Bytes not yet written to stdin, and how many lines they end.
    unwritten: Vec<u8>,
    unwritten_lines: usize,
    stdout: pipe::Receiver,
    splitter: LineSplitter,
    /// What was read from stdout and not yet taken.
    incoming: VecDeque<Incoming>,
    /// Set once stdout ended or failed (the `Closed` event was queued).
    stdout_closed: bool,
    chunk: Vec<u8>,
    stderr: Arc<Mutex<StderrBuffer>>,
    stderr_task: Option<JoinHandle<()>>,
    /// Requests whose answers were given up on; that many unlabelled lines are discarded as late answers.
    stale: u32,
    /// Set once the stdout stream ended, so that `Gone` is reported again on later requests.
    gone: Option<String>,
    /// Whether the group is stopped with SIGSTOP (off turn).
    paused: bool,
    /// The last CPU time read (seconds, all threads); kept for when the process is gone.
    cpu_seconds: f64,
}

impl std::fmt::Debug for AgentProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentProcess")
            .field("pid", &self.host.pid())
            .field("stale", &self.stale)
            .field("gone", &self.gone)
            .finish_non_exhaustive()
    }
}

impl AgentProcess {
    /// Starts the agent without a sandbox; `Err` is a message for the agent's author (the agent cannot run).
    pub fn spawn(launch: &Launch, limits: ProcessLimits) -> Result<Self, String> {
        Self::spawn_with(launch, limits, None).map(|(process, _)| process)
    }

    /// Starts the agent, inside `sandbox` when given, and returns it with the isolation found in force.
    /// `Err` is a message for the agent's author (the agent cannot run).
    pub(crate) fn spawn_with(
        launch: &Launch,
        limits: ProcessLimits,
        sandbox: Option<Prepared>,
    ) -> Result<(Self, Isolation), String> {
        let (mut child, isolation) = local::spawn(launch, sandbox, Stdio3::piped())?;
        let Some((stdin, stdout, stderr)) = child.take_pipes() else {
            return Err("agent process has no stdio pipes".into());
        };
        let ends = Ends::of_child(stdin, stdout, stderr)
            .map_err(|e| format!("cannot set up the agent's pipes: {e}"))?;
        let process = Self::assemble(Host::Local(Box::new(child)), ends, limits)?;
        Ok((process, isolation))
    }

    /// The agent on `host` with the orchestrator's ends of its pipes; its stderr is drained from now on.
    fn assemble(host: Host, ends: Ends, limits: ProcessLimits) -> Result<Self, String> {
        let Ends {
            stdin,
            stdout,
            stderr: stderr_pipe,
        } = ends;
        // Both ends must be non-blocking for the direct reads and writes (tokio's are; this makes sure).
        set_nonblocking(&stdin)
            .and_then(|()| set_nonblocking(&stdout))
            .map_err(|e| format!("cannot set up the agent's pipes: {e}"))?;
        let stderr = Arc::new(Mutex::new(StderrBuffer::new(limits.stderr_bytes)));
        let stderr_task = tokio::spawn(stdio::drain_stderr(stderr_pipe, Arc::clone(&stderr)));
        Ok(Self {
            host,
            stdin: Some(stdin),
            unwritten: Vec::new(),
            unwritten_lines: 0,
            stdout,
            splitter: LineSplitter::new(limits.max_line_bytes),
            incoming: VecDeque::new(),
            stdout_closed: false,
            chunk: vec![0; READ_CHUNK],
            stderr,
            stderr_task: Some(stderr_task),
            stale: 0,
            gone: None,
            paused: false,
            cpu_seconds: 0.0,
        })
    }

    /// Stops the whole process group (SIGSTOP) so that it uses no CPU while another agent is on move.
    pub(crate) fn pause(&mut self) {
        if !self.paused && self.host.signal(Signal::SIGSTOP) {
            self.paused = true;
        }
    }

    /// Whether the group is stopped (off turn).
    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    /// Resumes a paused process group (SIGCONT).
    pub(crate) fn resume(&mut self) {
        if self.paused {
            self.host.signal(Signal::SIGCONT);
            self.paused = false;
        }
    }

    /// Reads the agent's CPU time: `(seconds over the whole run, nanoseconds of the live threads)`. The
    /// second number is the precise one to take differences of around a move.
    pub(crate) async fn sample_cpu(&mut self) -> Option<(f64, u64)> {
        let sample = self.host.cpu().await?;
        self.cpu_seconds = self.cpu_seconds.max(sample.0);
        Some(sample)
    }

    /// What the agent uses now: its scratch directory, the deleted files it keeps open, its threads.
    pub(crate) async fn usage(&mut self) -> Usage {
        self.host.usage().await
    }

    /// The CPU time the agent used, as last sampled.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        self.cpu_seconds
    }

    /// The process id, while it runs (in its container, for an agent in a container of its own).
    pub fn pid(&self) -> Option<u32> {
        self.host.pid()
    }

    /// Writes `message` as far as the pipe takes it without waiting and returns at once;
    /// [`receive`](Self::receive) then finishes the write and waits for the answer. Lines already in stdout
    /// are discarded first: they are late answers or noise, never the answer to this message.
    pub(crate) fn send(&mut self, message: &Value) -> Sent {
        if let Some(reason) = &self.gone {
            return Sent(SentState::Gone(reason.clone()));
        }
        if self.discard_pending() {
            return Sent(SentState::OutputClosed);
        }
        let Some(stdin) = &self.stdin else {
            return Sent(SentState::Gone("was told the match ended".into()));
        };
        if self.unwritten_lines >= WRITE_QUEUE {
            return Sent(SentState::Stuck);
        }
        let line = encode_line(message);
        let mut written = 0;
        if self.unwritten.is_empty() {
            loop {
                match nix::unistd::write(stdin, &line[written..]) {
                    Ok(n) => {
                        written += n;
                        if written == line.len() {
                            return Sent(SentState::Written(Instant::now()));
                        }
                    }
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(error) => return Sent(SentState::WriteFailed(error.desc().to_string())),
                }
            }
        }
        self.unwritten.extend_from_slice(&line[written..]);
        self.unwritten_lines += 1;
        Sent(SentState::Pending)
    }

    /// Writes what waits for stdin; returns when the last byte went into the pipe. Cancel-safe: what was
    /// written stays written.
    async fn flush(&mut self) -> std::io::Result<Instant> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        while !self.unwritten.is_empty() {
            let n = stdin.write(&self.unwritten).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.unwritten.drain(..n);
        }
        self.unwritten_lines = 0;
        Ok(Instant::now())
    }

    /// Reads what stdout holds now, without waiting, into `incoming`; false when nothing was there.
    fn read_now(&mut self) -> bool {
        if self.stdout_closed {
            return false;
        }
        loop {
            match nix::unistd::read(&self.stdout, &mut self.chunk) {
                Ok(n) => {
                    self.absorb(n);
                    return true;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return false,
                Err(error) => {
                    self.close_stdout(Some(error.desc().to_string()));
                    return true;
                }
            }
        }
    }

    /// Takes in one read of `n` bytes into `chunk`; 0 is the end of stdout.
    fn absorb(&mut self, n: usize) {
        if n == 0 {
            self.close_stdout(None);
        } else {
            self.splitter
                .push(&self.chunk[..n], Instant::now(), &mut self.incoming);
        }
    }

    fn close_stdout(&mut self, error: Option<String>) {
        self.stdout_closed = true;
        self.incoming.push_back(Incoming::Closed(error));
    }

    /// The next thing read from stdout, waiting for it when the pipe is empty. Cancel-safe.
    async fn next_incoming(&mut self) -> Incoming {
        loop {
            if let Some(event) = self.incoming.pop_front() {
                return event;
            }
            if self.stdout_closed {
                return Incoming::Closed(None);
            }
            if self.read_now() {
                continue;
            }
            match self.stdout.read(&mut self.chunk).await {
                Ok(n) => self.absorb(n),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => self.close_stdout(Some(error.to_string())),
            }
        }
    }

    /// Waits for the answer to a sent message: the write must finish within `budget`, and the answer must
    /// arrive within `budget` of the end of the write. Lines labelled with an earlier `step`, and unlabelled
    /// lines while earlier answers are owed, are discarded as late.
    pub(crate) async fn receive(
        &mut self,
        mut sent: Sent,
        budget: Duration,
        step: Option<u32>,
    ) -> Reply {
        let asked = Instant::now();
        // The write must finish within `budget`, the answer must come within `budget` of the write's end.
        let mut until = sent.written_at().unwrap_or(asked) + budget;
        loop {
            let deadline = tokio::time::Instant::from_std(until);
            if let Some(answer) = self.advance(&mut sent, step, deadline).await {
                let since = sent.written_at().unwrap_or(asked);
                return answer.into_reply(|at| at.saturating_duration_since(since));
            }
            match sent.written_at() {
                Some(at) if at + budget > until => until = at + budget,
                _ => {
                    self.give_up();
                    return Reply::TimedOut;
                }
            }
        }
    }

    /// Takes `sent` as far as it goes before `until`: finishes its write, then waits for its answer.
    /// `None` when `until` came first; `sent` then remembers where it got to, and a later call goes on from
    /// there. Cancel-safe.
    pub(crate) async fn advance(
        &mut self,
        sent: &mut Sent,
        step: Option<u32>,
        until: tokio::time::Instant,
    ) -> Option<Answer> {
        match &sent.0 {
            SentState::Written(_) => {}
            SentState::Pending => match timeout_at(until, self.flush()).await {
                Ok(Ok(at)) => sent.0 = SentState::Written(at),
                Ok(Err(error)) => {
                    return Some(self.gone(format!("writing to it failed: {error}")).await);
                }
                Err(_) => return None,
            },
            SentState::WriteFailed(error) => {
                let reason = format!("writing to it failed: {error}");
                return Some(self.gone(reason).await);
            }
            SentState::Stuck => {
                self.give_up();
                return Some(Answer::NotReading);
            }
            SentState::Gone(reason) => return Some(Answer::Gone(reason.clone())),
            SentState::OutputClosed => return Some(self.gone(String::new()).await),
        }
        loop {
            let incoming = timeout_at(until, self.next_incoming()).await.ok()?;
            match incoming {
                Incoming::Line(line, at) => {
                    if self.is_late(&line, step) {
                        continue;
                    }
                    return Some(Answer::Line(line, at));
                }
                Incoming::TooLong(at) => return Some(Answer::TooLong(at)),
                Incoming::Closed(Some(error)) => {
                    return Some(
                        self.gone(format!("reading its stdout failed: {error}"))
                            .await,
                    );
                }
                Incoming::Closed(None) => return Some(self.gone(String::new()).await),
            }
        }
    }

    /// Gives up on the answer to the last message: when it comes, it is discarded as late.
    pub(crate) fn give_up(&mut self) {
        self.stale += 1;
    }

    /// Sends `message` and waits for the answer: `send`, then `receive` of what was sent.
    pub async fn request(&mut self, message: &Value, budget: Duration, step: Option<u32>) -> Reply {
        let sent = self.send(message);
        self.receive(sent, budget, step).await
    }

    /// Whether a line answers an earlier request rather than the current one.
    fn is_late(&mut self, line: &[u8], step: Option<u32>) -> bool {
        match (protocol::answer_step(line), step) {
            (Some(said), Some(current)) if said < u64::from(current) => {
                self.stale = self.stale.saturating_sub(1);
                true
            }
            (Some(_), Some(_)) => {
                self.stale = 0;
                false
            }
            _ if self.stale > 0 => {
                self.stale -= 1;
                true
            }
            _ => false,
        }
    }

    /// Drops lines that arrived while nothing was asked; true when stdout turned out to be closed.
    fn discard_pending(&mut self) -> bool {
        let mut reads = 0;
        loop {
            while let Some(incoming) = self.incoming.pop_front() {
                match incoming {
                    Incoming::Line(..) | Incoming::TooLong(_) => {
                        self.stale = self.stale.saturating_sub(1);
                    }
                    Incoming::Closed(_) => return true,
                }
            }
            if reads == DISCARD_READS || !self.read_now() {
                return false;
            }
            reads += 1;
        }
    }

    /// Records that the agent is gone and says why, with its exit status when it has one.
    async fn gone(&mut self, reason: String) -> Answer {
        let exit = tokio::time::timeout(EXIT_STATUS_WAIT, self.host.wait())
            .await
            .unwrap_or_else(|_| "closed its stdout".to_string());
        let message = if reason.is_empty() {
            exit
        } else {
            format!("{exit} ({reason})")
        };
        self.gone = Some(message.clone());
        Answer::Gone(message)
    }

    /// Ends the agent: sends `end` (when given), closes stdin, waits up to `grace` for the exit, then kills
    /// the whole process group. Returns the kept stderr.
    pub async fn stop(&mut self, end: Option<&Value>, grace: Duration) -> String {
        self.sample_cpu().await;
        let deadline = tokio::time::Instant::now() + grace;
        if let Some(message) = end {
            if self.gone.is_none() && self.stdin.is_some() {
                // Nobody waits for an answer to `end`.
                self.unwritten.extend_from_slice(&encode_line(message));
            }
        }
        // A paused agent must run to read `end` and exit.
        self.resume();
        // What waits for stdin is written within the grace period, then stdin is closed.
        let _ = timeout_at(deadline, self.flush()).await;
        self.stdin = None;
        let exited = timeout_at(deadline, self.host.wait()).await.is_ok();
        if !exited {
            self.sample_cpu().await;
        }
        self.host.kill();
        if !exited {
            let _ = tokio::time::timeout(EXIT_STATUS_WAIT, self.host.wait()).await;
        }
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(STDERR_DRAIN_WAIT, task).await;
        }
        self.stderr_text()
    }

    /// The kept stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        match self.stderr.lock() {
            Ok(buf) => buf.render(),
            Err(poisoned) => poisoned.into_inner().render(),
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.host.kill();
        if let Some(task) = self.stderr_task.take() {
            task.abort();
        }
    }
}

/// A protocol message as one line of JSON.
fn encode_line(message: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Sets `O_NONBLOCK` on `fd`.
fn set_nonblocking(fd: impl AsFd) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}
