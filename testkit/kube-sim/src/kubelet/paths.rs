//! Where a pod lives on the host, and the rewrite of container paths to host paths: a value that
//! equals a mount path or lies under it (also after the first `=`, as in `--dest=/mnt/x`) names
//! the mounted host directory; the longest mount wins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::spec::VolumeMount;
use crate::object::{meta_str, uid};

/// A pod's host directory, `<data dir>/pods/<namespace>_<name>_<uid>`.
#[derive(Debug, Clone)]
pub(crate) struct PodDir(PathBuf);

impl PodDir {
    pub(crate) fn new(data_dir: &Path, namespace: &str, name: &str, pod_uid: &str) -> PodDir {
        PodDir(
            data_dir
                .join("pods")
                .join(format!("{namespace}_{name}_{pod_uid}")),
        )
    }

    /// The directory of a stored pod.
    pub(crate) fn of(data_dir: &Path, pod: &Value) -> PodDir {
        PodDir::new(
            data_dir,
            meta_str(pod, "namespace"),
            meta_str(pod, "name"),
            uid(pod),
        )
    }

    /// The host directory of an `emptyDir`, `secret` or `configMap` volume.
    pub(crate) fn volume(&self, name: &str) -> PathBuf {
        self.0.join("volumes").join(name)
    }

    /// A container's scratch directory (its default termination message file).
    pub(crate) fn container(&self, name: &str) -> PathBuf {
        self.0.join("containers").join(name)
    }

    /// The working directory of containers that name none.
    pub(crate) fn root(&self) -> PathBuf {
        self.0.join("root")
    }

    pub(crate) fn logs(&self) -> PathBuf {
        self.0.join("logs")
    }

    /// A container's stdout and stderr.
    pub(crate) fn log(&self, container: &str) -> PathBuf {
        self.logs().join(format!("{container}.log"))
    }
}

/// Container paths mapped to host paths, longest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rewriter(Vec<(String, PathBuf)>);

impl Rewriter {
    /// The container's mounts of the pod's volume directories; a `subPath` is created.
    pub(crate) fn for_mounts(mounts: &[VolumeMount], volumes: &HashMap<String, PathBuf>) -> Self {
        let mut rewriter = Rewriter::default();
        for m in mounts {
            let (Some(volume), Some(path)) = (m.name.as_deref(), m.mount_path.as_deref()) else {
                continue;
            };
            let Some(host) = volumes.get(volume) else {
                continue;
            };
            let host = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => {
                    let h = host.join(sub);
                    let _ = std::fs::create_dir_all(&h);
                    h
                }
                None => host.clone(),
            };
            rewriter.add(path, host);
        }
        rewriter
    }

    pub(crate) fn add(&mut self, container: &str, host: PathBuf) {
        let container = container.trim_end_matches('/');
        self.0.push((
            if container.is_empty() {
                "/".to_owned()
            } else {
                container.to_owned()
            },
            host,
        ));
        self.0.sort_by_key(|entry| std::cmp::Reverse(entry.0.len()));
    }

    /// The host path of `container`: inside a mount, the mounted one; otherwise `host`, which
    /// from now on stands for `container`.
    pub(crate) fn map_or_add(&mut self, container: &str, host: PathBuf) -> PathBuf {
        match self.rewrite_path(container) {
            Some(p) => PathBuf::from(p),
            None => {
                self.add(container, host.clone());
                host
            }
        }
    }

    /// The host path of `value` when it equals a mapped path or lies under one.
    pub(crate) fn rewrite_path(&self, value: &str) -> Option<String> {
        self.0.iter().find_map(|(prefix, host)| {
            let rest = value.strip_prefix(prefix.as_str())?;
            if rest.is_empty() {
                Some(host.display().to_string())
            } else if rest.starts_with('/') {
                Some(format!("{}{rest}", host.display()))
            } else {
                None
            }
        })
    }

    /// `/mnt/x/y` becomes `<host>/y`; `--flag=/mnt/x` becomes `--flag=<host>`.
    pub(crate) fn rewrite(&self, value: &str) -> String {
        if let Some(v) = self.rewrite_path(value) {
            return v;
        }
        if let Some((flag, path)) = value.split_once('=') {
            if let Some(v) = self.rewrite_path(path) {
                return format!("{flag}={v}");
            }
        }
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_paths_at_boundaries() {
        let mut r = Rewriter::default();
        r.add("/agents", PathBuf::from("/tmp/p/agents"));
        r.add("/agents/spec", PathBuf::from("/tmp/p/spec"));
        let cases = [
            ("/agents", "/tmp/p/agents"),
            ("/agents/agent-1", "/tmp/p/agents/agent-1"),
            ("/agents/spec/spec.json", "/tmp/p/spec/spec.json"),
            ("/agentsx", "/agentsx"),
            ("--dest=/agents/a", "--dest=/tmp/p/agents/a"),
            ("relative/agents", "relative/agents"),
        ];
        for (input, want) in cases {
            assert_eq!(r.rewrite(input), want, "{input}");
        }
    }
}
