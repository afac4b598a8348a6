"""Hostile agent driven by `plan.json` in its directory (written by the test): at its first move it runs the
named attacks and reports each on stderr as `attack NAME: denied (why)` or `attack NAME: SUCCEEDED ...`; it
can also spin background threads from its start, sleep on every move, and answer a fixed action.

Plan keys: `attacks` (names below, run in order), `paths` (named paths the attacks use), `spin` (background
threads that spin forever), `sleep_ms` (per move), `action` (default 1), `leave` (exit after the attacks),
`report_nice_at` (the move at which it reports its own nice value as `nice: N`).
"""
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import socket
import sys
import threading
import time

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
plan = json.load(open("plan.json"))
paths = plan.get("paths", {})
home = os.environ["HOME"]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
kept = []


def syscall(number, *args):
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def report(name, fn):
    try:
        detail = fn()
        sys.stderr.write("attack %s: SUCCEEDED %s\n" % (name, "" if detail is None else str(detail)[:80]))
    except Exception as error:
        sys.stderr.write("attack %s: denied (%s: %s)\n" % (name, type(error).__name__, error))
    sys.stderr.flush()


# x86_64 system call numbers of calls the C library or Python does not wrap.
SYS_IOPRIO_SET = 251
SYS_MQ_OPEN = 240
SYS_INOTIFY_INIT1 = 294
SYS_FALLOCATE = 285
IPC_CREAT = 0o1000


def read(name):
    with open(paths[name], "rb") as f:
        return f.read(64)


def spin():
    # Hashing a large buffer releases the interpreter lock: every spinning thread takes a core of its own.
    data = b"s" * (1 << 20)
    while True:
        hashlib.sha256(data).digest()


