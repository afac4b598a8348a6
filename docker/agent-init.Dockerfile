# syntax=docker/dockerfile:1.7
# agent-init: installs one agent artifact (init containers agent-1-init, agent-2-init of a match Job).
# Build from the workspace root:
#   docker build -f docker/agent-init.Dockerfile -t rl-arena/agent-init:TAG .
# The runtime is glibc, CA certificates and the binary: no shell, no package manager.

# Pin by digest in production: FROM rust:1.95-slim-bookworm@sha256:<digest>
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p agent-init \
    && mkdir -p /out \
    && cp target/release/agent-init /out/

# Pin by digest in production: FROM gcr.io/distroless/cc-debian12:nonroot@sha256:<digest>
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/agent-init /usr/local/bin/agent-init
USER 65532:65532
# A one-shot command run as an init container: nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/agent-init"]
