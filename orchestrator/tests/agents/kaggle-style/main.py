"""Test agent in kaggle-environments style: attribute access on the observation and a configuration
argument. Plays the last empty cell."""
import os

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())


def get_action(observation, configuration):
    assert configuration.episodeSteps >= 9
    empty = [i for i, cell in enumerate(observation.board) if cell == 0]
    return empty[-1]
