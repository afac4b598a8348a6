"""Loads a replay with the rl-arena package's own recorder (`MatchRecorder.load`) and prints what it read as
JSON on stdout.

Usage: load_with_rl_arena.py REPLAY
"""

import json
import sys

from rl_arena.core.recorder import MatchRecorder


def main():
    recorder = MatchRecorder.load(sys.argv[1])
    last = recorder.get_frame(len(recorder) - 1)
    print(
        json.dumps(
            {
                "frames": len(recorder),
                "states": len(recorder.get_state_history()),
                "metadata": recorder.metadata,
                "start_time": recorder.start_time.isoformat(),
                "end_time": recorder.end_time.isoformat(),
                "last_step": last["step"],
                "last_info": last["info"],
            }
        )
    )


if __name__ == "__main__":
    main()
