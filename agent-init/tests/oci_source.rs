//! `oci://` sources against a registry on loopback speaking the distribution API: platform
//! choice from an index, layers applied in order with whiteouts, only `/app` installed, token
//! authentication from a Docker config, and bad layers refused.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use support::{Outcome, Reply, Scratch, TarItem, TestServer, gzip, sha256_hex, tar};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a test registry serves, by digest or tag.
#[derive(Default, Clone)]
struct Image {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (&'static str, Vec<u8>)>,
}

impl Image {
    fn blob(&mut self, bytes: Vec<u8>) -> (String, usize) {
        let digest = format!("sha256:{}", sha256_hex(&bytes));
        let size = bytes.len();
        self.blobs.insert(digest.clone(), bytes);
        (digest, size)
    }

    /// Adds a manifest of gzip layers; returns its digest and size.
    fn manifest(&mut self, layers: &[Vec<u8>]) -> (String, usize) {
        let (config, config_size) = self.blob(br#"{"architecture":"amd64","os":"linux"}"#.to_vec());
        let layers: Vec<String> = layers
            .iter()
            .map(|layer| {
                let (digest, size) = self.blob(gzip(layer));
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":{size}}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{}]}}"#,
            layers.join(",")
        );
        let digest = format!("sha256:{}", sha256_hex(body.as_bytes()));
        let size = body.len();
        self.manifests
            .insert(digest.clone(), (MANIFEST, body.into_bytes()));
        (digest, size)
    }

    fn tag(&mut self, tag: &str, digest: &str) {
        let entry = self.manifests[digest].clone();
        self.manifests.insert(tag.to_owned(), entry);
    }

    /// Tags an index of `(architecture, manifest digest, size)`.
    fn index(&mut self, tag: &str, entries: &[(&str, &(String, usize))]) {
        let manifests: Vec<String> = entries
            .iter()
            .map(|(arch, (digest, size))| {
                format!(
                    r#"{{"mediaType":"{MANIFEST}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{}]}}"#,
            manifests.join(",")
        );
        self.manifests
            .insert(tag.to_owned(), (INDEX, body.into_bytes()));
    }
}

/// Serves `image` as repository `agents/pong`; with `token`, demands the bearer token flow with
/// basic credentials `bot:hunter2`.
async fn registry(image: Image, token: bool) -> TestServer {
    registry_with(image, token, None, None).await
}

/// Like [`registry`], with the token service at `realm` instead of the registry's `/token`, and
/// blobs redirected to `BLOBS/blobs/DIGEST` when `blobs` is given.
async fn registry_with(
    image: Image,
    token: bool,
    realm: Option<String>,
    blobs: Option<String>,
) -> TestServer {
    let image = Arc::new(image);
    let cell = std::sync::OnceLock::<String>::new();
    if let Some(realm) = realm {
        let _ = cell.set(realm);
    }
    let realm = Arc::new(cell);
    let realm_in = realm.clone();
    let server = TestServer::start_with_head(move |_, path, head| {
        let authorized = !token || head.contains("authorization: bearer secret-token");
        if path.starts_with("/token") {
            // base64("bot:hunter2")
            return if head.contains("authorization: basic ym90omh1bnrlcji=") {
                Reply::Ok(br#"{"token":"secret-token"}"#.to_vec())
            } else {
                Reply::Status(401)
            };
        }
        if !authorized {
            let realm = realm_in.get().cloned().unwrap_or_default();
            return Reply::Custom {
                status: 401,
                headers: vec![(
                    "www-authenticate".to_owned(),
                    format!(r#"Bearer realm="{realm}",service="test",scope="repository:agents/pong:pull""#),
                )],
                body: b"{}".to_vec(),
            };
        }
        if path == "/v2/" {
            return Reply::Ok(b"{}".to_vec());
        }
        if let Some(reference) = path.strip_prefix("/v2/agents/pong/manifests/") {
            return match image.manifests.get(reference) {
                Some((media_type, body)) => Reply::Custom {
                    status: 200,
                    headers: vec![("content-type".to_owned(), (*media_type).to_owned())],
                    body: body.clone(),
                },
                None => Reply::Custom {
                    status: 404,
                    headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                    body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
                },
            };
        }
        if let Some(digest) = path.strip_prefix("/v2/agents/pong/blobs/") {
            if let Some(blobs) = &blobs {
                return Reply::Redirect(format!("{blobs}/blobs/{digest}"));
            }
            return match image.blobs.get(digest) {
                Some(body) => Reply::Ok(body.clone()),
                None => Reply::Status(404),
            };
        }
        Reply::Status(404)
    })
    .await;
    // The registry's own token service, unless another was given.
    let _ = realm.set(server.url("/token"));
    server
}

/// Pulls `agents/pong:TAG` from the test registry over plain http, loopback allowed.
async fn pull(scratch: &Scratch, server: &TestServer, tag: &str, extra: &[&str]) -> Outcome {
    pull_allowing(scratch, server.addr, tag, "127.0.0.1", extra).await
}

/// Pulls `agents/pong:TAG` from the registry at `addr` over plain http with `--allow-hosts
/// ALLOW` (none when empty).
async fn pull_allowing(
    scratch: &Scratch,
    addr: std::net::SocketAddr,
    tag: &str,
    allow: &str,
    extra: &[&str],
) -> Outcome {
    let source = format!("oci://{addr}/agents/pong:{tag}");
    let registry = addr.to_string();
    let allowance: &[&str] = if allow.is_empty() {
        &[]
    } else {
        &["--allow-hosts", allow]
    };
    let args = [
        allowance,
        &["--oci-plain-http", &registry, "--retry-backoff-ms", "1"],
        extra,
    ]
    .concat();
    scratch.pull(&source, &args, &[]).await
}

/// Pulls tag `v1` from `server` allowing only 127.0.0.1, where the registry sends the client on to
/// 127.0.0.2: the pull fails (code 10) naming that destination and writes nothing. Returns the scratch.
async fn second_host_refused(server: &TestServer) -> Scratch {
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    pull_allowing(&scratch, server.addr, "v1", "127.0.0.1", &[])
        .await
        .assert_code(10)
        .assert_reason_contains("destination 127.0.0.2 is refused");
    scratch.assert_untouched(&before);
    scratch
}

fn base_layer() -> Vec<u8> {
    tar(&[
        TarItem::Dir("etc/"),
        TarItem::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        TarItem::Dir("app/"),
        TarItem::File("app/agent.py", b"version = 1\n", 0o644),
        TarItem::File("app/old.py", b"old\n", 0o644),
        TarItem::Dir("app/data/"),
        TarItem::File("app/data/stale.bin", b"stale", 0o644),
        TarItem::File("app/bot", b"#!/bin/sh\n", 0o755),
    ])
}

fn top_layer() -> Vec<u8> {
    tar(&[
        TarItem::File("app/agent.py", b"version = 2\n", 0o644),
        TarItem::File("app/.wh.old.py", b"", 0o644),
        TarItem::File("app/data/.wh..wh..opq", b"", 0o644),
        TarItem::File("app/data/fresh.bin", b"fresh", 0o644),
        TarItem::Symlink("app/main.py", "agent.py"),
        TarItem::Dir("app/bin/"),
        TarItem::Symlink("app/bin/run", "/app/bot"),
    ])
}

fn installed(scratch: &Scratch) -> Vec<String> {
    scratch.installed().into_iter().collect()
}

#[tokio::test]
async fn layers_are_applied_with_whiteouts_and_only_app_is_installed() {
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer(), top_layer()]);
    image.tag("v1", &manifest.0);
    let server = registry(image, false).await;
    let scratch = Scratch::new();
    pull(&scratch, &server, "v1", &[]).await.assert_code(0);
    assert_eq!(
        installed(&scratch),
        [
            "agent.py",
            "bin",
            "bin/run",
            "bot",
            "data",
            "data/fresh.bin",
            "main.py"
        ]
    );
    let dest = scratch.dest();
    assert_eq!(
        std::fs::read_link(dest.join("bin/run")).unwrap().to_str(),
        Some("../bot")
    );
    assert_eq!(
        std::fs::read(dest.join("agent.py")).unwrap(),
        b"version = 2\n"
    );
    assert_eq!(
        std::fs::read(dest.join("main.py")).unwrap(),
        b"version = 2\n"
    );
}

#[tokio::test]
async fn the_requested_platform_is_picked_from_an_index() {
    let mut image = Image::default();
    let amd = image.manifest(&[tar(&[TarItem::File("app/arch.txt", b"amd64", 0o644)])]);
    let arm = image.manifest(&[tar(&[TarItem::File("app/arch.txt", b"arm64", 0o644)])]);
    image.index("multi", &[("amd64", &amd), ("arm64", &arm)]);
    let server = registry(image, false).await;
    for arch in ["amd64", "arm64"] {
        let scratch = Scratch::new();
        let platform = format!("linux/{arch}");
        pull(&scratch, &server, "multi", &["--oci-platform", &platform])
            .await
            .assert_code(0);
        assert_eq!(
            std::fs::read(scratch.dest().join("arch.txt")).unwrap(),
            arch.as_bytes()
        );
    }
    let scratch = Scratch::new();
    pull(
        &scratch,
        &server,
        "multi",
        &["--oci-platform", "linux/s390x"],
    )
    .await
    .assert_code(10)
    .assert_reason_contains("--oci-platform");
}

#[tokio::test]
async fn credentials_come_from_a_docker_config() {
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer()]);
    image.tag("v1", &manifest.0);
    let server = registry(image, true).await;

    let scratch = Scratch::new();
    let before = scratch.snapshot();
    pull(&scratch, &server, "v1", &[])
        .await
        .assert_code(11)
        .assert_reason_contains("--docker-config");
    scratch.assert_untouched(&before);

    let scratch = Scratch::new();
    let config = scratch.root().join("dockerconfig.json");
    let auths = format!(
        r#"{{"auths":{{"{}":{{"auth":"Ym90Omh1bnRlcjI="}}}}}}"#,
        server.addr
    );
    std::fs::write(&config, auths).unwrap();
    let out = pull(
        &scratch,
        &server,
        "v1",
        &["--docker-config", config.to_str().unwrap()],
    )
    .await;
    out.assert_code(0);
    assert!(!out.stderr.contains("hunter2"));
    assert!(scratch.dest().join("agent.py").is_file());
}

#[tokio::test]
async fn a_missing_image_is_unreachable() {
    let server = registry(Image::default(), false).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    pull(&scratch, &server, "nope", &[])
        .await
        .assert_code(11)
        .assert_reason_contains("agents/pong:nope");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn an_image_without_the_directory_is_refused() {
    let mut image = Image::default();
    let manifest = image.manifest(&[tar(&[TarItem::File("srv/agent.py", b"x", 0o644)])]);
    image.tag("v1", &manifest.0);
    let server = registry(image, false).await;
    let scratch = Scratch::new();
    pull(&scratch, &server, "v1", &[])
        .await
        .assert_code(10)
        .assert_reason_contains("--oci-dir");
    let scratch = Scratch::new();
    pull(&scratch, &server, "v1", &["--oci-dir", "/srv"])
        .await
        .assert_code(0);
    assert!(scratch.dest().join("agent.py").is_file());
}

#[tokio::test]
async fn hostile_or_corrupt_layers_are_refused() {
    let mut image = Image::default();
    let escape = image.manifest(&[tar(&[
        TarItem::File("app/agent.py", b"x", 0o644),
        TarItem::Symlink("app/link", "../../etc"),
    ])]);
    image.tag("escape", &escape.0);
    let hardlink = image.manifest(&[tar(&[
        TarItem::File("etc/shadow", b"secret", 0o600),
        TarItem::Hardlink("app/shadow", "etc/shadow"),
    ])]);
    image.tag("hardlink", &hardlink.0);
    let corrupt = image.manifest(&[base_layer()]);
    image.tag("corrupt", &corrupt.0);
    // Serve different bytes for the layer than the manifest's digest names.
    let layer_digest = {
        let body = String::from_utf8(image.manifests[&corrupt.0].1.clone()).unwrap();
        let start = body.rfind("sha256:").unwrap();
        body[start..start + 71].to_owned()
    };
    image.blobs.insert(layer_digest, gzip(&top_layer()));
    let server = registry(image, false).await;
    for (tag, reason) in [
        ("escape", "outside the destination"),
        ("hardlink", "outside /app"),
        ("corrupt", "sha256 mismatch"),
    ] {
        let scratch = Scratch::new();
        let before = scratch.snapshot();
        let out = pull(&scratch, &server, tag, &[]).await;
        out.assert_code(10).assert_reason_contains(reason);
        scratch.assert_untouched(&before);
    }
}

#[tokio::test]
async fn a_registry_on_loopback_is_refused_unless_allowed() {
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer()]);
    image.tag("v1", &manifest.0);
    let server = registry(image, false).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let open = pull_allowing(&scratch, server.addr, "v1", "", &[]).await;
    open.assert_code(10)
        .assert_reason_contains("destination 127.0.0.1 is refused");
    scratch.assert_untouched(&before);
    assert_eq!(server.hits(), 0, "nothing reached the registry");
    let shut = pull_allowing(&scratch, closed, "v1", "", &[]).await;
    assert_eq!(
        open.reason().replace(&server.addr.to_string(), "<addr>"),
        shut.reason().replace(&closed.to_string(), "<addr>"),
        "an open and a closed port read the same"
    );
    assert_eq!(open.code, shut.code);

    // Allowed, a closed port is the infrastructure's fault, named by the hop that failed.
    pull_allowing(&scratch, closed, "v1", "127.0.0.1", &["--retries", "0"])
        .await
        .assert_code(11)
        .assert_reason_contains(&format!("cannot connect to {closed}"));
}

#[tokio::test]
async fn blob_redirects_reach_only_allowed_hosts() {
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer(), top_layer()]);
    image.tag("v1", &manifest.0);
    let blobs = image.blobs.clone();
    let storage = TestServer::start_at("127.0.0.2", move |_, path| {
        match path.strip_prefix("/blobs/").and_then(|d| blobs.get(d)) {
            Some(body) => Reply::Ok(body.clone()),
            None => Reply::Status(404),
        }
    })
    .await;
    let server = registry_with(image, false, None, Some(storage.url(""))).await;

