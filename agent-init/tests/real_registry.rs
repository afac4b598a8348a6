//! `oci://` sources against a real registry: Debian's `docker-registry` on loopback (one open, one
//! behind htpasswd basic auth, each started once for this binary), images pushed over the
//! distribution API, pulled by the real `agent-init` with `--oci-plain-http`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::{Outcome, Scratch};
use testkit::{Descriptor, Registry, Tar};

const USER: &str = "agent-puller";
const PASSWORD: &str = "s3cret-pull-token";

fn open_registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::start)
}

fn auth_registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::start_with_basic_auth(USER, PASSWORD))
}

fn pong_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents/pong-python")
}

/// Pulls `oci://REGISTRY/reference` with the registry on plain http, loopback allowed (`--allow-hosts
/// 127.0.0.1`) and no ambient Docker config.
async fn pull(scratch: &Scratch, registry: &Registry, reference: &str, extra: &[&str]) -> Outcome {
    let source = format!("oci://{}/{reference}", registry.host());
    let host = registry.host();
    let args = [
        &[
            "--allow-hosts",
            "127.0.0.1",
            "--oci-plain-http",
            &host,
            "--retries",
            "1",
            "--retry-backoff-ms",
            "1",
        ],
        extra,
    ]
    .concat();
    scratch.pull(&source, &args, &[]).await
}

/// A base layer with system files and a first version of the agent.
fn base_layer() -> Vec<u8> {
    Tar::new()
        .dir("etc")
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644)
        .dir("app")
        .file("app/agent.py", b"version = 1\n", 0o644)
        .file("app/old.py", b"old\n", 0o644)
        .dir("app/data")
        .file("app/data/stale.bin", b"stale", 0o644)
        .into_tar()
}

/// The real agent over the base, removing `old.py` and everything that was in `data/`.
fn agent_layer(arch: &str) -> Vec<u8> {
    Tar::new()
        .tree("app", &pong_python())
        .whiteout("app", "old.py")
        .opaque("app/data")
        .file("app/data/fresh.bin", b"fresh", 0o644)
        .file("app/arch.txt", arch.as_bytes(), 0o644)
        .symlink("app/main.py", "/app/agent.py")
        .into_tar()
}

/// Pushes a two-platform image to `repository`; returns the amd64 and arm64 manifests and the
/// index (tagged `tag`).
fn push_multi_platform(
    registry: &Registry,
    repository: &str,
    tag: &str,
) -> (Descriptor, Descriptor, Descriptor) {
    let pusher = registry.pusher();
    let amd = pusher.image(
        repository,
        None,
        "amd64",
        &[base_layer(), agent_layer("amd64")],
    );
    let arm = pusher.image(
        repository,
        None,
        "arm64",
        &[base_layer(), agent_layer("arm64")],
    );
    let index = pusher.index(repository, tag, &[("amd64", &amd), ("arm64", &arm)]);
    (amd, arm, index)
}

/// The image's `/app` after whiteouts, and nothing else, for `arch`.
#[track_caller]
fn assert_agent_installed(scratch: &Scratch, arch: &str) {
    assert_eq!(
        scratch.installed().into_iter().collect::<Vec<_>>(),
        ["agent.py", "arch.txt", "data", "data/fresh.bin", "main.py"]
    );
    let dest = scratch.dest();
    assert_eq!(
        std::fs::read(dest.join("agent.py")).expect("installed agent.py"),
        std::fs::read(pong_python().join("agent.py")).expect("example agent.py")
    );
    assert_eq!(
        std::fs::read(dest.join("arch.txt")).expect("arch.txt"),
        arch.as_bytes()
    );
    assert_eq!(
        std::fs::read_link(dest.join("main.py"))
            .expect("main.py is a symlink")
            .to_str(),
        Some("agent.py"),
        "an absolute link inside /app becomes relative"
    );
}

fn this_machine() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

