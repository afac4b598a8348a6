"""Makes agent submissions with the rl-arena package's own tools, stored the way the RL Arena backend stores
uploads (`submissions/<uuid>_<unix>.py` and `.zip` under its storage directory).

Usage: rl_arena_submissions.py STORAGE_DIR. Prints a JSON object on stdout: `{"py": path, "zip": path}`, both
relative to STORAGE_DIR.

- `py`: `create_submission_template` of `BallFollower`, a single module ending in `create_agent()`.
- `zip`: `package_agent` of `create_submission_template(ModelTracker)` with the model file `models/paddle.json`.

Both agents play pong well only with their own paddle: they read the paddle of seat `player_id` from the
observation, so an agent told the wrong seat follows the ball with the other paddle's position. They print
their seat and where `rl_arena` came from on stderr, which the match result returns as `stderr_tail`.
"""

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rl_arena.core.agent import Agent
from rl_arena.submission import create_submission_template, package_agent


class BallFollower(Agent):
    """Moves its paddle towards the ball."""

    def reset(self):
        import sys

        origin = getattr(sys.modules["rl_arena"], "__file__", None) or "stand-in"
        print("follower reset: player_id=%d rl_arena=%s" % (self.player_id, origin), file=sys.stderr)

    def act(self, observation):
        paddle = observation[4 + self.player_id]
        if observation[1] > paddle + 0.02:
            return 2
        if observation[1] < paddle - 0.02:
            return 0
        return 1


class ModelTracker(Agent):
    """Moves its paddle towards the ball with a dead zone read from `models/paddle.json` beside the module."""

    def reset(self):
        import json
        import os
        import sys

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "paddle.json")
        with open(path) as f:
            self.dead_zone = json.load(f)["dead_zone"]
        origin = getattr(sys.modules["rl_arena"], "__file__", None) or "stand-in"
        print(
            "tracker reset: player_id=%d dead_zone=%s rl_arena=%s" % (self.player_id, self.dead_zone, origin),
            file=sys.stderr,
        )

    def act(self, observation):
        paddle = observation[4 + self.player_id]
        if observation[1] > paddle + self.dead_zone:
            return 2
        if observation[1] < paddle - self.dead_zone:
            return 0
        return 1


def stored_name(extension):
    """The name the backend gives an upload."""
    return "submissions/%s_%d%s" % (uuid.uuid4(), int(time.time()), extension)


def main():
    storage = Path(sys.argv[1])
    (storage / "submissions").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=storage))

    py = stored_name(".py")
    create_submission_template(BallFollower(), str(storage / py), agent_name="BallFollower", author="tests")

    module = work / "model_tracker.py"
    create_submission_template(ModelTracker(), str(module), agent_name="ModelTracker", author="tests")
    model = work / "paddle.json"
    model.write_text(json.dumps({"dead_zone": 0.015}))
    archive = stored_name(".zip")
    package_agent(agent_path=str(module), model_path=str(model), output_path=str(storage / archive))

    # The tools print progress on stdout; the result goes last, on its own line.
    print(json.dumps({"py": py, "zip": archive}))


if __name__ == "__main__":
    main()
