"""Hostile agent: asks for 10 GiB on every move."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation):
    blob = bytearray(10 << 30)
    return len(blob) % 3
