//! The agents' seccomp filter: an allow-list. A call that is not listed fails with `EPERM`; calls that are
//! only partly safe are allowed with argument checks. What an agent runtime needs (a CPython interpreter with
//! NumPy and its thread pools, a shell, a native program) is listed; everything that reaches beyond the
//! agent's own process, changes files' metadata, shares memory or objects with other processes, or opens a
//! channel other than the agent's pipes is not.
//!
//! - Threads only: `clone` must carry `CLONE_THREAD` and no namespace, ptrace or pidfd flag; `fork`,
//!   `vfork` fail with `EPERM`, `clone3` with `ENOSYS` so that the C library falls back to `clone`.
//! - Signals, rlimits, priorities and CPU placement: the agent's own process only (its pid or 0 for
//!   "myself"); `setpriority` and `ioprio_set` only for one process, never a process group or a user.
//! - `prctl`, `fcntl` and `ioctl`: the listed options only (no parent-death signal change, no ptracer, no
//!   seccomp, no file locks or leases, no signal-driven I/O owners, no terminal injection).
//! - `fallocate`: plain allocation only (mode 0).
//! - Changes of modes and times (`chmod`, `fchmod*`, `utime*`) succeed and change nothing; `chown*` fails.
//! - Not at all: sockets of any family, `chown*`, extended attributes (`ENOTSUP`),
//!   `memfd_create`, System V IPC, POSIX message queues, `inotify`, `flock`, `mknod`, `ptrace`,
//!   `process_vm_*`, `pidfd_*`, `kcmp`, `tkill`, `setsid`, `setpgid`, `set*id`, namespaces, mounts, `bpf`,
//!   `perf_event_open`, `io_uring`, Linux AIO, `userfaultfd`, the key store, module and kexec loading, clocks,
//!   `sync`, `syslog`, `personality`, handle-based opens.
//!
//! Every ABI is covered: the program starts with an architecture check that kills the process for any other
//! audit architecture (i386 calls through `int 0x80` on x86_64), and x32 call numbers (`nr | 0x40000000`)
//! match no listed number, so they fail with `EPERM`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::child::PID_PLACEHOLDER;

/// Rules by call number; an empty list allows the call unconditionally.
type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Builds the programs to install, in order; `Err` says why this machine cannot have the filter.
///
/// One program: the allow-list compiled by `seccompiler`, preceded by a few instructions that answer some
/// calls of the list's refusals differently: `clone3` with `ENOSYS`, so that the C library falls back to
/// `clone`; extended attributes with `ENOTSUP`, as on a file system without them; changes of modes and times
/// with a success that changes nothing. A second program could not be installed once the first one is in
/// force: `seccomp` itself is not on the list.
pub fn programs() -> Result<Vec<BpfProgram>, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        format!(
            "no seccomp filter for the {} architecture",
            std::env::consts::ARCH
        )
    })?;
    let filter = SeccompFilter::new(
        allow_rules()?,
        SeccompAction::Errno(errno(libc::EPERM)),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| format!("building the seccomp filter: {e}"))?;
    let allowed =
        BpfProgram::try_from(filter).map_err(|e| format!("compiling the seccomp filter: {e}"))?;
    let mut errors = vec![(libc::SYS_clone3, libc::ENOSYS)];
    errors.extend(XATTR.iter().map(|&nr| (nr, libc::ENOTSUP)));
    errors.extend(MODES_AND_TIMES.iter().map(|&nr| (nr, 0)));
    Ok(vec![with_errors(allowed, &errors)?])
}

/// `BPF_LD | BPF_W | BPF_ABS`: loads a word of `seccomp_data`.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K`: jumps on equality with a constant.
const BPF_JEQ_K: u16 = 0x15;
/// `BPF_RET | BPF_K`: returns a constant action.
const BPF_RET_K: u16 = 0x06;
/// Offset of the call number in `seccomp_data`.
const SECCOMP_DATA_NR: u32 = 0;
/// Instructions of the architecture check that starts every `seccompiler` program (load the audit
/// architecture, compare, kill the process on a mismatch).
const ARCH_CHECK: usize = 3;

