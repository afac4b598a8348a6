"""Test agent: answers at once except at its third step, where it sleeps well past the test's step limit."""
import os
import time

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())

calls = 0


def get_action(observation):
    global calls
    calls += 1
    if calls == 3:
        time.sleep(1.2)
    return 2
