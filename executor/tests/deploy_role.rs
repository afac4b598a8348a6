//! The deployment's RBAC matches the Kubernetes backend: `deploy/base/role.yaml` allows exactly the API calls
//! listed in `executor::backend::kubernetes::API_PERMISSIONS`, is bound only to the executor's ServiceAccount,
//! and the match pods' ServiceAccount has no permissions and no token.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use executor::backend::kubernetes::API_PERMISSIONS;
use serde::Deserialize;
use serde_yaml::Value;

/// (apiGroup, resource, verb), the unit a Role grants.
type Permission = (String, String, String);

fn base_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/base")
}

#[track_caller]
fn read_documents(file: &str) -> Vec<Value> {
    let path = base_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|doc| !doc.is_null())
        .collect()
}

#[track_caller]
fn strings(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("rule without a `{key}` list: {value:?}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("`{key}` holds a non-string: {v:?}"))
                .to_string()
        })
        .collect()
}

/// Every (group, resource, verb) the Role grants.
fn role_permissions(role: &Value) -> BTreeSet<Permission> {
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_sequence().expect("role without rules") {
        assert!(
            rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none(),
            "rules are by resource only: {rule:?}"
        );
        for group in strings(rule, "apiGroups") {
            for resource in strings(rule, "resources") {
                for verb in strings(rule, "verbs") {
                    granted.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    granted
}

fn backend_permissions() -> BTreeSet<Permission> {
    API_PERMISSIONS
        .iter()
        .map(|(group, resource, verb)| (group.to_string(), resource.to_string(), verb.to_string()))
        .collect()
}

#[test]
fn role_allows_exactly_what_the_backend_calls() {
    let docs = read_documents("role.yaml");
    assert_eq!(docs.len(), 1, "role.yaml holds one Role");
    let role = &docs[0];
    assert_eq!(
        role["kind"], "Role",
        "a namespaced Role, never a ClusterRole"
    );
    assert_eq!(role["metadata"]["name"], "rl-arena-executor");

    let granted = role_permissions(role);
    let needed = backend_permissions();
    assert!(
        !needed.is_empty(),
        "the backend lists the API calls it makes"
    );
    for (group, resource, verb) in granted.iter().chain(&needed) {
        assert!(
            group != "*" && resource != "*" && verb != "*",
            "no wildcards: ({group:?}, {resource}, {verb})"
        );
    }
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty(),
        "deploy/base/role.yaml lacks what the backend calls (add these rules): {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "deploy/base/role.yaml grants what the backend never calls (remove these, or list them in \
         API_PERMISSIONS with the code that uses them): {extra:?}"
    );
}

#[test]
fn role_is_bound_to_the_executor_service_account_only() {
    let docs = read_documents("rolebinding.yaml");
    assert_eq!(docs.len(), 1, "rolebinding.yaml holds one RoleBinding");
    let binding = &docs[0];
    assert_eq!(binding["kind"], "RoleBinding");
    assert_eq!(binding["metadata"]["name"], "rl-arena-executor-binding");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["roleRef"]["name"], "rl-arena-executor");
    let subjects = binding["subjects"].as_sequence().expect("subjects");
    assert_eq!(subjects.len(), 1, "one subject: {subjects:?}");
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], "rl-arena-executor");
    assert_eq!(subjects[0]["namespace"], "rl-arena");
}

#[test]
fn match_service_account_has_no_token_and_no_binding() {
    let accounts = read_documents("serviceaccounts.yaml");
    let names: Vec<_> = accounts
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["rl-arena-executor", "rl-arena-match"]);
    let matches = &accounts[1];
    assert_eq!(
        matches["automountServiceAccountToken"],
        Value::Bool(false),
        "match pods run untrusted code: no API token"
    );

    // No file of the base binds anything to the match ServiceAccount.
    for entry in std::fs::read_dir(base_dir()).expect("deploy/base") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for doc in read_documents(&file) {
                if doc["kind"] == "RoleBinding" || doc["kind"] == "ClusterRoleBinding" {
                    let subjects = serde_yaml::to_string(&doc["subjects"]).unwrap_or_default();
                    assert!(
                        !subjects.contains("rl-arena-match"),
                        "{file}: the match ServiceAccount must have no permissions"
                    );
                }
            }
        }
    }
}

#[test]
fn deployment_runs_as_the_executor_service_account() {
    let docs = read_documents("deployment.yaml");
    let pod = &docs[0]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "rl-arena-executor");
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "executor");
}
