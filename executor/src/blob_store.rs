//! Object storage by URL for replays and results: `file://` (the default, under the data directory), `s3://`,
//! `gs://` and `az://` through `object_store`, with each cloud's standard credential chain from the environment
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`; an S3-compatible server through `AWS_ENDPOINT` and `AWS_ALLOW_HTTP`).

use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// A store rooted at one URL.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket (the URL's path for cloud stores; empty for `file://`).
    prefix: String,
    /// The root URL, without a trailing slash, for building object URLs.
    url: String,
}

impl BlobStore {
    /// Opens the store at `url`; a local directory is created when missing.
    pub(crate) fn open(url: &str) -> Result<Self> {
        let bad = |msg: String| Error::InvalidConfig(format!("store url {url:?}: {msg}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected file:///dir, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix".into()))?;
        let url = url.trim_end_matches('/').to_string();
        match scheme {
            "file" => {
                let dir = std::path::Path::new(rest);
                if !dir.is_absolute() {
                    return Err(bad(
                        "a file:// store needs an absolute path, such as file:///var/lib/rl-arena"
                            .into(),
                    ));
                }
                std::fs::create_dir_all(dir)
                    .map_err(Error::io(format!("creating {}", dir.display())))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| bad(e.to_string()))?
                    .with_automatic_cleanup(true);
                Ok(Self {
                    inner: Arc::new(store),
                    prefix: String::new(),
                    url,
                })
            }
            "s3" | "gs" | "az" | "azure" | "abfs" => {
                let parsed = url::Url::parse(&url).map_err(|e| bad(e.to_string()))?;
                // Only the clouds' own variables: a stray `REGION` or `TOKEN` must not configure the store.
                let options = std::env::vars()
                    .filter(|(k, _)| {
                        ["AWS_", "GOOGLE_", "AZURE_"]
                            .iter()
                            .any(|p| k.starts_with(p))
                    })
                    .map(|(k, v)| (k.to_ascii_lowercase(), v));
                let (store, path) = object_store::parse_url_opts(&parsed, options)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(Self {
                    inner: Arc::from(store),
                    prefix: path.to_string(),
                    url,
                })
            }
            other => Err(bad(format!(
                "scheme {other:?} is not supported; use file, s3, gs or az"
            ))),
        }
    }

    /// A store for a local directory.
    pub(crate) fn local(dir: &std::path::Path) -> Result<Self> {
        let dir =
            std::path::absolute(dir).map_err(Error::io(format!("resolving {}", dir.display())))?;
        Self::open(&format!("file://{}", dir.display()))
    }

    fn key(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// The URL of an object.
    pub(crate) fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    /// Writes an object whole (readers never see part of it).
    pub(crate) async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.inner
            .put(&self.key(name), PutPayload::from(bytes))
            .await
            .map_err(|e| Error::Store(format!("writing {}: {e}", self.url_of(name))))?;
        Ok(())
    }

    /// Reads an object; `None` when it does not exist.
    pub(crate) async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.inner.get(&self.key(name)).await {
            Ok(result) => {
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| Error::Store(format!("reading {}: {e}", self.url_of(name))))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::Store(format!("reading {}: {e}", self.url_of(name)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        assert_eq!(store.get("replays/m1.json").await.unwrap(), None);
        store.put("replays/m1.json", b"{}".to_vec()).await.unwrap();
        assert_eq!(
            store.get("replays/m1.json").await.unwrap().as_deref(),
            Some(&b"{}"[..])
        );
        assert!(dir.path().join("replays/m1.json").is_file());
        let abs = std::path::absolute(dir.path()).unwrap();
        assert_eq!(
            store.url_of("replays/m1.json"),
            format!("file://{}/replays/m1.json", abs.display())
        );
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in ["relative/dir", "file://relative", "ftp://host/x"] {
            assert!(
                matches!(BlobStore::open(url), Err(Error::InvalidConfig(_))),
                "{url}"
            );
        }
    }
}
