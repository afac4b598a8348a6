"""Test agent: always answers 7, which is not a Pong action."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    return 7
