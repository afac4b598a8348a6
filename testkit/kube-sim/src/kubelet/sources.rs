//! Secrets and ConfigMaps as the files (key and bytes) that volumes and env variables read.

use base64::Engine;
use serde_json::Value;

use crate::kinds::Kind;
use crate::store::Store;

/// A key of a Secret or ConfigMap and its decoded value.
pub(crate) type File = (String, Vec<u8>);

/// The files of the named Secret or ConfigMap; `None` when it is missing and `optional`, the
/// error (`secret "x" not found`) when it is missing and required.
pub(crate) fn files(
    store: &Store,
    kind: Kind,
    ns: &str,
    name: &str,
    optional: bool,
) -> Result<Option<Vec<File>>, String> {
    match store.try_get(kind, ns, name) {
        Some(object) => Ok(Some(object_files(object))),
        None if optional => Ok(None),
        None => Err(format!(
            "{} \"{name}\" not found",
            kind.name().to_lowercase()
        )),
    }
}

/// The files of a Secret (`data`, base64) or a ConfigMap (`data` text, `binaryData` base64).
fn object_files(object: &Value) -> Vec<File> {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_default()
    };
    let is_secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    let entries = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    };
    let data = entries("data").map(|(k, v)| {
        let bytes = if is_secret {
            b64(v)
        } else {
            v.as_str().unwrap_or("").as_bytes().to_vec()
        };
        (k.clone(), bytes)
    });
    let binary = entries("binaryData").map(|(k, v)| (k.clone(), b64(v)));
    data.chain(binary).collect()
}
