//! The only code that writes agent files: a tree writer that confines every entry to one root.
//!
//! Archive readers and the directory copier feed entries in; this module refuses absolute paths,
//! `..`, paths through symlinks, links pointing out and anything over the limits, and neutralises
//! permissions (no setuid, setgid, sticky or world-writable bits). Symlinks are created last, after
//! every file and directory, so no entry can ever be written through one.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::limits::{Limits, RATIO_FLOOR_BYTES};

/// Where entries are read from; decides whose fault a read error is.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// An archive of the named format: read errors mean the archive is bad.
    Archive(&'static str),
    /// A local directory being copied: read errors mean the source is unreadable.
    Directory(PathBuf),
}

/// What an extraction produced.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    /// Regular files written.
    pub files: u64,
    /// Bytes written to regular files.
    pub bytes: u64,
    /// Whether some symlink target climbs up to the root itself, which would escape if the root's
    /// single top-level directory were unwrapped.
    pub symlink_reaches_root: bool,
}

struct PendingLink {
    entry: String,
    path: Vec<Vec<u8>>,
    target: Vec<u8>,
}

/// Writes entries below `root`, never outside it.
pub(crate) struct Extractor<'a> {
    root: PathBuf,
    limits: &'a Limits,
    origin: Origin,
    /// Size of the packed artifact, for the compression-ratio check; `None` when copying.
    packed_bytes: Option<u64>,
    entries: u64,
    summary: Summary,
    /// Regular files written so far, the only valid hard link targets.
    files: HashSet<Vec<Vec<u8>>>,
    /// Paths declared as symlinks; nothing may be written below them.
    symlinks: HashSet<Vec<Vec<u8>>>,
    pending_links: Vec<PendingLink>,
}

impl<'a> Extractor<'a> {
    pub fn new(root: &Path, limits: &'a Limits, origin: Origin, packed_bytes: Option<u64>) -> Self {
        Extractor {
            root: root.to_path_buf(),
            limits,
            origin,
            packed_bytes,
            entries: 0,
            summary: Summary::default(),
            files: HashSet::new(),
            symlinks: HashSet::new(),
            pending_links: Vec::new(),
        }
    }

