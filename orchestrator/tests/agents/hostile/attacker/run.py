"""Runs the attacker module over the protocol itself, for an agent.toml command that names the interpreter
(`command = ["<python>", "run.py"]`)."""
import json
import sys

import agent

for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        print(json.dumps({"type": "ready"}), flush=True)
    elif message["type"] == "step":
        action = agent.get_action(message["observation"])
        print(json.dumps({"action": action, "step": message["step"]}), flush=True)
    else:
        break
