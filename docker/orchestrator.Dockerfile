# syntax=docker/dockerfile:1.7
# The orchestrator: plays one match (container match-orchestrator of a match Job); each agent runs in a container
# of its own, behind the agent shim this image also carries (init container agent-shim copies it into a volume
# the agents' containers run it from). Build from the workspace root:
#   docker build -f docker/orchestrator.Dockerfile -t rl-arena/orchestrator:TAG .
# The shim is linked statically: it runs inside agents' own images (any distribution, any C library) and loads
# nothing of them. The runtime is glibc and the two binaries: no shell, no Python (agents given as code run in
# docker/agent-runtime.Dockerfile).

# Pin by digest in production: FROM rust:1.95-slim-bookworm@sha256:<digest>
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p orchestrator --bin orchestrator \
    && host="$(rustc -vV | sed -n 's/^host: //p')" \
    && RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked -p orchestrator --bin agent-shim --target "$host" \
    && mkdir -p /out \
    && cp target/release/orchestrator "target/$host/release/agent-shim" /out/

# Pin by digest in production: FROM gcr.io/distroless/cc-debian12:nonroot@sha256:<digest>
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/orchestrator /usr/local/bin/orchestrator
COPY --from=build /out/agent-shim /usr/local/bin/agent-shim
USER 65532:65532
# A one-shot command run in a Job: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/orchestrator"]
CMD ["run", "--help"]
