//! The only code of the workspace that uses `unsafe`: what an agent's child process does between `fork` and
//! `exec`, two read-only kernel probes, and the short-lived child that kills the processes of a dedicated
//! agent user.
//!
//! Everything the child needs is prepared in the parent ([`ChildSetup`]): rlimit values, C strings, the
//! Landlock ruleset descriptor and the seccomp programs. Between `fork` and `exec` only async-signal-safe
//! system calls run (`prctl`, `getpid`, `getppid`, `open`, `write`, `close`, `setrlimit`, `unshare`, `mount`,
//! `mkdir`, `setgroups`, `setresgid`, `setresuid`, `close_range`, `fcntl`, `syscall`); nothing allocates,
//! locks or logs.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use seccompiler::{BpfProgram, sock_filter};

/// A placeholder pid compiled into the seccomp programs and replaced by the child's own pid after `fork`.
/// Larger than any pid the kernel hands out (`pid_max` is at most 2^22).
pub const PID_PLACEHOLDER: u32 = 0x7fff_fff1;

/// `BPF_JMP | BPF_JEQ | BPF_K`: the comparison instruction whose constant may be the placeholder.
const BPF_JEQ_K: u16 = 0x15;

/// `struct landlock_path_beneath_attr` of the Landlock ABI.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// `LANDLOCK_RULE_PATH_BENEATH`.
const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;
/// `LANDLOCK_CREATE_RULESET_VERSION`.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// What the child applies to itself, in this order: OOM score, rlimits, the capability bounding and ambient
/// sets, the passage to a private installation, the dedicated user, parent-death signal (a change of user clears it), the other capability sets,
/// inherited descriptors, no-new-privileges, Landlock, seccomp.
#[derive(Debug, Default)]
pub struct ChildSetup {
    /// The dedicated `(uid, gid)` the agent runs as, without supplementary groups.
    pub identity: Option<(libc::uid_t, libc::gid_t)>,
    /// The orchestrator's pid; a child whose parent already died exits instead of running unsupervised.
    pub parent_pid: Option<libc::pid_t>,
    /// `/proc/self/oom_score_adj`, when the agent should be the first victim of the OOM killer.
    pub oom_score_path: Option<CString>,
    /// `(resource, soft, hard)` limits.
    pub rlimits: Vec<(libc::c_int, u64, u64)>,
    /// Empty the bounding, ambient, effective, permitted and inheritable capability sets.
    pub drop_capabilities: bool,
    /// Mark every descriptor above stderr close-on-exec, so that only stdio reaches the agent.
    pub close_fds: bool,
    pub no_new_privs: bool,
    /// The Landlock ruleset, created and filled in the parent.
    pub landlock: Option<OwnedFd>,
    /// `/proc/self` plus the access rights to grant on it, added in the child so that it names the child.
    pub landlock_proc_self: Option<(CString, u64)>,
    /// seccomp programs, installed in order; [`PID_PLACEHOLDER`] is replaced with the child's pid.
    pub seccomp: Vec<BpfProgram>,
    /// Private directories the dedicated user must pass, made passable in the agent's own mount namespace.
    pub passage: Option<Passage>,
}

/// Directories on the way to an installation that a dedicated user cannot search (such as a Python under
/// `/root`), made passable for one agent only: in a mount namespace of its own, each is covered with an empty
/// tmpfs that everyone may search, and the installations are bound back at their own paths. The rest of what
/// the covered directory held is out of the agent's sight.
#[derive(Debug, Default)]
pub struct Passage {
    /// Directories to cover.
    pub covers: Vec<CString>,
    /// Directories to create on the covers, parents first.
    pub dirs: Vec<CString>,
    /// Installations to bind back at their own paths (the mount points are among `dirs`).
    pub binds: Vec<CString>,
}

/// Installations a passage binds back at most.
pub const PASSAGE_BINDS: usize = 4;

impl ChildSetup {
    /// Registers the setup to run in the child between `fork` and `exec`.
    pub fn install(mut self, command: &mut tokio::process::Command) {
        let closure = move || self.apply();
        // SAFETY: `apply` runs in the forked child before `exec`. It only makes async-signal-safe system
        // calls on data prepared before the fork and writes into memory owned by the closure (the child's
        // private copy); it does not allocate, lock, or touch state shared with other threads of the parent.
        unsafe {
            command.pre_exec(closure);
        }
    }

