"""Test agent: module-level act(observation) returning a scalar object with .item(), like a numpy scalar,
and printing to stdout, which must not disturb the protocol."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


class Scalar:
    def __init__(self, value):
        self.value = value

    def item(self):
        return self.value


def act(observation):
    print("act-module: thinking about", len(observation), "numbers")
    return Scalar(0 if observation[1] < observation[5] else 2)
