"""Baseline of the kaggle games benchmark: kaggle-environments playing rps and connectx in process.

Usage: kaggle_loop.py --env rps|connectx --reps N --secs S [--episode-steps E] [--config JSON]. The agents are Python functions in the same
process with the strategy of the native bench agent (rps: always 0; connectx: first open column), so both
sides play the same games. Whole episodes (`env.run`) are played for at least S seconds per repetition;
prints one JSON line per repetition with ns per step, matches per second and steps per match.
"""

import argparse
import json
import time

from kaggle_environments import make


def rock(observation, configuration):
    return 0


def first_open_column(observation, configuration):
    board = observation.board
    return next((c for c in range(configuration.columns) if board[c] == 0), 0)


def repetition(name, secs, config):
    agent = rock if name == "rps" else first_open_column
    matches = steps = 0
    started = time.perf_counter()
    while time.perf_counter() - started < secs:
        env = make(name, configuration=config, debug=False)
        env.run([agent, agent])
        steps += len(env.steps) - 1
        matches += 1
    elapsed = time.perf_counter() - started
    return elapsed * 1e9 / max(steps, 1), matches / elapsed, steps / max(matches, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", required=True, choices=["rps", "connectx"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--secs", type=float, default=1.0)
    parser.add_argument("--episode-steps", type=int, help="episodeSteps of the game (rps episodes are long)")
    parser.add_argument("--config", default="{}", help="more configuration of the game, as a JSON object")
    args = parser.parse_args()
    config = json.loads(args.config)
    if args.episode_steps:
        config["episodeSteps"] = args.episode_steps
    for _ in range(args.reps):
        ns, rate, per_match = repetition(args.env, args.secs, config)
        print(
            json.dumps(
                {
                    "env": args.env,
                    "ns_per_step": round(ns, 1),
                    "matches_per_sec": round(rate, 3),
                    "steps_per_match": per_match,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
