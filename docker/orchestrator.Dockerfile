# syntax=docker/dockerfile:1.7
# The orchestrator: plays one match (container match-orchestrator of a match Job) and runs the agents as its
# sandboxed children (seccomp, Landlock, rlimits; no root needed, docs/security-model.md). Build from the
# workspace root:
#   docker build -f docker/orchestrator.Dockerfile -t rl-arena/orchestrator:TAG .
# The runtime carries what agents run on: python3 with the rl-arena package (and with it numpy, gymnasium and
# PyYAML) for Python agents, so that modules written with rl-arena's submission tools import
# `rl_arena.core.agent` as they do on their author's machine, and /bin/sh for agents whose agent.toml command is
# a shell script. The versions are those the pong environment is bit-exact with
# (orchestrator/tests/fixtures/pong/record.py).

# Pin by digest in production: FROM rust:1.95-slim-bookworm@sha256:<digest>
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p orchestrator \
    && mkdir -p /out \
    && cp target/release/orchestrator /out/

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
COPY --from=build /out/orchestrator /usr/local/bin/orchestrator
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# A one-shot command run in a Job: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/orchestrator"]
CMD ["run", "--help"]
