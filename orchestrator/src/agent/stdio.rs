//! The orchestrator's ends of an agent's stdin, stdout and stderr: the pipes of a child process, or the Unix
//! socket connections of an agent in a container of its own, whose shim handed them to the agent as its
//! descriptors 0, 1 and 2. Both are read and written the same way, directly, with nothing relaying in between.

use std::os::fd::{AsFd, BorrowedFd};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::process::{ChildStdin, ChildStdout};

/// Where the orchestrator writes the agent's input. Dropping it closes the agent's stdin (the orchestrator
/// holds the only descriptor of its end).
#[derive(Debug)]
pub(crate) enum Stdin {
    Pipe(ChildStdin),
    Socket(UnixStream),
}

/// Where the orchestrator reads the agent's answers.
#[derive(Debug)]
pub(crate) enum Stdout {
    Pipe(ChildStdout),
    Socket(UnixStream),
}

impl Stdin {
    /// The descriptor, for writes that must not wait.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stdin::Pipe(pipe) => pipe.as_fd(),
            Stdin::Socket(socket) => socket.as_fd(),
        }
    }

    /// Writes what the descriptor takes, waiting until it takes something.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Stdin::Pipe(pipe) => pipe.write(bytes).await,
            Stdin::Socket(socket) => socket.write(bytes).await,
        }
    }
}

impl Stdout {
    /// The descriptor, for reads that must not wait.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stdout::Pipe(pipe) => pipe.as_fd(),
            Stdout::Socket(socket) => socket.as_fd(),
        }
    }

    /// Reads what is there, waiting until something is.
    pub(crate) async fn read(&mut self, chunk: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stdout::Pipe(pipe) => pipe.read(chunk).await,
            Stdout::Socket(socket) => socket.read(chunk).await,
        }
    }
}

/// Reads an agent's stderr into `buffer` until it ends.
pub(crate) async fn drain_stderr(
    mut pipe: impl AsyncRead + Unpin,
    buffer: std::sync::Arc<std::sync::Mutex<super::stderr::StderrBuffer>>,
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
