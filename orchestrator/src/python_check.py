"""RL Arena agent check: reads a Python module agent without running it. It must parse and define an entry
point: create_agent(), a subclass of rl_arena.core.agent.Agent, get_action(observation), a class Agent with
get_action, or act(observation). Prints a JSON report on
stdout. Runs inside the agent sandbox, with the agent's limits."""
import ast
import json
import sys

path = sys.argv[1]
out = {"errors": [], "warnings": []}
tree = None
try:
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
except SyntaxError as e:
    out["errors"].append(f"{path}: syntax error at line {e.lineno}: {e.msg}")
except (MemoryError, RecursionError):
    tree = None
    out["errors"].append(f"{path}: too large or too deeply nested to read within the agent's memory limit")
except Exception as e:
    out["errors"].append(f"{path}: cannot read it: {e}")
if tree is not None:
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    has_agent = "Agent" in classes and any(
        isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == "get_action" for m in classes["Agent"].body
    )
    subclasses_agent = any(
        (isinstance(b, ast.Name) and b.id == "Agent") or (isinstance(b, ast.Attribute) and b.attr == "Agent")
        for c in classes.values() for b in c.bases
    )
    if not ({"create_agent", "get_action", "act"} & functions or subclasses_agent or has_agent):
        out["errors"].append(
            f"{path}: defines no entry point; define create_agent(), a subclass of rl_arena.core.agent.Agent, "
            "get_action(observation), a class Agent with get_action, or act(observation)"
        )
print(json.dumps(out))
