//! The image map: which host binary stands in for a container image, which host files stand for
//! files the image holds (its `/app`, a second program), and how an image-map pattern (a repository
//! without tag, or a glob with `*`) names an image reference.

use std::path::{Path, PathBuf};

/// Maps container images to host binaries.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMapping {
    /// `registry/repo` without tag or digest (`ghcr.io/rl-arena/orchestrator`), or a glob with
    /// `*` (`*/agent-init`, `sim/*`). Matched against the image without its tag and digest, then
    /// against the full reference.
    pub pattern: String,
    /// The program that stands in for the image's entrypoint.
    pub binary: PathBuf,
}

/// A file or directory an image holds, as a host path.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFile {
    /// The images that hold it, as in [`ImageMapping::pattern`].
    pub pattern: String,
    /// Its path in the image, such as `/app` or `/usr/local/bin/agent-shim`.
    pub path: String,
    /// The host file or directory that stands for it.
    pub host: PathBuf,
}

/// The files every image-file entry naming `image` gives it: (path in the image, host path).
pub(crate) fn files_for(files: &[ImageFile], image: &str) -> Vec<(String, PathBuf)> {
    files
        .iter()
        .filter(|f| image_matches(&f.pattern, image))
        .map(|f| (f.path.clone(), f.host.clone()))
        .collect()
}

/// The binary of the first mapping that names `image`.
pub(crate) fn binary_for<'a>(images: &'a [ImageMapping], image: &str) -> Option<&'a Path> {
    images
        .iter()
        .find(|m| image_matches(&m.pattern, image))
        .map(|m| m.binary.as_path())
}

/// Whether an image-map pattern names `image` (its repository, or the full reference).
pub(crate) fn image_matches(pattern: &str, image: &str) -> bool {
    glob(pattern, image_repository(image)) || glob(pattern, image)
}

/// The image reference without `@digest` and without `:tag`.
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].find(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    }
}

/// Glob match with `*` matching any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut remaining) = text.strip_prefix(head) else {
                return false;
            };
            loop {
                if glob(rest, remaining) {
                    return true;
                }
                let mut chars = remaining.chars();
                if chars.next().is_none() {
                    return false;
                }
                remaining = chars.as_str();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_patterns() {
        let cases = [
            (
                "ghcr.io/rl-arena/orchestrator",
                "ghcr.io/rl-arena/orchestrator:0.1.0",
                true,
            ),
            (
                "ghcr.io/rl-arena/orchestrator",
                "ghcr.io/rl-arena/orchestrator@sha256:abc",
                true,
            ),
            (
                "ghcr.io/rl-arena/orchestrator",
                "ghcr.io/rl-arena/agent-init:0.1.0",
                false,
            ),
            ("*/agent-init", "localhost:5000/rl/agent-init:dev", true),
            (
                "localhost:5000/rl/agent-init",
                "localhost:5000/rl/agent-init",
                true,
            ),
            ("sim/*", "sim/shell:latest", true),
            ("sim/shell:v2", "sim/shell:v2", true),
            ("sim/shell:v2", "sim/shell:v1", false),
        ];
        for (pattern, image, want) in cases {
            assert_eq!(image_matches(pattern, image), want, "{pattern} vs {image}");
        }
    }
}
