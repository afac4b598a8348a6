//! A game's configuration keys, each described once by a [`Param`] with its default, accepted range and
//! meaning: reading and checking a JSON configuration, the defaults and the JSON Schema shown by
//! `ListEnvironments` all come from these descriptions, so they cannot drift apart.

use serde_json::{Map, Value, json};

use super::EnvError;

/// An integer key: accepted from `min` to `max` (integral floats such as `11.0` count as integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct IntParam {
    pub(crate) key: &'static str,
    pub(crate) default: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) description: &'static str,
}

/// One end of a number's accepted range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bound {
    /// No limit on this side.
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// A finite number key accepted between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumParam {
    pub(crate) key: &'static str,
    pub(crate) default: f64,
    pub(crate) min: Bound,
    pub(crate) max: Bound,
    pub(crate) description: &'static str,
}

/// A configuration key of either kind, as listed by a game.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param {
    Int(IntParam),
    Num(NumParam),
}

impl Param {
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Param::Int(p) => p.key,
            Param::Num(p) => p.key,
        }
    }

    /// The key's JSON Schema (draft 2020-12): type, default, range and description.
    fn schema(&self) -> Value {
        match self {
            Param::Int(p) => json!({
                "type": "integer",
                "default": p.default,
                "minimum": p.min,
                "maximum": p.max,
                "description": p.description,
            }),
            Param::Num(p) => {
                let mut schema = json!({
                    "type": "number",
                    "default": p.default,
                    "description": p.description,
                });
                if let Value::Object(map) = &mut schema {
                    for (bound, inclusive, exclusive) in [
                        (p.min, "minimum", "exclusiveMinimum"),
                        (p.max, "maximum", "exclusiveMaximum"),
                    ] {
                        match bound {
                            Bound::Unbounded => {}
                            Bound::Inclusive(x) => {
                                map.insert(inclusive.into(), json!(x));
                            }
                            Bound::Exclusive(x) => {
                                map.insert(exclusive.into(), json!(x));
                            }
                        }
                    }
                }
                schema
            }
        }
    }
}

impl NumParam {
    fn accepts(&self, x: f64) -> bool {
        let above = match self.min {
            Bound::Unbounded => true,
            Bound::Inclusive(m) => x >= m,
            Bound::Exclusive(m) => x > m,
        };
        let below = match self.max {
            Bound::Unbounded => true,
            Bound::Inclusive(m) => x <= m,
            Bound::Exclusive(m) => x < m,
        };
        x.is_finite() && above && below
    }

    /// The accepted range in words, for example `in (0, 1]` or `greater than 0`.
    fn range(&self) -> String {
        let side = |bound: Bound| match bound {
            Bound::Unbounded => None,
            Bound::Inclusive(x) => Some((x, false)),
            Bound::Exclusive(x) => Some((x, true)),
        };
        match (side(self.min), side(self.max)) {
            (Some((a, open_a)), Some((b, open_b))) => format!(
                "in {}{a}, {b}{}",
                if open_a { '(' } else { '[' },
                if open_b { ')' } else { ']' }
            ),
            (Some((a, true)), None) => format!("greater than {a}"),
            (Some((a, false)), None) => format!("of at least {a}"),
            (None, Some((b, true))) => format!("less than {b}"),
            (None, Some((b, false))) => format!("of at most {b}"),
            (None, None) => "that is finite".into(),
        }
    }
}

