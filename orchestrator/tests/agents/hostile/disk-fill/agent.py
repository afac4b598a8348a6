"""Hostile agent: at its first move writes one huge file, tries its own directory and /tmp, then fills its
scratch directory with 1 MiB files."""
import os
import sys

home = os.environ["HOME"]
with open(os.path.join(home, "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def attempt(what, fn):
    try:
        fn()
        sys.stderr.write("disk %s: WRITTEN\n" % what)
    except Exception as error:
        sys.stderr.write("disk %s: denied (%s)\n" % (what, error))


def huge():
    with open(os.path.join(home, "huge"), "wb") as f:
        chunk = b"h" * (1 << 20)
        for _ in range(1024):
            f.write(chunk)


def many():
    chunk = b"m" * (1 << 20)
    for i in range(64):
        with open(os.path.join(home, "fill-%d" % i), "wb") as f:
            f.write(chunk)


def get_action(observation):
    attempt("huge", huge)
    attempt("agent-dir", lambda: open("junk", "wb").write(b"x"))
    attempt("tmp", lambda: open("/tmp/rl-arena-hostile-junk", "wb").write(b"x"))
    attempt("many", many)
    sys.stderr.flush()
    return 1
