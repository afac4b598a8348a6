//! The deterministic Kubernetes name of a match's Job and Secret, derived from its match id.
//!
//! A name is a DNS-1123 label: at most 63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter
//! or digit. It is `match-<match id>` whenever that is one (a UUID gives `match-` plus 36 characters), so the
//! Job, its pods (`match-<id>-xxxxx`) and its events are found by the id alone. Any other id (upper case, `_`,
//! `.`, too long) is lowered, cleaned and given a hash suffix of the original id, so two ids that clean to the
//! same text still get different names.

use sha2::{Digest, Sha256};

/// Longest DNS-1123 label.
const MAX_LEN: usize = 63;
/// What every match object's name starts with.
const PREFIX: &str = "match-";
/// Hex digits of the SHA-256 of the match id appended to a changed name.
const HASH_LEN: usize = 8;

/// The Job (and Secret) name of a match.
pub(crate) fn job_name(match_id: &str) -> String {
    let plain = format!("{PREFIX}{match_id}");
    if is_dns_label(&plain) {
        return plain;
    }
    let mut clean = String::with_capacity(match_id.len());
    for c in match_id.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && clean.ends_with('-')) {
            clean.push(c);
        }
    }
    let hash = hex::encode(Sha256::digest(match_id.as_bytes()));
    let keep = MAX_LEN - PREFIX.len() - HASH_LEN - 1;
    let stem: String = clean.trim_matches('-').chars().take(keep).collect();
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        format!("{PREFIX}{}", &hash[..HASH_LEN])
    } else {
        format!("{PREFIX}{stem}-{}", &hash[..HASH_LEN])
    }
}

/// Whether `s` is a DNS-1123 label.
pub(super) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= MAX_LEN
                && alnum(first)
                && alnum(last)
                && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}
