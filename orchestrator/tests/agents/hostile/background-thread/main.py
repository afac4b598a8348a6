"""Hostile agent (O in tic-tac-toe): a background thread computes all the time, also while the opponent is on
move; it plays the last empty cell."""
import os
import threading

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
work = [0]


def compute():
    while True:
        work[0] += 1


threading.Thread(target=compute, daemon=True).start()


def get_action(observation):
    board = list(observation["board"])
    return max(i for i, cell in enumerate(board) if cell == 0)