/// The JSON Schema of a configuration object made of `params`; unknown keys are not allowed.
pub(crate) fn schema(env: &str, params: &[Param]) -> Value {
    let properties: Map<String, Value> = params
        .iter()
        .map(|p| (p.key().to_string(), p.schema()))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{env} configuration"),
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// A game's configuration object, checked against the keys the game knows.
pub(crate) struct ConfigReader<'a> {
    env: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> ConfigReader<'a> {
    /// Rejects keys outside `params`, so that a typo does not silently fall back to a default.
    pub(crate) fn new(
        env: &'static str,
        map: &'a Map<String, Value>,
        params: &[Param],
    ) -> Result<ConfigReader<'a>, EnvError> {
        if let Some(key) = map
            .keys()
            .find(|k| !params.iter().any(|p| p.key() == k.as_str()))
        {
            let known: Vec<&str> = params.iter().map(Param::key).collect();
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

    /// The number under `param.key` in its range, or its default.
    pub(crate) fn number(&self, param: &NumParam) -> Result<f64, EnvError> {
        let Some(value) = self.map.get(param.key) else {
            return Ok(param.default);
        };
        match value.as_f64() {
            Some(n) if param.accepts(n) => Ok(n),
            _ => Err(self.error(format!(
                "{} must be a number {}, got {value}",
                param.key,
                param.range()
            ))),
        }
    }

    /// The integer under `param.key` in its range, or its default.
    pub(crate) fn integer(&self, param: &IntParam) -> Result<i64, EnvError> {
        let Some(value) = self.map.get(param.key) else {
            return Ok(param.default);
        };
        match as_integer(value) {
            Some(n) if (param.min..=param.max).contains(&n) => Ok(n),
            _ => Err(self.error(format!(
                "{} must be an integer from {} to {}, got {value}",
                param.key, param.min, param.max
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

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const UNIT: NumParam = NumParam {
        key: "d",
        default: 1.0,
        min: Bound::Exclusive(0.0),
        max: Bound::Inclusive(1.0),
        description: "a fraction",
    };
    const COUNT: IntParam = IntParam {
        key: "c",
        default: 1,
        min: 1,
        max: 100,
        description: "a count",
    };

    #[test]
    fn unknown_key_is_named() {
        let m = map(json!({"widht": 1.0}));
        let err = ConfigReader::new(
            "pong",
            &m,
            &[Param::Num(NumParam {
                key: "width",
                ..UNIT
            })],
        )
        .err();
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
        let params = ["a", "b", "c", "d", "e"].map(|key| Param::Num(NumParam { key, ..UNIT }));
        let r = ConfigReader::new("t", &m, &params).unwrap();
        assert!(r.number(&NumParam { key: "a", ..UNIT }).is_err());
        assert_eq!(r.number(&UNIT), Ok(0.5));
        assert_eq!(
            r.number(&NumParam {
                key: "missing",
                ..UNIT
            }),
            Ok(1.0)
        );
        assert!(r.integer(&IntParam { key: "b", ..COUNT }).is_err());
        assert_eq!(r.integer(&COUNT), Ok(11));
        let err = r
            .integer(&IntParam { key: "e", ..COUNT })
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("t config: e must be an integer from 1 to 100, got -1")
        );
    }

    #[test]
    fn ranges_are_described_as_checked() {
        let table = [
            (
                Bound::Exclusive(0.0),
                Bound::Inclusive(1.0),
                "in (0, 1]",
                0.0,
                1.0,
            ),
            (
                Bound::Inclusive(0.0),
                Bound::Exclusive(0.5),
                "in [0, 0.5)",
                0.0,
                0.4,
            ),
            (
                Bound::Inclusive(0.0),
                Bound::Inclusive(0.5),
                "in [0, 0.5]",
                0.5,
                0.5,
            ),
            (
                Bound::Exclusive(0.0),
                Bound::Unbounded,
                "greater than 0",
                1e300,
                1e300,
            ),
            (
                Bound::Inclusive(2.0),
                Bound::Unbounded,
                "of at least 2",
                2.0,
                2.0,
            ),
        ];
        for (min, max, words, edge, inside) in table {
            let p = NumParam { min, max, ..UNIT };
            assert_eq!(p.range(), words);
            assert!(p.accepts(inside), "{words} {inside}");
            let edge_ok = matches!(min, Bound::Inclusive(m) if m == edge)
                || matches!(max, Bound::Inclusive(m) if m == edge)
                || edge == inside;
            assert_eq!(p.accepts(edge), edge_ok, "{words} {edge}");
            assert!(!p.accepts(f64::NAN) && !p.accepts(f64::INFINITY));
        }
    }

    #[test]
    fn schemas_carry_types_defaults_and_ranges() {
        let s = schema("t", &[Param::Num(UNIT), Param::Int(COUNT)]);
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            s["properties"]["d"],
            json!({"type": "number", "default": 1.0, "exclusiveMinimum": 0.0, "maximum": 1.0,
                "description": "a fraction"})
        );
        assert_eq!(
            s["properties"]["c"],
            json!({"type": "integer", "default": 1, "minimum": 1, "maximum": 100,
                "description": "a count"})
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
