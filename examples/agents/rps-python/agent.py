"""Rock-paper-scissors starter agent in the original RL Arena module format: get_action(observation).

The observation is a dict: {"step": rounds played, "reward": our running total, "lastOpponentAction": the
opponent's sign in the previous round (absent before the first round)}. The action is a sign: 0 rock,
1 paper, 2 scissors. Sign (s + 1) % 3 beats sign s.

Strategy: count the opponent's signs and play what beats its favourite, with a little randomness so that a
mirror of this agent cannot exploit it.
"""

import random

SIGNS = 3
EXPLORE = 0.1

_counts = [0] * SIGNS


def get_action(observation):
    last = observation.get("lastOpponentAction") if isinstance(observation, dict) else None
    if last is not None and 0 <= int(last) < SIGNS:
        _counts[int(last)] += 1
    if sum(_counts) < 3 or random.random() < EXPLORE:
        return random.randrange(SIGNS)
    favourite = max(range(SIGNS), key=lambda sign: _counts[sign])
    return (favourite + 1) % SIGNS
