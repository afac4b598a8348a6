//! The replay store: each recorded match as `<match_id>.json` and a self-contained `<match_id>.html` viewer.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::viewer;

/// Where a stored replay can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReplay {
    pub json_url: String,
    pub html_url: String,
    /// SHA-256 (hex) of the stored JSON bytes.
    pub sha256: String,
}

/// Replays in a local directory.
#[derive(Debug, Clone)]
pub struct ReplayStore {
    dir: PathBuf,
    /// Published base URL; `None` gives `file://` URLs.
    base_url: Option<String>,
}

impl ReplayStore {
    /// Opens (and creates) the store directory.
    pub fn open(dir: &Path, base_url: Option<String>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!(
            "creating replay directory {}",
            dir.display()
        )))?;
        let dir = std::fs::canonicalize(dir)
            .map_err(Error::io(format!("resolving {}", dir.display())))?;
        let base_url = base_url.map(|b| b.trim_end_matches('/').to_string());
        Ok(Self { dir, base_url })
    }

    /// Stores a replay and its viewer. Both files appear whole or not at all.
    pub fn put(&self, match_id: &str, json: &[u8]) -> Result<StoredReplay> {
        let json_name = format!("{match_id}.json");
        let html_name = format!("{match_id}.html");
        let html = viewer::render(&String::from_utf8_lossy(json));
        self.write_atomic(&json_name, json)?;
        self.write_atomic(&html_name, html.as_bytes())?;
        Ok(StoredReplay {
            json_url: self.url(&json_name),
            html_url: self.url(&html_name),
            sha256: hex::encode(Sha256::digest(json)),
        })
    }

    fn url(&self, name: &str) -> String {
        match &self.base_url {
            Some(base) => format!("{base}/{name}"),
            None => format!("file://{}", self.dir.join(name).display()),
        }
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = self.dir.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(Error::io("creating a replay file"))?;
        std::io::Write::write_all(&mut tmp, bytes)
            .map_err(Error::io(format!("writing {}", target.display())))?;
        tmp.persist(&target)
            .map_err(|e| Error::io(format!("storing {}", target.display()))(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_writes_json_and_html_with_urls() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReplayStore::open(dir.path(), None).unwrap();
        let stored = store.put("m1", br#"{"schema_version":1}"#).unwrap();
        let json_path = dir.path().canonicalize().unwrap().join("m1.json");
        assert_eq!(stored.json_url, format!("file://{}", json_path.display()));
        assert_eq!(
            std::fs::read(&json_path).unwrap(),
            br#"{"schema_version":1}"#
        );
        let html = std::fs::read_to_string(dir.path().join("m1.html")).unwrap();
        assert!(html.contains(r#"{"schema_version":1}"#));
        assert_eq!(
            stored.sha256,
            hex::encode(Sha256::digest(br#"{"schema_version":1}"#))
        );

        let published =
            ReplayStore::open(dir.path(), Some("https://replays.example/r/".into())).unwrap();
        let stored = published.put("m2", b"{}").unwrap();
        assert_eq!(stored.json_url, "https://replays.example/r/m2.json");
        assert_eq!(stored.html_url, "https://replays.example/r/m2.html");
    }
}
