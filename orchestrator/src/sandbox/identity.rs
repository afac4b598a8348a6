//! Dedicated users for agents. When the orchestrator may change user ids (it runs as root, or holds
//! `CAP_SETUID`, `CAP_SETGID`, `CAP_CHOWN` and `CAP_KILL`), each seat's agent runs under a uid and gid of its
//! own from a configured range, used by nothing else: the agent owns no file of the host, shares no
//! process-count limit with anyone, and cannot signal, trace or read any other process by being "the same
//! user".
//!
//! - A uid is held with an exclusive lock on a file named after it in a lock directory shared by every
//!   orchestrator on the machine, for as long as the seat's agent lives; the kernel drops the lock when the
//!   orchestrator dies, however it dies. So no two seats of any match hold the same uid at once.
//! - Taking and giving back a uid kill every process still running under it (as that user, `kill(-1)`), so
//!   nothing of one match outlives it under the next.
//! - [`Tenancy`] is what a seat's uid changes on the file system: its scratch directory becomes its own
//!   (mode 0700), the directory holding the scratch directories becomes searchable but not listable (0711),
//!   and the agent's own directory opens to its group only (0750, no access for anyone else). Giving the uid
//!   back returns the scratch directory's files to the orchestrator's user and the agent directory to its
//!   mode and group.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid};

use super::child;

/// Capabilities the orchestrator needs to give agents users of their own: `CAP_CHOWN`, `CAP_KILL`,
/// `CAP_SETGID`, `CAP_SETUID` (bits 0, 5, 6 and 7).
const NEEDED_CAPABILITIES: u64 = 1 | 1 << 5 | 1 << 6 | 1 << 7;

/// The configured range of dedicated ids and the directory of their locks.
#[derive(Debug, Clone)]
pub struct UidRange {
    /// The first uid (and gid) of the range.
    pub base: u32,
    /// How many ids the range holds; two per running match are needed.
    pub count: u32,
    /// Where the lock files live; every orchestrator of the machine using the range must share it.
    pub lock_dir: PathBuf,
}

impl UidRange {
    /// Checks that this process may hand out the range; `Err` says why not (the layer is then unavailable).
    pub fn check(&self) -> Result<(), String> {
        if effective_capabilities() & NEEDED_CAPABILITIES != NEEDED_CAPABILITIES {
            return Err(
                "the orchestrator cannot change user ids (it is not root and lacks CAP_SETUID, CAP_SETGID, \
                 CAP_CHOWN and CAP_KILL); agents share its user"
                    .into(),
            );
        }
        if self.count == 0 || self.base == 0 || self.base.checked_add(self.count).is_none() {
            return Err(format!(
                "the agent uid range {}+{} is empty or overflows",
                self.base, self.count
            ));
        }
        for map in ["/proc/self/uid_map", "/proc/self/gid_map"] {
            if !mapped(map, self.base, self.count) {
                return Err(format!(
                    "the agent uid range {}..{} is not mapped in this user namespace ({map}); pick a range \
                     inside it with --agent-uid-base",
                    self.base,
                    self.base + self.count
                ));
            }
        }
        self.lock_dir()?;
        Ok(())
    }

    /// Creates the lock directory when it is missing and checks that nobody else may write to it.
    fn lock_dir(&self) -> Result<&Path, String> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = &self.lock_dir;
        let shown = dir.display();
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("creating the uid lock directory {shown}: {e}"))?;
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("the uid lock directory {shown}: {e}"))?;
        if !meta.is_dir() || meta.uid() != Uid::effective().as_raw() || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "the uid lock directory {shown} must be a directory of the orchestrator's user that nobody \
                 else may write to"
            ));
        }
        Ok(dir)
    }

    /// Takes a free uid of the range for one seat; `Err` when none is free or the locks cannot be taken.
    pub fn acquire(&self) -> Result<Identity, String> {
        let dir = self.lock_dir()?;
        // Orchestrators start their search at different places, so that they rarely meet.
        let start = std::process::id() % self.count;
        for i in 0..self.count {
            let id = self.base + (start + i) % self.count;
            let path = dir.join(id.to_string());
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| format!("opening the uid lock {}: {e}", path.display()))?;
            let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
                continue;
            };
            let identity = Identity {
                uid: id,
                gid: id,
                _lock: lock,
            };
            identity.kill_all();
            return Ok(identity);
        }
        Err(format!(
            "all {} agent uids from {} are in use by running matches; widen the range with --agent-uid-count",
            self.count, self.base
        ))
    }
}

