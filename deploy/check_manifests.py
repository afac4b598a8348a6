"""Checks of the deployment files that no stock tool makes; called by deploy/check.sh.

Subcommands:
  pss FILE...            every pod template (Deployment, Job, ...) meets the Pod Security "restricted" profile
  validate-log FILE      kubernetes-validate output has no failure and no warning except for known CRDs
  accepted TARGET        prints the checkov checks accepted for TARGET (deploy/checkov-accepted.txt), comma
                         separated; fails when an entry has no reason
  select KIND FILE       prints the objects of KIND in FILE as YAML documents
  same FILE RENDER       FILE holds the same objects as RENDER, in the same order (comments and formatting aside)
  grace FILE             the executor's terminationGracePeriodSeconds exceeds its preStop pause plus the
                         drain-grace-sec of its executor.toml, so a drain ends before SIGKILL
  dashboard              every metric the Grafana dashboard queries is registered in executor/src/metrics.rs
  docs                   every `just RECIPE` in docs/deploy.md is a recipe, every deploy/ and docker/ path exists,
                         and the image tags the guide builds and pushes are the ones the gke overlay runs
"""

import fnmatch
import json
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Kinds from custom resource definitions, which the official schemas do not describe.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

POD_TEMPLATE_PATHS = {
    "Deployment": ["spec", "template", "spec"],
    "StatefulSet": ["spec", "template", "spec"],
    "DaemonSet": ["spec", "template", "spec"],
    "ReplicaSet": ["spec", "template", "spec"],
    "Job": ["spec", "template", "spec"],
    "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    "Pod": ["spec"],
}

ALLOWED_VOLUME_KINDS = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}


def docs(paths):
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    yield path, doc


def dig(obj, keys):
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def pss_problems(pod):
    """The ways a pod spec breaks the restricted profile (baseline included), as sentences."""
    problems = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} is set")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_KINDS:
            problems.append(f"volume {volume.get('name')} uses {sorted(kinds - ALLOWED_VOLUME_KINDS)}")
    pod_sc = pod.get("securityContext") or {}
    pod_seccomp = dig(pod_sc, ["seccompProfile", "type"])
    containers = (pod.get("initContainers") or []) + (pod.get("containers") or [])
    if not containers:
        problems.append("no containers")
    for c in containers:
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"container {name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation must be false")
        drop = dig(sc, ["capabilities", "drop"]) or []
        if "ALL" not in drop:
            problems.append(f"container {name}: capabilities must drop ALL")
        add = set(dig(sc, ["capabilities", "add"]) or []) - {"NET_BIND_SERVICE"}
        if add:
            problems.append(f"container {name}: adds capabilities {sorted(add)}")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"container {name}: runAsNonRoot must be true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"container {name}: runAsUser 0")
        seccomp = dig(sc, ["seccompProfile", "type"]) or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"container {name}: hostPort {port['hostPort']}")
        # Not required by the profile, but by this project's hardening (DESIGN.md, Kubernetes backend).
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: readOnlyRootFilesystem must be true")
        if not dig(c, ["resources", "limits", "memory"]):
            problems.append(f"container {name}: no memory limit")
    return problems


def cmd_pss(paths):
    failed = False
    checked = 0
    for path, doc in docs(paths):
        keys = POD_TEMPLATE_PATHS.get(doc.get("kind"))
        if not keys:
            continue
        pod = dig(doc, keys)
        if pod is None:
            continue
        checked += 1
        where = f"{path}: {doc['kind']}/{dig(doc, ['metadata', 'name'])}"
        for problem in pss_problems(pod):
            print(f"FAIL {where}: {problem}")
            failed = True
    if checked == 0:
        print(f"FAIL no pod template in {' '.join(paths)}")
        return 1
    print(f"pod security: {checked} pod templates checked, {'failures above' if failed else 'all restricted'}")
    return 1 if failed else 0


def cmd_validate_log(path):
    failed = False
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith("INFO"):
            continue
        crd = re.search(r"Couldn't find schema for kind (\S+) with api version (\S+)", line)
        if crd and (crd.group(2), crd.group(1)) in CRD_KINDS:
            print(f"note: {crd.group(1)} ({crd.group(2)}) is a custom resource: not in the official schemas")
            continue
        if line.strip():
            print(f"FAIL {line}")
            failed = True
    return 1 if failed else 0


def accepted_entries():
    entries = []
    path = ROOT / "deploy" / "checkov-accepted.txt"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or len(parts[2]) < 20:
            raise SystemExit(f"{path}:{number}: want `CHECK-ID TARGET-GLOB reason` with a real reason: {line!r}")
        entries.append((number, parts[0], parts[1], parts[2]))
    return entries


def cmd_accepted(target):
    ids = sorted(
        {
            check
            for _, check, globs, _ in accepted_entries()
            if any(fnmatch.fnmatch(target, glob) for glob in globs.split(","))
        }
    )
    print(",".join(ids))
    return 0


def cmd_select(kind, path):
    selected = [doc for _, doc in docs([path]) if doc.get("kind") == kind]
    sys.stdout.write(yaml.safe_dump_all(selected, sort_keys=False))
    return 0


def cmd_same(path, render):
    mine = [doc for _, doc in docs([path])]
    theirs = [doc for _, doc in docs([render])]
    name = lambda d: f"{d.get('kind')}/{dig(d, ['metadata', 'name'])}"
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            print(f"FAIL {path}: object {i + 1} ({name(a)}) differs from the render's ({name(b)})")
            return 1
    if len(mine) != len(theirs):
        print(f"FAIL {path} holds {len(mine)} objects, the render {len(theirs)}")
        return 1
    print(f"{path}: the same {len(mine)} objects as the render")
    return 0


