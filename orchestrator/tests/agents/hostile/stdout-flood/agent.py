"""Hostile agent speaking the protocol itself: two answers (and a stray line) for step 1, 1 GiB without a
newline at step 2, then non-UTF-8, then invalid JSON."""
import json
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    message = json.loads(line)
    if message["type"] == "init":
        out.write(b'{"type":"ready"}\n')
    elif message["type"] == "step":
        step = message["step"]
        if step == 1:
            out.write(b'{"action": 1, "step": 1}\n{"action": 2, "step": 1}\n{"action": 7}\n')
        elif step == 2:
            chunk = b"x" * (1 << 20)
            for _ in range(1024):
                out.write(chunk)
            out.write(b"\n")
        elif step == 3:
            out.write(b'{"action": "\xff\xfe\xfd"}\n')
        else:
            out.write(b"{not json at all\n")
    else:
        break
    out.flush()
