"""Well-behaved agent that uses what agents commonly use, at its start and at every move: NumPy with its
thread pool (BLAS threads for large products), a thread pool of its own, files in its home (temporary files,
copies), its own files by absolute path, time, randomness, hashing, compression, pickling, timers. Any
failure raises, which the match charges: the sandbox must let all of this run."""
import concurrent.futures
import hashlib
import json
import os
import pickle
import random
import shutil
import signal
import sys
import tempfile
import time
import zlib

import numpy as np

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
here = os.path.dirname(os.path.abspath(__file__))
pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)


def exercise():
    big = np.random.default_rng(1).random((400, 400))
    product = big @ big
    assert np.isfinite(np.linalg.inv(product + np.eye(400) * 400).sum())
    assert sum(pool.map(lambda x: x * x, range(100))) == 328350
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "data.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
        shutil.copy(path, path + ".copy")
        with open(path + ".copy", "rb") as f:
            assert len(f.read()) == 4096
    with open(os.path.join(here, "agent.py")) as f:
        assert "runtime" in f.read()
    data = pickle.dumps({"x": [random.random() for _ in range(10)]})
    assert hashlib.sha256(zlib.decompress(zlib.compress(data))).hexdigest()
    signal.setitimer(signal.ITIMER_REAL, 0)
    time.sleep(0.001)
    json.dumps(np.arange(3).tolist())


exercise()
sys.stderr.write("runtime: started with %d CPUs\n" % len(os.sched_getaffinity(0)))


def get_action(observation):
    exercise()
    ball, paddle = observation[1], observation[4]
    return 2 if ball > paddle + 0.02 else 0 if ball < paddle - 0.02 else 1
