//! Archive builders for tests: tar (image layers, whiteouts included), tar.gz and zip of a
//! directory on disk, gzip, and SHA-256 digests.

use std::io::{Cursor, Write};
use std::path::Path;

use sha2::Digest;

/// An uncompressed tar built entry by entry, paths written as given.
pub struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        Tar { builder }
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(0);
        header
    }

    /// A directory entry.
    pub fn dir(mut self, path: &str) -> Self {
        let mut header = Self::header(tar::EntryType::Directory, 0, 0o755);
        self.builder
            .append_data(&mut header, path, std::io::empty())
            .expect("append tar directory");
        self
    }

    /// A regular file with `mode`.
    pub fn file(mut self, path: &str, data: &[u8], mode: u32) -> Self {
        let mut header = Self::header(tar::EntryType::Regular, data.len() as u64, mode);
        self.builder
            .append_data(&mut header, path, data)
            .expect("append tar file");
        self
    }

    /// A symbolic link `path -> target`.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(tar::EntryType::Symlink, 0, 0o777);
        self.builder
            .append_link(&mut header, path, target)
            .expect("append tar symlink");
        self
    }

    /// An OCI whiteout: `dir/.wh.name` hides `dir/name` of lower layers.
    pub fn whiteout(self, dir: &str, name: &str) -> Self {
        let path = format!("{}/.wh.{name}", dir.trim_end_matches('/'));
        self.file(&path, b"", 0o644)
    }

    /// An opaque whiteout: hides everything lower layers had in `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        let path = format!("{}/.wh..wh..opq", dir.trim_end_matches('/'));
        self.file(&path, b"", 0o644)
    }

    /// Every file and directory below `src` on disk, placed under `prefix` (e.g. `app`).
    pub fn tree(mut self, prefix: &str, src: &Path) -> Self {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            self = self.dir(prefix);
        }
        for (relative, path) in walk(src) {
            let name = if prefix.is_empty() {
                relative.clone()
            } else {
                format!("{prefix}/{relative}")
            };
            if path.is_dir() {
                self = self.dir(&name);
            } else {
                let data = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("read {} for a tar: {e}", path.display()));
                self = self.file(&name, &data, mode_of(&path));
            }
        }
        self
    }

    /// The tar bytes.
    pub fn into_tar(self) -> Vec<u8> {
        self.builder.into_inner().expect("finish tar")
    }

    /// The tar, gzip-compressed.
    pub fn into_tar_gz(self) -> Vec<u8> {
        gzip(&self.into_tar())
    }
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A zip of every file below `src`, placed under `prefix` (empty for the top level).
pub fn zip_dir(prefix: &str, src: &Path) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let prefix = prefix.trim_matches('/');
    for (relative, path) in walk(src) {
        let name = if prefix.is_empty() {
            relative
        } else {
            format!("{prefix}/{relative}")
        };
        if path.is_dir() {
            writer
                .add_directory(name, options)
                .expect("add zip directory");
        } else {
            let data = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("read {} for a zip: {e}", path.display()));
            writer
                .start_file(name, options.unix_permissions(mode_of(&path)))
                .expect("start zip file");
            writer.write_all(&data).expect("write zip file");
        }
    }
    writer.finish().expect("finish zip").into_inner()
}

/// Every path below `root` (symlinks not followed) as `(relative/name, path)`, parents first,
/// sorted so that archives are reproducible. Python byte-code caches are left out.
fn walk(root: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root.to_path_buf())];
    while let Some((relative, dir)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("list {} for an archive: {e}", dir.display()))
            .map(|entry| entry.expect("read directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name == "__pycache__" {
                continue;
            }
            let relative = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            if path.is_dir() {
                stack.push((relative.clone(), path.clone()));
            }
            out.push((relative, path));
        }
    }
    out.sort();
    out
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o644)
}
