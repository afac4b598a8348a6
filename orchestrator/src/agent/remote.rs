//! Seats whose agents run in containers of their own (Kubernetes): the orchestrator listens on one Unix socket
//! per seat, in a volume that only it and that seat's container share; the seat's shim (`agent-shim run`)
//! connects twice (control and stdio; see [`super::control`]). Over the stdio connection the orchestrator
//! passes the agent's ends of three pipes, which the shim makes the agent's descriptors 0, 1 and 2: the step
//! path is the same pipe write and read as for a local child, with nothing relaying in between. Over the
//! control connection the orchestrator has the shim prepare and start the agent, pause, resume and kill its
//! process group, and read its CPU time and usage, as it does itself for a local child.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::join_all;
use proto::outcome::Isolation;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

use super::Unready;
use super::control::{self, HELLO_LEN, Reply, Request, Role, SeatSetup, Usage};
use super::stdio::Ends;

/// How long a reading (`cpu`, `usage`) may take before the shim counts as gone.
const READING_WAIT: Duration = Duration::from_secs(2);
/// The longest Unix socket path the kernel takes (`sun_path` less its terminating NUL).
const SOCKET_PATH_MAX: usize = 107;
/// Replies that may wait for the orchestrator to take them.
const REPLY_QUEUE: usize = 8;

/// A seat's socket, bound and waiting for its shim.
#[derive(Debug)]
pub(crate) struct SeatSocket {
    path: PathBuf,
    listener: UnixListener,
}

/// A path for `path` that fits in a socket address: `path` itself when it is short enough, else the name
/// inside `/proc/self/fd/<n>` of its directory, opened as `dir` (kept open while the path is in use).
pub(crate) fn socket_address(path: &Path) -> std::io::Result<(PathBuf, Option<OwnedFd>)> {
    if path.as_os_str().len() <= SOCKET_PATH_MAX {
        return Ok((path.to_path_buf(), None));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::other(
            "a socket path names a file in a directory",
        ));
    };
    let dir: OwnedFd = std::fs::File::open(dir)?.into();
    let short = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
    Ok((short, Some(dir)))
}

impl SeatSocket {
    /// Binds the socket at `path` (a leftover file there is replaced), open to the seat's user: only the
    /// seat's container shares the directory. The socket is bound under a temporary name and renamed once it
    /// is open to all, so a shim never finds it closed to itself.
    pub(crate) fn bind(path: &Path) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let failed = |e: std::io::Error| format!("seat socket {}: {e}", path.display());
        let (address, _dir) = socket_address(path).map_err(failed)?;
        let mut staged = address.clone().into_os_string();
        staged.push(".new");
        match std::fs::remove_file(&staged) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let listener = UnixListener::bind(&staged).map_err(failed)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o666))
            .map_err(failed)?;
        std::fs::rename(&staged, &address).map_err(failed)?;
        Ok(Self {
            path: path.to_path_buf(),
            listener,
        })
    }

    /// Waits until the seat's shim made its two connections, at most until `until`, and passes the agent's
    /// pipe ends over the stdio one. A connection that does not say what it is within
    /// [`control::HELLO_WAIT`] is dropped. `Err` is a message for the seat: its container never connected,
    /// or ended while it did; or the infrastructure's, when no pipe can be made.
    pub(crate) async fn accept(self, until: Instant) -> Result<Connected, Unready> {
        let mut control = None;
        let mut ends = None;
        loop {
            if control.is_some() && ends.is_some() {
                if let (Some(control), Some(ends)) = (control.take(), ends.take()) {
                    return Ok(Connected::new(control, ends));
                }
            }
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = tokio::time::sleep_until(until) => {
                    return Err(Unready::CannotRun(format!(
                        "its container did not connect to the match (socket {}) within the match's time budget",
                        self.path.display()
                    )));
                }
                () = ended(control.as_ref()) => {
                    return Err(Unready::CannotRun(
                        "its container ended before the agent could start".to_string(),
                    ));
                }
            };
            let Ok((mut stream, _)) = accepted else {
                continue;
            };
            let mut hello = [0u8; HELLO_LEN];
            match timeout(control::HELLO_WAIT, stream.read_exact(&mut hello)).await {
                Ok(Ok(_)) => {}
                _ => continue,
            }
            let Some(role) = Role::of_hello(&hello) else {
                tracing::warn!(socket = %self.path.display(), "dropped a connection that is no shim's");
                continue;
            };
            match role {
                Role::Control => control = Some(stream),
                Role::Stdio => {
                    let (orchestrator, agent) = Ends::pair()
                        .map_err(|e| Unready::Refused(format!("making the agent's pipes: {e}")))?;
                    // The agent's ends close here once passed: the shim holds the only copies.
                    match timeout(control::HELLO_WAIT, control::send_stdio(&stream, &agent)).await {
                        Ok(Ok(())) => ends = Some(orchestrator),
                        _ => {
                            tracing::warn!(socket = %self.path.display(), "the shim took no pipes")
                        }
                    }
                }
            }
        }
    }
}

