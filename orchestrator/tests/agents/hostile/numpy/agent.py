"""Well-behaved agent using NumPy (its thread pool included): moves the paddle towards the ball."""
import os

import numpy as np

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
weights = np.linalg.inv(np.eye(64) * 2.0 + np.ones((64, 64)) * 0.01)


class Agent:
    def __init__(self):
        self.player = None

    def get_action(self, observation):
        obs = np.asarray(observation, dtype=np.float64)
        assert isinstance(observation, np.ndarray), type(observation)
        checksum = float((weights @ weights).trace())
        paddle = obs[4] if checksum > 0 else obs[5]
        delta = obs[1] - paddle
        return np.int64(2 if delta > 0.02 else 0 if delta < -0.02 else 1)
