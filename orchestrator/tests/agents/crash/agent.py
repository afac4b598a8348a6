"""Test agent: starts a helper process, plays four steps, then dies with exit status 3 at step 5."""
import os
import subprocess
import sys

helper = subprocess.Popen(["sleep", "1000"])
with open("pids", "a") as f:
    f.write("%d\n%d\n" % (os.getpid(), helper.pid))

calls = 0


def get_action(observation):
    global calls
    calls += 1
    if calls == 5:
        sys.stderr.write("crash agent: giving up now\n")
        sys.stderr.flush()
        os._exit(3)
    return 0
