//! The units people write in plans: durations (`90s`, `10m`, `2h`), weights (0–100) and
//! quantities for thresholds (`1%`, `0.01`, `0.5pp`, `500ms`, `2x`).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// A duration pattern the schema enforces; the loader maps a mismatch to a friendly message.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*(ms|s|m|h|d)\s*)+$";
/// A quantity pattern (for strings; plain numbers are accepted as numbers).
pub const QUANTITY_PATTERN: &str = r"^\s*-?[0-9]+(\.[0-9]+)?\s*(%|pp|ms|s|m|h|x)?\s*$";

/// A quantile pattern: p50 up to below p100.
pub const QUANTILE_PATTERN: &str = r"^p(5[0-9]|[6-9][0-9])(\.[0-9]+)?$";

/// A quantile as people write it, from `p50` up: `p90`, `p99`, `p99.9`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantile(pub f64);

impl std::str::FromStr for Quantile {
    type Err = String;
    fn from_str(s: &str) -> Result<Quantile, String> {
        s.strip_prefix('p')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| (50.0..100.0).contains(n))
            .map(|n| Quantile(n / 100.0))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a quantile from p50 to below p100; write e.g. `p90` or `p99.9`"
                )
            })
    }
}

impl fmt::Display for Quantile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", (self.0 * 100_000.0).round() / 1000.0)
    }
}

impl Serialize for Quantile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Quantile, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Quantile {
    fn schema_name() -> Cow<'static, str> {
        "Quantile".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": QUANTILE_PATTERN,
            "patternErrorMessage": "Not a quantile: write `p` and a percentile from 50 to below 100, e.g. `p50`, `p90`, `p99.9`.",
            "description": "A quantile from `p50` up: `p90`, `p99`, `p99.9`.",
            "examples": ["p50", "p90", "p99"]
        })
    }
}

/// A span of time written with a unit: `90s`, `10m`, `2h`, `1h 30m`, `500ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(Duration)
            .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `90s`, `10m`, `2h`"))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "patternErrorMessage": "Not a duration: write a whole number and a unit, e.g. `90s`, `10m`, `2h`, `1h 30m` or `500ms`.",
            "description": "A duration with a unit: `500ms`, `90s`, `10m`, `2h`, `1h 30m`, `1d`.",
            "examples": ["30s", "10m", "2h"]
        })
    }
}

/// A traffic weight in percent of requests, 0–100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Weight(pub u8);

impl JsonSchema for Weight {
    fn schema_name() -> Cow<'static, str> {
        "Weight".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "Share of traffic sent to the canary, in percent: 0–100."
        })
    }
}

/// A threshold as written, with its unit kept so a check can refuse the wrong one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantity {
    /// A bare number, in the unit of the check's query.
    Number(f64),
    /// `1%`, kept as a fraction (0.01): a ratio, or a relative change versus the baseline.
    Percent(f64),
    /// `0.5pp`, percentage points, kept as a fraction (0.005): an absolute change of a ratio.
    Points(f64),
    /// `500ms`, `2s`, kept in seconds.
    Seconds(f64),
    /// `2x`: a multiple of another threshold (for `critical`).
    Factor(f64),
}