/// Whether `[base, base + count)` lies inside one range of a user-namespace id map (`inside outside length`
/// lines); a missing map means no user namespace, where every id maps.
fn mapped(path: &str, base: u32, count: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    let (base, end) = (u64::from(base), u64::from(base) + u64::from(count));
    text.lines().any(|line| {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        matches!(fields[..], [inside, _, length] if inside <= base && end <= inside + length)
    })
}

/// A dedicated uid and gid, held for one seat.
#[derive(Debug)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    _lock: Flock<File>,
}

impl Identity {
    /// Kills every process running under the uid.
    fn kill_all(&self) {
        if let Err(error) = child::kill_user(self.uid, self.gid) {
            tracing::warn!(uid = self.uid, %error, "cannot kill the processes of a dedicated agent user");
        }
    }

    /// Runs `f` with this identity's file-system ids on the calling thread, so that `/proc` files of the
    /// agent (its descriptors) open as they would for the agent's own user.
    pub fn as_agent<T>(&self, f: impl FnOnce() -> T) -> T {
        as_user(self.uid, self.gid, f)
    }
}

/// Runs `f` with the file-system ids `uid` and `gid` on the calling thread, then takes the thread's own back.
/// The kernel clears a thread's parent-death signal when its file-system ids change: it is asked for again,
/// so that the orchestrator still ends with the executor that started it.
fn as_user<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> T {
    let death_signal = nix::sys::prctl::get_pdeathsig().ok().flatten();
    let old_uid = nix::unistd::setfsuid(Uid::from_raw(uid));
    let old_gid = nix::unistd::setfsgid(Gid::from_raw(gid));
    let result = f();
    nix::unistd::setfsgid(old_gid);
    nix::unistd::setfsuid(old_uid);
    if let Some(signal) = death_signal {
        super::rearm_parent_death(signal);
    }
    result
}

/// `CAP_SYS_ADMIN` (bit 21): mount namespaces, for a passage to a private installation.
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// A passage (see [`child::Passage`]) through the private directories on the way to `installations`, for
/// agents whose own directory is `agent_dir` and scratch directory is `scratch`; `Err` says why there can be
/// none (no `CAP_SYS_ADMIN`, an installation others cannot read itself, or the agent's own directories behind
/// the cover).
pub fn passage(
    installations: &[PathBuf],
    agent_dir: &Path,
    scratch: &Path,
) -> Result<child::Passage, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    if effective_capabilities() & CAP_SYS_ADMIN == 0 {
        return Err("the orchestrator lacks CAP_SYS_ADMIN to make a passage to it".into());
    }
    let c = |path: &Path| CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string());
    let searchable =
        |path: &Path| std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
    let mut passage = child::Passage::default();
    let mut shown: Vec<PathBuf> = Vec::new();
    for installation in installations {
        let installation = installation
            .canonicalize()
            .map_err(|e| format!("{}: {e}", installation.display()))?;
        if shown.iter().any(|s| installation.starts_with(s)) {
            continue;
        }
        let mut ancestors: Vec<&Path> = installation.ancestors().skip(1).collect();
        ancestors.reverse();
        let Some(cover) = ancestors.iter().find(|dir| !searchable(dir)).copied() else {
            continue;
        };
        if !searchable(&installation) {
            return Err(format!("{} itself is private", installation.display()));
        }
        if [agent_dir, scratch]
            .iter()
            .any(|own| own.starts_with(cover))
        {
            return Err(format!(
                "covering {} would hide the agent's own directories",
                cover.display()
            ));
        }
        let cover_c = c(cover)?;
        if !passage.covers.contains(&cover_c) {
            passage.covers.push(cover_c);
        }
        // The directories between the cover and the installation, the installation's own mount point included.
        for dir in installation
            .ancestors()
            .filter(|d| d.starts_with(cover) && *d != cover)
        {
            let dir = c(dir)?;
            if !passage.dirs.contains(&dir) {
                passage.dirs.push(dir);
            }
        }
        passage.binds.push(c(&installation)?);
        shown.push(installation);
    }
    if passage.binds.is_empty() {
        return Err("no private directory lies on the way to it".into());
    }
    if passage.binds.len() > child::PASSAGE_BINDS {
        return Err("it has too many installations".into());
    }
    // Parents before their children.
    passage
        .dirs
        .sort_by_key(|d| d.as_bytes().iter().filter(|&&b| b == b'/').count());
    Ok(passage)
}