/// Resolves when the control connection, once there, is closed; never before. Nothing is read: a shim says
/// nothing before it is asked.
async fn ended(control: Option<&UnixStream>) {
    use nix::sys::socket::{MsgFlags, recv};
    let Some(control) = control else {
        return std::future::pending().await;
    };
    loop {
        if control.readable().await.is_err() {
            return;
        }
        let mut byte = [0u8; 1];
        let peeked = control.try_io(tokio::io::Interest::READABLE, || {
            recv(
                control.as_raw_fd(),
                &mut byte,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)
        });
        match peeked {
            Ok(0) => return,
            Ok(_) => return std::future::pending().await,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// A seat whose shim connected: its control channel and the orchestrator's ends of its agent's pipes.
#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) control: Control,
    /// The uid the shim runs as, from the connection's peer credentials.
    pub(crate) uid: Option<u32>,
    pub(crate) ends: Ends,
}

impl Connected {
    fn new(control: UnixStream, ends: Ends) -> Self {
        let uid = control.peer_cred().ok().map(|cred| cred.uid());
        Self {
            control: Control::new(control),
            uid,
            ends,
        }
    }

    /// Has the shim prepare its agent's sandbox for `setup`.
    pub(crate) async fn prepare(
        mut self,
        setup: SeatSetup,
        until: Instant,
    ) -> Result<Prepared, Unready> {
        match self.control.ask(&Request::Prepare(setup), until).await {
            Some(Reply::Prepared { isolation, command }) => Ok(Prepared {
                connected: self,
                isolation,
                command,
            }),
            Some(Reply::CannotRun { message }) => Err(Unready::CannotRun(message)),
            Some(Reply::Refused { message }) => Err(Unready::Refused(message)),
            Some(other) => Err(Unready::Refused(format!(
                "the agent shim answered prepare with {other:?}"
            ))),
            None => Err(Unready::CannotRun(
                "its container ended while the agent was being prepared".to_string(),
            )),
        }
    }
}

/// A remote seat whose agent is ready to start.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) connected: Connected,
    /// The layers the shim plans for the agent.
    pub(crate) isolation: Isolation,
    /// How the agent starts, for logs.
    pub(crate) command: String,
}

impl Prepared {
    /// Has the shim start the agent; returns the connections, the agent's pid in its container and the
    /// isolation found in force. `Err` is a message for the agent's author.
    pub(crate) async fn start(mut self) -> Result<(Connected, u32, Isolation), String> {
        let until = Instant::now() + READING_WAIT;
        match self.connected.control.ask(&Request::Start, until).await {
            Some(Reply::Started { pid, isolation }) => Ok((self.connected, pid, isolation)),
            Some(Reply::CannotRun { message }) => Err(message),
            Some(other) => Err(format!("the agent shim answered start with {other:?}")),
            None => Err("its container ended before the agent started".to_string()),
        }
    }
}

/// The orchestrator's end of a shim's control connection: requests out; replies and the agent's exit in,
/// read by a task of their own.
#[derive(Debug)]
pub(crate) struct Control {
    writer: OwnedWriteHalf,
    replies: mpsc::Receiver<Reply>,
    /// How the agent ended, once it did (or its shim went away).
    exit: watch::Receiver<Option<String>>,
    reader: JoinHandle<()>,
    /// Set once `kill` or `end` was sent.
    killed: bool,
    /// Requests whose replies were given up on; as many replies are skipped when they come.
    stale: usize,
}

impl Control {
    fn new(stream: UnixStream) -> Self {
        let (reader, writer) = stream.into_split();
        let (reply_tx, replies) = mpsc::channel(REPLY_QUEUE);
        let (exit_tx, exit) = watch::channel(None);
        let reader = tokio::spawn(read_replies(reader, reply_tx, exit_tx));
        Self {
            writer,
            replies,
            exit,
            reader,
            killed: false,
            stale: 0,
        }
    }

    /// Sends `request` and waits for its reply until `until`; `None` when the shim is gone or late.
    async fn ask(&mut self, request: &Request, until: Instant) -> Option<Reply> {
        timeout_at(until, self.writer.write_all(&control::encode(request)))
            .await
            .ok()?
            .ok()?;
        loop {
            let Ok(reply) = timeout_at(until, self.replies.recv()).await else {
                self.stale += 1;
                return None;
            };
            if self.stale == 0 {
                return reply;
            }
            self.stale -= 1;
        }
    }

    /// Sends a request that has no reply without waiting; false when it could not be sent whole at once.
    pub(crate) fn post(&mut self, request: &Request) -> bool {
        let line = control::encode(request);
        match self.writer.try_write(&line) {
            Ok(n) if n == line.len() => true,
            Ok(_) | Err(_) => {
                tracing::debug!(
                    ?request,
                    "the agent shim's control connection took no request"
                );
                false
            }
        }
    }

    /// The agent's CPU time, `None` once it is gone.
    pub(crate) async fn cpu(&mut self) -> Option<(f64, u64)> {
        if self.killed || self.exit.borrow().is_some() {
            return None;
        }
        match self.ask(&Request::Cpu, Instant::now() + READING_WAIT).await {
            Some(Reply::Cpu { sample }) => sample,
            _ => None,
        }
    }

    /// What the agent uses; nothing once it is gone.
    pub(crate) async fn usage(&mut self) -> Usage {
        if self.killed || self.exit.borrow().is_some() {
            return Usage::default();
        }
        match self
            .ask(&Request::Usage, Instant::now() + READING_WAIT)
            .await
        {
            Some(Reply::Usage(usage)) => usage,
            _ => Usage::default(),
        }
    }

    /// Waits until the agent ended and says how (a verb phrase). Cancel-safe.
    pub(crate) async fn wait(&mut self) -> String {
        match self.exit.wait_for(Option::is_some).await {
            Ok(status) => status.clone().unwrap_or_default(),
            Err(_) => GONE_WITH_CONTAINER.to_string(),
        }
    }

    /// SIGKILL to the agent's group, once.
    pub(crate) fn kill(&mut self) {
        if !self.killed {
            self.killed = true;
            self.post(&Request::Kill);
        }
    }

    /// Tells the shim the match is over: it kills what is left and exits 0.
    pub(crate) fn end(&mut self) {
        self.killed = true;
        self.post(&Request::End);
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.end();
        self.reader.abort();
    }
}

/// What an agent's end is called when its shim went away without a word: its container was killed.
const GONE_WITH_CONTAINER: &str = "ended with its container (killed, for example for using more memory than the container's limit)";

/// Reads the shim's replies until the connection ends: `exited` goes to `exit`, the rest to `replies`.
async fn read_replies(
    reader: OwnedReadHalf,
    replies: mpsc::Sender<Reply>,
    exit: watch::Sender<Option<String>>,
) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<Reply>(&line) {
            Ok(Reply::Exited { status }) => {
                exit.send_replace(Some(status));
            }
            Ok(reply) => {
                if replies.send(reply).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the agent shim sent a line that is no reply");
            }
        }
    }
    exit.send_if_modified(|status| {
        if status.is_none() {
            *status = Some(GONE_WITH_CONTAINER.to_string());
            true
        } else {
            false
        }
    });
}

