//! Seeds in JSON documents that browsers read. A JavaScript number holds integers exactly only up to 2^53, and
//! seeds go up to 2^64 - 1, so documents for browsers write a seed as a decimal string; readers take a string or
//! a number.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes a seed as a decimal string (`"2577073586370302348"`).
pub(crate) fn serialize_text<S: Serializer>(seed: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(seed)
}

/// Reads a seed written as a JSON number or as a decimal string.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SeedVisitor)
}

struct SeedVisitor;

impl Visitor<'_> for SeedVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a seed from 0 to 18446744073709551615, as a number or a decimal string")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
        // Digits only: `u64::from_str` would also take a leading `+`.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::invalid_value(de::Unexpected::Str(value), &self));
        }
        value
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Doc {
        #[serde(
            serialize_with = "super::serialize_text",
            deserialize_with = "super::deserialize"
        )]
        seed: u64,
    }

    #[test]
    fn seeds_are_written_as_text_and_read_in_both_forms() {
        let doc = Doc {
            seed: 2_577_073_586_370_302_348,
        };
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"seed":"2577073586370302348"}"#
        );
        for (json, seed) in [
            (
                r#"{"seed":"2577073586370302348"}"#,
                2_577_073_586_370_302_348,
            ),
            (r#"{"seed":2577073586370302348}"#, 2_577_073_586_370_302_348),
            (r#"{"seed":"18446744073709551615"}"#, u64::MAX),
            (r#"{"seed":0}"#, 0),
            (r#"{"seed":"0"}"#, 0),
        ] {
            assert_eq!(
                serde_json::from_str::<Doc>(json).unwrap().seed,
                seed,
                "{json}"
            );
        }
        for json in [
            r#"{"seed":"18446744073709551616"}"#,
            r#"{"seed":"+7"}"#,
            r#"{"seed":"-7"}"#,
            r#"{"seed":""}"#,
            r#"{"seed":-1}"#,
            r#"{"seed":1.5}"#,
            r#"{"seed":null}"#,
        ] {
            let error = serde_json::from_str::<Doc>(json).unwrap_err().to_string();
            assert!(error.contains("a seed from 0 to"), "{json}: {error}");
        }
    }
}
