# Test agent: thinks for 50 ms on every move (well inside the step limit), so matches last a while.
import time


def get_action(observation):
    time.sleep(0.05)
    return 1
