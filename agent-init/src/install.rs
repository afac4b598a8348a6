//! The install: stage beside the destination, check the digest, unpack or copy, unwrap a single
//! top-level directory, then rename into place. Nothing appears at the destination unless the
//! whole install succeeded, and staging left by an interrupted run is removed by the next one.

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::archive::{self, Format};
use crate::destination::Destinations;
use crate::error::{Error, Result};
use crate::extract::{Extractor, Origin, Summary};
use crate::http::{self, HttpConfig};
use crate::limits::Limits;
use crate::local::{self, Opened};
use crate::object;
use crate::oci::{self, OciConfig};
use crate::source::Source;

/// Everything an install needs besides the source and destination.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    /// Expected SHA-256 of the artifact (hex), checked before anything is unpacked.
    pub sha256: Option<String>,
    pub http: HttpConfig,
    pub oci: OciConfig,
    /// Network destinations that http(s):// and oci:// sources may reach.
    pub destinations: Destinations,
    /// Directories below which local sources may lie; none means no local sources.
    pub local_roots: Vec<PathBuf>,
}

/// What was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub dest: PathBuf,
    /// How the artifact was read: `directory`, `single file`, `zip`, `tar`, `tar.gz`, `tar.zst`.
    pub format: &'static str,
    pub files: u64,
    pub bytes: u64,
}

/// Installs `source` into `dest`, which must not exist or be an empty directory.
pub async fn install(source: &Source, dest: &Path, options: &Options) -> Result<Installed> {
    let expected = options
        .sha256
        .as_deref()
        .map(normalize_digest)
        .transpose()?;
    match source {
        Source::Local(path) => {
            let (path, dest, options) = (path.clone(), dest.to_path_buf(), options.clone());
            tokio::task::spawn_blocking(move || install_local(&path, &dest, &options, expected))
                .await
                .map_err(|e| Error::io("install task", std::io::Error::other(e.to_string())))?
        }
        Source::Oci(image) => {
            if expected.is_some() {
                return Err(Error::DigestOnImage {
                    image: image.clone(),
                });
            }
            let staging = Staging::prepare(dest)?;
            let layers = oci::pull(
                image,
                staging.path(),
                &options.http,
                &options.oci,
                &options.limits,
                &options.destinations,
            )
            .await?;
            let (limits, oci_dir) = (options.limits.clone(), options.oci.oci_dir.clone());
            tokio::task::spawn_blocking(move || {
                let content = staging.content()?;
                let summary = oci::apply_layers(&layers, &content, &oci_dir, &limits)?;
                let dest = staging.dest.clone();
                staging.commit(&content, &dest)?;
                Ok(installed(&dest, "oci image", summary))
            })
            .await
            .map_err(|e| Error::io("install task", std::io::Error::other(e.to_string())))?
        }
        Source::Http(url) | Source::ObjectStore(url) => {
            let staging = Staging::prepare(dest)?;
            let artifact = staging.path().join("download");
            if matches!(source, Source::Http(_)) {
                http::download(
                    url,
                    &artifact,
                    &options.http,
                    &options.limits,
                    &options.destinations,
                )
                .await?;
            } else {
                object::download(url, &artifact, &options.http, &options.limits).await?;
            }
            let name = source.file_name();
            let limits = options.limits.clone();
            tokio::task::spawn_blocking(move || {
                install_file(
                    staging,
                    &artifact,
                    name.as_deref(),
                    false,
                    &limits,
                    expected,
                )
            })
            .await
            .map_err(|e| Error::io("install task", std::io::Error::other(e.to_string())))?
        }
    }
}

/// Installs an archive (zip, tar, tar.gz, tar.zst; detected by content) from a local file, e.g.
/// the bytes of an upload saved to disk. Blocking.
pub fn install_archive_file(archive: &Path, dest: &Path, limits: &Limits) -> Result<Installed> {
    let staging = Staging::prepare(dest)?;
    let format = archive::detect(archive, None)?;
    if format == Format::Single {
        return Err(Error::BadArchive {
            format: "zip",
            reason: "the content is not a zip, tar, tar.gz or tar.zst archive".to_owned(),
        });
    }
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    install_file(staging, archive, name.as_deref(), false, limits, None)
}