#[tokio::test]
async fn a_tag_pulls_the_requested_platform_with_whiteouts_applied() {
    let registry = open_registry();
    push_multi_platform(registry, "agents/pong", "1");
    for arch in ["amd64", "arm64"] {
        let scratch = Scratch::new();
        let platform = format!("linux/{arch}");
        pull(
            &scratch,
            registry,
            "agents/pong:1",
            &["--oci-platform", &platform],
        )
        .await
        .assert_code(0);
        assert_agent_installed(&scratch, arch);
    }
    let scratch = Scratch::new();
    pull(&scratch, registry, "agents/pong:1", &[])
        .await
        .assert_code(0);
    assert_agent_installed(&scratch, this_machine());

    let scratch = Scratch::new();
    pull(
        &scratch,
        registry,
        "agents/pong:1",
        &["--oci-platform", "linux/s390x"],
    )
    .await
    .assert_code(10)
    .assert_reason_contains("--oci-platform");
}

#[tokio::test]
async fn a_digest_pulls_that_manifest_or_index() {
    let registry = open_registry();
    let (_, arm, index) = push_multi_platform(registry, "agents/pinned", "latest");

    let scratch = Scratch::new();
    pull(
        &scratch,
        registry,
        &format!("agents/pinned@{}", arm.digest),
        &[],
    )
    .await
    .assert_code(0);
    assert_agent_installed(&scratch, "arm64");

    let scratch = Scratch::new();
    pull(
        &scratch,
        registry,
        &format!("agents/pinned@{}", index.digest),
        &["--oci-platform", "linux/amd64"],
    )
    .await
    .assert_code(0);
    assert_agent_installed(&scratch, "amd64");
}

#[tokio::test]
async fn an_unknown_tag_or_repository_is_unreachable() {
    let registry = open_registry();
    registry
        .pusher()
        .image("agents/known", Some("1"), "amd64", &[agent_layer("amd64")]);
    for reference in ["agents/known:2", "agents/unknown:1"] {
        let scratch = Scratch::new();
        let before = scratch.snapshot();
        pull(&scratch, registry, reference, &[])
            .await
            .assert_code(11)
            .assert_reason_contains(reference)
            .assert_reason_contains("no such image");
        scratch.assert_untouched(&before);
    }
    let missing = format!("agents/known@sha256:{}", "0".repeat(64));
    let scratch = Scratch::new();
    pull(&scratch, registry, &missing, &[])
        .await
        .assert_code(11)
        .assert_reason_contains("no such image");
}

#[tokio::test]
async fn basic_auth_credentials_come_from_a_docker_config() {
    let registry = auth_registry();
    registry.pusher().image(
        "agents/private",
        Some("1"),
        this_machine(),
        &[base_layer(), agent_layer(this_machine())],
    );

    let scratch = Scratch::new();
    let before = scratch.snapshot();
    pull(&scratch, registry, "agents/private:1", &[])
        .await
        .assert_code(11)
        .assert_reason_contains("--docker-config");
    scratch.assert_untouched(&before);

    let scratch = Scratch::new();
    let config = scratch.root().join("wrong.json");
    registry.write_docker_config(&config, USER, "not-the-password");
    pull(
        &scratch,
        registry,
        "agents/private:1",
        &["--docker-config", config.to_str().expect("utf-8 temp path")],
    )
    .await
    .assert_code(11)
    .assert_reason_contains("refused the credentials");

    let scratch = Scratch::new();
    let config = scratch.root().join("config.json");
    registry.write_docker_config(&config, USER, PASSWORD);
    let out = pull(
        &scratch,
        registry,
        "agents/private:1",
        &["--docker-config", config.to_str().expect("utf-8 temp path")],
    )
    .await;
    out.assert_code(0);
    assert!(!out.stderr.contains(PASSWORD), "{}", out.stderr);
    assert_agent_installed(&scratch, this_machine());
}
