"""Hostile agent: signals the orchestrator (SIGKILL) and probes neighbouring pids, ptraces the orchestrator and
reads its memory with process_vm_readv; reports each attempt on stderr and quits at its first move."""
import ctypes
import os
import signal
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
libc = ctypes.CDLL(None, use_errno=True)
ppid = os.getppid()


def attempt(what, fn):
    try:
        fn()
        sys.stderr.write("sig %s: SUCCEEDED\n" % what)
    except Exception as error:
        sys.stderr.write("sig %s: denied (%s)\n" % (what, error))


def check(result):
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def vm_read():
    buf = ctypes.create_string_buffer(64)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = IoVec(0x400000, 64)
    check(libc.process_vm_readv(ppid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))


attempt("kill-orchestrator", lambda: os.kill(ppid, signal.SIGKILL))
for pid in range(os.getpid() - 3, os.getpid() + 4):
    if pid != os.getpid():
        attempt("probe-%d" % pid, lambda: os.kill(pid, 0))
attempt("ptrace-attach", lambda: check(libc.ptrace(16, ppid, None, None)))
attempt("process-vm-readv", vm_read)
attempt("setpriority-orchestrator", lambda: os.setpriority(os.PRIO_PROCESS, ppid, 19))
attempt("prlimit-orchestrator", lambda: __import__("resource").prlimit(ppid, __import__("resource").RLIMIT_NOFILE, (1, 1)))
sys.stderr.flush()


def get_action(observation):
    os._exit(7)