/// Installs a local directory or file, if it lies below one of `options.local_roots`. Blocking.
pub fn install_local(
    path: &Path,
    dest: &Path,
    options: &Options,
    expected: Option<String>,
) -> Result<Installed> {
    match local::open(path, &options.local_roots)? {
        Opened::Dir(dir) => {
            if expected.is_some() {
                return Err(Error::DigestOnDirectory {
                    path: path.to_path_buf(),
                });
            }
            let staging = Staging::prepare(dest)?;
            let content = staging.content()?;
            let mut extractor = Extractor::new(
                &content,
                &options.limits,
                Origin::Directory(path.to_path_buf()),
                None,
            );
            local::copy_tree(&dir, path, &[], &mut extractor)?;
            let summary = extractor.finish()?;
            staging.commit(&content, dest)?;
            Ok(installed(dest, "directory", summary))
        }
        Opened::File(file, meta) => {
            install_local_file(path, file, &meta, dest, &options.limits, expected)
        }
    }
}

/// Installs an opened local file: it is copied first, so that every later read sees the bytes
/// that were opened and checked.
fn install_local_file(
    path: &Path,
    file: File,
    meta: &fs::Metadata,
    dest: &Path,
    limits: &Limits,
    expected: Option<String>,
) -> Result<Installed> {
    let limit = limits.max_download_bytes;
    let too_big = || Error::LimitExceeded {
        what: "download size",
        limit,
        flag: "--max-download-bytes",
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let staging = Staging::prepare(dest)?;
    let artifact = staging.path().join("download");
    if copy_bounded(file, &artifact, limit, path)? > limit {
        return Err(too_big());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let executable = meta.permissions().mode() & 0o111 != 0;
    install_file(
        staging,
        &artifact,
        name.as_deref(),
        executable,
        limits,
        expected,
    )
}

/// Copies at most `limit + 1` bytes of `file` to `to`; returns the byte count.
fn copy_bounded(file: File, to: &Path, limit: u64, shown: &Path) -> Result<u64> {
    let mut out =
        File::create(to).map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
    std::io::copy(&mut file.take(limit + 1), &mut out).map_err(|source| Error::SourceIo {
        path: shown.to_path_buf(),
        source,
    })
}

/// Checks the digest, then unpacks an archive or places a single file, then commits.
fn install_file(
    staging: Staging,
    artifact: &Path,
    name: Option<&str>,
    executable: bool,
    limits: &Limits,
    expected: Option<String>,
) -> Result<Installed> {
    if let Some(expected) = expected {
        let actual = sha256_file(artifact)?;
        if actual != expected {
            return Err(Error::DigestMismatch { expected, actual });
        }
    }
    let packed = fs::metadata(artifact)
        .map_err(|e| Error::io(format!("reading {}", artifact.display()), e))?
        .len();
    let format = archive::detect(artifact, name)?;
    let content = staging.content()?;
    if format == Format::Single {
        let file_name = single_file_name(name);
        if file_name == "agent.py" {
            archive::check_python_source(artifact, name.unwrap_or(&file_name))?;
        }
        let mut extractor = Extractor::new(&content, limits, Origin::Archive("single file"), None);
        let path = vec![file_name.into_bytes()];
        let mut reader = File::open(artifact)
            .map_err(|e| Error::io(format!("reading {}", artifact.display()), e))?;
        extractor.file(&extract_name(&path), &path, executable, &mut reader)?;
        let summary = extractor.finish()?;
        let dest = staging.dest.clone();
        staging.commit(&content, &dest)?;
        return Ok(installed(&dest, format.name(), summary));
    }
    let extractor = Extractor::new(
        &content,
        limits,
        Origin::Archive(format.name()),
        Some(packed),
    );
    let summary = archive::unpack(artifact, format, extractor)?;
    let root = unwrap_single_dir(&content, &summary)?;
    let dest = staging.dest.clone();
    staging.commit(&root, &dest)?;
    Ok(installed(&dest, format.name(), summary))
}

fn extract_name(path: &[Vec<u8>]) -> String {
    path.first()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

fn installed(dest: &Path, format: &'static str, summary: Summary) -> Installed {
    Installed {
        dest: dest.to_path_buf(),
        format,
        files: summary.files,
        bytes: summary.bytes,
    }
}

/// A `.py` file becomes `agent.py`; anything else keeps a safe version of its name.
fn single_file_name(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "artifact".to_owned();
    };
    if name.to_ascii_lowercase().ends_with(".py") {
        return "agent.py".to_owned();
    }
    let safe = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.contains(['/', '\0']);
    if safe {
        name.to_owned()
    } else {
        "artifact".to_owned()
    }
}

/// The root to install: the content itself, or its only entry when that is a directory.
fn unwrap_single_dir(content: &Path, summary: &Summary) -> Result<PathBuf> {
    let mut entries = fs::read_dir(content)
        .map_err(|e| Error::io(format!("reading {}", content.display()), e))?;
    let first = entries
        .next()
        .transpose()
        .map_err(|e| Error::io("reading the unpacked tree", e))?;
    let (Some(first), None) = (first, entries.next()) else {
        return Ok(content.to_path_buf());
    };
    let is_dir = first
        .file_type()
        .map_err(|e| Error::io("reading the unpacked tree", e))?
        .is_dir();
    if !is_dir {
        return Ok(content.to_path_buf());
    }
    if summary.symlink_reaches_root {
        return Err(Error::unsafe_entry(
            &first.file_name().to_string_lossy(),
            "a symlink inside the top-level directory points above it",
        ));
    }
    Ok(first.path())
}

/// Lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Validates `--sha256` (optionally prefixed `sha256:`) and lowercases it.
pub fn normalize_digest(given: &str) -> Result<String> {
    let hex_part = given.strip_prefix("sha256:").unwrap_or(given).trim();
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidDigest {
            given: given.to_owned(),
        });
    }
    Ok(hex_part.to_ascii_lowercase())
}

