"""Test agent that needs CPU: every move computes for 100 ms of its own thread's CPU time (the file `cpu_ms`
in its directory may say otherwise), then moves its paddle towards the ball. When its directory holds a FIFO
`turn`, its second move first waits there until the test lets it go."""
import os
import time

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
need = int(open("cpu_ms").read()) if os.path.exists("cpu_ms") else 100
moves = 0


def get_action(observation):
    global moves
    moves += 1
    if moves == 2 and os.path.exists("turn"):
        with open("turn") as fifo:
            fifo.read()
    start = time.thread_time()
    work = 0
    while time.thread_time() - start < need / 1000:
        work += 1
    ball, paddle = observation[1], observation[4]
    return 2 if ball > paddle + 0.02 else 0 if ball < paddle - 0.02 else 1
