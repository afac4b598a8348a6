//! Object storage by URL for replays and results: `file://` (the default, under the data directory), `s3://`,
//! `gs://` and `az://` through `object_store`, with each cloud's standard credential chain from the environment
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`; an S3-compatible server through `AWS_ENDPOINT` and `AWS_ALLOW_HTTP`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, WriteMultipart};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Size of the parts of a streamed upload (S3's smallest part size).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of one streamed upload in flight while the next fills: with it, what bounds its memory.
const PARTS_IN_FLIGHT: usize = 1;

/// An object being read: its size and its bytes as they arrive.
pub(crate) struct Download {
    pub(crate) size: u64,
    pub(crate) bytes: BoxStream<'static, object_store::Result<Bytes>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.size)
            .finish()
    }
}

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
        Self::open_with(url, std::env::vars())
    }

    /// [`Self::open`] with a cloud store configured from the variables `vars` instead of the environment.
    fn open_with(url: &str, vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
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
                let options = vars
                    .into_iter()
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

    /// Writes an object whole (readers never see part of it) unless one exists under its name, in one conditional request (a local rename
    /// that does not replace, `If-None-Match: *` in the clouds), so that of two writers only the first
    /// succeeds. `false` when the object existed; it is left as it was. A store that cannot write
    /// conditionally (S3 with `AWS_CONDITIONAL_PUT=disabled`) is asked whether the object exists first.
    pub(crate) async fn create(&self, name: &str, bytes: Vec<u8>) -> Result<bool> {
        let key = self.key(name);
        let failed =
            |e: object_store::Error| Error::Store(format!("writing {}: {e}", self.url_of(name)));
        let payload = PutPayload::from(bytes);
        match self
            .inner
            .put_opts(&key, payload.clone(), PutMode::Create.into())
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(object_store::Error::NotImplemented { .. }) => {
                tracing::warn!(
                    object = %self.url_of(name),
                    "the store cannot write conditionally; checking first, which a concurrent writer can race"
                );
                if self.get(name).await?.is_some() {
                    return Ok(false);
                }
                self.inner.put(&key, payload).await.map_err(failed)?;
                Ok(true)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Writes an object from the chunks `chunks` delivers, in parts, holding at most a few parts in memory; the
    /// object appears whole when the last chunk is in, and not at all when a chunk is an error or the store
    /// fails. Returns the bytes written.
    pub(crate) async fn put_stream(
        &self,
        name: &str,
        mut chunks: mpsc::Receiver<std::io::Result<Bytes>>,
    ) -> Result<u64> {
        let failed =
            |e: object_store::Error| Error::Store(format!("writing {}: {e}", self.url_of(name)));
        let upload = self
            .inner
            .put_multipart(&self.key(name))
            .await
            .map_err(failed)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut written = 0u64;
        while let Some(chunk) = chunks.recv().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::io(format!(
                        "reading what goes to {}",
                        self.url_of(name)
                    ))(e));
                }
            };
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(failed(e));
            }
            written += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await.map_err(failed)?;
        Ok(written)
    }

    /// Opens an object for reading as a stream; `None` when it does not exist.
    pub(crate) async fn get_stream(&self, name: &str) -> Result<Option<Download>> {
        match self.inner.get(&self.key(name)).await {
            Ok(result) => Ok(Some(Download {
                size: result.meta.size,
                bytes: result.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::Store(format!("reading {}: {e}", self.url_of(name)))),
        }
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
        assert!(
            store
                .create("replays/m1.json", b"{}".to_vec())
                .await
                .unwrap()
        );
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

    /// Sixteen writers create one object at once: one of them writes it, and a later create leaves it alone.
    async fn only_the_first_create_writes(store: &BlobStore) {
        let writers: Vec<_> = (0..16u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { (i, store.create("results/m1.pb", vec![i; 64]).await) })
            })
            .collect();
        let mut created = Vec::new();
        for writer in writers {
            let (i, result) = writer.await.unwrap();
            if result.unwrap() {
                created.push(i);
            }
        }
        assert_eq!(created.len(), 1, "{created:?}");
        let stored = store.get("results/m1.pb").await.unwrap().unwrap();
        assert_eq!(stored, vec![created[0]; 64]);
        assert!(
            !store
                .create("results/m1.pb", b"later".to_vec())
                .await
                .unwrap()
        );
        assert_eq!(store.get("results/m1.pb").await.unwrap().unwrap(), stored);
    }

    #[tokio::test]
    async fn of_concurrent_creates_of_one_file_only_the_first_writes() {
        let dir = tempfile::tempdir().unwrap();
        only_the_first_create_writes(&BlobStore::local(dir.path()).unwrap()).await;
    }

    #[tokio::test]
    async fn of_concurrent_creates_of_one_s3_object_only_the_first_writes() {
        // As `main` does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let moto = testkit::Moto::start();
        moto.create_bucket("arena");
        let store = BlobStore::open_with("s3://arena/prod", moto.env()).unwrap();
        only_the_first_create_writes(&store).await;
    }

    #[tokio::test]
    async fn streamed_objects_appear_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        // More than two parts, in chunks that do not fall on part boundaries.
        let chunk = Bytes::from(vec![7u8; 3 * 1024 * 1024 + 11]);
        let (tx, rx) = mpsc::channel(2);
        let sent = chunk.clone();
        tokio::spawn(async move {
            for _ in 0..4 {
                tx.send(Ok(sent.clone())).await.unwrap();
            }
        });
        let written = store.put_stream("replays/big.json", rx).await.unwrap();
        assert_eq!(written, 4 * chunk.len() as u64);
        let download = store.get_stream("replays/big.json").await.unwrap().unwrap();
        assert_eq!(download.size, written);
        let read: Vec<Bytes> = futures_util::TryStreamExt::try_collect(download.bytes)
            .await
            .unwrap();
        assert_eq!(read.iter().map(Bytes::len).sum::<usize>() as u64, written);
        assert!(read.iter().all(|b| b.iter().all(|&x| x == 7)));

        // A producer that fails leaves no object.
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            tx.send(Ok(Bytes::from_static(b"{\"part\""))).await.unwrap();
            tx.send(Err(std::io::Error::other("disk gone")))
                .await
                .unwrap();
        });
        let err = store.put_stream("replays/cut.json", rx).await.unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
        assert!(
            store
                .get_stream("replays/cut.json")
                .await
                .unwrap()
                .is_none()
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("replays"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["big.json"]);
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
