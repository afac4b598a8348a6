//! Rules for match ids: valid Kubernetes label values, safe in paths and object names.

/// The longest match id accepted.
pub const MATCH_ID_MAX_LEN: usize = 63;

/// The rule in words, for error messages.
pub const MATCH_ID_RULE: &str = "1 to 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/// Checks a match id against [`MATCH_ID_RULE`]. Ids are never sanitised: anything else is rejected.
pub fn is_valid_match_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= MATCH_ID_MAX_LEN
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_id_table() {
        let long_ok = "a".repeat(63);
        let too_long = "a".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("m1", true),
            ("a", true),
            ("match-2026.11_26", true),
            (&long_ok, true),
            ("", false),
            (&too_long, false),
            ("-m", false),
            ("m-", false),
            (".m", false),
            ("m_", false),
            ("m/1", false),
            ("../etc", false),
            ("m 1", false),
            ("mé", false),
            ("m\n", false),
        ];
        for (id, want) in cases {
            assert_eq!(is_valid_match_id(id), *want, "match id {id:?}");
        }
    }
}
