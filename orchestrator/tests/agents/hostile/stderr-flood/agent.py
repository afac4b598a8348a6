"""Hostile agent: writes 1 GiB to stderr at step 2, then exits."""
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
moves = 0


def get_action(observation):
    global moves
    moves += 1
    if moves == 2:
        sys.stderr.write("stderr-flood: start\n")
        chunk = "e" * (1 << 20)
        for _ in range(1024):
            sys.stderr.write(chunk)
        sys.stderr.write("\nstderr-flood: end\n")
        sys.stderr.flush()
        os._exit(1)
    return 1