/// A private directory beside the destination where the artifact is downloaded and unpacked.
/// Dropping it removes everything that was not committed.
struct Staging {
    dir: TempDir,
    dest: PathBuf,
}

impl Staging {
    fn prepare(dest: &Path) -> Result<Self> {
        let dest_error = |reason: String| Error::Dest {
            path: dest.to_path_buf(),
            reason,
        };
        match fs::symlink_metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                let mut entries = fs::read_dir(dest).map_err(|e| dest_error(e.to_string()))?;
                if entries.next().is_some() {
                    return Err(Error::DestNotEmpty {
                        path: dest.to_path_buf(),
                    });
                }
            }
            Ok(_) => {
                return Err(Error::DestNotEmpty {
                    path: dest.to_path_buf(),
                });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(dest_error(e.to_string())),
        }
        let name = dest
            .file_name()
            .ok_or_else(|| {
                dest_error("the path has no final component: name a directory".to_owned())
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| dest_error(format!("creating the parent: {e}")))?;
        let prefix = format!(".{name}.agent-init-");
        remove_stale(&parent, &prefix);
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .map_err(|e| dest_error(format!("creating a staging directory beside it: {e}")))?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn content(&self) -> Result<PathBuf> {
        let content = self.dir.path().join("content");
        fs::create_dir(&content).map_err(|e| Error::Dest {
            path: self.dest.clone(),
            reason: format!("creating the staging directory: {e}"),
        })?;
        Ok(content)
    }

    /// Moves `root` (inside the staging directory) to the destination in one rename.
    fn commit(self, root: &Path, dest: &Path) -> Result<()> {
        let dest_error = |reason: String| Error::Dest {
            path: dest.to_path_buf(),
            reason,
        };
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))
            .map_err(|e| dest_error(e.to_string()))?;
        match fs::remove_dir(dest) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty => {
                return Err(Error::DestNotEmpty {
                    path: dest.to_path_buf(),
                });
            }
            Err(e) => return Err(dest_error(e.to_string())),
        }
        fs::rename(root, dest)
            .map_err(|e| dest_error(format!("moving the unpacked agent into place: {e}")))?;
        tracing::debug!(dest = %dest.display(), staging = %self.dir.path().display(), "committed install");
        Ok(())
    }
}

/// Removes staging directories that an interrupted earlier run for the same destination left.
fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed staging left by an interrupted run")
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot remove stale staging")
                }
            }
        }
    }
}
