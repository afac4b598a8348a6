//! The contract between the orchestrator and an agent shim (`agent-shim run`) in the agent's own container:
//! the two connections a shim opens to its seat's socket, each announced by a fixed hello (over the stdio one
//! the orchestrator answers with one byte carrying the agent's three pipe ends, `SCM_RIGHTS`), and the
//! messages of the control connection (one JSON object per line).
//!
//! The orchestrator asks (`Request`), the shim answers (`Reply`): `prepare` is answered `prepared`,
//! `cannot_run` or `refused`; `start` is answered `started` or `cannot_run`; `cpu` and `usage` are answered
//! with the reading; `pause`, `resume` and `kill` are not answered; `end` ends the shim. `exited` comes
//! unasked, once, when the agent's process is gone.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use proto::outcome::Isolation;
use proto::spec::Limits;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};
use serde::{Deserialize, Serialize};
use tokio::io::Interest;
use tokio::net::UnixStream;

use super::stdio::AgentEnds;

/// Length of the hello that opens every connection.
pub(crate) const HELLO_LEN: usize = 8;
/// How long the orchestrator waits for a connection's hello.
pub(crate) const HELLO_WAIT: Duration = Duration::from_secs(2);

/// What a connection of a shim carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Requests and replies.
    Control,
    /// The agent's stdin, stdout and stderr: the agent's ends of three pipes, passed once.
    Stdio,
}

impl Role {
    pub(crate) const ALL: [Role; 2] = [Role::Control, Role::Stdio];

    /// The hello that announces a connection of this role.
    pub(crate) fn hello(self) -> [u8; HELLO_LEN] {
        let mut hello = *b"rlseat1?";
        hello[HELLO_LEN - 1] = match self {
            Role::Control => b'c',
            Role::Stdio => b's',
        };
        hello
    }

    /// The role a hello announces; `None` for anything else.
    pub(crate) fn of_hello(hello: &[u8; HELLO_LEN]) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.hello() == *hello)
    }
}

/// What the orchestrator asks of a shim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Resolve how the agent starts and prepare its sandbox.
    Prepare(SeatSetup),
    /// Start the prepared agent.
    Start,
    /// Stop the agent's process group (SIGSTOP).
    Pause,
    /// Let it run again (SIGCONT).
    Resume,
    /// Read its CPU time.
    Cpu,
    /// Read what it uses (scratch space, deleted files kept open, threads).
    Usage,
    /// SIGKILL to its process group.
    Kill,
    /// The match is over: kill what is left and exit 0.
    End,
}

/// What a shim needs from the match to prepare its agent's sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeatSetup {
    pub(crate) limits: Limits,
    pub(crate) turn_based: bool,
    /// Isolation layers the orchestrator's operator switched off.
    pub(crate) disabled: Vec<String>,
    /// Whether the container's user is the seat's own (neither root, nor the orchestrator's, nor another
    /// seat's), as the orchestrator found from the connection's peer credentials; `Err` says why not.
    pub(crate) own_user: Result<(), String>,
}

/// What a shim tells the orchestrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub(crate) enum Reply {
    /// The agent is ready to start with these layers planned; `command` is how it starts, for logs.
    Prepared {
        isolation: Isolation,
        command: String,
    },
    /// The agent started as `pid` (in its container) with these layers found in force.
    Started { pid: u32, isolation: Isolation },
    /// The agent cannot run: a message for its author.
    CannotRun { message: String },
    /// The shim cannot prepare the agent (the infrastructure's fault).
    Refused { message: String },
    /// CPU time: all threads in seconds, the live threads in nanoseconds; `None` once the agent is gone.
    Cpu { sample: Option<(f64, u64)> },
    /// What the agent uses now.
    Usage(Usage),
    /// The agent's process is gone; `status` is a verb phrase such as "exited with status 3".
    Exited { status: String },
}

/// What an agent uses, as checked against its scratch and thread limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Usage {
    /// Blocks of its scratch directory's entries, in bytes.
    pub(crate) scratch_bytes: u64,
    /// Entries of its scratch directory (counted up to one past the limit).
    pub(crate) scratch_entries: usize,
    /// Bytes of files it deleted but keeps open.
    pub(crate) unlinked_bytes: u64,
    /// Its threads; `None` when it is gone.
    pub(crate) threads: Option<u64>,
}

/// Sends the agent's ends of its pipes (stdin, stdout, stderr) over the stdio connection: one byte carrying
/// the three descriptors.
pub(crate) async fn send_stdio(stream: &UnixStream, ends: &AgentEnds) -> std::io::Result<()> {
    let fds = [ends.stdin.as_fd(), ends.stdout.as_fd(), ends.stderr.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    loop {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            let mut control = SendAncillaryBuffer::new(&mut space);
            control.push(SendAncillaryMessage::ScmRights(&fds));
            sendmsg(
                stream,
                &[IoSlice::new(b"s")],
                &mut control,
                SendFlags::empty(),
            )
            .map_err(std::io::Error::from)
        });
        match sent {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Receives the agent's three pipe ends over the stdio connection (close-on-exec until they are made the
/// agent's stdio).
pub(crate) async fn receive_stdio(stream: &UnixStream) -> std::io::Result<[OwnedFd; 3]> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    loop {
        stream.readable().await?;
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut byte = [0u8; 1];
        let received = stream.try_io(Interest::READABLE, || {
            recvmsg(
                stream,
                &mut [IoSliceMut::new(&mut byte)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)
        });
        match received {
            Ok(_) => {
                let fds: Vec<OwnedFd> = control
                    .drain()
                    .flat_map(|message| match message {
                        RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
                        _ => Vec::new(),
                    })
                    .collect();
                return <[OwnedFd; 3]>::try_from(fds).map_err(|fds| {
                    std::io::Error::other(format!(
                        "the orchestrator passed {} descriptors instead of the agent's three pipe ends",
                        fds.len()
                    ))
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// A message as one line of JSON.
pub(crate) fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_name_their_roles_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(Role::of_hello(&role.hello()), Some(role));
        }
        assert_eq!(Role::of_hello(b"rlseat1x"), None);
        assert_eq!(Role::of_hello(b"GET / HT"), None);
    }

    #[test]
    fn messages_are_single_json_lines() {
        let setup = SeatSetup {
            limits: Limits::default(),
            turn_based: true,
            disabled: vec!["landlock_net".into()],
            own_user: Err("it is root".into()),
        };
        for request in [Request::Prepare(setup), Request::Pause, Request::End] {
            let line = encode(&request);
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            let back: Request = serde_json::from_slice(&line).unwrap();
            assert_eq!(back, request);
        }
        let reply = Reply::Cpu {
            sample: Some((1.5, 7)),
        };
        let back: Reply = serde_json::from_slice(&encode(&reply)).unwrap();
        assert_eq!(back, reply);
    }
}
