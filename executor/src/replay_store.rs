//! The replay store: each recorded match as `replays/<match_id>.json` (or `.json.gz`) and a self-contained
//! `replays/<match_id>.html` viewer in the [`BlobStore`]. Replays go from their file to the store, and back to
//! readers, as streams: a replay is never held whole in memory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::blob_store::{BlobStore, Download};
use crate::error::{Error, Result};
use crate::viewer;

/// Size of the pieces a replay file is read and sent in.
const PIECE_BYTES: usize = 256 * 1024;
/// Pieces buffered between a file's reader and its upload.
const PIECES_IN_FLIGHT: usize = 4;

/// Where a stored replay can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredReplay {
    pub(crate) json_url: String,
    pub(crate) html_url: String,
    /// Bytes written for the JSON object.
    pub(crate) stored_bytes: u64,
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

/// How a replay file is written to an object.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Json,
    Gzip,
    /// Embedded in the viewer page.
    Viewer,
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

    /// Stores the replay in the file `json` and its viewer, each streamed from the file.
    pub(crate) async fn put_file(&self, match_id: &str, json: &Path) -> Result<StoredReplay> {
        let (json_file, encoding) = if self.gzip {
            (format!("{match_id}.json.gz"), Encoding::Gzip)
        } else {
            (format!("{match_id}.json"), Encoding::Json)
        };
        let html_file = format!("{match_id}.html");
        let (json_name, html_name) = (Self::object_name(&json_file), Self::object_name(&html_file));
        // One after the other, so that one upload's buffers are in memory at a time; the viewer last, so that
        // a failure leaves no viewer without its replay.
        let stored_bytes = self
            .blobs
            .put_stream(&json_name, encoded(json.to_path_buf(), encoding))
            .await?;
        self.blobs
            .put_stream(&html_name, encoded(json.to_path_buf(), Encoding::Viewer))
            .await?;
        Ok(StoredReplay {
            json_url: self.url(&json_file),
            html_url: self.url(&html_file),
            stored_bytes,
        })
    }

    /// Opens a stored replay file by its file name (for the HTTP endpoint).
    pub(crate) async fn get(&self, file: &str) -> Result<Option<Download>> {
        self.blobs.get_stream(&Self::object_name(file)).await
    }

    fn url(&self, file: &str) -> String {
        match &self.public_base {
            Some(base) => format!("{base}/{file}"),
            None => self.blobs.url_of(&Self::object_name(file)),
        }
    }
}

/// The SHA-256 (hex) and the size of a file, read in pieces off the runtime's threads.
pub(crate) async fn digest(path: &Path) -> Result<(String, u64)> {
    let path = path.to_path_buf();
    let reading = Error::io(format!("reading {}", path.display()));
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut piece = vec![0u8; PIECE_BYTES];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut piece)?;
            if n == 0 {
                return Ok((hex::encode(hasher.finalize()), size));
            }
            hasher.update(&piece[..n]);
            size += n as u64;
        }
    })
    .await
    .map_err(|e| Error::Internal(format!("digest task: {e}")))?
    .map_err(reading)
}

/// The file at `path` in `encoding`, as pieces produced on a blocking thread; a read error ends the pieces
/// with that error.
fn encoded(path: PathBuf, encoding: Encoding) -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(PIECES_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut pieces = Pieces {
            tx: &tx,
            buf: Vec::with_capacity(PIECE_BYTES),
        };
        let written = encode(&path, encoding, &mut pieces).and_then(|()| pieces.send());
        if let Err(e) = written {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

fn encode(path: &Path, encoding: Encoding, out: &mut Pieces<'_>) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    match encoding {
        Encoding::Json => {
            std::io::copy(&mut file, out)?;
        }
        Encoding::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            std::io::copy(&mut file, &mut gz)?;
            gz.finish()?;
        }
        Encoding::Viewer => {
            let (head, tail) = viewer::page_parts();
            out.write_all(head.as_bytes())?;
            std::io::copy(&mut file, &mut viewer::Escape(&mut *out))?;
            out.write_all(tail.as_bytes())?;
        }
    }
    Ok(())
}

/// A writer that sends what it is given in pieces of [`PIECE_BYTES`] to an upload.
struct Pieces<'a> {
    tx: &'a mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Pieces<'_> {
    /// Sends what is buffered.
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(PIECE_BYTES),
        ));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for Pieces<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= PIECE_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use futures_util::TryStreamExt;

    use super::*;

    async fn read_all(store: &ReplayStore, file: &str) -> Vec<u8> {
        let download = store.get(file).await.unwrap().expect("stored");
        let pieces: Vec<Bytes> = download.bytes.try_collect().await.unwrap();
        pieces.concat()
    }

    #[tokio::test]
    async fn put_file_writes_json_and_html_with_urls() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("replay.json");
        std::fs::write(&json, br#"{"schema_version":1}"#).unwrap();
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, false);
        let stored = store.put_file("m1", &json).await.unwrap();
        let json_path = std::path::absolute(dir.path())
            .unwrap()
            .join("replays/m1.json");
        assert_eq!(stored.json_url, format!("file://{}", json_path.display()));
        assert_eq!(
            std::fs::read(&json_path).unwrap(),
            br#"{"schema_version":1}"#
        );
        assert_eq!(stored.stored_bytes, 20);
        let html = std::fs::read_to_string(dir.path().join("replays/m1.html")).unwrap();
        assert_eq!(html, viewer::render(r#"{"schema_version":1}"#));
        assert_eq!(
            read_all(&store, "m1.json").await,
            br#"{"schema_version":1}"#
        );

        let published = ReplayStore::new(
            BlobStore::local(dir.path()).unwrap(),
            Some("https://replays.example/r/".into()),
            false,
        );
        let stored = published.put_file("m2", &json).await.unwrap();
        assert_eq!(stored.json_url, "https://replays.example/r/m2.json");
        assert_eq!(stored.html_url, "https://replays.example/r/m2.html");
    }

    #[tokio::test]
    async fn large_replays_are_stored_in_pieces_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("replay.json");
        // Several pieces, with `<` on piece boundaries.
        let body: String = (0..400_000).map(|i| format!("\"<{i}\",")).collect();
        let doc = format!("[{}0]", body);
        std::fs::write(&json, &doc).unwrap();
        let (digest_hex, size) = digest(&json).await.unwrap();
        assert_eq!(digest_hex, hex::encode(Sha256::digest(doc.as_bytes())));
        assert_eq!(size, doc.len() as u64);
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, false);
        store.put_file("big", &json).await.unwrap();
        assert_eq!(read_all(&store, "big.json").await, doc.as_bytes());
        let html = String::from_utf8(read_all(&store, "big.html").await).unwrap();
        assert_eq!(html, viewer::render(&doc));
    }

    #[tokio::test]
    async fn gzip_replays_decompress_to_the_digested_json() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, true);
        let json = br#"{"schema_version":1,"steps":[]}"#;
        let file = dir.path().join("replay.json");
        std::fs::write(&file, json).unwrap();
        let stored = store.put_file("m3", &file).await.unwrap();
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
    }

    #[tokio::test]
    async fn a_missing_file_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReplayStore::new(BlobStore::local(dir.path()).unwrap(), None, false);
        let err = store
            .put_file("m4", &dir.path().join("absent.json"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("No such file"), "{err}");
        assert!(store.get("m4.json").await.unwrap().is_none());
        assert!(store.get("m4.html").await.unwrap().is_none());
    }
}
