"""Test agent (tic-tac-toe): plays the first empty cell; before its first move it waits for the test to write
a line into the FIFO `turn` in its directory, so that the test can look at the opponent meanwhile."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
waited = [False]


def get_action(observation):
    if not waited[0]:
        waited[0] = True
        with open("turn") as fifo:
            fifo.read()
    board = list(observation["board"])
    return board.index(0)