    let scratch = second_host_refused(&server).await;
    assert_eq!(storage.hits(), 0, "the redirect was not followed");

    pull_allowing(&scratch, server.addr, "v1", "127.0.0.1,127.0.0.2", &[])
        .await
        .assert_code(0);
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).unwrap(),
        b"version = 2\n"
    );
    assert_eq!(storage.hits(), 2, "both layers came from the storage host");
}

#[tokio::test]
async fn a_token_service_not_allowed_is_refused() {
    let tokens = TestServer::start_at("127.0.0.2", |_, _| {
        Reply::Ok(br#"{"token":"secret-token"}"#.to_vec())
    })
    .await;
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer()]);
    image.tag("v1", &manifest.0);
    let server = registry_with(image, true, Some(tokens.url("/token")), None).await;
    second_host_refused(&server).await;
    assert_eq!(tokens.hits(), 0);
}

#[tokio::test]
async fn registry_answers_are_never_quoted() {
    let server = TestServer::start(|_, path| {
        if path == "/v2/" {
            return Reply::Ok(b"{}".to_vec());
        }
        Reply::Custom {
            status: 400,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: br#"{"errors":[{"code":"UNSUPPORTED","message":"secret-from-the-body"}]}"#
                .to_vec(),
        }
    })
    .await;
    let scratch = Scratch::new();
    let out = pull_allowing(&scratch, server.addr, "v1", "127.0.0.1", &[]).await;
    out.assert_code(11);
    assert!(
        !out.stderr.contains("secret-from-the-body"),
        "{}",
        out.stderr
    );

    let server = TestServer::start(|_, path| {
        if path == "/v2/" {
            return Reply::Ok(b"{}".to_vec());
        }
        Reply::Custom {
            status: 200,
            headers: vec![("content-type".to_owned(), MANIFEST.to_owned())],
            body: br#"{"schemaVersion":"secret-from-the-body","layers":7}"#.to_vec(),
        }
    })
    .await;
    let out = pull_allowing(&scratch, server.addr, "v1", "127.0.0.1", &[]).await;
    out.assert_code(10)
        .assert_reason_contains("not a valid OCI or Docker image manifest");
    assert!(
        !out.stderr.contains("secret-from-the-body"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn proxies_from_the_environment_are_not_used() {
    let proxy = TestServer::start(|_, _| Reply::Status(502)).await;
    let mut image = Image::default();
    let manifest = image.manifest(&[base_layer()]);
    image.tag("v1", &manifest.0);
    let server = registry(image, false).await;
    let scratch = Scratch::new();
    let source = format!("oci://{}/agents/pong:v1", server.addr);
    let registry = server.addr.to_string();
    let proxy_url = proxy.url("");
    scratch
        .pull(
            &source,
            &["--allow-hosts", "127.0.0.1", "--oci-plain-http", &registry],
            &[
                ("HTTP_PROXY", &proxy_url),
                ("http_proxy", &proxy_url),
                ("HTTPS_PROXY", &proxy_url),
                ("ALL_PROXY", &proxy_url),
            ],
        )
        .await
        .assert_code(0);
    assert!(scratch.dest().join("agent.py").is_file());
    assert_eq!(proxy.hits(), 0, "the environment's proxy was never asked");
}