def cmd_grace(path):
    objects = [doc for _, doc in docs([path])]
    deployment = next(
        (d for d in objects if d.get("kind") == "Deployment" and dig(d, ["metadata", "name"]) == "rl-arena-executor"),
        None,
    )
    config = next(
        (d for d in objects if d.get("kind") == "ConfigMap" and dig(d, ["metadata", "name"]) == "executor-config"),
        None,
    )
    if deployment is None or config is None:
        print(f"FAIL {path}: no executor Deployment or executor-config ConfigMap")
        return 1
    pod = dig(deployment, ["spec", "template", "spec"])
    container = next(c for c in pod["containers"] if c["name"] == "executor")
    pause = dig(container, ["lifecycle", "preStop", "sleep", "seconds"])
    drain = re.search(r"^drain-grace-sec\s*=\s*(\d+)", config["data"]["executor.toml"], re.M)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if pause is None or drain is None:
        print(f"FAIL {path}: the executor has no preStop sleep, or executor.toml no drain-grace-sec")
        return 1
    if grace <= pause + int(drain.group(1)):
        print(f"FAIL {path}: terminationGracePeriodSeconds {grace} is not above the preStop pause {pause} s plus "
              f"drain-grace-sec {drain.group(1)}")
        return 1
    print(f"{path}: termination grace {grace} s > preStop {pause} s + drain {drain.group(1)} s")
    return 0


def cmd_dashboard():
    dashboard = ROOT / "deploy" / "components" / "monitoring" / "dashboard.json"
    text = json.dumps(json.loads(dashboard.read_text()))
    source = (ROOT / "executor" / "src" / "metrics.rs").read_text()
    registered = set(re.findall(r'registry\.register\(\s*"([a-z_]+)"', source))
    if not registered:
        print("FAIL no metric registrations found in executor/src/metrics.rs")
        return 1
    used = set(re.findall(r"rl_arena_executor_([a-z_]+)", text))
    failed = False
    for name in sorted(used):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        if base not in registered and name not in registered:
            print(f"FAIL dashboard queries rl_arena_executor_{name}, which executor/src/metrics.rs does not register")
            failed = True
    missing = sorted(registered - {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used})
    for name in missing:
        print(f"FAIL metric rl_arena_executor_{name} is not on the dashboard")
        failed = True
    print(f"dashboard: {len(used)} metric series, {len(registered)} registered metrics")
    return 1 if failed else 0


def cmd_docs():
    text = (ROOT / "docs" / "deploy.md").read_text()
    listed = subprocess.run(["just", "--summary"], cwd=ROOT, capture_output=True, text=True, check=True)
    recipes = set(listed.stdout.split())
    failed = False
    used = set(re.findall(r"(?<![\w-])just ([a-z][a-z0-9-]*)", text))
    for recipe in sorted(used - recipes):
        print(f"FAIL docs/deploy.md runs `just {recipe}`, which the justfile does not have")
        failed = True
    for path in sorted(set(re.findall(r"(?<![\w./-])((?:deploy|docker|\.github)/[\w./-]*\w)", text))):
        if not (ROOT / path).exists():
            print(f"FAIL docs/deploy.md names {path}, which does not exist")
            failed = True
    failed |= check_image_tags(text)
    print(f"docs: {len(used)} recipes and the deploy/docker paths of docs/deploy.md exist")
    return 1 if failed else 0


def overlay_image_tags(overlay):
    """The tags of the images an overlay runs: its kustomization's `newTag`s and its executor.toml's images."""
    tags = set()
    base = ROOT / "deploy" / "overlays" / overlay
    for _, doc in docs([base / "kustomization.yaml"]):
        for image in doc.get("images") or []:
            if "newTag" in image:
                tags.add(str(image["newTag"]))
    toml = (base / "executor.toml").read_text()
    tags.update(re.findall(r'^k8s-[a-z-]+-image\s*=\s*"[^"]*:([^":@/]+)"', toml, re.M))
    return tags


def check_image_tags(text):
    """The guide's `just images TAG` and `just push REGISTRY TAG` use the tag the gke overlay runs."""
    tags = overlay_image_tags("gke")
    if len(tags) != 1:
        print(f"FAIL deploy/overlays/gke runs images of several tags: {sorted(tags)}")
        return True
    (tag,) = tags
    used = re.findall(r"just images (\S+)", text) + re.findall(r"just push \S+ (\S+)", text)
    wrong = sorted({t for t in used if t != tag})
    for t in wrong:
        print(f"FAIL docs/deploy.md builds or pushes images tagged {t}; deploy/overlays/gke runs {tag}")
    if not used:
        print("FAIL docs/deploy.md names no image tag to build and push")
        return True
    print(f"docs: the guide's image tag {tag} is the gke overlay's ({len(used)} commands)")
    return bool(wrong)


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "pss":
        return cmd_pss(rest)
    if command == "validate-log":
        return cmd_validate_log(rest[0])
    if command == "accepted":
        return cmd_accepted(rest[0])
    if command == "select":
        return cmd_select(rest[0], rest[1])
    if command == "grace":
        return cmd_grace(rest[0])
    if command == "same":
        return cmd_same(rest[0], rest[1])
    if command == "dashboard":
        return cmd_dashboard()
    if command == "docs":
        return cmd_docs()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
