"""Test agent: a module without get_action, Agent or act."""
import os

with open("pids", "a") as f:
    f.write("%d\n" % os.getpid())

SPEED = 3
