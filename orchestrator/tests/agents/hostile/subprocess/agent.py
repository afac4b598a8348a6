"""Hostile agent: starts a helper process with subprocess at import."""
import os
import subprocess

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
helper = subprocess.Popen(["sleep", "1000"])
with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % helper.pid)


def get_action(observation):
    return 1
