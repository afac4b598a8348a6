//! OCI image references (a request's `docker_image`, an `oci://` source): the grammar `agent-init` pulls with,
//! so that the executor refuses a reference that can never parse when the request arrives.

/// Checks an image reference such as `registry/repository:tag` or `registry/repository@sha256:<hex>` the
/// way `agent-init` reads it (the OCI distribution grammar of `oci-spec`, which `oci-client` parses with);
/// `Err` says what is wrong.
pub fn check_reference(text: &str) -> Result<(), String> {
    text.parse::<oci_spec::distribution::Reference>()
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_parse_by_the_distribution_grammar() {
        let cases = [
            ("ghcr.io/team/agent:v3", true),
            (
                "registry.example:5000/agents/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                true,
            ),
            ("agent", true),
            ("UPPER/Case", false),
            ("", false),
            ("registry.example/agent:", false),
            ("registry.example/agent@sha256:short", false),
            ("a//b", false),
            ("-leading/dash", false),
        ];
        for (text, ok) in cases {
            assert_eq!(super::check_reference(text).is_ok(), ok, "{text:?}");
        }
    }
}