    /// Applies every prepared layer to the calling (child) process.
    fn apply(&mut self) -> io::Result<()> {
        if let Some(path) = &self.oom_score_path {
            write_oom_score(path);
        }
        for &(resource, soft, hard) in &self.rlimits {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            // SAFETY: `limit` is a valid rlimit for the duration of the call. The resource constant's type
            // differs between libc flavours, hence the inferred cast.
            check(unsafe { libc::setrlimit(resource as _, &limit) })?;
        }
        if self.drop_capabilities {
            // Dropping from the bounding set needs CAP_SETPCAP, which a change of user takes away.
            drop_bounding_and_ambient();
        }
        if let Some(passage) = &self.passage {
            open_passage(passage)?;
        }
        if let Some((uid, gid)) = self.identity {
            become_user(uid, gid)?;
        }
        if let Some(parent) = self.parent_pid {
            check(set_parent_death_signal())?;
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        if self.drop_capabilities {
            clear_capabilities()?;
        }
        if self.close_fds {
            mark_fds_close_on_exec();
        }
        if self.no_new_privs {
            // SAFETY: prctl with integer arguments only.
            check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        }
        if let Some(ruleset) = &self.landlock {
            if let Some((path, access)) = &self.landlock_proc_self {
                add_path_rule(ruleset.as_raw_fd(), path, *access);
            }
            // SAFETY: landlock_restrict_self takes a ruleset descriptor and flags.
            check_long(unsafe {
                libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0)
            })?;
        }
        if !self.seccomp.is_empty() {
            // SAFETY: getpid has no preconditions.
            let pid = unsafe { libc::getpid() } as u32;
            for program in &mut self.seccomp {
                patch_pid(program, pid);
            }
            for program in &self.seccomp {
                install_seccomp(program)?;
            }
        }
        Ok(())
    }
}

fn set_parent_death_signal() -> libc::c_int {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    }
}

/// Best effort: an agent that cannot raise its OOM score still runs.
fn write_oom_score(path: &CString) {
    // SAFETY: `path` is a valid NUL-terminated string; the descriptor is closed before returning.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            let value = b"1000";
            libc::write(fd, value.as_ptr().cast(), value.len());
            libc::close(fd);
        }
    }
}

/// Empties the bounding and ambient capability sets, so that no `exec` can gain a capability back.
fn drop_bounding_and_ambient() {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments only. EINVAL (no such capability) is expected and ignored.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: prctl with integer arguments only. Fails harmlessly on kernels without ambient capabilities.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
}

/// Enters a mount namespace of its own and makes the directories of `passage` passable there. The
/// installations are opened before they are covered (a bind mount's source must be of this namespace) and
/// bound back through `/proc/self/fd`.
fn open_passage(passage: &Passage) -> io::Result<()> {
    let none = std::ptr::null::<libc::c_char>();
    let mut held = [-1; PASSAGE_BINDS];
    if passage.binds.len() > PASSAGE_BINDS {
        return Err(io::Error::from_raw_os_error(libc::E2BIG));
    }
    // SAFETY: unshare, mount, open, mkdir and close with valid NUL-terminated strings (or null where the
    // kernel allows it) and integer flags; every string outlives the call that uses it.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        // Nothing mounted here reaches the machine's namespace.
        check(libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for (fd, bind) in held.iter_mut().zip(&passage.binds) {
            *fd = libc::open(bind.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            check(*fd)?;
        }
        for cover in &passage.covers {
            check(libc::mount(
                c"tmpfs".as_ptr(),
                cover.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"mode=0755,size=64k".as_ptr().cast(),
            ))?;
        }
        for dir in &passage.dirs {
            if libc::mkdir(dir.as_ptr(), 0o755) == -1
                && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
            {
                return Err(io::Error::last_os_error());
            }
        }
        for (&fd, target) in held.iter().zip(&passage.binds) {
            let mut source = [0u8; 32];
            proc_fd_path(fd, &mut source);
            check(libc::mount(
                source.as_ptr().cast(),
                target.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ))?;
            libc::close(fd);
        }
    }
    Ok(())
}

/// Writes `/proc/self/fd/<fd>` and a NUL into `out`, without allocating.
fn proc_fd_path(fd: libc::c_int, out: &mut [u8; 32]) {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    out[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut n = fd.unsigned_abs();
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..count {
        out[PREFIX.len() + i] = digits[count - 1 - i];
    }
    out[PREFIX.len() + count] = 0;
}

/// Switches to `uid` and `gid` for good (real, effective and saved), with no supplementary groups. The raw
/// system calls change the calling thread alone: the C library's `setgroups`, `setresgid` and `setresuid`
/// would change every thread of the process whose memory it runs in, the orchestrator's when the caller is
/// [`kill_user`]'s child.
fn become_user(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    // SAFETY: setgroups with a null, empty list; setresgid and setresuid take integers only.
    unsafe {
        check_long(libc::syscall(
            libc::SYS_setgroups,
            0,
            std::ptr::null::<libc::gid_t>(),
        ))?;
        check_long(libc::syscall(libc::SYS_setresgid, gid, gid, gid))?;
        check_long(libc::syscall(libc::SYS_setresuid, uid, uid, uid)).map(drop)
    }
}

/// Empties the effective, permitted and inheritable capability sets, so that not even a root agent keeps
/// privileges.
fn clear_capabilities() -> io::Result<()> {
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
        CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: capset reads a version-3 header and two data structs, both valid for the call.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })
    .map(drop)
}

