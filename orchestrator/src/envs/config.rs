//! Reading a game's JSON configuration: unknown keys, wrong types and out-of-range values are errors that
//! name the key and say what is accepted.

use serde_json::{Map, Value};

use super::EnvError;

/// A game's configuration object, checked against the keys the game knows.
pub(crate) struct ConfigReader<'a> {
    env: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> ConfigReader<'a> {
    /// Rejects keys outside `known`, so that a typo does not silently fall back to a default.
    pub(crate) fn new(
        env: &'static str,
        map: &'a Map<String, Value>,
        known: &[&str],
    ) -> Result<ConfigReader<'a>, EnvError> {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(EnvError::Config {
                env,
                message: format!("unknown key {key:?}; known keys: {}", known.join(", ")),
            });
        }
        Ok(ConfigReader { env, map })
    }

    fn error(&self, message: String) -> EnvError {
        EnvError::Config {
            env: self.env,
            message,
        }
    }

    /// A finite number satisfying `ok` (described by `range`, for example `"in (0, 1]"`), or `default`.
    pub(crate) fn number(
        &self,
        key: &str,
        default: f64,
        range: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64, EnvError> {
        let Some(value) = self.map.get(key) else {
            return Ok(default);
        };
        match value.as_f64() {
            Some(n) if n.is_finite() && ok(n) => Ok(n),
            _ => Err(self.error(format!("{key} must be a number {range}, got {value}"))),
        }
    }

    /// An integer in `min..=max` (integral floats such as `11.0` are accepted), or `default`.
    pub(crate) fn integer(
        &self,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, EnvError> {
        let Some(value) = self.map.get(key) else {
            return Ok(default);
        };
        match as_integer(value) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.error(format!(
                "{key} must be an integer from {min} to {max}, got {value}"
            ))),
        }
    }
}

/// A JSON integer, or a float with no fractional part that fits an `i64`.
pub(crate) fn as_integer(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // The bounds are exact powers of two, so the cast below cannot saturate.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn unknown_key_is_named() {
        let m = map(json!({"widht": 1.0}));
        let err = ConfigReader::new("pong", &m, &["width"]).err();
        assert_eq!(
            err,
            Some(EnvError::Config {
                env: "pong",
                message: "unknown key \"widht\"; known keys: width".into()
            })
        );
    }

    #[test]
    fn numbers_and_integers_are_checked() {
        let m = map(json!({"a": "x", "b": 2.5, "c": 11.0, "d": 0.5, "e": -1}));
        let r = ConfigReader::new("t", &m, &["a", "b", "c", "d", "e"]).unwrap();
        assert!(r.number("a", 1.0, "in (0, 1]", |x| x > 0.0).is_err());
        assert_eq!(r.number("d", 1.0, "in (0, 1]", |x| x > 0.0), Ok(0.5));
        assert_eq!(r.number("missing", 1.0, "in (0, 1]", |x| x > 0.0), Ok(1.0));
        assert!(r.integer("b", 1, 1, 100).is_err());
        assert_eq!(r.integer("c", 1, 1, 100), Ok(11));
        let err = r.integer("e", 1, 1, 100).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("t config: e must be an integer from 1 to 100, got -1")
        );
    }

    #[test]
    fn integral_floats_only() {
        assert_eq!(as_integer(&json!(2)), Some(2));
        assert_eq!(as_integer(&json!(2.0)), Some(2));
        assert_eq!(as_integer(&json!(2.5)), None);
        assert_eq!(as_integer(&json!(1e300)), None);
        assert_eq!(as_integer(&json!("2")), None);
        assert_eq!(as_integer(&json!(true)), None);
    }
}