/// Binds every seat's socket, waits until `until` for each seat's shim, and has each prepare its agent for
/// `setup`, telling it whether its container's user is its own. `Err` refuses the match: a socket cannot
/// be bound.
pub(crate) async fn prepare_all(
    sockets: &[PathBuf],
    setup: SeatSetup,
    until: Instant,
) -> Result<Vec<Result<Prepared, Unready>>, String> {
    let bound = sockets
        .iter()
        .map(|path| SeatSocket::bind(path))
        .collect::<Result<Vec<_>, String>>()?;
    let connected = join_all(bound.into_iter().map(|socket| socket.accept(until))).await;
    let uids: Vec<Option<u32>> = connected
        .iter()
        .map(|seat| seat.as_ref().ok().and_then(|c| c.uid))
        .collect();
    let orchestrator = nix::unistd::geteuid().as_raw();
    let preparing = connected.into_iter().enumerate().map(|(i, seat)| {
        let setup = SeatSetup {
            own_user: own_user(uids[i], &uids, orchestrator),
            ..setup.clone()
        };
        async move { seat?.prepare(setup, until).await }
    });
    Ok(join_all(preparing).await)
}

/// Whether `uid`, the user of a seat's container, is the seat's own: not root, not the orchestrator's, not
/// another seat's (`uids` holds every seat's). `Err` says why not.
fn own_user(uid: Option<u32>, uids: &[Option<u32>], orchestrator: u32) -> Result<(), String> {
    let Some(uid) = uid else {
        return Err("the user of the agent's container is unknown".to_string());
    };
    if uid == 0 {
        Err("the agent's container runs as root".to_string())
    } else if uid == orchestrator {
        Err(format!(
            "the agent's container runs as the orchestrator's user ({uid})"
        ))
    } else if uids.iter().filter(|other| **other == Some(uid)).count() > 1 {
        Err(format!(
            "the agent's container runs as the user of another seat too ({uid})"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_user_is_its_own_only_when_nobody_else_of_the_match_has_it() {
        // (the seat's uid, every seat's, the word of the refusal)
        type Case<'a> = (Option<u32>, &'a [Option<u32>], Option<&'a str>);
        let cases: &[Case<'_>] = &[
            (Some(61001), &[Some(61001), Some(61002)], None),
            (Some(0), &[Some(0), Some(61002)], Some("root")),
            (
                Some(61000),
                &[Some(61000), Some(61002)],
                Some("orchestrator"),
            ),
            (
                Some(61001),
                &[Some(61001), Some(61001)],
                Some("another seat"),
            ),
            (None, &[None, Some(61002)], Some("unknown")),
        ];
        for (uid, uids, refusal) in cases {
            let verdict = own_user(*uid, uids, 61000);
            match refusal {
                None => assert_eq!(verdict, Ok(()), "{uid:?}"),
                Some(why) => {
                    let message = verdict.expect_err("refused");
                    assert!(message.contains(why), "{message:?} lacks {why:?}");
                }
            }
        }
    }

    #[test]
    fn long_socket_paths_go_through_their_directory_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("d".repeat(120));
        std::fs::create_dir(&deep).unwrap();
        let (short, held) = socket_address(&deep.join("seat.sock")).unwrap();
        assert!(held.is_some());
        assert!(short.as_os_str().len() <= SOCKET_PATH_MAX, "{short:?}");
        let (same, none) = socket_address(&dir.path().join("seat.sock")).unwrap();
        assert!(none.is_none());
        assert_eq!(same, dir.path().join("seat.sock"));
    }
}
