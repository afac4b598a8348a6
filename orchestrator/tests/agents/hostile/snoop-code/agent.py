"""Hostile agent: tries to read the opponent's code (its directory is a sibling of ours, named in the file
`opponent`) by absolute path, through `..`, through a symlink, and through /proc/<orchestrator>/cwd and root.
Whatever it reads goes to stderr; it then quits at its first move."""
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def attempt(what, fn):
    try:
        result = fn()
        sys.stderr.write("snoop %s: READ %r\n" % (what, result))
    except Exception as error:
        sys.stderr.write("snoop %s: denied (%s)\n" % (what, type(error).__name__))


opponent = open("opponent").read().strip()
here = os.getcwd()
absolute = os.path.join(os.path.dirname(here), opponent, "agent.py")
dotdot = os.path.join("..", opponent, "agent.py")
link = os.path.join(os.environ["HOME"], "link")
ppid = os.getppid()

attempt("absolute", lambda: open(absolute).read())
attempt("dotdot", lambda: open(dotdot).read())
attempt("listdir", lambda: os.listdir(".."))


def via_symlink():
    os.symlink(absolute, link)
    return open(link).read()


attempt("symlink", via_symlink)
attempt("proc-cwd", lambda: open("/proc/%d/cwd/%s" % (ppid, absolute)).read())
attempt("proc-root", lambda: open("/proc/%d/root%s" % (ppid, absolute)).read())
sys.stderr.flush()


def get_action(observation):
    os._exit(7)
