//! `executor render-job` prints the Job and Secret that `serve --backend kubernetes` creates, and they
//! validate against the official Kubernetes OpenAPI schemas (PyPI `kubernetes-validate`, strict: unknown
//! fields fail).

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

/// Runs `kubernetes-validate --strict` for Kubernetes `version` on a file; (passed, output).
fn validate(python: &Path, file: &Path, version: &str) -> (bool, String) {
    let out = Command::new(python)
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            version,
        ])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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
    }
    // The validator does reject a manifest with a field the schema lacks (so a pass means something).
    let bad = render(&[]).replacen("backoffLimit: 0", "backoffLimit: 0\n  backofLimit: 1", 1);
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let (passed, output) = validate(&python, &file, "1.33");
    assert!(!passed, "a misspelt field passed:\n{output}");
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
