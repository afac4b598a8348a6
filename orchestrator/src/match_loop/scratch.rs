//! The agents' scratch directories: the directory of the match that holds them, and the check between steps
//! that disqualifies an agent whose scratch space grows past `limits.scratch_mb` (the blocks of its directory
//! plus those of files it deleted but keeps open) or whose threads outnumber `sandbox::THREADS`. The
//! file-size rlimit caps each file; this check caps their sum.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sandbox;

/// Entries a scratch directory may hold; walking more each step would cost the match too much.
const SCRATCH_ENTRIES: usize = 10_000;
/// The least time between two walks of the scratch directories. A walk costs about ten system calls per
/// agent, as much as the rest of a fast step; between walks an agent can write only what it writes in that
/// time, each file capped by the file-size rlimit.
pub(super) const SCRATCH_WALK_EVERY: Duration = Duration::from_millis(20);

/// The directory holding the agents' scratch directories: a given one (kept), or a temporary one removed
/// when the match ends. Agents' scratch directories live here, never beside the read-only agent directories.
pub(super) enum ScratchRoot {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl ScratchRoot {
    pub(super) fn new(kept: Option<&Path>) -> std::io::Result<Self> {
        match kept {
            Some(dir) => std::fs::create_dir_all(dir).map(|()| Self::Kept(dir.to_path_buf())),
            None => tempfile::Builder::new()
                .prefix("rl-arena-scratch-")
                .tempdir()
                .map(Self::Temporary),
        }
    }

    pub(super) fn path(&self) -> &Path {
        match self {
            Self::Kept(dir) => dir,
            Self::Temporary(dir) => dir.path(),
        }
    }
}

/// Why an agent is over its limits: more than `scratch_mb` MiB of scratch space (the blocks under `dir` plus
/// the `unlinked` bytes of deleted files it keeps open) or `SCRATCH_ENTRIES` entries, or more than
/// `sandbox::THREADS` threads; `None` while it is within them.
pub(super) fn excess(
    dir: &Path,
    unlinked: u64,
    threads: Option<u64>,
    scratch_mb: u64,
) -> Option<String> {
    let limit = scratch_mb.saturating_mul(1024 * 1024);
    let (listed, entries) = sandbox::scratch_usage(dir, SCRATCH_ENTRIES);
    let bytes = listed.saturating_add(unlinked);
    if bytes > limit || entries > SCRATCH_ENTRIES {
        return Some(format!(
            "disqualified: the scratch directory holds {bytes} bytes ({unlinked} of them in deleted files it keeps \
             open) in {entries} entries, over the limit of {scratch_mb} MiB and {SCRATCH_ENTRIES} entries"
        ));
    }
    let threads = threads?;
    (threads > sandbox::THREADS).then(|| {
        format!(
            "disqualified: {threads} threads, over the limit of {}",
            sandbox::THREADS
        )
    })
}
