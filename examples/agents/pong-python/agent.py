"""A Pong agent in the original RL Arena format: a module-level get_action(observation).

The observation is [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2] and the
actions are 0 (up: y decreases), 1 (stay) and 2 (down). Old agents are not told which paddle is theirs, so
this one finds out: it moves at random for a few steps and keeps the paddle whose moves match its own
actions, then follows the ball with it. It works with numpy arrays as well as plain lists.
"""

import random

UP, STAY, DOWN = 0, 1, 2
PADDLE_INDEX = (4, 5)
DEAD_ZONE = 0.02
WALL_MARGIN = 0.1

_previous = None
_last_action = None
_mismatches = [0, 0]


def _my_paddle():
    """The observation index of our paddle, once the evidence is clear."""
    if abs(_mismatches[0] - _mismatches[1]) >= 2:
        return PADDLE_INDEX[0] if _mismatches[0] < _mismatches[1] else PADDLE_INDEX[1]
    return None


def _learn(observation):
    """Counts, per paddle, the steps where it did not move the way we asked."""
    if _previous is None or _last_action is None:
        return
    expected = {UP: -1, STAY: 0, DOWN: 1}[_last_action]
    for seat, index in enumerate(PADDLE_INDEX):
        before = _previous[index]
        if before < WALL_MARGIN or before > 1.0 - WALL_MARGIN:
            continue  # a paddle at a wall may not move; that proves nothing
        delta = observation[index] - before
        moved = 0 if abs(delta) < 1e-6 else (1 if delta > 0 else -1)
        if moved != expected:
            _mismatches[seat] += 1


def get_action(observation):
    global _previous, _last_action
    observation = [float(v) for v in observation]
    if _my_paddle() is None:
        _learn(observation)
    paddle = _my_paddle()
    if paddle is None:
        action = random.choice((UP, DOWN))
    else:
        distance = observation[1] - observation[paddle]
        if distance > DEAD_ZONE:
            action = DOWN
        elif distance < -DEAD_ZONE:
            action = UP
        else:
            action = STAY
    _previous = observation
    _last_action = action
    return action
