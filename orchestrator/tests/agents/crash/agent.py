"""Test agent: tries to start a helper process (the sandbox refuses that where seccomp is in force), plays
four steps, then dies with exit status 3 at step 5."""
import os
import subprocess
import sys

pids = [os.getpid()]
try:
    pids.append(subprocess.Popen(["sleep", "1000"]).pid)
except OSError as error:
    sys.stderr.write("crash agent: no helper process: %s\n" % error)
with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("".join("%d\n" % pid for pid in pids))

calls = 0


def get_action(observation):
    global calls
    calls += 1
    if calls == 5:
        sys.stderr.write("crash agent: giving up now\n")
        sys.stderr.flush()
        os._exit(3)
    return 0
