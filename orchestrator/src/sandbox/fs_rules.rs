//! The agents' Landlock ruleset: read-only access to the runtime, the agent's own directory and what the
//! operator configured, a writable private scratch directory, no TCP bind or connect, and (where the kernel
//! has scopes) no abstract Unix sockets or signals reaching outside the agent's domain. What an agent may read
//! never comes from what the agent says: an `agent.toml` command is resolved inside that set.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::{AgentBox, SandboxOptions};
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};

/// A ruleset ready for the child, and which parts of it the kernel enforces.
#[derive(Debug)]
pub struct Built {
    pub fd: OwnedFd,
    /// Rights to grant on `/proc/self` in the child.
    pub proc_self_access: u64,
    pub net: bool,
    pub scopes: bool,
}

/// Paths an agent may read (and execute) and the one it may write.
#[derive(Debug)]
pub struct Paths {
    pub read: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
}

/// Runtime paths every agent may read: interpreters, libraries, and the few files of `/etc` the dynamic
/// loader and language runtimes read.
pub const RUNTIME_PATHS: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/python3",
    "/etc/ssl/certs",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup/cpu.max",
];

/// Devices an agent may read and write.
pub const DEVICES: &[&str] = &["/dev/null"];

/// What the agent may read and run: the system runtime, its own directory, the installation of the
/// interpreter the operator configured, and the operator's extra paths; all canonical, never `/`. Nothing
/// here comes from what the agent says (an `agent.toml` command only runs when it lies inside this set).
pub fn read_paths(options: &SandboxOptions, agent: &AgentBox<'_>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = RUNTIME_PATHS.iter().map(PathBuf::from).collect();
    paths.push(agent.dir.to_path_buf());
    paths.extend(agent.runtime.iter().cloned());
    paths.extend(options.read_paths.iter().cloned());
    let mut canonical: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .filter(|p| p.parent().is_some())
        .collect();
    canonical.sort();
    canonical.dedup();
    canonical
}

/// Resolves `program`, the command an `agent.toml` names (a path, or a name looked up on the agents'
/// `PATH`), to a file inside what the agent may read and run, without widening that set: a name is looked
/// up in the `PATH` directories in order and the first match inside the set wins. `Err` is a message for the
/// agent's author when the program exists only outside the set; a program that does not exist is returned
/// as it is, to fail at start with the system's own message.
pub fn resolve_program(
    options: &SandboxOptions,
    agent: &AgentBox<'_>,
    program: &std::ffi::OsStr,
) -> Result<PathBuf, String> {
    let given = PathBuf::from(program);
    let candidates: Vec<PathBuf> = if given.to_string_lossy().contains('/') {
        vec![given.clone()]
    } else {
        std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .collect()
            })
            .unwrap_or_default()
    };
    let allowed = read_paths(options, agent);
    let mut outside = None;
    for candidate in candidates {
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        if !real.is_file() {
            continue;
        }
        if allowed.iter().any(|dir| real.starts_with(dir)) {
            return Ok(candidate);
        }
        outside.get_or_insert(real);
    }
    match outside {
        None => Ok(given),
        Some(real) => Err(format!(
            "agent.toml: command {} is {}, outside what agents may run (their own directory, the system's \
             /usr, /bin and /lib, and the directories the operator added); ship the program in the agent's \
             directory and name it as ./program",
            given.display(),
            real.display()
        )),
    }
}

/// Creates the ruleset for `paths` on a kernel with Landlock `abi`.
pub fn build(abi: i32, paths: &Paths) -> Result<Built, String> {
    let abi = ABI::from(abi);
    let all_fs = AccessFs::from_all(abi);
    let net = AccessNet::from_all(abi);
    let scopes = Scope::from_all(abi);
    let error = |e: landlock::RulesetError| format!("building the Landlock ruleset: {e}");
    let mut ruleset = Ruleset::default().handle_access(all_fs).map_err(error)?;
    if !net.is_empty() {
        ruleset = ruleset.handle_access(net).map_err(error)?;
    }
    if !scopes.is_empty() {
        ruleset = ruleset.scope(scopes).map_err(error)?;
    }
    let mut created = ruleset.create().map_err(error)?;
    let read = AccessFs::from_read(abi);
    let read_write = all_fs;
    let devices = AccessFs::ReadFile | AccessFs::WriteFile;
    for (list, access) in [(&paths.read, read), (&paths.read_write, read_write)] {
        for path in list {
            created = add(created, path, access).map_err(error)?;
        }
    }
    for device in DEVICES {
        created = add(created, Path::new(device), devices).map_err(error)?;
    }
    let fd: Option<OwnedFd> = created.into();
    let fd = fd.ok_or_else(|| "the kernel did not create a Landlock ruleset".to_string())?;
    Ok(Built {
        fd,
        proc_self_access: (AccessFs::ReadFile | AccessFs::ReadDir).bits(),
        net: !net.is_empty(),
        scopes: !scopes.is_empty(),
    })
}

/// Adds a rule for `path` when it exists; rights that only apply to directories are dropped for files.
fn add(
    created: landlock::RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
) -> Result<landlock::RulesetCreated, landlock::RulesetError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(created);
    };
    let Ok(fd) = PathFd::new(path) else {
        return Ok(created);
    };
    let access = if meta.is_dir() {
        access
    } else {
        access & file_rights()
    };
    created.add_rule(PathBeneath::new(fd, access))
}

/// Rights that apply to a file (as opposed to a directory).
fn file_rights() -> BitFlags<AccessFs> {
    AccessFs::Execute
        | AccessFs::WriteFile
        | AccessFs::ReadFile
        | AccessFs::Truncate
        | AccessFs::IoctlDev
}
