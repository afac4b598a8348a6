"""Test agent: always stays (action 1); records its pid for the process cleanup checks."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    return 1
