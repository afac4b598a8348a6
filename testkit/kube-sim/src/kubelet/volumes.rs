//! Volumes as host directories: `emptyDir` (one per pod), `secret` and `configMap` (files
//! written from the decoded data, `items` and `defaultMode` honoured) and `hostPath` (the host
//! path itself). A volume that cannot be set up (its Secret or ConfigMap is missing) is a failed
//! mount, retried by the pod.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::paths::PodDir;
use super::sources::{self, File};
use super::spec::{FileOptions, Volume};
use crate::kinds::Kind;
use crate::store::Store;

/// The host directory of every volume, by volume name, or the `FailedMount` message, worded like
/// the kubelet's.
pub(crate) fn prepare(
    store: &Store,
    ns: &str,
    dir: &PodDir,
    volumes: &[Volume],
) -> Result<HashMap<String, PathBuf>, String> {
    let mut dirs = HashMap::new();
    for volume in volumes {
        let host = host_dir(store, ns, dir, volume).map_err(|e| {
            format!(
                "MountVolume.SetUp failed for volume \"{}\" : {e}",
                volume.name
            )
        })?;
        dirs.insert(volume.name.clone(), host);
    }
    Ok(dirs)
}

fn host_dir(store: &Store, ns: &str, dir: &PodDir, volume: &Volume) -> Result<PathBuf, String> {
    if let Some(path) = volume.host_path.as_ref().and_then(|h| h.path.as_deref()) {
        return Ok(PathBuf::from(path));
    }
    let host = dir.volume(&volume.name);
    mkdir(&host)?;
    let (kind, name, options) = if let Some(s) = &volume.secret {
        (Kind::Secret, &s.secret_name, &s.files)
    } else if let Some(c) = &volume.config_map {
        (Kind::ConfigMap, &c.name, &c.files)
    } else if volume.empty_dir.is_some() {
        return Ok(host);
    } else {
        return Err(format!(
            "kube-sim does not support the type of volume {:?}",
            volume.name
        ));
    };
    let optional = options.optional == Some(true);
    let name = name.as_deref().unwrap_or("");
    let files = sources::files(store, kind, ns, name, optional)?.unwrap_or_default();
    write_files(&host, files, options)?;
    Ok(host)
}

/// Writes each key (or each listed item) as a file with the volume's mode.
fn write_files(host: &Path, files: Vec<File>, options: &FileOptions) -> Result<(), String> {
    let mode = options.default_mode.unwrap_or(0o644) as u32;
    for (key, bytes) in files {
        let target = match &options.items {
            Some(items) => match items
                .iter()
                .find(|i| i.key.as_deref() == Some(key.as_str()))
            {
                Some(item) => item.path.clone().unwrap_or(key),
                None => continue,
            },
            None => key,
        };
        let path = host.join(&target);
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        std::fs::write(&path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create volume dir {}: {e}", dir.display()))
}