/// Marks descriptors 3 and up close-on-exec: `close_range` where the kernel has it, else one by one.
fn mark_fds_close_on_exec() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with integer arguments only.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if !done {
        for fd in 3..4096 {
            // SAFETY: fcntl on a descriptor number that may not be open; EBADF is ignored.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Adds a path-beneath rule; best effort (the rule only ever widens access to `path`).
fn add_path_rule(ruleset: libc::c_int, path: &CString, access: u64) {
    // SAFETY: `path` is NUL-terminated; the attribute struct is valid for the call; the descriptor is
    // closed before returning.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        let attr = PathBeneathAttr {
            allowed_access: access,
            parent_fd: fd,
        };
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0,
        );
        libc::close(fd);
    }
}

/// Replaces the pid placeholder in comparison instructions.
fn patch_pid(program: &mut [sock_filter], pid: u32) {
    for instruction in program {
        if instruction.code == BPF_JEQ_K && instruction.k == PID_PLACEHOLDER {
            instruction.k = pid;
        }
    }
}

fn install_seccomp(program: &[sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `program`, which outlives the call; seccompiler's `sock_filter` has the
    // kernel's layout.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    })
    .map(drop)
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn check_long(result: libc::c_long) -> io::Result<libc::c_long> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// The Landlock ABI version of the running kernel, or why there is none.
pub fn landlock_abi() -> Result<i32, String> {
    // SAFETY: landlock_create_ruleset with a null attribute, size 0 and the VERSION flag only queries.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version >= 1 {
        Ok(i32::try_from(version).unwrap_or(i32::MAX))
    } else {
        let error = io::Error::last_os_error();
        Err(match error.raw_os_error() {
            Some(libc::ENOSYS) => "the kernel has no Landlock support".to_string(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is disabled on this kernel (boot with lsm=...,landlock)".to_string()
            }
            _ => format!("Landlock probe failed: {error}"),
        })
    }
}

/// Kills every process of the dedicated user `uid` (group `gid`): a short-lived child becomes that user,
/// drops every capability and sends SIGKILL to every process it may signal, which are exactly that user's
/// (`kill(-1)` spares the sender), then exits without running anything.
///
/// The child shares the orchestrator's memory and the calling thread waits while it runs (`CLONE_VM |
/// CLONE_VFORK`, as `posix_spawn` starts its children). A `fork` would copy the page tables, and every page
/// the orchestrator wrote afterwards would fault to become writable again; at three kills per seat that was
/// about 2 ms of CPU per match.
pub fn kill_user(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    /// The child's stack: it makes a few system calls only, from frames of a few hundred bytes (fewer
    /// in release builds); the margin stands in for a guard page.
    const STACK: usize = 64 * 1024;
    let mut stack = vec![0u8; STACK];
    // Stacks grow down on every architecture Linux runs this on; the top is aligned to 16 bytes.
    let top = (stack.as_mut_ptr() as usize + STACK) & !15;
    let ids = (uid, gid);
    // The child starts with every signal blocked and never unblocks one, so no handler of the orchestrator
    // runs on its stack; the calling thread's mask is restored once the child is gone.
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset fills the set it is given; pthread_sigmask reads `all` and writes `old`. `clone`
    // runs `kill_as_user` in a child sharing this memory, on `stack`, with a pointer to `ids`; the calling
    // thread is suspended until the child has exited (CLONE_VFORK), so `stack` and `ids` outlive it.
    let pid = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr());
        let pid = libc::clone(
            kill_as_user,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::from_ref(&ids).cast_mut().cast(),
        );
        let error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut());
        if pid == -1 {
            return Err(error);
        }
        pid
    };
    drop(stack);
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the killing child ended with wait status {status}"
        )))
    }
}

/// The body of [`kill_user`]'s child: becomes the user, drops every capability, kills its processes and
/// exits, with raw system calls only (see [`become_user`]).
extern "C" fn kill_as_user(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the `(uid, gid)` of `kill_user`, alive while the parent waits; the calls take
    // integers only, and SYS_exit ends this child without returning.
    unsafe {
        let &(uid, gid) = &*arg.cast::<(libc::uid_t, libc::gid_t)>();
        // A change between two users that are not root keeps the capabilities: an orchestrator that holds
        // CAP_KILL instead of being root would signal every process otherwise. `clear_capabilities` makes
        // one raw `capset` from the stack.
        if become_user(uid, gid)
            .and_then(|()| clear_capabilities())
            .is_err()
        {
            libc::syscall(libc::SYS_exit, 1);
        }
        libc::syscall(libc::SYS_kill, -1, libc::SIGKILL);
        libc::syscall(libc::SYS_exit, 0);
    }
    0
}

