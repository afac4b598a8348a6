"""The benchmark harness behind `bench/run`: measures every figure of docs/performance.md against a baseline
measured in the same run and prints medians, min/max and the ratio.

Run it through `bash bench/run` (which builds the release binaries, the native bench agent and the pipe floor,
and fills the venv). Options: `--quick` (fewer and shorter repetitions, for a smoke test), `--only 1,2`
(sections), `--save` (also write bench/results/<utc time>.json).

Every timed figure is a list of repetitions; the printed value is their median, with min and max. Per-step
costs of whole `orchestrator run` processes use the difference method: the median wall time of a one-step
match is subtracted from each long match, and the rest is divided by the extra steps, so process start-up,
agent start-up and the init handshake are not counted as step cost.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(os.environ.get("BENCH_BIN_DIR", ROOT / "target" / "release")).resolve()
WORK = ROOT / "target" / "bench"
BIN = WORK / "bin"
ORCH = RELEASE / "orchestrator"
SHIM = RELEASE / "agent-shim"
EXECUTOR = RELEASE / "executor"
AGENT_INIT = RELEASE / "agent-init"
KUBE_SIM = RELEASE / "kube-sim"
VENV_PY = Path(sys.executable)
ADAPTER = ROOT / "orchestrator" / "src" / "python_adapter.py"
EXAMPLES = ROOT / "examples" / "agents"

FIGURES = []


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- printing


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt_time(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def fmt(value, unit):
    if unit == "ns":
        return fmt_time(value)
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB" if value >= 1024 else f"{value:.0f} KiB"
    return f"{value:.3g} {unit}"


def show(value, unit):
    if value is None:
        return "n/a"
    return f"{fmt(value['median'], unit)} (min {fmt(value['min'], unit)}, max {fmt(value['max'], unit)}, n={value['n']})"


def figure(section, name, ours, unit, baseline_name, base, kind, target=None, note=""):
    """Records and prints one figure. `kind`: `faster` (baseline/ours, times), `overhead` (ours/baseline,
    times), `higher` (ours/baseline, rates)."""
    o, b = stats(ours), stats(base)
    ratio = None
    if o and b and o["median"] > 0 and b["median"] > 0:
        ratio = b["median"] / o["median"] if kind == "faster" else o["median"] / b["median"]
    met = None
    if ratio is not None and target is not None:
        met = ratio >= target if kind in ("faster", "higher") else ratio <= target
    words = {"faster": "x faster", "overhead": "x the baseline", "higher": "x the baseline"}[kind]
    ratio_text = "n/a" if ratio is None else f"{ratio:.2f}{words}"
    if target is not None:
        sign = "<=" if kind == "overhead" else ">="
        ratio_text += f"   target {sign} {target}x: " + ("n/a" if met is None else "MET" if met else "NOT MET")
    print(f"[{section}] {name}: {show(o, unit)}")
    print(f"      baseline {baseline_name}: {show(b, unit)}")
    print(f"      ratio {ratio_text}" + (f"   ({note})" if note else ""), flush=True)
    FIGURES.append(
        {
            "section": section,
            "name": name,
            "unit": unit,
            "ours": o,
            "baseline_name": baseline_name,
            "baseline": b,
            "ratio": ratio,
            "kind": kind,
            "target": target,
            "met": met,
            "note": note,
        }
    )


def pending(section, name, reason):
    print(f"[{section}] {name}: pending ({reason})", flush=True)
    FIGURES.append({"section": section, "name": name, "pending": reason})


# ------------------------------------------------------------------------------------------------ helpers


def json_lines(cmd, **kwargs):
    """Runs `cmd` and returns the JSON objects it printed, one per line (other lines are ignored)."""
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kwargs)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def fast_agent_dir(name, wrapper=()):
    """An agent directory holding the native bench agent, optionally started through `wrapper` (taskset)."""
    directory = WORK / "agents" / name
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BIN / "fast-agent", directory / "fast-agent")
    command = [*wrapper, "./fast-agent"]
    (directory / "agent.toml").write_text("command = " + json.dumps(command) + "\n")
    return directory


def trivial_python_dir():
    directory = WORK / "agents" / "trivial-python"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "agent.py").write_text("def get_action(observation):\n    return 1\n")
    return directory


def python_read_paths():
    """Directories the sandbox must let Python agents read: the venv and the interpreter's installation."""
    return sorted({str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve())})


