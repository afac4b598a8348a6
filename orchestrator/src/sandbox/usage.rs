//! What an agent uses, read from the outside: the blocks of its scratch directory, the deleted files it keeps
//! open, its threads and its CPU time (`/proc/<pid>/...`).

use std::path::Path;
use std::sync::OnceLock;

use super::child;

/// Bytes and entries in a scratch directory, counting at most `max_entries` entries. Bytes are the blocks
/// the entries hold on the file system, directories included: a sparse file counts what it holds, space
/// preallocated past a file's end (`fallocate` with `KEEP_SIZE`) counts too.
pub fn scratch_usage(path: &Path, max_entries: usize) -> (u64, usize) {
    use std::os::unix::fs::MetadataExt;
    let mut bytes = 0u64;
    let mut entries = 0usize;
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.flatten() {
            entries += 1;
            if entries > max_entries {
                return (bytes, entries);
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            bytes = bytes.saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    (bytes, entries)
}

/// Bytes held by the regular files that process `pid` keeps open and no directory names any more (deleted
/// while open, or created with `O_TMPFILE`): space a walk of the scratch directory cannot see.
pub fn unlinked_bytes(pid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        // The descriptor's link leads to the open file itself, named or not.
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .filter(|meta| meta.is_file() && meta.nlink() == 0)
        .map(|meta| meta.blocks().saturating_mul(512))
        .fold(0u64, u64::saturating_add)
}

/// Threads of process `pid` (its `num_threads`), `None` when it is gone.
pub fn threads(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    // After the command: state is field 3 of the line, num_threads field 20.
    after.split_whitespace().nth(17)?.parse().ok()
}

/// CPU time of a process: `(all threads, dead ones included, in seconds; live threads in nanoseconds)`.
/// The first comes from `/proc/<pid>/stat` in clock ticks, the second from each task's `schedstat`, which
/// is precise enough for one move.
pub fn cpu_time(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3 of the line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks();
    let total = (utime + stime) as f64 / ticks;
    let mut live = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path().join("schedstat");
            if let Some(ns) = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                live += ns;
            }
        }
    }
    Some((total, live))
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| child::clock_ticks().map_or(100.0, |t| t as f64))
}