    /// Counts one entry and validates its raw path; `None` means the root itself (`./`).
    pub fn entry_path(&mut self, raw: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                what: "entry count",
                limit: self.limits.max_entries,
                flag: "--max-entries",
            });
        }
        let components = self.components(raw)?;
        Ok((!components.is_empty()).then_some(components))
    }

    /// Checks the number of entries up front, for formats that declare it.
    pub fn check_entry_count(&self, count: u64) -> Result<()> {
        if count > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                what: "entry count",
                limit: self.limits.max_entries,
                flag: "--max-entries",
            });
        }
        Ok(())
    }

    fn components(&self, raw: &[u8]) -> Result<Vec<Vec<u8>>> {
        let entry = display(raw);
        if raw.len() > self.limits.max_path_len {
            return Err(Error::LimitExceeded {
                what: "path length",
                limit: self.limits.max_path_len as u64,
                flag: "--max-path-len",
            });
        }
        if raw.contains(&0) {
            return Err(Error::unsafe_entry(&entry, "the path contains a NUL byte"));
        }
        if raw.first() == Some(&b'/') {
            return Err(Error::unsafe_entry(
                &entry,
                "absolute paths are not allowed",
            ));
        }
        let mut components = Vec::new();
        for part in raw.split(|b| *b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    return Err(Error::unsafe_entry(
                        &entry,
                        "paths containing `..` are not allowed",
                    ));
                }
                name => components.push(name.to_vec()),
            }
        }
        Ok(components)
    }

    fn path_of(&self, components: &[Vec<u8>]) -> PathBuf {
        let mut path = self.root.clone();
        for component in components {
            path.push(std::ffi::OsStr::from_bytes(component));
        }
        path
    }

    /// Refuses paths below a declared symlink and creates the parent directories.
    fn prepare_parent(&self, entry: &str, components: &[Vec<u8>]) -> Result<()> {
        for depth in 1..components.len() {
            let prefix = &components[..depth];
            if self.symlinks.contains(prefix) {
                return Err(Error::unsafe_entry(
                    entry,
                    "the path goes through a symlink",
                ));
            }
            let dir = self.path_of(prefix);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(Error::unsafe_entry(
                        entry,
                        "a parent directory conflicts with an earlier file entry",
                    ));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    fs::create_dir(&dir).map_err(|e| self.write_error(&dir, e))?;
                }
                Err(e) => return Err(self.write_error(&dir, e)),
            }
        }
        Ok(())
    }

    pub fn dir(&mut self, entry: &str, components: &[Vec<u8>]) -> Result<()> {
        if self.symlinks.contains(components) {
            return Err(Error::unsafe_entry(
                entry,
                "a directory conflicts with a symlink entry",
            ));
        }
        self.prepare_parent(entry, components)?;
        let path = self.path_of(components);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::unsafe_entry(
                entry,
                "a directory conflicts with an earlier file entry",
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::create_dir(&path).map_err(|e| self.write_error(&path, e))
            }
            Err(e) => Err(self.write_error(&path, e)),
        }
    }

    /// Writes one regular file from `reader`, enforcing the size and ratio limits as bytes flow.
    pub fn file(
        &mut self,
        entry: &str,
        components: &[Vec<u8>],
        executable: bool,
        reader: &mut dyn Read,
    ) -> Result<()> {
        if self.symlinks.contains(components) {
            return Err(Error::unsafe_entry(
                entry,
                "a file conflicts with a symlink entry",
            ));
        }
        self.prepare_parent(entry, components)?;
        let path = self.path_of(components);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(Error::unsafe_entry(
                    entry,
                    "a file conflicts with an earlier directory entry",
                ));
            }
            // A repeated entry replaces the earlier one, as `tar` does.
            Ok(_) => fs::remove_file(&path).map_err(|e| self.write_error(&path, e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.write_error(&path, e)),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| self.write_error(&path, e))?;
        self.copy(reader, &mut file, &path)?;
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, Permissions::from_mode(mode))
            .map_err(|e| self.write_error(&path, e))?;
        self.summary.files += 1;
        self.files.insert(components.to_vec());
        Ok(())
    }

    fn copy(&mut self, reader: &mut dyn Read, file: &mut File, path: &Path) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            };
            self.summary.bytes += n as u64;
            self.check_size()?;
            file.write_all(&buf[..n])
                .map_err(|e| self.write_error(path, e))?;
        }
    }

    fn check_size(&self) -> Result<()> {
        let bytes = self.summary.bytes;
        if bytes > self.limits.max_unpacked_bytes {
            return Err(Error::LimitExceeded {
                what: "unpacked size",
                limit: self.limits.max_unpacked_bytes,
                flag: "--max-unpacked-bytes",
            });
        }
        if let Some(packed) = self.packed_bytes {
            let allowed = u128::from(packed.max(1)) * u128::from(self.limits.max_ratio);
            if bytes > RATIO_FLOOR_BYTES && u128::from(bytes) > allowed {
                return Err(Error::LimitExceeded {
                    what: "compression ratio",
                    limit: self.limits.max_ratio,
                    flag: "--max-ratio",
                });
            }
        }
        Ok(())
    }

    /// Records a symlink; it is created by [`Extractor::finish`] once every file is written.
    pub fn symlink(&mut self, entry: &str, components: &[Vec<u8>], target: &[u8]) -> Result<()> {
        if target.is_empty() {
            return Err(Error::unsafe_entry(entry, "the symlink target is empty"));
        }
        if target.contains(&0) {
            return Err(Error::unsafe_entry(
                entry,
                "the symlink target contains a NUL byte",
            ));
        }
        if target.len() > self.limits.max_path_len {
            return Err(Error::LimitExceeded {
                what: "path length",
                limit: self.limits.max_path_len as u64,
                flag: "--max-path-len",
            });
        }
        if target.first() == Some(&b'/') {
            return Err(Error::unsafe_entry(
                entry,
                format!(
                    "the symlink points outside the destination (absolute target {})",
                    display(target)
                ),
            ));
        }
        if !self.symlinks.insert(components.to_vec()) {
            return Err(Error::unsafe_entry(
                entry,
                "the symlink repeats an earlier symlink entry",
            ));
        }
        self.pending_links.push(PendingLink {
            entry: entry.to_owned(),
            path: components.to_vec(),
            target: target.to_vec(),
        });
        Ok(())
    }

    /// Writes a hard link as a copy of an earlier regular file of the same archive.
    pub fn hardlink(&mut self, entry: &str, components: &[Vec<u8>], target: &[u8]) -> Result<()> {
        let target = self.components(target).map_err(|e| match e {
            Error::UnsafeEntry { reason, .. } => Error::unsafe_entry(
                entry,
                format!("the hard link points outside the destination: {reason}"),
            ),
            other => other,
        })?;
        if !self.files.contains(&target) {
            return Err(Error::unsafe_entry(
                entry,
                "the hard link target is not an earlier regular file of the archive",
            ));
        }
        let source = self.path_of(&target);
        let mut reader = File::open(&source).map_err(|e| self.write_error(&source, e))?;
        let executable = fs::metadata(&source)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        self.file(entry, components, executable, &mut reader)
    }

    /// Creates the recorded symlinks after checking that each resolves inside the root without
    /// passing through another symlink.
    pub fn finish(mut self) -> Result<Summary> {
        let links = std::mem::take(&mut self.pending_links);
        for link in &links {
            for depth in 1..link.path.len() {
                if self.symlinks.contains(&link.path[..depth]) {
                    return Err(Error::unsafe_entry(
                        &link.entry,
                        "the path goes through a symlink",
                    ));
                }
            }
            let mut resolved: Vec<&[u8]> = link.path[..link.path.len() - 1]
                .iter()
                .map(Vec::as_slice)
                .collect();
            let parts: Vec<&[u8]> = link
                .target
                .split(|b| *b == b'/')
                .filter(|p| !p.is_empty() && *p != b".")
                .collect();
            for (index, part) in parts.iter().enumerate() {
                if *part == b".." {
                    if resolved.pop().is_none() {
                        return Err(Error::unsafe_entry(
                            &link.entry,
                            format!(
                                "the symlink points outside the destination ({})",
                                display(&link.target)
                            ),
                        ));
                    }
                    if resolved.is_empty() {
                        self.summary.symlink_reaches_root = true;
                    }
                } else {
                    resolved.push(part);
                    let last = index + 1 == parts.len();
                    let prefix: Vec<Vec<u8>> = resolved.iter().map(|p| p.to_vec()).collect();
                    if !last && self.symlinks.contains(&prefix) {
                        return Err(Error::unsafe_entry(
                            &link.entry,
                            "the symlink target goes through another symlink",
                        ));
                    }
                }
            }
            self.prepare_parent(&link.entry, &link.path)?;
            let path = self.path_of(&link.path);
            let target = std::ffi::OsStr::from_bytes(&link.target);
            std::os::unix::fs::symlink(target, &path).map_err(|e| {
                if e.kind() == ErrorKind::AlreadyExists {
                    Error::unsafe_entry(&link.entry, "the symlink conflicts with an earlier entry")
                } else {
                    self.write_error(&path, e)
                }
            })?;
        }
        Ok(self.summary)
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        match &self.origin {
            Origin::Archive(format) => Error::BadArchive {
                format,
                reason: e.to_string(),
            },
            Origin::Directory(path) => Error::SourceIo {
                path: path.clone(),
                source: e,
            },
        }
    }

    fn write_error(&self, path: &Path, e: std::io::Error) -> Error {
        Error::io(format!("writing {}", path.display()), e)
    }
}

/// A raw entry name fit for one-line messages.
pub(crate) fn display(raw: &[u8]) -> String {
    common::text::shorten(&String::from_utf8_lossy(raw), 200)
}
