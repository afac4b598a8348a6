//! What the API server checks on writes: name rules (DNS-1123), label values, required fields
//! of Pods and Jobs, Job counters and restart policies, and Secret data (a small, honest
//! subset). Each failed check is a cause of one 422 Invalid answer.

use base64::Engine;
use serde_json::Value;

use crate::error::ApiError;
use crate::kinds::Kind;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

fn alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// DNS-1123 label: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// DNS-1123 subdomain: at most 253 characters, dot-separated labels.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9-_.]` with alphanumeric ends.
fn is_label_value(s: &str) -> bool {
    let an = |c: char| c.is_ascii_alphanumeric();
    s.is_empty()
        || (s.len() <= 63
            && s.chars().all(|c| an(c) || matches!(c, '-' | '_' | '.'))
            && s.starts_with(an)
            && s.ends_with(an))
}

type Causes = Vec<(String, String)>;

fn cause(causes: &mut Causes, field: &str, msg: impl Into<String>) {
    causes.push((field.to_owned(), msg.into()));
}

/// Checks an object about to be stored; 422 Invalid naming every bad field.
pub(crate) fn validate(kind: Kind, object: &Value) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = Causes::new();
    validate_name(kind, name, &mut causes);
    validate_labels(object, &mut causes);
    match kind {
        Kind::Pod => validate_pod_spec(object.get("spec"), "spec", &mut causes),
        Kind::Job => validate_job(object, &mut causes),
        Kind::Secret => validate_secret_data(object, &mut causes),
        Kind::ConfigMap | Kind::Event => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, name, &causes))
    }
}

/// Checks what an update may not change: a Secret's `type`, and the data of a Secret or ConfigMap marked
/// `immutable: true` (which stays so). Metadata (labels, owner references) may change. 422 naming each field,
/// as the API server's `ValidateSecretUpdate` and `ValidateConfigMapUpdate` answer.
pub(crate) fn validate_update(kind: Kind, old: &Value, new: &Value) -> Result<(), ApiError> {
    const IMMUTABLE: &str = "Forbidden: field is immutable when `immutable` is set";
    let mut causes = Causes::new();
    let data_fields: &[&str] = match kind {
        Kind::Secret => &["data"],
        Kind::ConfigMap => &["data", "binaryData"],
        _ => return Ok(()),
    };
    if kind == Kind::Secret && old.get("type") != new.get("type") && new.get("type").is_some() {
        cause(&mut causes, "type", "Invalid value: field is immutable");
    }
    if old.get("immutable") == Some(&Value::Bool(true)) {
        if new.get("immutable") != Some(&Value::Bool(true)) {
            cause(&mut causes, "immutable", IMMUTABLE);
        }
        for field in data_fields {
            if old.get(*field) != new.get(*field) {
                cause(&mut causes, field, IMMUTABLE);
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            kind,
            crate::object::meta_str(old, "name"),
            &causes,
        ))
    }
}

/// Names are DNS-1123 subdomains; Job names are labels, since they become label values.
fn validate_name(kind: Kind, name: &str, causes: &mut Causes) {
    if name.is_empty() {
        cause(
            causes,
            "metadata.name",
            "Required value: name or generateName is required",
        );
    } else if kind == Kind::Job && !is_dns1123_label(name) {
        cause(
            causes,
            "metadata.name",
            format!("Invalid value: {name:?}: {LABEL_MSG} (the Job name becomes a label value)"),
        );
    } else if !is_dns1123_subdomain(name) {
        cause(
            causes,
            "metadata.name",
            format!("Invalid value: {name:?}: {SUBDOMAIN_MSG}"),
        );
    }
}

fn validate_labels(object: &Value, causes: &mut Causes) {
    let labels = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (key, value) in labels {
        let value = value.as_str().unwrap_or("\u{0}");
        if !is_label_value(value) || key.is_empty() || key.len() > 316 {
            cause(
                causes,
                &format!("metadata.labels.{key}"),
                format!(
                    "Invalid value: {value:?}: a valid label must be 63 characters or less, alphanumeric at both ends, with '-', '_' or '.' between"
                ),
            );
        }
    }
}