impl Quantity {
    /// What kind of quantity this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Quantity::Number(_) => "a plain number",
            Quantity::Percent(_) => "a percentage",
            Quantity::Points(_) => "percentage points",
            Quantity::Seconds(_) => "a duration",
            Quantity::Factor(_) => "a factor",
        }
    }

    /// The value in the check's own unit: ratios as fractions, durations in seconds.
    pub fn value(&self) -> f64 {
        match *self {
            Quantity::Number(v)
            | Quantity::Percent(v)
            | Quantity::Points(v)
            | Quantity::Seconds(v)
            | Quantity::Factor(v) => v,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trim = |v: f64| {
            let s = format!("{:.6}", v);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        match *self {
            Quantity::Number(v) => write!(f, "{}", trim(v)),
            Quantity::Percent(v) => write!(f, "{}%", trim(v * 100.0)),
            Quantity::Points(v) => write!(f, "{}pp", trim(v * 100.0)),
            Quantity::Seconds(v) if v < 1.0 => write!(f, "{}ms", trim(v * 1000.0)),
            Quantity::Seconds(v) => write!(f, "{}s", trim(v)),
            Quantity::Factor(v) => write!(f, "{}x", trim(v)),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{raw}` is not a number with an optional unit"))?;
        Ok(match unit.trim() {
            "" => Quantity::Number(n),
            "%" => Quantity::Percent(n / 100.0),
            "pp" => Quantity::Points(n / 100.0),
            "ms" => Quantity::Seconds(n / 1000.0),
            "s" => Quantity::Seconds(n),
            "m" => Quantity::Seconds(n * 60.0),
            "h" => Quantity::Seconds(n * 3600.0),
            "x" => Quantity::Factor(n),
            other => return Err(format!("`{other}` is not a unit rollgate knows in `{raw}`")),
        })
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Quantity::Number(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Quantity::Number(n) => s.serialize_f64(*n),
            other => s.collect_str(other),
        }
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["number", "string"],
            "pattern": QUANTITY_PATTERN,
            "patternErrorMessage": "Not a threshold: write a number (`0.01`), a percentage (`1%`), percentage points (`0.5pp`), a duration (`500ms`) or a factor (`2x`).",
            "description": "A threshold: a number in the query's unit (`0.01`), a percentage (`1%`), percentage points (`0.5pp`), a duration (`500ms`, `2s`) or, for `critical`, a factor of the threshold (`2x`).",
            "examples": ["1%", 0.01, "0.5pp", "500ms", "2x"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let d: Duration = "1h 30m".parse().unwrap();
        assert_eq!(d.0.as_secs(), 5400);
        assert_eq!(d.to_string(), "1h 30m");
        assert!("10 minutes please".parse::<Duration>().is_err());
    }

    #[test]
    fn quantities_keep_units() {
        assert_eq!("1%".parse::<Quantity>().unwrap(), Quantity::Percent(0.01));
        assert_eq!(
            "0.5pp".parse::<Quantity>().unwrap(),
            Quantity::Points(0.005)
        );
        assert_eq!("500ms".parse::<Quantity>().unwrap(), Quantity::Seconds(0.5));
        assert_eq!("2x".parse::<Quantity>().unwrap(), Quantity::Factor(2.0));
        assert_eq!("0.01".parse::<Quantity>().unwrap(), Quantity::Number(0.01));
        assert!("5 apples".parse::<Quantity>().is_err());
        assert_eq!(Quantity::Percent(0.005).to_string(), "0.5%");
        assert_eq!(Quantity::Seconds(0.5).to_string(), "500ms");
    }

    #[test]
    fn patterns_agree_with_parsers() {
        let dur = regex_lite_match(DURATION_PATTERN);
        for ok in ["90s", "10m", "2h", "1h 30m", "500ms", "1d"] {
            assert!(dur(ok), "{ok}");
            assert!(ok.parse::<Duration>().is_ok(), "{ok}");
        }
        for bad in ["10", "-5m", "10 minutes", "1.5h", ""] {
            assert!(!dur(bad), "{bad}");
        }
        let q = regex_lite_match(QUANTITY_PATTERN);
        for ok in ["1%", "0.01", "0.5pp", "500ms", "2x", "-3%"] {
            assert!(q(ok), "{ok}");
            assert!(ok.parse::<Quantity>().is_ok(), "{ok}");
        }
        assert!(!q("5 apples"));
        let quantile = regex_lite_match(QUANTILE_PATTERN);
        for ok in ["p50", "p90", "p99", "p99.9"] {
            assert!(quantile(ok), "{ok}");
            assert_eq!(ok.parse::<Quantile>().unwrap().to_string(), ok);
        }
        for bad in ["p40", "p100", "99", "p9"] {
            assert!(!quantile(bad), "{bad}");
            assert!(bad.parse::<Quantile>().is_err(), "{bad}");
        }
    }

    fn regex_lite_match(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        let v = jsonschema::validator_for(&schema).unwrap();
        move |s: &str| v.is_valid(&serde_json::json!(s))
    }
}
