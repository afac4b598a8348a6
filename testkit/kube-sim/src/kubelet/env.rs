//! Container environments: `envFrom`, then `env` (`value` with `$(VAR)` expansion,
//! `valueFrom.secretKeyRef`, `configMapKeyRef`, `fieldRef`, `resourceFieldRef`).

use serde_json::Value;

use super::sources;
use super::spec::{Container, EnvFromSource, EnvVarSource, KeyRef};
use crate::kinds::Kind;
use crate::object::{meta_str, uid};
use crate::store::Store;

/// Name and value pairs in order; a later pair overrides an earlier one of the same name.
pub(crate) type Vars = Vec<(String, String)>;

/// The variables of one container, or the `CreateContainerConfigError` message.
pub(crate) fn container_env(
    store: &Store,
    ns: &str,
    pod: &Value,
    container: &Container,
) -> Result<Vars, String> {
    let mut vars = Vars::new();
    for from in &container.env_from {
        env_from(store, ns, from, &mut vars)?;
    }
    for var in &container.env {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => Some(expand(v, &vars)),
            (None, Some(from)) => value_from(store, ns, pod, from)?,
            (None, None) => Some(String::new()),
        };
        if let Some(value) = value {
            vars.push((var.name.clone(), value));
        }
    }
    Ok(vars)
}

fn env_from(store: &Store, ns: &str, from: &EnvFromSource, vars: &mut Vars) -> Result<(), String> {
    let (kind, source) = match (&from.secret_ref, &from.config_map_ref) {
        (Some(r), _) => (Kind::Secret, r),
        (_, Some(r)) => (Kind::ConfigMap, r),
        _ => return Ok(()),
    };
    let name = source.name.as_deref().unwrap_or("");
    let optional = source.optional == Some(true);
    let prefix = from.prefix.as_deref().unwrap_or("");
    for (key, value) in sources::files(store, kind, ns, name, optional)?.unwrap_or_default() {
        vars.push((
            format!("{prefix}{key}"),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    Ok(())
}

/// The value of a `valueFrom`; `None` leaves the variable unset (an optional source is missing).
fn value_from(
    store: &Store,
    ns: &str,
    pod: &Value,
    from: &EnvVarSource,
) -> Result<Option<String>, String> {
    if let Some(r) = &from.secret_key_ref {
        return key_ref(store, ns, Kind::Secret, r);
    }
    if let Some(r) = &from.config_map_key_ref {
        return key_ref(store, ns, Kind::ConfigMap, r);
    }
    if let Some(path) = from
        .field_ref
        .as_ref()
        .and_then(|f| f.field_path.as_deref())
    {
        return field_ref(pod, path).map(Some);
    }
    if from.resource_field_ref.is_some() {
        return Ok(Some("0".to_owned()));
    }
    Err("env valueFrom names no supported source".to_owned())
}

fn key_ref(store: &Store, ns: &str, kind: Kind, r: &KeyRef) -> Result<Option<String>, String> {
    let name = r.name.as_deref().unwrap_or("");
    let key = r.key.as_deref().unwrap_or("");
    let optional = r.optional == Some(true);
    let Some(files) = sources::files(store, kind, ns, name, optional)? else {
        return Ok(None);
    };
    match files.into_iter().find(|(k, _)| k == key) {
        Some((_, v)) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
        None if optional => Ok(None),
        None => Err(format!(
            "couldn't find key {key} in {} {ns}/{name}",
            kind.name().to_lowercase()
        )),
    }
}

/// A `fieldRef` of the pod as it was when the kubelet took it up.
fn field_ref(pod: &Value, path: &str) -> Result<String, String> {
    let text = |pointer: &str, default: &str| {
        pod.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    Ok(match path {
        "metadata.name" => meta_str(pod, "name").to_owned(),
        "metadata.namespace" => meta_str(pod, "namespace").to_owned(),
        "metadata.uid" => uid(pod).to_owned(),
        "spec.nodeName" => text("/spec/nodeName", ""),
        "spec.serviceAccountName" => text("/spec/serviceAccountName", "default"),
        "status.podIP" | "status.hostIP" => "127.0.0.1".to_owned(),
        other => {
            let entry = other
                .strip_prefix("metadata.labels['")
                .map(|r| ("labels", r))
                .or_else(|| {
                    other
                        .strip_prefix("metadata.annotations['")
                        .map(|r| ("annotations", r))
                });
            match entry.and_then(|(map, r)| Some((map, r.strip_suffix("']")?))) {
                Some((map, key)) => pod["metadata"][map][key].as_str().unwrap_or("").to_owned(),
                None => return Err(format!("kube-sim does not support fieldRef {other:?}")),
            }
        }
    })
}

/// `$(VAR)` expansion of command, args and env values; `$$` escapes a `$`.
pub(crate) fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|i| i.split_once(')')) {
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables() {
        let env = vec![("A".to_owned(), "1".to_owned())];
        assert_eq!(expand("x$(A)y", &env), "x1y");
        assert_eq!(expand("$(B)", &env), "$(B)");
        assert_eq!(expand("$$(A)", &env), "$(A)");
        assert_eq!(expand("cost $5", &env), "cost $5");
    }
}
