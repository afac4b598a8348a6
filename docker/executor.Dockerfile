# syntax=docker/dockerfile:1.7
# The executor service. Build from the workspace root:
#   docker build -f docker/executor.Dockerfile -t rl-arena/executor:TAG .
# The runtime has python3 and, beside the executor, agent-init and orchestrator: ValidateAgent unpacks agents with
# agent-init and checks them with `orchestrator check-agent` (Python code is parsed inside the agent sandbox, with
# the agent limits), on either backend. No shell or package manager.

# Pin by digest in production: FROM rust:1.95-slim-bookworm@sha256:<digest>
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p executor -p agent-init -p orchestrator \
    && mkdir -p /out \
    && cp target/release/executor target/release/agent-init target/release/orchestrator /out/

# Pin by digest in production: FROM gcr.io/distroless/python3-debian12:nonroot@sha256:<digest>
FROM gcr.io/distroless/python3-debian12:nonroot
COPY --from=build /out/executor /out/agent-init /out/orchestrator /usr/local/bin/
USER 65532:65532
EXPOSE 50051 8080
# Kubernetes probes the gRPC health service (deploy/base/deployment.yaml); there is no shell for a
# Docker health command.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/executor"]
CMD ["serve"]
