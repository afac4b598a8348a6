"""Hostile agent: a slow import (1.5 s, within the init allowance), then every move takes 0.6 s."""
import os
import time

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
time.sleep(1.5)


def get_action(observation):
    time.sleep(0.6)
    return 1
