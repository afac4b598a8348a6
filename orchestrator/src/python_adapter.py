"""RL Arena Python adapter: runs a Python module agent over the orchestrator's JSON-lines protocol.

Run as `python3 -u -c <this source> <module file>` in the agent's directory. The module is imported once,
after `init` arrives; its policy is, in order of preference:

1. the `act(observation)` of the instance its function `create_agent()` returns (the factory that
   `rl_arena.submission.create_submission_template` writes);
2. the `act(observation)` of an instance of the one class the module defines that subclasses
   `rl_arena.core.agent.Agent`;
3. a function `get_action(observation)`, a class `Agent` whose instance (created once) has
   `get_action(observation)`, a function `act(observation)`, or an `Agent` instance's `act(observation)`.

An instance from 1 or 2 is told its seat (`player_id`, from 0, as rl-arena counts players) and its `reset()`
is called before the first step. When the `rl-arena` package is not installed, `rl_arena.core.agent` (with
`Agent`) and `rl_arena.core.types` come from a small compatible base defined here; an installed package is
always preferred.

Observations become numpy arrays when numpy is importable, lists otherwise; object observations (board games)
are dicts that also allow attribute access (`observation.board`), as kaggle-environments agents expect. A
policy with a second required parameter also gets the game's configuration (`get_action(observation,
configuration)`). Numpy scalars and arrays returned as actions are converted to plain numbers and lists.

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


# A stand-in for the part of the rl-arena package that submitted agents import, used only where the package is
# not installed: module name -> (is a package, source).
_RL_ARENA_BASE = {
    "rl_arena": (True, '"""Stand-in for the rl-arena package, which is not installed here."""\n'),
    "rl_arena.core": (
        True,
        '"""Stand-in for rl_arena.core: the agent base class."""\n'
        "from rl_arena.core.agent import Agent\n",
    ),
    "rl_arena.core.types": (
        False,
        '"""Stand-in for rl_arena.core.types: the aliases agents annotate with."""\n'
        "from typing import Any, Dict, Union\n"
        "ObservationType = Any\n"
        "ActionType = Any\n"
        "RewardType = Union[int, float]\n"
        "InfoType = Dict[str, Any]\n"
        "ConfigType = Dict[str, Any]\n",
    ),
    "rl_arena.core.agent": (
        False,
        '"""Stand-in for rl_arena.core.agent: the base class of rl-arena agents."""\n'
        "from abc import ABC, abstractmethod\n"
        "from rl_arena.core.types import ActionType, ObservationType\n"
        "\n"
        "\n"
        "class Agent(ABC):\n"
        '    """Plays seat `player_id` (from 0); a subclass implements `act`."""\n'
        "\n"
        "    def __init__(self, player_id: int = 0):\n"
        "        self.player_id = player_id\n"
        "\n"
        "    @abstractmethod\n"
        "    def act(self, observation: ObservationType) -> ActionType:\n"
        '        """The action to play on `observation`."""\n'
        "\n"
        "    def reset(self) -> None:\n"
        '        """Forgets what the last episode taught; called before the first step."""\n'
        "\n"
        "    def save(self, path: str) -> None:\n"
        '        raise NotImplementedError("this agent cannot be saved")\n'
        "\n"
        "    @classmethod\n"
        '    def load(cls, path: str) -> "Agent":\n'
        '        raise NotImplementedError("this agent cannot be loaded")\n',
    ),
}


class _RlArenaBase:
    """Import hook serving `_RL_ARENA_BASE`. It is the last entry of `sys.meta_path`, so an installed rl-arena
    package (or an `rl_arena` directory shipped with the agent) is always found first, and it serves a
    submodule only under its own stand-in package."""

    MARK = "__rl_arena_stand_in__"

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _RL_ARENA_BASE:
            return None
        parent = fullname.rpartition(".")[0]
        if parent and not getattr(sys.modules.get(parent), self.MARK, False):
            return None
        is_package = _RL_ARENA_BASE[fullname][0]
        return importlib.util.spec_from_loader(fullname, self, is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        setattr(module, self.MARK, True)
        source = _RL_ARENA_BASE[module.__name__][1]
        exec(compile(source, "<%s stand-in>" % module.__name__, "exec"), module.__dict__)


def _provide_rl_arena_base():
    if not any(isinstance(finder, _RlArenaBase) for finder in sys.meta_path):
        sys.meta_path.append(_RlArenaBase())


def _rl_arena_base_class():
    """rl-arena's `Agent` when the agent module imported it (installed or the stand-in), else None."""
    base = getattr(sys.modules.get("rl_arena.core.agent"), "Agent", None)
    return base if isinstance(base, type) else None


def _rl_arena_agent(module, name):
    """The agent instance of an rl-arena module: what `create_agent()` returns, else an instance of the one
    concrete class the module defines that subclasses rl-arena's `Agent`; None when the module has neither."""
    factory = getattr(module, "create_agent", None)
    if callable(factory):
        instance = factory()
        if not callable(getattr(instance, "act", None)):
            raise RuntimeError(
                "%s: create_agent() returned %s, which has no act(observation) method" % (name, type(instance).__name__)
            )
        return instance
    base = _rl_arena_base_class()
    if base is None:
        return None
    classes = [
        value for value in vars(module).values()
        if isinstance(value, type) and value is not base and issubclass(value, base)
        and value.__module__ == module.__name__
    ]
    concrete = [c for c in classes if not inspect.isabstract(c)]
    if len(concrete) > 1:
        raise RuntimeError(
            "%s defines %d subclasses of rl_arena.core.agent.Agent (%s); define create_agent() to say which one "
            "plays" % (name, len(concrete), ", ".join(c.__name__ for c in concrete))
        )
    if concrete:
        return concrete[0]()
    if classes:
        raise RuntimeError("%s: %s does not implement act(observation)" % (name, classes[0].__name__))
    return None


def _take_seat(instance, player):
    """Tells an rl-arena agent its seat (its factory made it for seat 0) and starts its episode."""
    instance.player_id = player
    reset = getattr(instance, "reset", None)
    if callable(reset):
        reset()


def _load_policy(path, player):
    """Imports the agent module and returns its policy callable, or raises RuntimeError saying what is missing."""
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    _provide_rl_arena_base()
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load %s as a Python module" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    file_name = os.path.basename(path)

    instance = _rl_arena_agent(module, file_name)
    if instance is not None:
        _take_seat(instance, player)
        return instance.act
    function = getattr(module, "get_action", None)
    if callable(function):
        return function
    cls = getattr(module, "Agent", None)
    if cls is not None and cls is _rl_arena_base_class():
        cls = None  # the imported abstract base class is not the module's agent
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
        "%s defines none of: create_agent(), a subclass of rl_arena.core.agent.Agent, get_action(observation), "
        "class Agent with get_action(observation), act(observation)" % file_name
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
                policy = _load_policy(path, int(message.get("player") or 0))
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
