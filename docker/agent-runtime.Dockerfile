# syntax=docker/dockerfile:1.7
# The runtime of agents given as code (container agent-N of a match Job, `k8s-agent-runtime-image`): their code is
# installed into a volume by agent-N-init and run by the agent shim with this image's python3. It carries the
# rl-arena package (and with it numpy, gymnasium and PyYAML), so that modules written with rl-arena's submission
# tools import `rl_arena.core.agent` as they do on their author's machine, and /bin/sh for agents whose
# agent.toml command is a shell script. The versions are those the pong environment is bit-exact with
# (orchestrator/tests/fixtures/pong/record.py). Operators may name images of their own, per environment.
# Build from the workspace root:
#   docker build -f docker/agent-runtime.Dockerfile -t rl-arena/agent-runtime:TAG .

# Pin by digest in production: FROM debian:bookworm-slim@sha256:<digest>
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip \
    && python3 -m pip install --no-cache-dir --break-system-packages \
        rl-arena==0.1.2 numpy==2.4.6 gymnasium==1.4.0 pyyaml==6.0.4 \
    && apt-get purge -y --auto-remove python3-pip \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# Each agent container runs the agent shim as its command, for one match: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["python3"]
