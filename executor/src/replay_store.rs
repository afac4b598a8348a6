//! The replay store: each recorded match as `replays/<match_id>.json` (or `.json.gz`) and a self-contained
//! `replays/<match_id>.html` viewer in the [`BlobStore`].

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::blob_store::BlobStore;
use crate::error::{Error, Result};
use crate::viewer;

/// Where a stored replay can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredReplay {
    pub(crate) json_url: String,
    pub(crate) html_url: String,
    /// SHA-256 (hex) of the replay JSON (before any compression).
    pub(crate) sha256: String,
    /// Bytes written for the JSON object.
    pub(crate) stored_bytes: usize,
}

/// Replays in a blob store.
#[derive(Debug, Clone)]
pub(crate) struct ReplayStore {
    blobs: BlobStore,
    /// Published base URL; `None` gives the store's own URLs.
    public_base: Option<String>,
    /// Store the JSON gzip-compressed as `<match_id>.json.gz`.
    gzip: bool,
}

impl ReplayStore {
    pub(crate) fn new(blobs: BlobStore, public_base: Option<String>, gzip: bool) -> Self {
        let public_base = public_base.map(|b| b.trim_end_matches('/').to_string());
        Self {
            blobs,
            public_base,
            gzip,
        }
    }

    /// The object name of a replay file (`<match_id>.json`, `.json.gz` or `.html`).
    pub(crate) fn object_name(file: &str) -> String {
        format!("replays/{file}")
    }

    /// Stores a replay and its viewer.
    pub(crate) async fn put(&self, match_id: &str, json: &[u8]) -> Result<StoredReplay> {
        let (json_file, body) = if self.gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(json)
                .and_then(|()| gz.finish())
                .map(|b| (format!("{match_id}.json.gz"), b))
                .map_err(Error::io("compressing the replay"))?
        } else {
            (format!("{match_id}.json"), json.to_vec())
        };
        let html_file = format!("{match_id}.html");
        let html = viewer::render(&String::from_utf8_lossy(json));
        let stored_bytes = body.len();
        let (json_name, html_name) = (Self::object_name(&json_file), Self::object_name(&html_file));
        tokio::try_join!(
            self.blobs.put(&json_name, body),
            self.blobs.put(&html_name, html.into_bytes()),
        )?;
        Ok(StoredReplay {
            json_url: self.url(&json_file),
            html_url: self.url(&html_file),
            sha256: hex::encode(Sha256::digest(json)),
            stored_bytes,
        })
    }

    /// Reads a stored replay file by its file name (for the HTTP endpoint).
    pub(crate) async fn get(&self, file: &str) -> Result<Option<Vec<u8>>> {
        self.blobs.get(&Self::object_name(file)).await
    }

    fn url(&self, file: &str) -> String {
        match &self.public_base {
            Some(base) => format!("{base}/{file}"),
            None => self.blobs.url_of(&Self::object_name(file)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[tokio::test]
    async fn put_writes_json_and_html_with_urls() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, false);
        let stored = store.put("m1", br#"{"schema_version":1}"#).await.unwrap();
        let json_path = std::path::absolute(dir.path())
            .unwrap()
            .join("replays/m1.json");
        assert_eq!(stored.json_url, format!("file://{}", json_path.display()));
        assert_eq!(
            std::fs::read(&json_path).unwrap(),
            br#"{"schema_version":1}"#
        );
        let html = std::fs::read_to_string(dir.path().join("replays/m1.html")).unwrap();
        assert!(html.contains(r#"{"schema_version":1}"#));
        assert_eq!(
            stored.sha256,
            hex::encode(Sha256::digest(br#"{"schema_version":1}"#))
        );
        assert_eq!(
            store.get("m1.json").await.unwrap().unwrap(),
            br#"{"schema_version":1}"#
        );

        let published = ReplayStore::new(
            BlobStore::local(dir.path()).unwrap(),
            Some("https://replays.example/r/".into()),
            false,
        );
        let stored = published.put("m2", b"{}").await.unwrap();
        assert_eq!(stored.json_url, "https://replays.example/r/m2.json");
        assert_eq!(stored.html_url, "https://replays.example/r/m2.html");
    }

    #[tokio::test]
    async fn gzip_replays_decompress_to_the_digested_json() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, true);
        let json = br#"{"schema_version":1,"steps":[]}"#;
        let stored = store.put("m3", json).await.unwrap();
        assert!(
            stored.json_url.ends_with("replays/m3.json.gz"),
            "{}",
            stored.json_url
        );
        let compressed = std::fs::read(dir.path().join("replays/m3.json.gz")).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, json);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(json)));
    }
}