/// Clock ticks per second, the unit of CPU times in `/proc/<pid>/stat`.
pub fn clock_ticks() -> Option<u64> {
    // SAFETY: sysconf with a constant name has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fd_paths_are_written_without_allocating() {
        for (fd, want) in [
            (0, "/proc/self/fd/0"),
            (9, "/proc/self/fd/9"),
            (1234, "/proc/self/fd/1234"),
        ] {
            let mut out = [0u8; 32];
            proc_fd_path(fd, &mut out);
            let end = out.iter().position(|&b| b == 0).unwrap();
            assert_eq!(&out[..end], want.as_bytes());
        }
    }

    /// The killing child takes the user's processes and no one else's: not another user's, not the caller's.
    #[test]
    fn kill_user_kills_the_users_processes_only() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("the tests do not run as root: there is no user to become");
            return;
        }
        // Ids outside the orchestrator's default range, which other tests hand out concurrently.
        kills_one_user_of_two(3_999_101, 3_999_102);
    }

    /// Starts `sleep` as `victim` and as `other`, kills `victim`'s processes with [`kill_user`], and checks
    /// that the first ended by it and the second did not: both get SIGTERM afterwards, which a process that
    /// SIGKILL already reached never sees (a dying process drops other signals), so a miss fails the test at
    /// once instead of waiting for `sleep`.
    #[track_caller]
    fn kills_one_user_of_two(victim: u32, other: u32) {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let sleep = |id: u32| {
            std::process::Command::new("sleep")
                .arg("600")
                .uid(id)
                .gid(id)
                .spawn()
                .expect("starting sleep under a user of its own")
        };
        let (mut victim_sleep, mut other_sleep) = (sleep(victim), sleep(other));
        kill_user(victim, victim).expect("the killing child ran");
        let end = |child: &mut std::process::Child| {
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill with integer arguments, on our own child, not yet reaped.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
            child.wait().unwrap().signal()
        };
        assert_eq!(
            end(&mut victim_sleep),
            Some(libc::SIGKILL),
            "the user's process was killed"
        );
        assert_eq!(
            end(&mut other_sleep),
            Some(libc::SIGTERM),
            "another user's process was left alone"
        );
    }

    /// Set in the environment of the probe that [`a_killing_child_with_capabilities_instead_of_root_spares_other_users`]
    /// runs of itself.
    const CAPABILITY_PROBE: &str = "RL_ARENA_KILL_USER_PROBE";

    /// An orchestrator that is not root but holds the capabilities (`CAP_SETUID`, `CAP_SETGID`, `CAP_KILL`)
    /// kills a user's processes and no other's: its killing child, changing between two users that are not
    /// root, keeps its capabilities unless it drops them. The test runs itself again as such a process, in a
    /// PID namespace of its own, so that a killing child that reached too far kills nothing outside it.
    #[test]
    fn a_killing_child_with_capabilities_instead_of_root_spares_other_users() {
        let (caller_id, victim_id, other_id) = (3_999_111, 3_999_112, 3_999_113);
        if std::env::var_os(CAPABILITY_PROBE).is_some() {
            // The probe: not root, with the capabilities, pid 1 of its namespace (which `kill(-1)` spares).
            // SAFETY: geteuid has no preconditions.
            assert_eq!(unsafe { libc::geteuid() }, caller_id);
            kills_one_user_of_two(victim_id, other_id);
            println!("capability probe: checked");
            return;
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("the tests do not run as root: no namespace and no capabilities to hand out");
            return;
        }
        let namespace = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "true"])
            .output()
            .expect("running unshare");
        if !namespace.status.success() {
            // A container that withholds CAP_SYS_ADMIN from root; the case then runs nowhere here.
            println!(
                "no PID namespace can be made here ({}): the case is not run outside one",
                String::from_utf8_lossy(&namespace.stderr).trim()
            );
            return;
        }
        let caps = "+setuid,+setgid,+kill";
        let output = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "setpriv"])
            .arg(format!("--reuid={caller_id}"))
            .arg(format!("--regid={caller_id}"))
            .args(["--clear-groups", &format!("--inh-caps={caps}")])
            .arg(format!("--ambient-caps={caps}"))
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sandbox::child::tests::a_killing_child_with_capabilities_instead_of_root_spares_other_users",
                "--nocapture",
            ])
            .env(CAPABILITY_PROBE, "1")
            .output()
            .expect("running unshare and setpriv");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "the probe failed: {log}");
        assert!(
            log.contains("capability probe: checked"),
            "the probe did not run: {log}"
        );
    }
}
