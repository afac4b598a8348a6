"""Test agent: takes 100 ms for every move (well within the test's step limit)."""
import os
import time

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    time.sleep(0.1)
    return 1
