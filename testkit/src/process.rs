//! Server child processes for tests: started through a small `sh` watchdog so that a server dies
//! when its guard is dropped *or* when the test binary exits (statics are never dropped), free
//! loopback ports and bounded readiness polling.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::Duration;

/// Pause between two readiness polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Readiness polls before a server is declared broken (60 s at [`POLL_INTERVAL`]).
const READY_ATTEMPTS: u32 = 1200;

/// Fresh ports tried when a server loses the race for its port.
const PORT_ATTEMPTS: u32 = 3;

/// The watchdog: runs the server in the background and kills it when the watchdog's stdin reaches
/// end of file, which happens when the guard drops its end of the pipe or the test process exits.
/// Its own exit status is the server's, so an early exit is seen by `try_wait`.
const WATCHDOG: &str = r#"exec 3<&0
"$@" </dev/null &
pid=$!
{ read -r _ <&3; kill -KILL "$pid" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status""#;

/// One running server process; killed (SIGKILL) when dropped or when the test binary exits.
pub struct ServerProcess {
    name: String,
    watchdog: Child,
    /// Closing this pipe tells the watchdog to kill the server.
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `program args...` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[OsString], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("{name}: cannot create log {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("{name}: cannot share log {}: {e}", log.display()));
        let mut watchdog = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {}: {e}", program.display()));
        let lifeline = watchdog.stdin.take();
        ServerProcess {
            name: name.to_owned(),
            watchdog,
            lifeline,
            log: log.to_path_buf(),
        }
    }

    /// The exit status, if the server has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.watchdog.try_wait().ok().flatten()
    }

    /// The server's output so far (last 4 KiB).
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        common::text::tail(&text, 4096).to_owned()
    }

    /// Waits until `ready()` holds; `Err` with the exit status when the server exits first.
    /// Panics with the server's log when it neither exits nor gets ready in time.
    pub fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) -> Result<(), ExitStatus> {
        for _ in 0..READY_ATTEMPTS {
            if let Some(status) = self.exited() {
                return Err(status);
            }
            if ready() {
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        panic!(
            "{} did not become ready after {READY_ATTEMPTS} polls; its log:\n{}",
            self.name,
            self.log_tail()
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.watchdog.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken meanwhile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// Starts a server on a free port: `args(port)` builds its arguments, `ready(port)` says when it
/// serves. A server that exits before it is ready (typically a lost race for the port) is retried
/// on another port a few times, then the test fails with its log.
pub fn start_on_free_port(
    name: &str,
    program: &Path,
    log: &Path,
    mut args: impl FnMut(u16) -> Vec<OsString>,
    mut ready: impl FnMut(u16) -> bool,
) -> (ServerProcess, u16) {
    let mut last = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port();
        let mut server = ServerProcess::spawn(name, program, &args(port), log);
        match server.wait_ready(|| ready(port)) {
            Ok(()) => return (server, port),
            Err(status) => last = format!("exited with {status}; its log:\n{}", server.log_tail()),
        }
    }
    panic!("{name} could not be started on 127.0.0.1 ({PORT_ATTEMPTS} attempts): {last}");
}
