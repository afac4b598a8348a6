"""Hostile agent: forks in a loop at import (bounded to 50 children in case nothing stops it)."""
import os
import sys
import time

children = []
try:
    for _ in range(50):
        pid = os.fork()
        if pid == 0:
            time.sleep(1000)
            os._exit(0)
        children.append(pid)
finally:
    with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
        f.write("".join("%d\n" % p for p in [os.getpid()] + children))
    sys.stderr.write("fork-bomb: started %d children\n" % len(children))


def get_action(observation):
    return 1
