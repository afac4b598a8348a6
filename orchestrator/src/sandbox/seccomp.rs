//! The agents' seccomp filter: a deny list on top of "allow", so that ordinary runtimes (Python with NumPy
//! and its thread pools) run unchanged while the calls that reach beyond the agent's own process fail.
//!
//! Denied with `EPERM`: new processes (`fork`, `vfork`, `clone` without `CLONE_THREAD`), sockets other than
//! `AF_UNIX`, `ptrace` and `process_vm_*`, signals and scheduling or rlimit changes aimed at other processes
//! (only the agent's own pid, or 0 for "myself", passes), `setsid` / `setpgid`, changing the parent-death
//! signal, `io_uring`, `bpf`, `perf_event_open`, the key store, namespaces and mounts, module and kexec
//! loading, `userfaultfd`, pidfd tricks. `clone3` fails with `ENOSYS` so that the C library falls back to
//! `clone`, whose flags the filter can see.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::child::PID_PLACEHOLDER;

/// Builds the programs to install, in order; `Err` says why this machine cannot have the filter.
pub fn programs() -> Result<Vec<BpfProgram>, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        format!(
            "no seccomp filter for the {} architecture",
            std::env::consts::ARCH
        )
    })?;
    let deny = compile(deny_rules()?, libc::EPERM, arch)?;
    let clone3 = compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
        arch,
    )?;
    Ok(vec![deny, clone3])
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let errno = u32::try_from(errno).unwrap_or(1);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        arch,
    )
    .map_err(|e| format!("building the seccomp filter: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| format!("compiling the seccomp filter: {e}"))
}

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

/// Matches when argument `index` names a process other than the agent itself (0 means "myself").
fn other_process(index: u8) -> Result<Vec<SeccompRule>, String> {
    Ok(vec![rule(vec![
        arg(
            index,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            u64::from(PID_PLACEHOLDER),
        )?,
        arg(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0)?,
    ])?])
}

fn deny_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let always = [
        #[cfg(target_arch = "x86_64")]
        libc::SYS_fork,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_vfork,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_process_madvise,
        libc::SYS_kcmp,
        libc::SYS_tkill,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_getfd,
        libc::SYS_pidfd_send_signal,
        libc::SYS_setsid,
        libc::SYS_setpgid,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_userfaultfd,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_quotactl,
        libc::SYS_name_to_handle_at,
        libc::SYS_open_by_handle_at,
    ];
    for syscall in always {
        rules.insert(syscall, Vec::new());
    }
    // New processes: a clone without CLONE_THREAD is a fork.
    let clone_thread = u64::try_from(libc::CLONE_THREAD).unwrap_or(0x10000);
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![arg(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(clone_thread),
            0,
        )?])?],
    );
    // Sockets: Unix only.
    let unix = u64::try_from(libc::AF_UNIX).unwrap_or(1);
    for syscall in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(
            syscall,
            vec![rule(vec![arg(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                unix,
            )?])?],
        );
    }
    // Signals, scheduling and limits: the agent's own process only.
    for syscall in [
        libc::SYS_kill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
        libc::SYS_sched_setparam,
        libc::SYS_sched_setscheduler,
        libc::SYS_sched_setattr,
        libc::SYS_migrate_pages,
        libc::SYS_move_pages,
    ] {
        rules.insert(syscall, other_process(0)?);
    }
    for syscall in [libc::SYS_setpriority, libc::SYS_ioprio_set] {
        rules.insert(syscall, other_process(1)?);
    }
    // The parent-death signal is what kills the agent when the orchestrator dies: it stays.
    let pdeathsig = u64::try_from(libc::PR_SET_PDEATHSIG).unwrap_or(1);
    rules.insert(
        libc::SYS_prctl,
        vec![rule(vec![arg(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            pdeathsig,
        )?])?],
    );
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_compile_and_carry_the_pid_placeholder() {
        let programs = programs().unwrap();
        assert_eq!(programs.len(), 2);
        assert!(
            programs[0].iter().any(|i| i.k == PID_PLACEHOLDER),
            "the deny program compares pids with the placeholder"
        );
    }
}
