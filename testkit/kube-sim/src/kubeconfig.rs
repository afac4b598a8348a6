//! The kubeconfig that points a client (kube-rs, kubectl) at a simulator URL.

/// A kubeconfig with one cluster, user and context named `kube-sim`; `namespace` becomes the
/// context's default namespace. The user carries no credentials: the simulator has no auth.
pub(crate) fn render(url: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-sim
  cluster:
    server: {url}
users:
- name: kube-sim
  user: {{}}
contexts:
- name: kube-sim
  context:
    cluster: kube-sim
    user: kube-sim
    namespace: {namespace}
current-context: kube-sim
preferences: {{}}
"
    )
}
