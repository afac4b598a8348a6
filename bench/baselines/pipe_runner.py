"""Baseline of the Python-agent benchmark: a plain Python runner that plays rl-arena Pong between agent
processes over JSON lines on pipes, with no isolation, deadlines or replay.

Usage: pipe_runner.py --adapter FILE --python PY --steps N --reps R AGENT_DIR AGENT_DIR

Each agent starts as the orchestrator starts it (`agent.toml` command, or `PY -u -c <adapter> agent.py` in
its directory) and gets the same messages (`init`, `step`, `end`). Each repetition starts both agents, plays
N/10 warm-up steps, then times N steps of: write both step lines, read both answers, check the actions, step
the environment. Prints one JSON line per repetition with ns per step.
"""

import argparse
import json
import os
import subprocess
import time
import tomllib

import rl_arena

LIMITS = {"init_ms": 10000, "step_ms": 1000, "bank_ms": 10000}


def start(agent_dir, python, adapter):
    agent_dir = os.path.abspath(agent_dir)
    manifest = os.path.join(agent_dir, "agent.toml")
    if os.path.exists(manifest):
        with open(manifest, "rb") as f:
            command = tomllib.load(f)["command"]
    else:
        module = "agent.py" if os.path.exists(os.path.join(agent_dir, "agent.py")) else "main.py"
        command = [python, "-u", "-c", adapter, module]
    return subprocess.Popen(
        command, cwd=agent_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0
    )


def ask(agents, messages):
    for agent, message in zip(agents, messages):
        agent.stdin.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
    return [json.loads(agent.stdout.readline()) for agent in agents]


def repetition(args, adapter, config):
    agents = [start(d, os.path.abspath(args.python), adapter) for d in args.agents]
    env = rl_arena.make("pong", configuration=config)
    observations, _ = env.reset(seed=7)
    init = [
        {"type": "init", "player": p, "num_players": 2, "env": "pong", "config": config, "limits": LIMITS}
        for p in range(2)
    ]
    ask(agents, init)
    step = 0

    def play(n):
        nonlocal observations, step
        for _ in range(n):
            step += 1
            messages = [
                {"type": "step", "step": step, "observation": o.tolist(), "bank_ms": LIMITS["bank_ms"]}
                for o in observations
            ]
            answers = ask(agents, messages)
            actions = []
            for answer in answers:
                action = answer.get("action")
                actions.append(int(action) if action in (0, 1, 2) else 1)
            observations, _, _, _, _ = env.step(actions)

    play(args.steps // 10)
    started = time.perf_counter()
    play(args.steps)
    ns = (time.perf_counter() - started) * 1e9 / args.steps
    for agent in agents:
        agent.stdin.write(b'{"type":"end","result":{}}\n')
        agent.stdin.close()
    for agent in agents:
        agent.wait()
    return ns


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("agents", nargs=2)
    args = parser.parse_args()
    with open(args.adapter) as f:
        adapter = f.read()
    config = {"max_steps": 10 * args.steps + 10, "winning_score": 1_000_000_000}
    for _ in range(args.reps):
        print(json.dumps({"ns_per_step": round(repetition(args, adapter, config), 1)}), flush=True)


if __name__ == "__main__":
    main()