/// Secret `data` values are base64.
fn validate_secret_data(object: &Value, causes: &mut Causes) {
    let data = object
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (key, value) in data {
        let ok = value
            .as_str()
            .is_some_and(|v| base64::engine::general_purpose::STANDARD.decode(v).is_ok());
        if !ok {
            cause(
                causes,
                &format!("data[{key}]"),
                "Invalid value: not valid base64",
            );
        }
    }
}

fn validate_job(object: &Value, causes: &mut Causes) {
    let Some(template) = object.pointer("/spec/template") else {
        cause(causes, "spec.template", "Required value");
        return;
    };
    let pod_spec = template.get("spec");
    validate_pod_spec(pod_spec, "spec.template.spec", causes);
    let restart = pod_spec
        .and_then(|s| s.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("Always");
    if restart != "Never" && restart != "OnFailure" {
        cause(
            causes,
            "spec.template.spec.restartPolicy",
            format!("Unsupported value: {restart:?}: supported values: \"OnFailure\", \"Never\""),
        );
    }
    if object.pointer("/spec/podFailurePolicy").is_some() && restart != "Never" {
        cause(
            causes,
            "spec.template.spec.restartPolicy",
            "Invalid value: only \"Never\" is supported when podFailurePolicy is specified",
        );
    }
    for field in [
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ] {
        if let Some(v) = object.pointer(&format!("/spec/{field}")) {
            if v.as_i64().is_none_or(|n| n < 0)
                || (field == "activeDeadlineSeconds" && v.as_i64() == Some(0))
            {
                cause(
                    causes,
                    &format!("spec.{field}"),
                    format!("Invalid value: {v}: must be a positive integer"),
                );
            }
        }
    }
}

fn validate_pod_spec(spec: Option<&Value>, at: &str, causes: &mut Causes) {
    let Some(spec) = spec else {
        cause(causes, at, "Required value");
        return;
    };
    let volumes: Vec<&str> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        cause(causes, &format!("{at}.containers"), "Required value");
    }
    let mut seen = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("{at}.{list}[{i}]");
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            if !is_dns1123_label(name) {
                cause(
                    causes,
                    &format!("{field}.name"),
                    format!("Invalid value: {name:?}: {LABEL_MSG}"),
                );
            } else if seen.contains(&name) {
                cause(
                    causes,
                    &format!("{field}.name"),
                    format!("Duplicate value: {name:?}"),
                );
            }
            seen.push(name);
            validate_container(c, &field, &volumes, causes);
        }
    }
}

/// A container has an image, and mounts named volumes at absolute paths.
fn validate_container(c: &Value, field: &str, volumes: &[&str], causes: &mut Causes) {
    if c.get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        cause(causes, &format!("{field}.image"), "Required value");
    }
    for (j, m) in c
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let vname = m.get("name").and_then(Value::as_str).unwrap_or("");
        if !volumes.contains(&vname) {
            cause(
                causes,
                &format!("{field}.volumeMounts[{j}].name"),
                format!("Not found: {vname:?}"),
            );
        }
        if !m
            .get("mountPath")
            .and_then(Value::as_str)
            .is_some_and(|p| p.starts_with('/'))
        {
            cause(
                causes,
                &format!("{field}.volumeMounts[{j}].mountPath"),
                "Invalid value: must be an absolute path",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for (name, label, subdomain) in [
            ("a", true, true),
            ("match-1", true, true),
            ("a.b", false, true),
            ("A", false, false),
            ("-a", false, false),
            ("a-", false, false),
            ("a_b", false, false),
            ("", false, false),
        ] {
            assert_eq!(is_dns1123_label(name), label, "{name:?} label");
            assert_eq!(is_dns1123_subdomain(name), subdomain, "{name:?} subdomain");
        }
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain(&"a".repeat(64)));
    }
}