/// The calling thread's effective capabilities.
fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

impl UidRange {
    /// Whether the range's users can reach `path` (every directory on the way searchable for them) and run
    /// it.
    pub fn can_run(&self, path: &Path) -> bool {
        let (uid, gid) = (self.base, self.base);
        let Ok(meta) = as_user(uid, gid, || std::fs::metadata(path)) else {
            return false;
        };
        meta.permissions().mode() & 0o001 != 0
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A seat's hold on its dedicated user and what that changed on the file system; undone when dropped.
#[derive(Debug)]
pub struct Tenancy {
    scratch: PathBuf,
    /// The agent directory with the mode and group it had, when it was opened to the seat's group only.
    gate: Option<(PathBuf, u32, u32)>,
    /// Dropped last: the uid stays held until everything it owned is given back.
    identity: Identity,
}

impl Tenancy {
    /// Makes `scratch` (already created, empty) the seat's own, and, when `gate` is true, opens `agent_dir`
    /// to the seat's group only.
    pub fn new(
        identity: Identity,
        scratch: &Path,
        agent_dir: &Path,
        gate: bool,
    ) -> Result<Self, String> {
        let mut tenancy = Self {
            scratch: scratch.to_path_buf(),
            gate: None,
            identity,
        };
        let (uid, gid) = (tenancy.identity.uid, tenancy.identity.gid);
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            format!("{what} {} for a dedicated agent user: {e}", path.display())
        };
        if let Some(root) = scratch.parent() {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o711))
                .map_err(|e| fail("opening", root, e))?;
        }
        std::os::unix::fs::chown(scratch, Some(uid), Some(gid))
            .map_err(|e| fail("handing over", scratch, e))?;
        if gate {
            let meta =
                std::fs::symlink_metadata(agent_dir).map_err(|e| fail("reading", agent_dir, e))?;
            if meta.is_dir() {
                tenancy.gate = Some((agent_dir.to_path_buf(), meta.mode() & 0o7777, meta.gid()));
                std::os::unix::fs::lchown(agent_dir, None, Some(gid))
                    .and_then(|()| {
                        std::fs::set_permissions(agent_dir, std::fs::Permissions::from_mode(0o750))
                    })
                    .map_err(|e| fail("opening", agent_dir, e))?;
            }
        }
        Ok(tenancy)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

impl Drop for Tenancy {
    fn drop(&mut self) {
        // Nothing of the agent may still run while its files change hands.
        self.identity.kill_all();
        let (uid, gid) = (Uid::effective().as_raw(), Gid::effective().as_raw());
        let mut pending = vec![self.scratch.clone()];
        while let Some(path) = pending.pop() {
            let _ = std::os::unix::fs::lchown(&path, Some(uid), Some(gid));
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                if let Ok(listing) = std::fs::read_dir(&path) {
                    pending.extend(listing.flatten().map(|e| e.path()));
                }
            }
        }
        if let Some((dir, mode, group)) = self.gate.take() {
            let restored = std::os::unix::fs::lchown(&dir, None, Some(group)).and_then(|()| {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            });
            if let Err(error) = restored {
                tracing::warn!(dir = %dir.display(), %error, "cannot restore an agent directory's mode");
            }
        }
    }
}
