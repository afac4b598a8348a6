//! `grpc.health.v1.Health` and server reflection through stock clients (Python `grpcio-health-checking` and
//! `grpcio-reflection`), so `grpcurl -plaintext host:50051 list` works without proto files.

mod support;

use std::path::Path;
use std::process::Command;

use support::Executor;

#[test]
fn stock_health_and_reflection_clients_see_every_service() {
    let python = testkit::python_with(
        &["grpc", "grpc_health.v1", "grpc_reflection.v1alpha"],
        &[
            "grpcio",
            "grpcio-tools",
            "grpcio-health-checking",
            "grpcio-reflection",
        ],
    );
    let executor = Executor::start(&[]);
    let output = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/health_reflection_client.py"))
        .arg(&executor.addr)
        .output()
        .expect("run the python client");
    assert!(
        output.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    for service in ["", "executor.Executor", "executor.MatchReporter"] {
        assert_eq!(doc["health"][service], "SERVING", "{service}: {doc}");
    }
    let listed: Vec<&str> = doc["v1alpha"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for service in [
        "executor.Executor",
        "executor.MatchReporter",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(listed.contains(&service), "{service} not in {listed:?}");
    }
    if let Some(v1) = doc["v1"].as_array() {
        assert!(v1.iter().any(|v| v == "executor.Executor"), "{doc}");
    }
    assert!(
        doc["executor_descriptor_files"].as_u64().unwrap() >= 1,
        "{doc}"
    );
}
