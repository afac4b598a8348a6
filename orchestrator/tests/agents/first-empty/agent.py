"""Test agent for board games: plays the first empty cell of observation["board"]."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    return list(observation["board"]).index(0)