/// Prepends to `program` a check that answers each call of `errors` with its errno (0: success) without
/// running it; the calls must not be allowed by `program` itself. The architecture check is repeated first, since call numbers mean
/// something only on the program's own architecture.
fn with_errors(program: BpfProgram, errors: &[(i64, i32)]) -> Result<BpfProgram, String> {
    let instruction = |code, jt, jf, k| seccompiler::sock_filter { code, jt, jf, k };
    let arch_check = program
        .get(..ARCH_CHECK)
        .ok_or("the compiled seccomp program has no architecture check")?;
    let mut out: BpfProgram = arch_check.to_vec();
    out.push(instruction(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR));
    for &(nr, error) in errors {
        let nr = u32::try_from(nr).map_err(|_| format!("system call number {nr}"))?;
        // Equal: the next instruction returns the error; else it is skipped.
        out.push(instruction(BPF_JEQ_K, 0, 1, nr));
        out.push(instruction(
            BPF_RET_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | errno(error),
        ));
    }
    out.extend(program);
    Ok(out)
}

fn errno(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(1)
}

fn unconditional(calls: &[i64]) -> Rules {
    calls.iter().map(|&nr| (nr, Vec::new())).collect()
}

/// Calls on the agent's own memory, descriptors, time, threads and signals, and file calls that Landlock
/// bounds (reading the runtime and the agent's directory, writing its scratch directory).
const ALWAYS: &[i64] = &[
    // Descriptors and file contents.
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_close,
    libc::SYS_close_range,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_pipe2,
    libc::SYS_lseek,
    libc::SYS_ftruncate,
    libc::SYS_truncate,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_fadvise64,
    libc::SYS_readahead,
    libc::SYS_sendfile,
    libc::SYS_copy_file_range,
    // File metadata and names (within what Landlock allows).
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getdents64,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_readlinkat,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_symlinkat,
    libc::SYS_linkat,
    libc::SYS_umask,
    // Waiting and events on the agent's own descriptors.
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    libc::SYS_signalfd4,
    // Memory of the agent's own process (all of it counted in its address space).
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_msync,
    libc::SYS_mincore,
    libc::SYS_madvise,
    libc::SYS_mbind,
    libc::SYS_get_mempolicy,
    libc::SYS_set_mempolicy,
    libc::SYS_pkey_alloc,
    libc::SYS_pkey_free,
    libc::SYS_pkey_mprotect,
    libc::SYS_mseal,
    libc::SYS_membarrier,
    // Threads and their synchronisation.
    libc::SYS_futex,
    libc::SYS_futex_waitv,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_set_tid_address,
    libc::SYS_rseq,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_getparam,
    libc::SYS_sched_getscheduler,
    libc::SYS_sched_getattr,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_sched_rr_get_interval,
    libc::SYS_getcpu,
    libc::SYS_getpriority,
    libc::SYS_ioprio_get,
    // Signals to itself (`kill` and `tgkill` are checked below).
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_rt_sigsuspend,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    // Time.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_nanosleep,
    libc::SYS_getitimer,
    libc::SYS_setitimer,
    libc::SYS_timer_create,
    libc::SYS_timer_settime,
    libc::SYS_timer_gettime,
    libc::SYS_timer_getoverrun,
    libc::SYS_timer_delete,
    // Identity and limits of the agent itself.
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getgroups,
    libc::SYS_getpgid,
    libc::SYS_getsid,
    libc::SYS_getrusage,
    libc::SYS_times,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_getrandom,
    // Running a program replaces the agent (no new process): the limits and filters stay.
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_wait4,
    libc::SYS_waitid,
];

/// The x86_64 calls that newer architectures only have in their `*at` or `p*` form.
#[cfg(target_arch = "x86_64")]
const ALWAYS_X86_64: &[i64] = &[
    libc::SYS_open,
    libc::SYS_creat,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_access,
    libc::SYS_readlink,
    libc::SYS_getdents,
    libc::SYS_mkdir,
    libc::SYS_rmdir,
    libc::SYS_unlink,
    libc::SYS_rename,
    libc::SYS_link,
    libc::SYS_symlink,
    libc::SYS_dup2,
    libc::SYS_pipe,
    libc::SYS_poll,
    libc::SYS_select,
    libc::SYS_epoll_create,
    libc::SYS_epoll_wait,
    libc::SYS_eventfd,
    libc::SYS_signalfd,
    libc::SYS_pause,
    libc::SYS_alarm,
    libc::SYS_time,
    libc::SYS_getpgrp,
    libc::SYS_arch_prctl,
    libc::SYS_getrlimit,
    libc::SYS_setrlimit,
    // `map_shadow_stack`, for C libraries that enable shadow stacks.
    453,
];

