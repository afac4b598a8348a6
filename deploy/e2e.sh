#!/usr/bin/env bash
# Smoke test of an installation on a real cluster (`just e2e OVERLAY`; kind, minikube, GKE): deploys the overlay,
# serves the example agents from inside the cluster, and through the executor Service
#   1. plays a pong match and checks the result, its replay (fetched from the executor, digest checked) and the
#      isolation layers in force for each agent;
#   2. plays a match against an agent that crashes, which loses, charged for it;
#   3. cancels a running match, and checks that the answer stays the result once its pod is gone;
#   4. checks that no match object (Job, pod, Secret) is left after the TTL.
# It runs wherever kubectl reaches a cluster and says so plainly (exit 3) when none is reachable. The images
# must be where the overlay expects them (minikube: `just minikube-images`; gke: pushed).
#
# Needs kubectl, grpcurl, python3, curl and tar. Environment: E2E_NAMESPACE (default rl-arena), E2E_TTL_SEC
# (the Job TTL set for the run, default 30), E2E_KEEP=1 keeps the test's agent server afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

overlay=${1:-minikube}
ns=${E2E_NAMESPACE:-rl-arena}
ttl=${E2E_TTL_SEC:-30}
work=$(mktemp -d)
forward_pid=""

passed=0
failed=0
ok() {
  echo "  ok: $*"
  passed=$((passed + 1))
}
bad() {
  echo "  FAIL: $*"
  failed=$((failed + 1))
}
step() { echo "== $*"; }
die() {
  echo "e2e: $*" >&2
  exit 1
}

