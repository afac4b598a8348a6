//! Pushes images to a registry over the distribution API: blobs (upload session `POST`, then a
//! monolithic `PUT` with the digest), OCI image manifests over gzip layers, and image indexes.

use base64::Engine;

use crate::archive::{gzip, sha256_hex};
use crate::http::{Response, request};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What a manifest or index says about the content it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: usize,
}

impl Descriptor {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        })
    }
}

/// Pushes to one registry (`host:port`, plain http), with basic credentials when given.
pub struct Pusher {
    base: String,
    authorization: Option<String>,
}

impl Pusher {
    pub fn new(host: &str, credentials: Option<(&str, &str)>) -> Self {
        let authorization = credentials.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        Pusher {
            base: format!("http://{host}"),
            authorization,
        }
    }

    fn send(&self, method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        let mut headers = Vec::new();
        if let Some(authorization) = &self.authorization {
            headers.push(("Authorization", authorization.as_str()));
        }
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type));
        }
        request(method, url, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
    }

    /// Uploads `data` as a blob of `repository`.
    pub fn blob(&self, repository: &str, media_type: &str, data: &[u8]) -> Descriptor {
        let digest = format!("sha256:{}", sha256_hex(data));
        let start = self.send(
            "POST",
            &format!("{}/v2/{repository}/blobs/uploads/", self.base),
            None,
            b"",
        );
        assert_eq!(
            start.status,
            202,
            "starting a blob upload to {repository}: {}",
            start.text()
        );
        let location = start
            .header("location")
            .unwrap_or_else(|| panic!("the upload session has no Location: {start:?}"));
        let mut url = if location.starts_with("http://") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let done = self.send("PUT", &url, Some("application/octet-stream"), data);
        assert_eq!(
            done.status,
            201,
            "finishing the upload of {digest}: {}",
            done.text()
        );
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size: data.len(),
        }
    }

    /// Puts a manifest or index under `reference` (a tag or its own digest).
    pub fn manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Descriptor {
        let put = self.send(
            "PUT",
            &format!("{}/v2/{repository}/manifests/{reference}", self.base),
            Some(media_type),
            body,
        );
        assert_eq!(
            put.status,
            201,
            "putting manifest {repository}:{reference}: {}",
            put.text()
        );
        let digest = format!("sha256:{}", sha256_hex(body));
        if let Some(returned) = put.header("docker-content-digest") {
            assert_eq!(
                returned, digest,
                "the registry computed another manifest digest"
            );
        }
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size: body.len(),
        }
    }

    /// Pushes a linux/`architecture` image of `layers` (uncompressed tars, lowest first, pushed
    /// gzip-compressed); tags it when `tag` is given, else stores it by digest only.
    pub fn image(
        &self,
        repository: &str,
        tag: Option<&str>,
        architecture: &str,
        layers: &[Vec<u8>],
    ) -> Descriptor {
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|layer| format!("sha256:{}", sha256_hex(layer)))
            .collect();
        let config = serde_json::json!({
            "architecture": architecture,
            "os": "linux",
            "config": { "WorkingDir": "/app" },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        });
        let config = self.blob(repository, CONFIG, config.to_string().as_bytes());
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|layer| self.blob(repository, LAYER_GZIP, &gzip(layer)).json())
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": config.json(),
            "layers": layers,
        })
        .to_string();
        let digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
        self.manifest(
            repository,
            tag.unwrap_or(&digest),
            MANIFEST,
            manifest.as_bytes(),
        )
    }

    /// Tags an index of `(architecture, image manifest)` entries, all linux.
    pub fn index(
        &self,
        repository: &str,
        tag: &str,
        entries: &[(&str, &Descriptor)],
    ) -> Descriptor {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(architecture, descriptor)| {
                let mut entry = descriptor.json();
                entry["platform"] =
                    serde_json::json!({ "architecture": architecture, "os": "linux" });
                entry
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": manifests,
        })
        .to_string();
        self.manifest(repository, tag, INDEX, index.as_bytes())
    }
}