ATTACKS = {
    # Changing files instead of reading them.
    "chmod-canary": lambda: os.chmod(paths["canary"], 0o666),
    "chmod-binary-setuid": lambda: os.chmod(paths["binary"], 0o4755),
    "chown-canary": lambda: os.chown(paths["canary"], os.getuid(), os.getgid()),
    "lchown-binary": lambda: os.lchown(paths["binary"], os.getuid(), os.getgid()),
    "fchmod-own-file": lambda: os.fchmod(os.open(os.path.join(home, "mine"), os.O_CREAT | os.O_WRONLY, 0o600), 0o4777),
    "chmod-opponent": lambda: os.chmod(paths["opponent"], 0),
    "chmod-opponent-file": lambda: os.chmod(os.path.join(paths["opponent"], "agent.py"), 0),
    "chmod-own-dir": lambda: os.chmod(".", 0o777),
    "utime-canary": lambda: os.utime(paths["canary"], (0, 0)),
    "utime-binary": lambda: os.utime(paths["binary"], (0, 0)),
    "setxattr-canary": lambda: os.setxattr(paths["canary"], "user.hostile", b"x"),
    "setxattr-own-dir": lambda: os.setxattr(".", "user.hostile", b"x"),
    "setxattr-work-dir": lambda: os.setxattr("..", "user.hostile", b"persist"),
    "setxattr-scratch": lambda: os.setxattr(home, "user.hostile", b"x"),
    "removexattr-binary": lambda: os.removexattr(paths["binary"], "security.capability"),
    "getxattr-work-dir": lambda: os.getxattr("..", "user.hostile"),
    # Reading what is not the agent's.
    "read-canary": lambda: read("canary"),
    "read-opponent": lambda: read("opponent-file"),
    "read-spec": lambda: read("spec"),
    "read-shadow": lambda: read("shadow"),
    "read-replay": lambda: read("replay"),
    "read-secret": lambda: read("secret"),
    "list-opponent": lambda: os.listdir(paths["opponent"]),
    # Channels to another agent.
    "unix-socket": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(os.path.join(home, "sock")),
    "socketpair": lambda: socket.socketpair(),
    "sysv-shm": lambda: syscall_via("shmget", 0x7A110B, 1 << 20, IPC_CREAT | 0o666),
    "sysv-msg": lambda: syscall_via("msgget", 0x7A110C, IPC_CREAT | 0o666),
    "sysv-sem": lambda: syscall_via("semget", 0x7A110D, 1, IPC_CREAT | 0o666),
    "mq-open": lambda: syscall(SYS_MQ_OPEN, b"hostile", os.O_CREAT | os.O_RDWR, 0o666, 0),
    "flock-runtime": lambda: fcntl.flock(os.open(paths["runtime-file"], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB),
    "lockf-runtime": lambda: fcntl.lockf(os.open(paths["runtime-file"], os.O_RDONLY), fcntl.LOCK_SH | fcntl.LOCK_NB),
    "inotify": lambda: syscall(SYS_INOTIFY_INIT1, 0),
    "shm-file": lambda: open("/dev/shm/rl-arena-hostile", "wb").write(b"x"),
    "tmp-file": lambda: open("/tmp/rl-arena-hostile", "wb").write(b"x"),
    # Memory and disk past the limits.
    "memfd-3g": lambda: memfd(3 << 30),
    "shared-anon-3g": lambda: shared_anon(3 << 30),
    "fallocate-keep-size": lambda: fallocate_keep_size(64 << 20),
    "unlinked-files": lambda: unlinked_files(6, 8 << 20),
    "thread-bomb": lambda: thread_bomb(),
    # Effects on other processes.
    "setpriority-user": lambda: os.setpriority(os.PRIO_USER, 0, 19),
    "setpriority-pgrp": lambda: os.setpriority(os.PRIO_PGRP, 0, 19),
    "setpriority-orchestrator": lambda: os.setpriority(os.PRIO_PROCESS, os.getppid(), 19),
    "ioprio-user": lambda: syscall(SYS_IOPRIO_SET, 3, 0, (3 << 13) | 7),
    "ioprio-pgrp": lambda: syscall(SYS_IOPRIO_SET, 2, 0, (3 << 13) | 7),
    "affinity-orchestrator": lambda: os.sched_setaffinity(os.getppid(), {0}),
    "setpriority-self": lambda: os.setpriority(os.PRIO_PROCESS, 0, 5),
    # Who it is, and waiting for the test (a FIFO `gate` in its directory).
    "whoami": lambda: "uid=%d gid=%d groups=%s" % (os.getuid(), os.getgid(), os.getgroups()),
    "write-scratch": lambda: open(os.path.join(home, "left-behind"), "w").write("x"),
    "wait-gate": lambda: open("gate").read(),
}


def syscall_via(name, *args):
    result = getattr(libc, name)(*args)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def memfd(size):
    fd = os.memfd_create("hostile")
    os.ftruncate(fd, size)
    chunk = b"m" * (1 << 20)
    for _ in range(size >> 20):
        os.write(fd, chunk)
    kept.append(fd)


def shared_anon(size):
    import mmap
    area = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    for offset in range(0, size, 4096):
        area[offset] = 1
    kept.append(area)


def fallocate_keep_size(size):
    fd = os.open(os.path.join(home, "reserved"), os.O_CREAT | os.O_RDWR, 0o600)
    syscall(SYS_FALLOCATE, fd, 1, 0, size)
    kept.append(fd)
    return os.fstat(fd).st_blocks * 512


def unlinked_files(count, size):
    chunk = b"u" * (1 << 20)
    for i in range(count):
        path = os.path.join(home, "hidden-%d" % i)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        for _ in range(size >> 20):
            os.write(fd, chunk)
        os.unlink(path)
        kept.append(fd)
    return "%d files" % count


def thread_bomb():
    threading.stack_size(64 * 1024)
    stop = threading.Event()
    started = 0
    try:
        while started < 5000:
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
    finally:
        sys.stderr.write("thread-bomb: %d threads\n" % started)
    return started


for _ in range(plan.get("spin", 0)):
    threading.Thread(target=spin, daemon=True).start()
moves = 0


def get_action(observation):
    global moves
    moves += 1
    if moves == 1:
        for name in plan.get("attacks", []):
            report(name, ATTACKS[name])
        if plan.get("leave"):
            os._exit(0)
    if moves == plan.get("report_nice_at"):
        sys.stderr.write("nice: %d\n" % os.getpriority(os.PRIO_PROCESS, 0))
        sys.stderr.flush()
    time.sleep(plan.get("sleep_ms", 0) / 1000)
    return plan.get("action", 1)