class Shims:
    """One `agent-shim run` per seat, each standing for an agent's own container: the orchestrator listens on a
    Unix socket per seat, passes the seat's shim the agent's ends of three pipes, and the shim runs the agent
    with them as its stdio (the Kubernetes path, emulated with local processes)."""

    def __init__(self, tmp, agents, prefix=()):
        self.procs = []
        self.flags = []
        self.log = open(tmp / "shims.log", "ab")
        for i, agent in enumerate(agents):
            seat = tmp / "seats" / f"agent-{i + 1}"
            scratch = tmp / "containers" / f"agent-{i + 1}"
            for directory in (seat, scratch):
                directory.mkdir(parents=True, exist_ok=True)
            socket_path = seat / "seat.sock"
            self.procs.append(subprocess.Popen(
                [*prefix, str(SHIM), "run", "--socket", str(socket_path), "--app", str(agent), "--scratch-root",
                 str(scratch)],
                stdout=subprocess.DEVNULL, stderr=self.log,
            ))
            self.flags += ["--seat-socket", str(socket_path)]

    def finish(self):
        codes = [p.wait(timeout=60) for p in self.procs]
        self.log.close()
        if any(codes):
            raise BenchError(f"agent-shim exit codes {codes}; see shims.log")


class Orchestrator:
    """Runs `orchestrator run` on generated specs and times whole processes."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.count = 0
        # CPU seconds of each agent in the last run, as the orchestrator reports them.
        self.last_agent_cpu = []

    def run(self, env, config, agents, prefix=(), extra=(), expect_steps=None, record_replay=True, shims=False):
        """Plays one match; with `shims`, each agent behind an `agent-shim` placed like the orchestrator."""
        self.count += 1
        spec = {
            "match_id": f"bench-{self.count}",
            "environment": env,
            "seed": 7,
            "config": config,
            "agents": [{"agent_id": f"agent-{i}", "dir": str(d)} for i, d in enumerate(agents)],
            "limits": {"step_ms": 5000, "match_ms": 600000},
            "record_replay": record_replay,
        }
        spec_path = self.tmp / "spec.json"
        result = self.tmp / "result.json"
        spec_path.write_text(json.dumps(spec))
        if result.exists():
            result.unlink()
        seats = Shims(self.tmp, agents, prefix) if shims else None
        cmd = [*prefix, str(ORCH), "run", "--spec", str(spec_path), "--result-file", str(result), *extra,
               *(seats.flags if seats else [])]
        started = time.perf_counter_ns()
        with open(self.tmp / "orchestrator.log", "wb") as log:
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log).returncode
        elapsed = time.perf_counter_ns() - started
        if seats:
            seats.finish()
        outcome = json.loads(result.read_text()) if result.exists() else {}
        bad = [a for a in outcome.get("agents", []) if a.get("errors")]
        if code != 0 or outcome.get("status") != "success" or bad:
            raise BenchError(
                f"orchestrator run of {env} failed (exit {code}): {json.dumps(outcome)[:600]}; "
                f"log {self.tmp / 'orchestrator.log'}"
            )
        if expect_steps is not None and outcome["total_steps"] != expect_steps:
            raise BenchError(f"{env}: expected {expect_steps} steps, played {outcome['total_steps']}")
        self.last_agent_cpu = [a.get("cpu_time_sec", 0.0) for a in outcome["agents"]]
        return elapsed, outcome["total_steps"]

    def per_step(self, env, long_config, short_config, agents, reps, **kwargs):
        """Per-step ns by the difference method; returns (list per repetition, steps of the long match).
        Also keeps, in `agent_cpu_per_step`, the CPU ns per step of the busier agent by the same method."""
        shorts, longs, short_cpu, long_cpu = [], [], [], []
        for _ in range(reps):
            shorts.append(self.run(env, short_config, agents, **kwargs))
            short_cpu.append(self.last_agent_cpu)
            longs.append(self.run(env, long_config, agents, **kwargs))
            long_cpu.append(self.last_agent_cpu)
        short = statistics.median(t for t, _ in shorts)
        short_steps = shorts[0][1]
        start_cpu = [statistics.median(c[i] for c in short_cpu) for i in range(len(agents))]
        self.agent_cpu_per_step = [
            max((c[i] - start_cpu[i]) * 1e9 / (n - short_steps) for i in range(len(agents)))
            for c, (_, n) in zip(long_cpu, longs)
        ]
        return [(t - short) / (n - short_steps) for t, n in longs], longs[0][1]


def pong_config(steps):
    return {"max_steps": steps, "winning_score": 1_000_000_000}


# ---------------------------------------------------------------------------------------------- sections


def section_envs(args):
    print("\n== 1. environment step cost, in process, built-in agents ==", flush=True)
    ours = json_lines(
        ["cargo", "bench", "-q", "-p", "rl-arena-envs", "--bench", "steps", "--", "--json", "--reps", str(args.reps),
         "--secs", str(args.secs)],
        cwd=ROOT,
    )
    python = json_lines(
        [str(VENV_PY), str(ROOT / "bench" / "baselines" / "pong_loop.py"), "--reps", str(args.reps), "--secs",
         str(args.secs)]
    )
    base_ns = [r["ns_per_step"] for r in python]
    base_rate = [r["matches_per_sec"] for r in python]
    for env in ["pong", "rps", "connectx", "tictactoe"]:
        rows = [r for r in ours if r["env"] == env]
        target = 20 if env == "pong" else None
        note = "" if env == "pong" else "rl-arena has only pong; shown against its pong loop for scale"
        figure(1, f"{env} env step", [r["ns_per_step"] for r in rows], "ns", "rl-arena 0.1.2 pong loop (Python)",
               base_ns, "faster", target, note)
        figure(1, f"{env} full matches in process", [r["matches_per_sec"] for r in rows], "matches/s",
               "rl-arena 0.1.2 pong matches (Python)", base_rate, "higher", None, note)


PLACEMENTS = {
    "same-core": {"orch": ["taskset", "-c", "0"], "agent": (), "floor": ["taskset", "-c", "0"], "floor_args": []},
    "cross-core": {"orch": ["taskset", "-c", "0"], "agent": ("/usr/bin/taskset", "-c", "1"),
                   "floor": ["taskset", "-c", "0"], "floor_args": ["--agent-cpu", "1"]},
    "unpinned": {"orch": [], "agent": (), "floor": [], "floor_args": []},
}


def section_overhead(args, orch):
    print("\n== 2. orchestrator overhead per step, two native agents that answer at once ==", flush=True)
    steps = args.long_steps
    for name, p in PLACEMENTS.items():
        agent = fast_agent_dir(f"fast-{name}", p["agent"])
        # The long matches and the floor take turns, so that a slow spell of the machine falls on both; the
        # one-step matches subtracted from them come first (their median).
        start = statistics.median(orch.run("pong", pong_config(1), [agent, agent], prefix=p["orch"])[0]
                                  for _ in range(args.reps))
        ours, floor = [], []
        for _ in range(args.reps):
            elapsed, played = orch.run("pong", pong_config(steps), [agent, agent], prefix=p["orch"])
            ours.append((elapsed - start) / (played - 1))
            floor += [r["ns_per_step"] for r in json_lines([*p["floor"], str(BIN / "floor"), "--agents", "2",
                                                            "--steps", str(steps), "--reps", "1", *p["floor_args"]])]
        figure(2, f"orchestrator step, {name}", ours, "ns", "pipe ping-pong floor, same placement", floor, "overhead",
               2)
    # The same with each agent behind an agent shim, as in a container of its own: its stdio are pipes the
    # orchestrator made and passed to the shim over the seat's Unix socket (no relaying copy); the shims are
    # placed like the orchestrator and the agents as above.
    for name, p in PLACEMENTS.items():
        agent = fast_agent_dir(f"fast-{name}", p["agent"])
        start = statistics.median(orch.run("pong", pong_config(1), [agent, agent], prefix=p["orch"], shims=True)[0]
                                  for _ in range(args.reps))
        ours, floor = [], []
        for _ in range(args.reps):
            elapsed, played = orch.run("pong", pong_config(steps), [agent, agent], prefix=p["orch"], shims=True)
            ours.append((elapsed - start) / (played - 1))
            floor += [r["ns_per_step"] for r in json_lines([*p["floor"], str(BIN / "floor"), "--agents", "2",
                                                            "--steps", str(steps), "--reps", "1", *p["floor_args"]])]
        figure(2, f"orchestrator step, agents behind shims, {name}", ours, "ns",
               "pipe ping-pong floor, same placement", floor, "overhead", 2)
    # What the replay recorder costs per step, same-core.
    agent = fast_agent_dir("fast-same-core")
    no_replay, _ = orch.per_step("pong", pong_config(steps), pong_config(1), [agent, agent], args.reps,
                                 prefix=["taskset", "-c", "0"], record_replay=False)
    with_replay, _ = orch.per_step("pong", pong_config(steps), pong_config(1), [agent, agent], args.reps,
                                   prefix=["taskset", "-c", "0"])
    figure(2, "orchestrator step, same-core, replay off", no_replay, "ns", "same with replay on", with_replay,
           "overhead", None, "below 1 means recording the replay costs the difference")


def section_python(args, orch):
    print("\n== 3. Python agents: orchestrator against a Python JSON-pipe runner ==", flush=True)
    steps = args.python_steps
    extra = ["--python", str(VENV_PY), "--agent-read-paths", ",".join(python_read_paths())]
    pairs = {
        "trivial vs trivial": [trivial_python_dir(), trivial_python_dir()],
        "pong-python vs random-python": [EXAMPLES / "pong-python", EXAMPLES / "random-python"],
    }
    unpinned = {}
    for name, agents in pairs.items():
        ours, _ = orch.per_step("pong", pong_config(steps), pong_config(1), agents, args.reps, extra=extra)
        unpinned[name] = ours
        base = json_lines([str(VENV_PY), str(ROOT / "bench" / "baselines" / "pipe_runner.py"), "--adapter",
                           str(ADAPTER), "--python", str(VENV_PY), "--steps", str(steps), "--reps", str(args.reps),
                           *map(str, agents)])
        runner = [r["ns_per_step"] for r in base]
        figure(3, f"pong step, {name}", ours, "ns", "Python JSON-pipe runner, same agents", runner, "faster", 2)
        # What bounds the ratio: the agents' own CPU per move (the busier agent, read by the orchestrator from
        # /proc when each agent stops). No runner's step can be shorter than the slower agent's move.
        cpu = orch.agent_cpu_per_step
        bound = statistics.median(runner) / statistics.median(cpu) if statistics.median(cpu) > 0 else None
        figure(3, f"busier agent's own CPU per step, {name}", cpu, "ns", "Python JSON-pipe runner step", runner,
               "overhead", None, "share of the runner's step spent inside the agent, so no runner can be more than "
               + ("n/a" if bound is None else f"{bound:.2f}") + "x faster than this one")
    # Placement with agents that compute: the whole match on one core against the scheduler's choice.
    name = "pong-python vs random-python"
    pinned, _ = orch.per_step("pong", pong_config(steps), pong_config(1), pairs[name], args.reps, extra=extra,
                              prefix=["taskset", "-c", "0"])
    figure(3, f"pong step, {name}, whole match on one core", pinned, "ns", "the same match unpinned",
           unpinned[name], "overhead", None, "below 1 means one core is faster for these agents")


# A ConnectX board that no player can win with the bench strategy (first open column): games fill all 400
# cells, long enough for a per-step figure by the difference method. The short game fills its single cell.
CONNECTX_LONG = {"rows": 20, "columns": 20, "inarow": 21}
CONNECTX_SHORT = {"rows": 1, "columns": 1, "inarow": 2}


def kaggle_loop(args, env, *extra):
    return json_lines([str(VENV_PY), str(ROOT / "bench" / "baselines" / "kaggle_loop.py"), "--env", env, "--reps",
                       str(args.reps), "--secs", str(args.secs), *extra])


def section_kaggle(args, orch):
    print("\n== 4. rps and connectx against kaggle-environments (in process) ==", flush=True)
    agent = fast_agent_dir("fast-unpinned")
    kaggle_rps = kaggle_loop(args, "rps", "--episode-steps", str(args.rps_steps))
    ours, _ = orch.per_step("rps", {"episodeSteps": args.rps_long_steps}, {"episodeSteps": 2}, [agent, agent],
                            args.reps)
    figure(4, "rps step, native process agents", ours, "ns", "kaggle-environments rps, Python agents in process",
           [r["ns_per_step"] for r in kaggle_rps], "faster", 10,
           f"ours: {args.rps_long_steps}-step episodes less 2-step ones; kaggle: {args.rps_steps}-step episodes")
    kaggle_cx = kaggle_loop(args, "connectx", "--config", json.dumps(CONNECTX_LONG))
    ours, steps = orch.per_step("connectx", CONNECTX_LONG, CONNECTX_SHORT, [agent, agent], args.reps)
    figure(4, "connectx step, native process agents", ours, "ns",
           "kaggle-environments connectx, Python agents in process", [r["ns_per_step"] for r in kaggle_cx], "faster",
           10, f"both sides play {json.dumps(CONNECTX_LONG)}: {steps}-step draws; ours less a 1-step game")
    kaggle_default = kaggle_loop(args, "connectx")
    cx = [orch.run("connectx", {}, [agent, agent]) for _ in range(args.reps)]
    figure(4, "connectx default-board matches incl. process start-up", [1e9 / t for t, _ in cx], "matches/s",
           "kaggle-environments connectx env.run", [r["matches_per_sec"] for r in kaggle_default], "higher", None,
           f"{cx[0][1]} steps a game: the start-up of 3 processes dominates")


class Executor:
    """`executor serve` on 127.0.0.1 and a gRPC client generated from the contract."""

    def __init__(self, tmp, max_concurrent=4, name="executor", env=None, extra=lambda port: []):
        self.tmp = Path(tmp)
        self.data = self.tmp / f"{name}-data"
        self.data.mkdir(exist_ok=True)
        # The bench agents' directory is the executor's one local code root.
        (WORK / "agents").mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log_path = self.tmp / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(EXECUTOR), "serve", "--listen", f"127.0.0.1:{self.port}", "--http-listen", "off", "--data-dir",
             str(self.data), "--orchestrator-bin", str(ORCH), "--agent-init-bin", str(AGENT_INIT),
             "--max-concurrent-matches", str(max_concurrent), "--local-code-roots", str(WORK / "agents"),
             *extra(self.port)],
            stdout=self.log, stderr=self.log, env={**os.environ, **(env or {})},
        )
        try:
            self.connect()
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            raise

    def connect(self):
        """Generates the client from the contract and waits until the executor answers its health check."""
        out = self.tmp / "pb"
        out.mkdir(exist_ok=True)
        from grpc_tools import protoc

        if protoc.main(["protoc", f"-I{ROOT / 'proto' / 'proto'}", f"--python_out={out}", f"--grpc_python_out={out}",
                        "executor.proto"]) != 0:
            raise BenchError("protoc failed on proto/proto/executor.proto")
        sys.path.insert(0, str(out))
        import grpc
        import executor_pb2
        import executor_pb2_grpc

        self.pb = executor_pb2
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = executor_pb2_grpc.ExecutorStub(self.channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.stub.HealthCheck(self.pb.HealthCheckRequest(), timeout=1)
                break
            except grpc.RpcError:
                if self.proc.poll() is not None:
                    raise BenchError(f"executor exited; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise BenchError(f"executor did not become healthy in 60 s; see {self.log_path}")
                time.sleep(0.05)
        self.count = 0
        self.lock = threading.Lock()

    def request(self, agent, steps, record_replay=True):
        with self.lock:
            self.count += 1
            match_id = f"bench-{self.count}"
        return self.pb.MatchRequest(
            match_id=match_id, environment="pong", seed=7, timeout_sec=600, record_replay=record_replay,
            environment_config_json=json.dumps(pong_config(steps)),
            agents=[self.pb.AgentData(agent_id=f"agent-{i}", code_url=str(agent), version="1") for i in range(2)],
        )

    def run_match(self, agent, steps):
        started = time.perf_counter_ns()
        response = self.stub.RunMatch(self.request(agent, steps), timeout=600)
        elapsed = time.perf_counter_ns() - started
        if response.total_steps != steps or response.error_message:
            raise BenchError(f"RunMatch failed: {response}")
        return elapsed

    def rss_kib(self, pid=None):
        status = Path(f"/proc/{pid or self.proc.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))

    def descendants_rss_kib(self):
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.proc.pid:
                continue
            try:
                pid = int(entry.name)
                while pid > 1:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    pid = int(stat.rsplit(")", 1)[1].split()[1])
                    if pid == self.proc.pid:
                        total += self.rss_kib(int(entry.name))
                        break
            except (OSError, ValueError, StopIteration):
                continue
        return total

    def close(self):
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def section_executor(args, tmp, sections):
    agent = fast_agent_dir("fast-unpinned")
    executor = Executor(tmp)
    try:
        if 5 in sections:
            print("\n== 5. local RunMatch latency, one-step match, native agents ==", flush=True)
            executor.run_match(agent, 1)
            latency = [executor.run_match(agent, 1) for _ in range(args.latency_reps)]
            stages = WORK / "spawns.txt"
            dest = Path(tmp) / "spawn-dest"
            init = "\t".join([str(AGENT_INIT), "--local-roots", str(WORK / "agents"), "--source", str(agent), "--dest"])
            stages.write_text(
                f"{init}\t{dest}-a\n{init}\t{dest}-b\n--\n{ORCH}\t--version\n--\n"
                f"{agent / 'fast-agent'}\n{agent / 'fast-agent'}\n"
            )
            spawns = []
            for _ in range(args.latency_reps):
                for d in (f"{dest}-a", f"{dest}-b"):
                    shutil.rmtree(d, ignore_errors=True)
                spawns += [r["spawn_ns"] for r in json_lines([str(BIN / "floor"), "--spawn-file", str(stages),
                                                              "--reps", "1"])]
            figure(5, "RunMatch latency, 1-step pong match", latency, "ns",
                   "process spawns it needs (2 agent-init in parallel, orchestrator, 2 agents in parallel)", spawns,
                   "overhead", 5)
        if 6 in sections:
            print("\n== 6. throughput of short matches, and memory per running match ==", flush=True)
            rates = {}
            for concurrency in (1, 2, 4):
                reps = []
                for _ in range(max(2, args.reps // 2)):
                    matches = args.throughput_matches
                    started = time.perf_counter()
                    errors = []

                    def worker(count):
                        try:
                            for _ in range(count):
                                executor.run_match(agent, args.short_steps)
                        except BenchError as e:
                            errors.append(e)

                    share = [matches // concurrency + (1 if i < matches % concurrency else 0)
                             for i in range(concurrency)]
                    threads = [threading.Thread(target=worker, args=(n,)) for n in share]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    if errors:
                        raise errors[0]
                    reps.append(matches / (time.perf_counter() - started))
                rates[concurrency] = reps
            for concurrency in (2, 4):
                figure(6, f"{args.short_steps}-step matches/s at concurrency {concurrency}", rates[concurrency],
                       "matches/s", "concurrency 1", rates[1], "higher", None,
                       f"{statistics.median(rates[1]) * 3600:.0f} matches/hour at concurrency 1")
            idle = executor.rss_kib()
            ids = []
            for i in range(4):
                # Endless matches, cancelled once measured: no replay, whose bound the executor would refuse.
                request = executor.request(agent, 100_000_000, record_replay=False)
                executor.stub.SubmitMatch(request, timeout=30)
                ids.append(request.match_id)
            samples, tree = [], []
            for _ in range(200):
                info = [executor.stub.GetMatch(executor.pb.GetMatchRequest(match_id=m), timeout=10) for m in ids]
                if all(i.current_step > 100 for i in info):
                    break
                time.sleep(0.05)
            for _ in range(5):
                samples.append((executor.rss_kib() - idle) / 4)
                tree.append(executor.descendants_rss_kib() / 4)
                time.sleep(0.1)
            for m in ids:
                executor.stub.CancelMatch(executor.pb.CancelMatchRequest(match_id=m), timeout=30)
            figure(6, "executor RSS per running match (4 running)", samples, "KiB", "executor idle RSS",
                   [idle], "overhead", None, "the ratio is per-match growth over the idle executor")
            figure(6, "orchestrator + 2 agents RSS per running match", tree, "KiB", "executor idle RSS", [idle],
                   "overhead", None, "processes of one match, summed")
    finally:
        executor.close()


def section_kube(args, tmp):
    print("\n== 7. Kubernetes backend: API requests per match ==", flush=True)
    name = "API requests per match vs the seed prototype (ConfigMap, Job, poll every 5 s, list pods, logs, 2 deletes)"
    # The simulator runs the match's containers as local processes from the workspace's binaries. Its pod
    # volumes live beside the other bench files: not under /tmp, which the match pod mounts as an emptyDir.
    data = WORK / "kube-sim"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    kubeconfig = data / "kubeconfig"
    sim_log = open(data / "kube-sim.log", "wb")
    sim = subprocess.Popen(
        [str(KUBE_SIM), "--namespace", "rl-arena", "--data-dir", str(data / "pods"), "--kubeconfig-out",
         str(kubeconfig), "--image", f"*/orchestrator={ORCH}", "--image-file",
         f"*/orchestrator:/usr/local/bin/agent-shim={SHIM}", "--image", f"*/agent-init={AGENT_INIT}",
         "--image", "sim/agent-runtime=/bin/sh"],
        stdout=subprocess.PIPE, stderr=sim_log, text=True,
    )
    executor = None
    try:
        url = sim.stdout.readline().strip()
        if not url.startswith("http"):
            raise BenchError(f"kube-sim did not start; see {data / 'kube-sim.log'}")
        (data / "report.key").write_text("bench-report-key-0123456789abcdef\n")
        store = data / "store"
        store.mkdir()
        executor = Executor(Path(tmp), name="executor-k8s", env={"KUBECONFIG": str(kubeconfig)}, extra=lambda port: [
            "--backend", "kubernetes", "--store-url", f"file://{store}", "--report-address",
            f"http://127.0.0.1:{port}", "--report-token-key-file", str(data / "report.key"),
            "--k8s-orchestrator-image", "sim/orchestrator:bench", "--k8s-agent-init-image", "sim/agent-init:bench",
            "--k8s-agent-runtime-image", "sim/agent-runtime:bench"])
        agent = fast_agent_dir("fast-unpinned")
        executor.run_match(agent, 1)  # the watches are up and the namespace is known
        counts = []
        for _ in range(3):
            urllib.request.urlopen(urllib.request.Request(f"{url}/_sim/requests", method="DELETE"), timeout=10)
            executor.run_match(agent, 100)
            with urllib.request.urlopen(f"{url}/_sim/requests", timeout=10) as answer:
                rows = json.load(answer)
            counts.append(sum(r["count"] for r in rows if r["verb"] not in ("watch", "list")))
    finally:
        if executor is not None:
            executor.close()
        sim.terminate()
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()
        sim_log.close()
    # The seed prototype's pattern, counted from its code path, not measured here: create ConfigMap, create
    # Job, one poll per started 5 s (a short match: 1), list pods, read logs, delete Job, delete ConfigMap.
    prototype = 2 + 1 + 1 + 1 + 2
    figure(7, "API requests per match (kube-sim count, watches excluded)", counts, "requests",
           "seed prototype pattern for a match under 5 s (+1 per further 5 s)", [prototype], "overhead",
           note="lower is better; ours does not grow with the match's length")


# ---------------------------------------------------------------------------------------------------- main


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rustc": rustc.stdout.strip(),
        "commit": commit.stdout.strip(),
        "utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions (smoke test)")
    parser.add_argument("--save", action="store_true", help="write bench/results/<utc>.json")
    parser.add_argument("--only", default="1,2,3,4,5,6,7", help="sections to run, such as 2,5")
    args = parser.parse_args()
    sections = {int(s) for s in args.only.split(",") if s.strip()}
    args.reps = 3 if args.quick else 5
    args.secs = 0.3 if args.quick else 1.0
    args.long_steps = 5000 if args.quick else 20000
    args.python_steps = 1000 if args.quick else 5000
    args.rps_steps = 300
    args.rps_long_steps = 5000 if args.quick else 20000
    args.latency_reps = 5 if args.quick else 15
    args.throughput_matches = 8 if args.quick else 24
    args.short_steps = 100
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}, {info['rustc']}, "
          f"Python {info['python']}, commit {info['commit']}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rl-arena-bench-") as tmp:
        orch = Orchestrator(tmp)
        runs = [
            ({1}, lambda: section_envs(args)),
            ({2}, lambda: section_overhead(args, orch)),
            ({3}, lambda: section_python(args, orch)),
            ({4}, lambda: section_kaggle(args, orch)),
            ({5, 6}, lambda: section_executor(args, tmp, sections)),
            ({7}, lambda: section_kube(args, tmp)),
        ]
        for covers, run in runs:
            if covers & sections:
                section_started = time.perf_counter()
                run()
                print(f"   (section {','.join(map(str, sorted(covers & sections)))} took "
                      f"{time.perf_counter() - section_started:.0f} s)", flush=True)
    elapsed = time.perf_counter() - started
    missed = [f["name"] for f in FIGURES if f.get("met") is False]
    print(f"\nmeasured in {elapsed:.0f} s; targets missed: {', '.join(missed) if missed else 'none'}")
    if args.save:
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        path = results / (info["utc"].replace(":", "") + ".json")
        path.write_text(json.dumps({"machine": info, "seconds": elapsed, "figures": FIGURES}, indent=1) + "\n")
        print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"bench: {error}")
