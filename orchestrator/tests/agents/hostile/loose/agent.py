"""Hostile agent speaking the protocol itself: answers step N with line N of `answers.txt` in its directory
(written by the test; loose answers that look like actions), and `{"action": 1}` after the last one."""
import os
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
answers = open("answers.txt").read().splitlines()
step = 0
for line in sys.stdin:
    if '"type":"init"' in line:
        sys.stdout.write('{"type":"ready"}\n')
    elif '"type":"step"' in line:
        step += 1
        sys.stdout.write((answers[step - 1] if step <= len(answers) else '{"action": 1}') + "\n")
    else:
        break
    sys.stdout.flush()
