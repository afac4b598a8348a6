"""Test agent: its policy raises an exception at every step."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    raise ValueError("no idea what to do with %d numbers" % len(observation))
