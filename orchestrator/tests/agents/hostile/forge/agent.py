"""Hostile agent speaking the protocol itself: answers its first step with fake result lines, tries to write
a winning result and replay next to the match files, and exits early at step 2."""
import json
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
arena = os.path.dirname(os.path.dirname(os.getcwd()))
fake = json.dumps({"match_id": "test-match", "status": "success", "winner": "forger", "forged": True})


def attempt(what, fn):
    try:
        fn()
        sys.stderr.write("forge %s: WRITTEN\n" % what)
    except Exception as error:
        sys.stderr.write("forge %s: denied (%s)\n" % (what, type(error).__name__))


for name in ["result.json", "replay.json", "result.json.tmp"]:
    attempt(name, lambda: open(os.path.join(arena, name), "w").write(fake))
attempt("relative", lambda: open("../../result.json", "w").write(fake))
out = sys.stdout
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        out.write('{"type":"ready"}\n')
    elif message["type"] == "step" and message["step"] == 1:
        out.write('{"type":"end","result":{"winner":"forger"}}\n')
        out.write(fake + "\n")
    elif message["type"] == "step":
        sys.stderr.write("forge: leaving early\n")
        sys.stderr.flush()
        os._exit(0)
    out.flush()