cleanup() {
  if [ -n "$forward_pid" ]; then
    kill "$forward_pid" 2>/dev/null || true
    wait "$forward_pid" 2>/dev/null || true
  fi
  if [ "${reachable:-0}" = 1 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    kubectl -n "$ns" delete pod,service,configmap,networkpolicy -l rl-arena-e2e=agents \
      --ignore-not-found --wait=false >/dev/null 2>&1 || true
    kubectl -n "$ns" set env deployment/rl-arena-executor EXECUTOR_K8S_TTL_SEC- >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Tools and the cluster ----------------------------------------------------------------------------------------
command -v kubectl >/dev/null || die "kubectl is not installed; this smoke test needs kubectl, grpcurl, python3, curl and tar"
[ -d "deploy/overlays/$overlay" ] || die "no overlay deploy/overlays/$overlay"
reachable=0
if ! probe=$(kubectl version --request-timeout=10s -o json 2>&1 </dev/null) || ! grep -q serverVersion <<<"$probe"; then
  context=$(kubectl config current-context 2>/dev/null || echo "none")
  echo "e2e: no Kubernetes cluster is reachable (kubectl context: $context): nothing was deployed or tested."
  echo "e2e: start one (just minikube-up; kind create cluster) or point KUBECONFIG at one, then run just e2e $overlay again."
  echo "e2e: kubectl said: $(tail -n 1 <<<"$probe")"
  exit 3
fi
for tool in grpcurl python3 curl tar; do
  command -v "$tool" >/dev/null || die "$tool is not installed; this smoke test needs kubectl, grpcurl, python3, curl and tar"
done
reachable=1
echo "e2e: cluster $(kubectl config current-context 2>/dev/null || echo '?'), overlay $overlay, namespace $ns"

# The JSON field at a dotted path of stdin (`agentResults.1.status`), or empty (also when stdin is no JSON:
# a failed call's answer is then reported, not a crash of this script).
field() {
  python3 -c '
import json, sys
try:
    value = json.load(sys.stdin)
except ValueError:
    value = None
for key in sys.argv[1].split("."):
    if isinstance(value, list):
        value = value[int(key)] if int(key) < len(value) else None
    elif isinstance(value, dict):
        value = value.get(key)
    if value is None:
        break
print("" if value is None else value if not isinstance(value, (dict, list)) else json.dumps(value))
' "$1"
}
# A fresh match id (UUIDs, as the backend sends).
new_id() { python3 -c 'import uuid; print(uuid.uuid4())'; }
# An executor.Executor call through the port-forward; the request JSON on stdin.
call() { grpcurl -plaintext -max-time 600 -d @ "127.0.0.1:$grpc_port" "executor.Executor/$1"; }
# A setting of the installed executor.toml.
setting() {
  kubectl -n "$ns" get configmap executor-config -o jsonpath='{.data.executor\.toml}' |
    sed -n "s/^$1 *= *\"\(.*\)\"/\1/p" | head -n 1
}

# 1. Deploy ----------------------------------------------------------------------------------------------------
step "deploy deploy/overlays/$overlay"
kubectl apply -k "deploy/overlays/$overlay" >/dev/null
kubectl -n "$ns" get secret rl-arena-report-token-key >/dev/null 2>&1 ||
  kubectl -n "$ns" create secret generic rl-arena-report-token-key \
    --from-literal=key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
# Finished Jobs go after a short TTL for this run (restored on exit).
kubectl -n "$ns" set env deployment/rl-arena-executor EXECUTOR_K8S_TTL_SEC="$ttl" >/dev/null
if kubectl -n "$ns" rollout status deployment/rl-arena-executor --timeout=300s >/dev/null; then
  ok "executor rolled out: $(kubectl -n "$ns" get deployment rl-arena-executor -o jsonpath='{.status.readyReplicas}') ready replicas"
else
  kubectl -n "$ns" get pods -l app=rl-arena-executor
  die "the executor did not become ready (images missing? see docs/deploy.md, Troubleshooting)"
fi

# 2. The agents, served from inside the cluster ----------------------------------------------------------------
step "serve the example agents from a pod in $ns"
for agent in examples/agents/pong-python examples/agents/random-python executor/tests/agents/crash-at-step-3; do
  tar -czf "$work/$(basename "$agent").tar.gz" -C "$agent" .
done
kubectl -n "$ns" create configmap rl-arena-e2e-agents --from-file="$work" --dry-run=client -o yaml |
  kubectl label --local -f - rl-arena-e2e=agents -o yaml | kubectl apply -f - >/dev/null
image=$(setting k8s-orchestrator-image)
pull=$(setting k8s-image-pull-policy)
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: rl-arena-e2e-agents
  labels: {rl-arena-e2e: agents}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: http
      image: ${image:?no k8s-orchestrator-image in executor.toml}
      imagePullPolicy: ${pull:-IfNotPresent}
      command: [python3, -m, http.server, "8080", --directory, /agents]
      ports: [{containerPort: 8080}]
      resources: {limits: {cpu: 200m, memory: 128Mi}}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
      volumeMounts: [{name: agents, mountPath: /agents}]
  volumes: [{name: agents, configMap: {name: rl-arena-e2e-agents}}]
---
apiVersion: v1
kind: Service
metadata:
  name: rl-arena-e2e-agents
  labels: {rl-arena-e2e: agents}
spec:
  selector: {rl-arena-e2e: agents}
  ports: [{port: 8080, targetPort: 8080}]
---
# Match pods may reach this server (the installation's policies allow nothing inside the cluster).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: rl-arena-e2e-agents
  labels: {rl-arena-e2e: agents}
spec:
  podSelector: {matchLabels: {component: match-executor}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {rl-arena-e2e: agents}}}], ports: [{port: 8080, protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: rl-arena-e2e-agents-ingress
  labels: {rl-arena-e2e: agents}
spec:
  podSelector: {matchLabels: {rl-arena-e2e: agents}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {component: match-executor}}}], ports: [{port: 8080, protocol: TCP}]}]
EOF
if kubectl -n "$ns" wait --for=condition=Ready pod/rl-arena-e2e-agents --timeout=180s >/dev/null; then
  ok "agent server ready"
else
  die "the agent server pod did not start ($image)"
fi
agents="http://rl-arena-e2e-agents.$ns.svc:8080"

# 3. Reach the executor ----------------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
grpc_port=$(free_port)
http_port=$(free_port)
kubectl -n "$ns" port-forward service/rl-arena-executor "$grpc_port:50051" "$http_port:8080" >"$work/forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 1 60); do
  grpcurl -plaintext -max-time 2 "127.0.0.1:$grpc_port" grpc.health.v1.Health/Check >/dev/null 2>&1 && break
  sleep 1
done
grpcurl -plaintext -max-time 5 "127.0.0.1:$grpc_port" grpc.health.v1.Health/Check >/dev/null ||
  die "the executor Service does not answer through the port-forward: $(cat "$work/forward.log")"

match_request() { # id, agent A archive, agent B archive, extra JSON fields
  printf '{"match_id": "%s", "environment": "pong", "record_replay": true, "timeout_sec": 300, %s
    "agents": [{"agent_id": "a", "code_url": "%s/%s"}, {"agent_id": "b", "code_url": "%s/%s"}]}' \
    "$1" "${4:-}" "$agents" "$2" "$agents" "$3"
}

