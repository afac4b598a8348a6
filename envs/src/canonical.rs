//! Canonical JSON: object keys sorted by their UTF-8 bytes at every level, no whitespace, whatever order maps
//! keep in memory. A game's state is hashed in this form ([`crate::Environment::write_state`]), so that the same
//! state always gives the same bytes: the replay's state-hash chain and its re-simulation rely on it.

use serde_json::Value;

/// JSON with object keys sorted and no whitespace, independent of how maps are ordered in memory.
pub fn canonical_json(value: &Value) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}

/// Appends the canonical JSON of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            // Maps are usually ordered by key already; sorting is needed only when they keep insertion order.
            if map.keys().is_sorted() {
                for (i, (key, item)) in map.iter().enumerate() {
                    write_member(i, key, item, out)?;
                }
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (key, item)) in members.into_iter().enumerate() {
                    write_member(i, key, item, out)?;
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

fn write_member(
    index: usize,
    key: &str,
    item: &Value,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    if index > 0 {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    write_canonical(item, out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x\"y", "c": 1.5});
        assert_eq!(
            canonical_json(&value).unwrap(),
            r#"{"a":"x\"y","b":[1,{"a":null,"z":true}],"c":1.5}"#
        );
    }
}
