"""Baseline of the environment benchmark: the rl-arena 0.1.2 Python Pong loop, whole matches in process.

Usage: pong_loop.py --reps N --secs S. Plays matches with pseudo-random actions (0, 1, 2) for at least S
seconds per repetition and prints one JSON line per repetition: ns per step and matches per second. A step
is `env.step([a0, a1])`, which returns both observations, as in the package's own match loop.
"""

import argparse
import json
import random
import time

import rl_arena


def repetition(secs, rng):
    matches = steps = 0
    started = time.perf_counter()
    while time.perf_counter() - started < secs:
        env = rl_arena.make("pong")
        env.reset(seed=matches + 1)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step([rng.randrange(3), rng.randrange(3)])
            done = terminated or truncated
            steps += 1
        matches += 1
    elapsed = time.perf_counter() - started
    return elapsed * 1e9 / max(steps, 1), matches / elapsed, steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--secs", type=float, default=1.0)
    args = parser.parse_args()
    rng = random.Random(0x5EED)
    repetition(args.secs / 5, rng)
    for _ in range(args.reps):
        ns, rate, steps = repetition(args.secs, rng)
        print(json.dumps({"env": "pong", "ns_per_step": round(ns, 1), "matches_per_sec": round(rate, 3), "steps": steps}))


if __name__ == "__main__":
    main()