/// Extended-attribute calls: refused with `ENOTSUP`, as on a file system without them, so that copying
/// tools skip them instead of failing.
const XATTR: &[i64] = &[
    libc::SYS_setxattr,
    libc::SYS_lsetxattr,
    libc::SYS_fsetxattr,
    libc::SYS_getxattr,
    libc::SYS_lgetxattr,
    libc::SYS_fgetxattr,
    libc::SYS_listxattr,
    libc::SYS_llistxattr,
    libc::SYS_flistxattr,
    libc::SYS_removexattr,
    libc::SYS_lremovexattr,
    libc::SYS_fremovexattr,
];

/// Changes of a file's mode or times: they report success and change nothing, so that library code that
/// copies modes and times along with contents (Python's `shutil.copy`, `tarfile`) runs unchanged.
const MODES_AND_TIMES: &[i64] = &[
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_utimensat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_chmod,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fchmodat2,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_utime,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_utimes,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_futimesat,
];

/// `prctl` options an agent may use: names, reads of its own state, timer slack, transparent huge pages,
/// anonymous mapping names and no-new-privileges (already set).
const PRCTL: &[libc::c_int] = &[
    libc::PR_GET_PDEATHSIG,
    libc::PR_GET_DUMPABLE,
    libc::PR_GET_KEEPCAPS,
    libc::PR_SET_NAME,
    libc::PR_GET_NAME,
    libc::PR_GET_SECCOMP,
    libc::PR_CAPBSET_READ,
    libc::PR_GET_TIMERSLACK,
    libc::PR_SET_TIMERSLACK,
    libc::PR_GET_CHILD_SUBREAPER,
    libc::PR_SET_NO_NEW_PRIVS,
    libc::PR_GET_NO_NEW_PRIVS,
    libc::PR_GET_TID_ADDRESS,
    libc::PR_GET_THP_DISABLE,
    libc::PR_SET_THP_DISABLE,
    PR_GET_SPECULATION_CTRL,
    libc::PR_SET_VMA,
];

/// `PR_GET_SPECULATION_CTRL`, the same number on every architecture.
const PR_GET_SPECULATION_CTRL: libc::c_int = 52;

/// `fcntl` commands an agent may use: descriptor flags, status flags, duplication and pipe size reads. Not
/// file locks and leases (a lock on a shared runtime file is a channel to other agents), owners of
/// signal-driven I/O (a signal to another process), directory notifications or seals.
const FCNTL: &[libc::c_int] = &[
    libc::F_DUPFD,
    libc::F_DUPFD_CLOEXEC,
    libc::F_GETFD,
    libc::F_SETFD,
    libc::F_GETFL,
    libc::F_SETFL,
    libc::F_GETPIPE_SZ,
];

/// `ioctl` requests an agent may use: terminal queries (answered "not a terminal" on pipes), bytes
/// waiting, non-blocking mode and close-on-exec. Not terminal input injection, file flags or clones.
const IOCTL: &[libc::Ioctl] = &[
    libc::TCGETS,
    libc::TIOCGWINSZ,
    libc::TIOCGPGRP,
    libc::FIONREAD,
    libc::FIONBIO,
    libc::FIOCLEX,
    libc::FIONCLEX,
];

/// Clone flags a thread may not carry: new namespaces, tracing, pidfds and vfork semantics.
const CLONE_FORBIDDEN: libc::c_int = libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_PTRACE
    | libc::CLONE_UNTRACED
    | libc::CLONE_PIDFD
    | libc::CLONE_VFORK
    | libc::CLONE_PARENT;

/// `which` of `setpriority` and `ioprio_set` naming one process (not a process group or a user).
const PRIO_PROCESS: u64 = 0;
const IOPRIO_WHO_PROCESS: u64 = 1;

/// A condition on argument `index`.
fn arg(
    index: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, String> {
    SeccompCondition::new(index, len, op, value).map_err(|e| format!("seccomp condition: {e}"))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| format!("seccomp rule: {e}"))
}

