"""Hostile agent: hunts for secrets in its environment, in /proc/<orchestrator>/environ, cmdline and mem, in
the token file next to the match files, and in inherited descriptors. Whatever it finds goes to stderr and
into its scratch directory; it then quits at its first move."""
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
found = []


def attempt(what, fn):
    try:
        result = fn()
        found.append("%s: %r" % (what, result))
        sys.stderr.write("hunt %s: READ %r\n" % (what, result))
    except Exception as error:
        sys.stderr.write("hunt %s: denied (%s)\n" % (what, type(error).__name__))


ppid = os.getppid()
sys.stderr.write("hunt env: %r\n" % dict(os.environ))
found.append(repr(dict(os.environ)))
attempt("orchestrator-environ", lambda: open("/proc/%d/environ" % ppid, "rb").read())
attempt("orchestrator-cmdline", lambda: open("/proc/%d/cmdline" % ppid, "rb").read())
attempt("orchestrator-mem", lambda: open("/proc/%d/mem" % ppid, "rb").read(16))
attempt("token-file", lambda: open(os.path.join("..", "..", "token")).read())
attempt("token-file-absolute",
        lambda: open(os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), "token")).read())
# Descriptors 3 and up: the Python adapter's own copies of stdin and stdout and its /dev/null, plus anything
# inherited. Listed by target, not read (reading the adapter's stdin copy would eat the protocol).
for fd in range(3, 256):
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        continue
    found.append("fd-%d: %s" % (fd, target))
    sys.stderr.write("hunt fd-%d: %s\n" % (fd, target))
with open(os.path.join(os.environ["HOME"], "loot"), "w") as f:
    f.write("\n".join(found))
sys.stderr.flush()


def get_action(observation):
    os._exit(7)
