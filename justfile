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

# Run the whole test suite (the README's test command; the first run installs what its tests need).
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

# ---- Images, Kubernetes and operations (docs/deploy.md walks through these) ----

# Image tag of this checkout: the git tag or commit, with -dirty for uncommitted changes.
tag := `git describe --tags --always --dirty 2>/dev/null || echo dev`
# Namespace of the executor and its match Jobs.
namespace := "rl-arena"

# Build the three images (executor, orchestrator, agent-init) from the workspace root, tagged rl-arena/<name>:<tag>.
images tag=tag:
    for name in executor orchestrator agent-init; do \
        DOCKER_BUILDKIT=1 docker build -f docker/$name.Dockerfile -t rl-arena/$name:{{tag}} . ; \
    done

# Tag and push the three images to REGISTRY (for example europe-west1-docker.pkg.dev/PROJECT_ID/rl-arena).
push REGISTRY tag=tag:
    for name in executor orchestrator agent-init; do \
        docker tag rl-arena/$name:{{tag}} {{REGISTRY}}/$name:{{tag}} && docker push {{REGISTRY}}/$name:{{tag}} ; \
    done

# Point the running executor at the images pushed to REGISTRY (one rollout for all three images).
rollout REGISTRY tag=tag:
    kubectl -n {{namespace}} rollout pause deployment/rl-arena-executor
    kubectl -n {{namespace}} set image deployment/rl-arena-executor executor={{REGISTRY}}/executor:{{tag}}
    kubectl -n {{namespace}} set env deployment/rl-arena-executor \
        EXECUTOR_K8S_ORCHESTRATOR_IMAGE={{REGISTRY}}/orchestrator:{{tag}} \
        EXECUTOR_K8S_AGENT_INIT_IMAGE={{REGISTRY}}/agent-init:{{tag}}
    kubectl -n {{namespace}} rollout resume deployment/rl-arena-executor
    kubectl -n {{namespace}} rollout status deployment/rl-arena-executor --timeout=300s

# Install or update an overlay (minikube, gke), create the report token key once, wait for the rollout.
deploy OVERLAY:
    kubectl apply -k deploy/overlays/{{OVERLAY}}
    just report-key
    kubectl -n {{namespace}} rollout status deployment/rl-arena-executor --timeout=300s

# Create the Secret with the report token key shared by all replicas, unless it exists (rotate: delete it, rerun, restart).
report-key:
    kubectl -n {{namespace}} get secret rl-arena-report-token-key >/dev/null 2>&1 || \
        kubectl -n {{namespace}} create secret generic rl-arena-report-token-key \
            --from-literal=key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# Start a local cluster with NetworkPolicy enforcement (Calico) and metrics for the autoscaler.
minikube-up:
    minikube start --cpus 4 --memory 8192 --cni calico
    minikube addons enable metrics-server

# Build the images into minikube's Docker with tag dev (the minikube overlay never pulls them).
minikube-images:
    #!/usr/bin/env bash
    set -euo pipefail
    eval "$(minikube docker-env)"
    just images dev

# Forward the executor Service to 127.0.0.1: gRPC on 50051, metrics and replays on 8080 (Ctrl-C stops).
port-forward:
    kubectl -n {{namespace}} port-forward service/rl-arena-executor 50051:50051 8080:8080

# Ask a running executor for its health with grpcurl: the standard health service and executor.Executor/HealthCheck.
health addr="127.0.0.1:50051":
    grpcurl -plaintext {{addr}} grpc.health.v1.Health/Check
    grpcurl -plaintext -import-path proto/proto -proto executor.proto {{addr}} executor.Executor/HealthCheck

# Follow the logs of every executor replica.
logs:
    kubectl -n {{namespace}} logs -f --prefix --tail=100 --max-log-requests=20 -l app=rl-arena-executor

# Logs of one match: its agent-init init containers and the orchestrator.
match-logs ID:
    kubectl -n {{namespace}} logs --prefix --all-containers --tail=-1 -l match-id={{ID}}

# List match Jobs and their pods, newest last.
jobs:
    kubectl -n {{namespace}} get jobs,pods -l component=match-executor -L match-id --sort-by=.metadata.creationTimestamp

# Check the executor's permissions against the cluster: what it needs is yes, the rest is no.
permissions:
    #!/usr/bin/env bash
    set -uo pipefail
    as=system:serviceaccount:{{namespace}}:rl-arena-executor
    for check in "yes create jobs.batch" "yes watch pods" "yes create secrets" "yes watch events" "no get secrets" \
                 "no list secrets" "no patch secrets" "no get pods/log" "no create pods" "no create jobs.batch -n default" \
                 "no get nodes"; do
        set -- $check
        want=$1; shift
        got=$(kubectl auth can-i --as="$as" -n {{namespace}} "$@" 2>/dev/null || true)
        printf '%-4s %-36s %s\n' "$got" "$*" "$([ "$got" = "$want" ] && echo ok || echo "UNEXPECTED (want $want)")"
    done

# Smoke-test an installation on the cluster kubectl reaches (deploys OVERLAY, plays matches, checks results,
# replays, isolation, cancel and cleanup after the TTL); says so plainly when no cluster is reachable.
e2e OVERLAY="minikube":
    bash deploy/e2e.sh {{OVERLAY}}

# Rewrite deploy/deployment.yaml, the guide's single-file install: the minikube overlay rendered.
render-deploy:
    #!/usr/bin/env bash
    set -euo pipefail
    {
        echo "# RL Arena Executor in one file: \`kubectl kustomize deploy/overlays/minikube\` (two executor replicas with"
        echo "# the images \`just minikube-images\` builds, results and replays on a volume both share). Install it with"
        echo "# \`kubectl apply -f deploy/deployment.yaml\`, then \`just report-key\`. Generated by \`just render-deploy\`:"
        echo "# change the overlay, not this file (CI checks that the two agree)."
        kubectl kustomize deploy/overlays/minikube
    } >deploy/deployment.yaml

# Remove an installation: the namespace and everything in it, match Jobs included.
undeploy OVERLAY="minikube":
    kubectl delete -k deploy/overlays/{{OVERLAY}} --ignore-not-found

# Print the Job and Secret the Kubernetes backend creates for a sample match, with an overlay's configuration
# (a sample report token key stands in for the Secret mounted in the cluster).
render-job OVERLAY="minikube":
    #!/usr/bin/env bash
    set -euo pipefail
    key=$(mktemp)
    trap 'rm -f "$key"' EXIT
    echo sample-key-for-rendering-only >"$key"
    EXECUTOR_REPORT_TOKEN_KEY_FILE="${EXECUTOR_REPORT_TOKEN_KEY_FILE:-$key}" \
        cargo run --quiet -p executor -- render-job --config deploy/overlays/{{OVERLAY}}/executor.toml

# Run the benchmarks (bench/run).
bench *ARGS:
    bash bench/run {{ARGS}}

# Check the deployment files without a cluster: render, schemas, pod security, checkov, dashboard, guide.
check-deploy:
    bash deploy/check.sh
