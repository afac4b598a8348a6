"""Hostile agent: plays two moves, then spins forever at step 3."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
moves = 0


def get_action(observation):
    global moves
    moves += 1
    while moves >= 3:
        pass
    return 1
