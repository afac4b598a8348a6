"""Plays a pong replay's actions again in the rl-arena package's own pong, from the replay's seed and
configuration, and compares each frame's `info` with what the package's `step()` returns. Prints
`{"frames": N, "differences": [...]}` as JSON on stdout (at most five differences).

Usage: pong_info_with_rl_arena.py REPLAY
"""

import json
import sys

import rl_arena


def plain(info):
    """The package's info as JSON values: the ball position is a float32 array, the rest are Python numbers."""
    return {
        "scores": [int(s) for s in info["scores"]],
        "ball_pos": [float(x) for x in info["ball_pos"]],
        "paddle_positions": [float(y) for y in info["paddle_positions"]],
    }


def main():
    with open(sys.argv[1]) as f:
        replay = json.load(f)
    env = rl_arena.make("pong", configuration=replay["config"])
    env.reset(seed=int(replay["seed"]))
    differences = []
    for frame in replay["frames"]:
        _, _, _, _, info = env.step(frame["actions"])
        expected = plain(info)
        if frame["info"] != expected and len(differences) < 5:
            differences.append({"step": frame["step"], "recorded": frame["info"], "rl_arena": expected})
    print(json.dumps({"frames": len(replay["frames"]), "differences": differences}))


if __name__ == "__main__":
    main()
