//! What the executor says about a child process it ran (how it ended and the tail of what it logged), and
//! how it finds and stops the processes a previous run left in its work directories.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// How much of a helper's log is quoted in an error message.
pub(crate) const LOG_TAIL_BYTES: usize = 2048;

/// An exit status in words: its exit code or the signal that killed it.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// Live processes (zombies excluded) whose working directory is `dir` or below it, this process excluded:
/// the helpers and agents a previous run of the executor left in its work directories.
pub(crate) fn working_in(dir: &Path) -> Vec<Pid> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            let raw = i32::try_from(pid).ok()?;
            (pid != me && cwd.starts_with(dir) && !is_zombie(pid)).then(|| Pid::from_raw(raw))
        })
        .collect()
}

/// Stops the processes working in `dir`: SIGTERM (an orchestrator then ends its match as cancelled and writes
/// its result), up to `grace` for them to exit, then SIGKILL. Returns how many there were.
pub(crate) async fn stop_working_in(dir: &Path, grace: Duration) -> usize {
    /// Time a killed process gets to be gone.
    const KILLED_WAIT: Duration = Duration::from_secs(2);
    let found = working_in(dir);
    for pid in &found {
        let _ = signal::kill(*pid, Signal::SIGTERM);
    }
    let left = wait_gone(found.clone(), grace).await;
    for pid in &left {
        tracing::warn!(
            pid = pid.as_raw(),
            "a leftover process did not stop; killing it"
        );
        let _ = signal::kill(*pid, Signal::SIGKILL);
    }
    wait_gone(left, KILLED_WAIT).await;
    found.len()
}

/// Waits up to `within` for `pids` to exit; returns those still alive then.
async fn wait_gone(mut pids: Vec<Pid>, within: Duration) -> Vec<Pid> {
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    loop {
        pids.retain(|pid| is_alive(*pid));
        if pids.is_empty() || tokio::time::Instant::now() >= deadline {
            return pids;
        }
        // These are not our children: nothing tells when they exit, so look again after a moment.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn is_alive(pid: Pid) -> bool {
    signal::kill(pid, None).is_ok() && u32::try_from(pid.as_raw()).is_ok_and(|p| !is_zombie(p))
}

/// Whether `/proc` shows `pid` as a zombie (exited, not yet reaped).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}
