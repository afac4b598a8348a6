"""Hostile agent: starts threads until the machine says no, on every move."""
import os
import sys
import threading

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
stop = threading.Event()
threads = []


def get_action(observation):
    try:
        while True:
            thread = threading.Thread(target=stop.wait, daemon=True)
            thread.start()
            threads.append(thread)
    finally:
        sys.stderr.write("thread-bomb: %d threads\n" % len(threads))
