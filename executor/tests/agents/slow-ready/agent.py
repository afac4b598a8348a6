# Test agent: takes a while to import (within the init allowance), then stays in place.
import time

time.sleep(1.5)


def get_action(observation):
    return 1
