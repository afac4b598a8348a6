//! Typed views of the pod spec fields the kubelet reads. Every other field is ignored, as the
//! simulator accepts and records it without acting on it; `null` reads as absent.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Deserializes `null` as the default value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    /// Run in order before the containers; a failure fails the pod.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) volumes: Vec<Volume>,
    pub(crate) security_context: Option<SecurityContext>,
}

/// The user and group a pod's or a container's processes run as.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecurityContext {
    pub(crate) run_as_user: Option<u32>,
    pub(crate) run_as_group: Option<u32>,
}

impl PodSpec {
    /// The user and group `c` runs as: its own settings, else the pod's; the group is root's when neither
    /// names one (the kubelet would take the image's user's group, which the simulator does not know).
    /// `None` when no user is named.
    pub(crate) fn user_of(&self, c: &Container) -> Option<(u32, u32)> {
        let pod = self.security_context.unwrap_or_default();
        let own = c.security_context.unwrap_or_default();
        let uid = own.run_as_user.or(pod.run_as_user)?;
        Some((uid, own.run_as_group.or(pod.run_as_group).unwrap_or(0)))
    }

    /// The spec of a stored pod; a pod without one has no containers.
    pub(crate) fn read(pod: &Value) -> Result<PodSpec, String> {
        match pod.get("spec") {
            None | Some(Value::Null) => Ok(PodSpec::default()),
            Some(spec) => PodSpec::deserialize(spec).map_err(|e| e.to_string()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) image: String,
    /// `command[0]` is the image entrypoint that the mapped binary replaces.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) command: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) args: Vec<String>,
    pub(crate) working_dir: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) env: Vec<EnvVar>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) env_from: Vec<EnvFromSource>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) volume_mounts: Vec<VolumeMount>,
    /// `/dev/termination-log` when absent.
    pub(crate) termination_message_path: Option<String>,
    /// `FallbackToLogsOnError` uses the log tail when the container fails without a message.
    pub(crate) termination_message_policy: Option<String>,
    pub(crate) security_context: Option<SecurityContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvVar {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    /// Wins over `valueFrom`; `$(VAR)` expands from the variables before it.
    pub(crate) value: Option<String>,
    pub(crate) value_from: Option<EnvVarSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvVarSource {
    pub(crate) secret_key_ref: Option<KeyRef>,
    pub(crate) config_map_key_ref: Option<KeyRef>,
    pub(crate) field_ref: Option<FieldRef>,
    /// Resources are not modelled: any resource field reads as `0`.
    pub(crate) resource_field_ref: Option<serde::de::IgnoredAny>,
}

/// One key of a Secret or ConfigMap.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyRef {
    pub(crate) name: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldRef {
    pub(crate) field_path: Option<String>,
}

/// Every key of a Secret or ConfigMap as a variable, with an optional prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvFromSource {
    pub(crate) prefix: Option<String>,
    pub(crate) secret_ref: Option<ObjectRef>,
    pub(crate) config_map_ref: Option<ObjectRef>,
}

/// A whole Secret or ConfigMap.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectRef {
    pub(crate) name: Option<String>,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeMount {
    pub(crate) name: Option<String>,
    pub(crate) mount_path: Option<String>,
    pub(crate) sub_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Volume {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    pub(crate) host_path: Option<HostPathSource>,
    pub(crate) secret: Option<SecretSource>,
    pub(crate) config_map: Option<ConfigMapSource>,
    pub(crate) empty_dir: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostPathSource {
    pub(crate) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretSource {
    pub(crate) secret_name: Option<String>,
    #[serde(flatten)]
    pub(crate) files: FileOptions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigMapSource {
    pub(crate) name: Option<String>,
    #[serde(flatten)]
    pub(crate) files: FileOptions,
}

/// How a Secret or ConfigMap volume turns keys into files.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileOptions {
    /// A missing object gives an empty volume instead of an error.
    pub(crate) optional: Option<bool>,
    /// File mode, `0o644` when absent.
    pub(crate) default_mode: Option<u64>,
    /// When present, only these keys, each at its own path.
    pub(crate) items: Option<Vec<KeyToPath>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyToPath {
    pub(crate) key: Option<String>,
    pub(crate) path: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields_the_kubelet_uses_and_ignores_the_rest() {
        let pod = json!({"spec": {
            "containers": [{"name": "main", "image": "sim/shell", "args": null,
                "resources": {"limits": {"cpu": 1}}, "terminationMessagePolicy": "File",
                "env": [{"name": "A", "value": "1"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x", "defaultMode": 256}}],
            "initContainers": null,
        }});
        let spec = PodSpec::read(&pod).expect("spec reads");
        assert!(spec.init_containers.is_empty());
        let main = &spec.containers[0];
        assert_eq!(
            (main.name.as_str(), main.image.as_str()),
            ("main", "sim/shell")
        );
        assert!(main.args.is_empty());
        assert_eq!(main.env[0].value.as_deref(), Some("1"));
        assert!(spec.volumes[0].empty_dir.is_some());
        let secret = spec.volumes[1].secret.as_ref().expect("secret volume");
        assert_eq!(secret.secret_name.as_deref(), Some("x"));
        assert_eq!(secret.files.default_mode, Some(256));
        assert!(
            PodSpec::read(&json!({}))
                .expect("no spec")
                .containers
                .is_empty()
        );
        assert!(PodSpec::read(&json!({"spec": {"containers": [{"args": [1]}]}})).is_err());
    }
}
