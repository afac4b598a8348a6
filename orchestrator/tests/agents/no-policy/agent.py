"""Test agent: a module without get_action, Agent or act."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())

SPEED = 3