# 4. A pong match: result, replay, isolation ---------------------------------------------------------------------
step "a pong match"
id=$(new_id)
match_request "$id" pong-python.tar.gz random-python.tar.gz | call RunMatch >"$work/pong.json" 2>&1 || true
status=$(field status <"$work/pong.json")
if [ "$status" = STATUS_SUCCESS ] && [ "$(field totalSteps <"$work/pong.json")" != "" ]; then
  ok "match $id: $status in $(field totalSteps <"$work/pong.json") steps, winner $(field winnerAgentId <"$work/pong.json")"
else
  bad "match $id: $(cat "$work/pong.json")"
fi
if kubectl -n "$ns" get job "match-$id" >/dev/null 2>&1; then
  ok "its Job is match-$id"
else
  bad "no Job match-$id"
fi
if curl -fsS "http://127.0.0.1:$http_port/replays/$id.json" -o "$work/replay.json"; then
  want=$(field replaySha256 <"$work/pong.json")
  got=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$work/replay.json")
  if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "replay fetched, sha256 matches"; else bad "replay sha256 $got, result says $want"; fi
  required=$(setting k8s-require-isolation)
  for seat in 0 1; do
    applied=$(field "outcome.agents.$seat.isolation.applied" <"$work/replay.json")
    missing=$(python3 -c 'import json, sys; have = set(json.loads(sys.argv[1] or "[]")); print(" ".join(l for l in sys.argv[2].split(",") if l and l not in have))' "$applied" "${required:-no_new_privs,no_capabilities,rlimits,seccomp,landlock_fs}")
    if [ -z "$missing" ]; then ok "agent $seat ran with $applied"; else bad "agent $seat lacks $missing (applied: $applied)"; fi
  done
else
  bad "the replay of $id could not be fetched from the executor"
fi

# 5. A crashing agent loses, charged for it ------------------------------------------------------------------------
step "a match with a crashing agent"
id=$(new_id)
match_request "$id" pong-python.tar.gz crash-at-step-3.tar.gz | call RunMatch >"$work/crash.json" 2>&1 || true
crashed=$(field agentResults.1.status <"$work/crash.json")
if [ "$(field status <"$work/crash.json")" = STATUS_SUCCESS ] && [ "$(field winnerAgentId <"$work/crash.json")" = a ] &&
  [ -n "$crashed" ] && [ "$crashed" != AGENT_STATUS_OK ]; then
  ok "match $id: agent b $crashed, a wins"
else
  bad "match $id: $(cat "$work/crash.json")"
fi

# 6. Cancel: the answer stays the result ------------------------------------------------------------------------------
step "cancel a running match"
id=$(new_id)
match_request "$id" pong-python.tar.gz random-python.tar.gz '"environment_config_json": "{\"winning_score\": 21}",' |
  call SubmitMatch >/dev/null || true
for _ in $(seq 1 120); do
  [ "$(printf '{"match_id": "%s"}' "$id" | call GetMatch | field state)" = MATCH_STATE_RUNNING ] && break
  sleep 1
done
printf '{"match_id": "%s"}' "$id" | call CancelMatch >"$work/cancel.json" 2>&1 || true
if [ "$(field result.status <"$work/cancel.json")" = STATUS_CANCELLED ]; then
  ok "match $id cancelled"
else
  bad "cancel of $id: $(cat "$work/cancel.json")"
fi
for _ in $(seq 1 120); do
  [ -z "$(kubectl -n "$ns" get pods -l "match-id=$id" -o name)" ] && break
  sleep 1
done
printf '{"match_id": "%s"}' "$id" | call GetMatch >"$work/after.json" 2>&1 || true
if [ "$(field result <"$work/after.json")" = "$(field result <"$work/cancel.json")" ]; then
  ok "after its pod is gone, GetMatch says what CancelMatch said"
else
  bad "GetMatch changed: $(field result <"$work/after.json") (was $(field result <"$work/cancel.json"))"
fi

# 7. Nothing left after the TTL ---------------------------------------------------------------------------------------
step "no match objects after the TTL ($ttl s)"
left=""
for _ in $(seq 1 $((ttl * 4 + 120))); do
  left=$(kubectl -n "$ns" get jobs,pods,secrets -l app.kubernetes.io/managed-by=rl-arena-executor -o name)
  [ -z "$left" ] && break
  sleep 1
done
if [ -z "$left" ]; then ok "no Job, pod or Secret of a match is left"; else bad "left after the TTL: $left"; fi

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
