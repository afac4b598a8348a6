"""Rock-paper-scissors starter agent in the original RL Arena module format: get_action(observation).

The observation is a dict: {"step": rounds played, "reward": our running total, "lastOpponentAction": the
opponent's sign in the previous round (absent before the first round)}. The action is a sign: 0 rock,
1 paper, 2 scissors. Sign (s + 1) % 3 beats sign s.

Strategy: three simple predictors of the opponent's next sign (it repeats its last sign, it plays what
beats our last sign, it plays its favourite sign) keep a score of how often they were right; we play what
beats the prediction of the best one, with a little randomness so that we are not fully predictable.
"""

import random

SIGNS = 3
EXPLORE = 0.05

_counts = [0] * SIGNS
_hits = [0, 0, 0]
_predictions = None
_our_last = None
_their_last = None


def _beats(sign):
    return (sign + 1) % SIGNS


def _predict():
    """What each predictor expects the opponent to play next."""
    favourite = max(range(SIGNS), key=lambda sign: _counts[sign])
    return [_their_last, _beats(_our_last), favourite]


def get_action(observation):
    global _predictions, _our_last, _their_last
    last = observation.get("lastOpponentAction") if isinstance(observation, dict) else None
    if last is not None and 0 <= int(last) < SIGNS:
        last = int(last)
        _counts[last] += 1
        if _predictions is not None:
            for i, predicted in enumerate(_predictions):
                _hits[i] += 1 if predicted == last else 0
        _their_last = last

    if _their_last is None or _our_last is None:
        _predictions = None
        action = random.randrange(SIGNS)
    else:
        _predictions = _predict()
        best = max(range(len(_hits)), key=lambda i: _hits[i])
        action = _beats(_predictions[best])
        if random.random() < EXPLORE:
            action = random.randrange(SIGNS)
    _our_last = action
    return action
