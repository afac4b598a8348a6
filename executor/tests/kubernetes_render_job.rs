//! `executor render-job` prints the Job and Secret that `serve --backend kubernetes` creates: a pod with each
//! agent in a container of its own (one given as code, one as an image). They validate against the official
//! Kubernetes OpenAPI schemas (PyPI `kubernetes-validate`, strict: unknown fields fail), and the pod meets the
//! Pod Security "restricted" profile (`deploy/check_manifests.py pss`, which `deploy/check.sh` runs too).

use std::path::Path;
use std::process::Command;

fn render(extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_executor"))
        .arg("render-job")
        .args(extra)
        .output()
        .expect("run executor render-job");
    assert!(
        out.status.success(),
        "render-job failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 yaml")
}

/// Runs `python` with `args`; (passed, output).
fn run_python(python: &Path, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `kubernetes-validate --strict` for Kubernetes `version` on a file; (passed, output).
fn validate(python: &Path, file: &Path, version: &str) -> (bool, String) {
    let args = [
        "-m",
        "kubernetes_validate",
        "--strict",
        "--kubernetes-version",
        version,
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(file.as_os_str());
    run_python(python, &args)
}

#[test]
fn rendered_job_and_secret_validate_against_the_kubernetes_schemas() {
    let python = testkit::python_with(&["kubernetes_validate"], &["kubernetes-validate==1.37.0"]);
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("defaults", &[]),
        (
            "everything-set",
            &[
                "--match-id",
                "League_Round.7",
                "--agent",
                "https://agents.example/a.zip,oci://registry.example/agents/b:1",
                "--k8s-namespace",
                "arena",
                "--k8s-image-pull-secrets",
                "regcred,mirror",
                "--k8s-node-selector",
                "pool=matches,arch=amd64",
                "--k8s-tolerations",
                r#"[{"key":"dedicated","operator":"Equal","value":"matches","effect":"NoSchedule"}]"#,
                "--k8s-priority-class",
                "matches",
                "--k8s-runtime-class",
                "gvisor",
                "--report-address",
                "http://rl-arena-executor.arena:50051",
            ],
        ),
    ];
    for (name, extra) in cases {
        let yaml = render(extra);
        assert_eq!(yaml.matches("\nkind: Job\n").count(), 1, "{name}: {yaml}");
        assert_eq!(
            yaml.matches("\nkind: Secret\n").count(),
            1,
            "{name}: {yaml}"
        );
        assert!(yaml.contains("readOnlyRootFilesystem: true"), "{name}");
        assert!(
            yaml.contains("automountServiceAccountToken: false"),
            "{name}"
        );
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        for version in ["1.30", "1.33"] {
            let (passed, output) = validate(&python, &file, version);
            assert!(passed, "{name} against {version}:\n{output}\n{yaml}");
            assert_eq!(output.matches("passed").count(), 2, "{name}: {output}");
        }
        let (restricted, output) = restricted(&python, &file);
        assert!(restricted, "{name} is not restricted:\n{output}\n{yaml}");
    }
    // The profile check does reject a pod that breaks it (so a pass means something).
    let root = render(&[]).replacen("runAsNonRoot: true", "runAsNonRoot: false", 1);
    let file = dir.path().join("root.yaml");
    std::fs::write(&file, root).unwrap();
    assert!(
        !restricted(&python, &file).0,
        "a pod that may run as root passed"
    );
    // The validator does reject a manifest with a field the schema lacks (so a pass means something).
    let bad = render(&[]).replacen("backoffLimit: 0", "backoffLimit: 0\n  backofLimit: 1", 1);
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let (passed, output) = validate(&python, &file, "1.33");
    assert!(!passed, "a misspelt field passed:\n{output}");
}

/// Runs `deploy/check_manifests.py pss` on a file; (passed, output).
fn restricted(python: &Path, file: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/check_manifests.py");
    run_python(
        python,
        &[script.as_os_str(), "pss".as_ref(), file.as_os_str()],
    )
}

#[test]
fn each_agent_runs_in_a_container_of_its_own_from_its_own_image() {
    let yaml = render(&[
        "--agent",
        "https://agents.example/a.zip,oci://registry.example/agents/b:1",
        "--k8s-agent-runtime-image",
        "registry.example/rl-arena/agent-runtime:7",
    ]);
    let docs: Vec<serde_json::Value> = yaml
        .split("\n---\n")
        .map(|doc| serde_yaml::from_str(doc.trim_start_matches("---\n")).unwrap())
        .collect();
    let pod = &docs[0]["spec"]["template"]["spec"];
    let names = |list: &str| -> Vec<String> {
        pod[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("initContainers"), ["agent-shim", "agent-1-init"]);
    assert_eq!(
        names("containers"),
        ["match-orchestrator", "agent-1", "agent-2"]
    );
    let container = |name: &str| {
        pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        container("agent-1")["image"],
        "registry.example/rl-arena/agent-runtime:7"
    );
    assert_eq!(container("agent-2")["image"], "registry.example/agents/b:1");
    let mut uids = Vec::new();
    for name in ["match-orchestrator", "agent-1", "agent-2"] {
        let c = container(name);
        uids.push(c["securityContext"]["runAsUser"].as_i64().unwrap());
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert!(c["resources"]["limits"]["memory"].is_string(), "{name}");
    }
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 3, "a user per seat, and the orchestrator's");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(pod["securityContext"].get("fsGroup").is_none());
}

#[test]
fn the_job_name_of_an_id_that_is_no_dns_label_is_cleaned_and_hashed() {
    let yaml = render(&["--match-id", "League_Round.7"]);
    let name_line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("name: match-league-round-7-"))
        .unwrap_or_else(|| panic!("no cleaned name in:\n{yaml}"));
    let name = name_line.trim().trim_start_matches("name: ");
    assert_eq!(name.len(), "match-league-round-7-".len() + 8, "{name}");
    assert!(
        yaml.contains("match-id: League_Round.7"),
        "the label keeps the id"
    );
}
