# RL Arena Executor recipes. `just` lists them.

# List the recipes.
default:
    @just --list

# Build every binary (executor, orchestrator, agent-init).
build:
    cargo build --workspace

# Build optimised binaries.
release:
    cargo build --workspace --release

# Run the whole test suite.
test:
    cargo test --workspace

# Format check and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs.
ci:
    bash .ci/run

# Play one pong match locally between two example agents and print the result and replay paths.
play a="examples/agents/pong-python" b="examples/agents/random-python": build
    ./target/debug/executor play {{a}} {{b}}

# Serve the gRPC API on 0.0.0.0:50051 with the local backend.
serve: build
    ./target/debug/executor serve

# Run the orchestrator alone on a match spec file.
orchestrate spec: build
    ./target/debug/orchestrator run --spec {{spec}} --result-file /dev/stdout
