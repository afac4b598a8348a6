//! The thread that forks every agent. A child's parent-death signal fires when the *thread* that forked it
//! ends, so agents are forked from one thread that lives as long as the orchestrator process: the signal
//! then means exactly "the orchestrator died".

use std::io;
use std::sync::{Mutex, OnceLock, mpsc};

use tokio::process::{Child, Command};

struct Request {
    command: Command,
    /// The runtime the child is registered with (its exit is reaped there).
    runtime: tokio::runtime::Handle,
    reply: mpsc::SyncSender<io::Result<Child>>,
}

static SPAWNER: OnceLock<Result<Mutex<mpsc::Sender<Request>>, String>> = OnceLock::new();

fn spawner() -> Result<&'static Mutex<mpsc::Sender<Request>>, String> {
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Request>();
            std::thread::Builder::new()
                .name("agent-spawner".into())
                .spawn(move || {
                    for request in rx {
                        let Request {
                            mut command,
                            runtime,
                            reply,
                        } = request;
                        let child = {
                            let _entered = runtime.enter();
                            command.spawn()
                        };
                        // The command (and the descriptors its setup holds) is dropped here.
                        drop(command);
                        let _ = reply.send(child);
                    }
                })
                .map(|_| Mutex::new(tx))
                .map_err(|e| format!("starting the agent spawner thread: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Starts `command` from the spawner thread; must be called within a tokio runtime. Blocks the calling
/// thread for the `fork` and `exec`, as a direct spawn would.
pub fn spawn(command: Command) -> io::Result<Child> {
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let spawner = spawner().map_err(io::Error::other)?;
    let (reply, answer) = mpsc::sync_channel(1);
    let sent = match spawner.lock() {
        Ok(tx) => tx.send(Request {
            command,
            runtime,
            reply,
        }),
        Err(poisoned) => poisoned.into_inner().send(Request {
            command,
            runtime,
            reply,
        }),
    };
    sent.map_err(|_| io::Error::other("the agent spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the agent spawner thread did not answer"))?
}
