//! The orchestrator's ends of an agent's stdin, stdout and stderr: always pipes. A local child gets them at
//! its spawn; an agent in a container of its own gets its ends through its shim, which receives them over the
//! seat's socket (`SCM_RIGHTS`) and makes them the agent's descriptors 0, 1 and 2. Either way the orchestrator
//! reads and writes the pipes directly, with nothing relaying in between.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use rustix::pipe::{PipeFlags, pipe_with};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::unix::pipe;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use super::stderr::StderrBuffer;

/// The orchestrator's ends: where it writes the agent's input (dropping it closes the agent's stdin), where
/// it reads its answers and its log.
#[derive(Debug)]
pub(crate) struct Ends {
    pub(crate) stdin: pipe::Sender,
    pub(crate) stdout: pipe::Receiver,
    pub(crate) stderr: pipe::Receiver,
}

/// The agent's ends, to be handed to it as its descriptors 0, 1 and 2.
#[derive(Debug)]
pub(crate) struct AgentEnds {
    pub(crate) stdin: OwnedFd,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

impl Ends {
    /// The orchestrator's ends of a child's pipes.
    pub(crate) fn of_child(
        stdin: ChildStdin,
        stdout: ChildStdout,
        stderr: ChildStderr,
    ) -> std::io::Result<Self> {
        Ok(Self {
            stdin: pipe::Sender::from_owned_fd(stdin.into_owned_fd()?)?,
            stdout: pipe::Receiver::from_owned_fd(stdout.into_owned_fd()?)?,
            stderr: pipe::Receiver::from_owned_fd(stderr.into_owned_fd()?)?,
        })
    }

    /// Three new pipes (close-on-exec): the orchestrator's ends and the agent's.
    pub(crate) fn pair() -> std::io::Result<(Self, AgentEnds)> {
        let (stdin_agent, stdin) = pipe_with(PipeFlags::CLOEXEC)?;
        let (stdout, stdout_agent) = pipe_with(PipeFlags::CLOEXEC)?;
        let (stderr, stderr_agent) = pipe_with(PipeFlags::CLOEXEC)?;
        Ok((
            Self {
                stdin: pipe::Sender::from_owned_fd(stdin)?,
                stdout: pipe::Receiver::from_owned_fd(stdout)?,
                stderr: pipe::Receiver::from_owned_fd(stderr)?,
            },
            AgentEnds {
                stdin: stdin_agent,
                stdout: stdout_agent,
                stderr: stderr_agent,
            },
        ))
    }
}

/// Reads an agent's stderr into `buffer` until it ends.
pub(crate) async fn drain_stderr(
    mut pipe: impl AsyncRead + Unpin,
    buffer: Arc<Mutex<StderrBuffer>>,
) {
    let mut chunk = vec![0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => match buffer.lock() {
                Ok(mut buf) => buf.push(&chunk[..n]),
                Err(poisoned) => poisoned.into_inner().push(&chunk[..n]),
            },
        }
    }
}
