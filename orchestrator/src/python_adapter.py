"""RL Arena Python adapter: runs a Python module agent over the orchestrator's JSON-lines protocol.

Run as `python3 -u -c <this source> <module file>` in the agent's directory. The module is imported once,
after `init` arrives; its policy is, in order of preference: a function `get_action(observation)`, a class
`Agent` whose instance (created once) has `get_action(observation)`, a function `act(observation)`, or an
`Agent` instance's `act(observation)`. Observations become numpy arrays when numpy is importable, lists
otherwise; object observations (board games) are dicts that also allow attribute access
(`observation.board`), as kaggle-environments agents expect. A policy with a second required parameter
also gets the game's configuration (`get_action(observation, configuration)`). Numpy scalars and arrays
returned as actions are converted to plain numbers and lists.

Everything the agent prints goes to stderr: protocol lines are written to a private copy of the original
stdout, and the agent's stdin is /dev/null, so agent code cannot corrupt or steal protocol lines.
"""

import importlib.util
import inspect
import json
import os
import sys
import traceback


def _open_protocol():
    """Moves the protocol to private descriptors and points the agent's stdio away from it. Input is buffered:
    an unbuffered file reads a line one byte per system call."""
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, "r")
    sys.stdout = sys.stderr
    return proto_in, proto_out


def _load_policy(path):
    """Imports the agent module and returns its policy callable, or raises RuntimeError saying what is missing."""
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load %s as a Python module" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)

    function = getattr(module, "get_action", None)
    if callable(function):
        return function
    cls = getattr(module, "Agent", None)
    instance = None
    if isinstance(cls, type):
        if callable(getattr(cls, "get_action", None)):
            instance = cls()
            return instance.get_action
    function = getattr(module, "act", None)
    if callable(function):
        return function
    if isinstance(cls, type) and callable(getattr(cls, "act", None)):
        instance = cls()
        return instance.act
    raise RuntimeError(
        "%s defines none of: get_action(observation), class Agent with get_action(observation), "
        "act(observation)" % os.path.basename(path)
    )


def _to_plain(value, np):
    """Makes an action JSON-friendly: numpy scalars and arrays, tuples and tensors become numbers and lists."""
    if np is not None:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_to_plain(v, np) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_plain(v, np) for k, v in value.items()}
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return value


class Struct(dict):
    """A dict whose keys are also attributes, like kaggle-environments' observation and configuration."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def _to_struct(value):
    if isinstance(value, dict):
        return Struct((k, _to_struct(v)) for k, v in value.items())
    return value


def _to_observation(value, np):
    """Gives list observations as numpy arrays when numpy is available, objects as Structs."""
    if isinstance(value, dict):
        return _to_struct(value)
    if np is None or not isinstance(value, list):
        return value
    try:
        return np.asarray(value)
    except Exception:
        return value


def _wants_configuration(policy):
    """Whether the policy has a second required positional parameter (for the configuration)."""
    try:
        parameters = list(inspect.signature(policy).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2


def main():
    proto_in, proto_out = _open_protocol()

    def send(message):
        proto_out.write(json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n")

    if len(sys.argv) < 2:
        send({"type": "error", "message": "python adapter: no module file given"})
        return 2
    path = os.path.abspath(sys.argv[1])
    try:
        import numpy as np
    except Exception:
        np = None

    policy = None
    configuration = None
    with_configuration = False
    for raw in proto_in:
        try:
            message = json.loads(raw)
        except ValueError:
            sys.stderr.write("python adapter: ignoring a line that is not JSON\n")
            continue
        kind = message.get("type")
        if kind == "init":
            try:
                policy = _load_policy(path)
                configuration = _to_struct(message.get("config") or {})
                with_configuration = _wants_configuration(policy)
            except Exception as error:
                traceback.print_exc()
                send({"type": "error", "message": "%s: %s" % (type(error).__name__, error)})
                return 1
            send({"type": "ready"})
        elif kind == "step":
            step = message.get("step")
            try:
                observation = _to_observation(message.get("observation"), np)
                if with_configuration:
                    action = policy(observation, configuration)
                else:
                    action = policy(observation)
                action = _to_plain(action, np)
                line = {"action": action, "step": step}
                send(line)
            except Exception as error:
                traceback.print_exc()
                send({"error": "%s: %s" % (type(error).__name__, error), "step": step})
        elif kind == "end":
            return 0
    return 0


sys.exit(main())