/// Argument `index` (a 32-bit value, as the kernel reads it) equals `value`.
fn equals(index: u8, value: u64) -> Result<SeccompCondition, String> {
    arg(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
}

/// One rule per allowed value of argument `index`, each with the extra conditions `with`.
fn one_of(
    index: u8,
    values: impl IntoIterator<Item = u64>,
    with: &[SeccompCondition],
) -> Result<Vec<SeccompRule>, String> {
    values
        .into_iter()
        .map(|value| {
            let mut conditions = with.to_vec();
            conditions.push(equals(index, value)?);
            rule(conditions)
        })
        .collect()
}

/// Argument `index` names the agent's own process: its pid (patched in after `fork`) or 0.
fn myself(index: u8, with: &[SeccompCondition]) -> Result<Vec<SeccompRule>, String> {
    one_of(index, [0, u64::from(PID_PLACEHOLDER)], with)
}

fn as_u64(value: libc::c_int) -> u64 {
    // Flags and commands are non-negative; the kernel compares their 32-bit pattern.
    u64::from(value as u32)
}

fn allow_rules() -> Result<Rules, String> {
    let mut rules = unconditional(ALWAYS);
    #[cfg(target_arch = "x86_64")]
    rules.extend(unconditional(ALWAYS_X86_64));

    // Threads only.
    let thread = as_u64(libc::CLONE_THREAD);
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![
            arg(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(thread),
                thread,
            )?,
            arg(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(as_u64(CLONE_FORBIDDEN)),
                0,
            )?,
        ])?],
    );
    // Signals, limits and CPU placement of the agent's own process.
    for call in [
        libc::SYS_kill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
    ] {
        rules.insert(call, myself(0, &[])?);
    }
    rules.insert(
        libc::SYS_setpriority,
        myself(1, &[equals(0, PRIO_PROCESS)?])?,
    );
    rules.insert(
        libc::SYS_ioprio_set,
        myself(1, &[equals(0, IOPRIO_WHO_PROCESS)?])?,
    );
    rules.insert(
        libc::SYS_prctl,
        one_of(0, PRCTL.iter().map(|&o| as_u64(o)), &[])?,
    );
    rules.insert(
        libc::SYS_fcntl,
        one_of(1, FCNTL.iter().map(|&c| as_u64(c)), &[])?,
    );
    rules.insert(
        libc::SYS_ioctl,
        // The kernel reads the request as a 32-bit command.
        one_of(1, IOCTL.iter().map(|&r| r & 0xffff_ffff), &[])?,
    );
    rules.insert(libc::SYS_fallocate, one_of(1, [0], &[])?);
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_compiles_and_carries_the_pid_placeholder() {
        let programs = programs().unwrap();
        assert_eq!(programs.len(), 1);
        assert!(
            programs[0].iter().any(|i| i.k == PID_PLACEHOLDER),
            "the allow-list compares pids with the placeholder"
        );
    }

    /// Calls that must never be on the list, whatever is added to it later.
    #[test]
    fn dangerous_calls_are_not_allowed() {
        let rules = allow_rules().unwrap();
        let mut never = vec![
            libc::SYS_socket,
            libc::SYS_socketpair,
            libc::SYS_connect,
            libc::SYS_fchmod,
            libc::SYS_fchmodat,
            libc::SYS_fchown,
            libc::SYS_fchownat,
            libc::SYS_utimensat,
            libc::SYS_memfd_create,
            libc::SYS_shmget,
            libc::SYS_shmat,
            libc::SYS_msgget,
            libc::SYS_semget,
            libc::SYS_mq_open,
            libc::SYS_inotify_init1,
            libc::SYS_flock,
            libc::SYS_mknodat,
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_pidfd_open,
            libc::SYS_kcmp,
            libc::SYS_tkill,
            libc::SYS_setsid,
            libc::SYS_setpgid,
            libc::SYS_setuid,
            libc::SYS_unshare,
            libc::SYS_mount,
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_io_uring_setup,
            libc::SYS_io_setup,
            libc::SYS_userfaultfd,
            libc::SYS_keyctl,
            libc::SYS_sched_setscheduler,
            libc::SYS_sched_setattr,
            libc::SYS_migrate_pages,
            libc::SYS_move_pages,
            libc::SYS_personality,
            libc::SYS_sync,
            libc::SYS_clone3,
        ];
        never.extend(XATTR);
        #[cfg(target_arch = "x86_64")]
        never.extend([
            libc::SYS_fork,
            libc::SYS_vfork,
            libc::SYS_chmod,
            libc::SYS_chown,
            libc::SYS_lchown,
            libc::SYS_utime,
            libc::SYS_utimes,
            libc::SYS_futimesat,
            libc::SYS_fchmodat2,
            libc::SYS_mknod,
            libc::SYS_inotify_init,
        ]);
        for call in never {
            assert!(!rules.contains_key(&call), "call {call} is allowed");
        }
    }
}
