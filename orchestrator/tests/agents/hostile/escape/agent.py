"""Hostile agent: at its first move tries to escape its process group and the orchestrator's reach (double
fork with setsid, setsid, setpgid, clearing its parent-death signal), records every pid it has, then tells
the test through the FIFO `ready` in its directory and keeps running."""
import ctypes
import os
import sys
import time

home = os.environ["HOME"]
pids = [os.getpid()]


def attempt(what, fn):
    try:
        fn()
        sys.stderr.write("escape %s: SUCCEEDED\n" % what)
    except Exception as error:
        sys.stderr.write("escape %s: denied (%s)\n" % (what, error))


def double_fork():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1000)
        os._exit(0)
    pids.append(pid)


def clear_death_signal():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def get_action(observation):
    attempt("double-fork", double_fork)
    attempt("setsid", os.setsid)
    attempt("setpgid", lambda: os.setpgid(0, 0))
    attempt("clear-pdeathsig", clear_death_signal)
    with open(os.path.join(home, "pids"), "a") as f:
        f.write("".join("%d\n" % p for p in pids))
    sys.stderr.flush()
    with open("ready") as fifo:
        fifo.read()
    time.sleep(1000)
    return 1
