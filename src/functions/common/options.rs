//! The `options` argument every mlfusion table function takes:
//! `'key=value, key2=[a, b], ...'`. Keys are case-insensitive; a value runs
//! to the next comma outside brackets. Errors name the function, the key or
//! value at fault and what is valid.

use datafusion::common::{plan_datafusion_err, plan_err, DFSchema, Result};

#[derive(Debug)]
pub struct Options {
    function: &'static str,
    /// (lower-case key, raw value), in the order written.
    entries: Vec<(String, String)>,
}

impl Options {
    /// Parses `text`, refusing keys not in `valid` and keys given twice.
    pub fn parse(function: &'static str, text: &str, valid: &[&str]) -> Result<Self> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for item in split_top_level(text) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                return plan_err!(
                    "{function}: option '{item}' is not key=value; valid keys: {}",
                    valid.join(", ")
                );
            };
            let key = key.trim().to_ascii_lowercase();
            if !valid.contains(&key.as_str()) {
                return plan_err!(
                    "{function}: unknown option '{key}'; valid keys: {}",
                    valid.join(", ")
                );
            }
            if entries.iter().any(|(k, _)| *k == key) {
                return plan_err!("{function}: option '{key}' is given twice");
            }
            entries.push((key, value.trim().to_string()));
        }
        Ok(Self { function, entries })
    }

    /// The keys given, in the order written.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The raw value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A fraction in [0, 1), as an exact count of parts per million.
    pub fn fraction_ppm(&self, key: &str, default: f64) -> Result<u32> {
        let value = match self.get(key) {
            None => default,
            Some(v) => v.parse::<f64>().map_err(|_| {
                plan_datafusion_err!(
                    "{}: option {key}={v} is not a number; give a fraction in [0, 1), e.g. {key}=0.1",
                    self.function
                )
            })?,
        };
        if !(0.0..1.0).contains(&value) {
            return plan_err!(
                "{}: option {key}={value} is out of range; give a fraction in [0, 1)",
                self.function
            );
        }
        Ok((value * 1_000_000.0).round() as u32)
    }

    /// An integer of at least `min`, if given.
    pub fn integer(&self, key: &str, min: u32) -> Result<Option<u32>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.parse::<u32>() {
            Ok(n) if n >= min => Ok(Some(n)),
            _ => plan_err!(
                "{}: option {key}={v} is not valid; give an integer of at least {min}",
                self.function
            ),
        }
    }

    /// A finite number of at least `min`, if given.
    pub fn number(&self, key: &str, min: f64) -> Result<Option<f64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= min => Ok(Some(x)),
            _ => plan_err!(
                "{}: option {key}={v} is not valid; give a number of at least {min}",
                self.function
            ),
        }
    }

    /// One of `choices`, if given (case-insensitive).
    pub fn choice(&self, key: &str, choices: &[&'static str]) -> Result<Option<&'static str>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match choices.iter().find(|c| c.eq_ignore_ascii_case(v)) {
            Some(c) => Ok(Some(c)),
            None => plan_err!(
                "{}: option {key}={v} is not valid; valid values: {}",
                self.function,
                choices.join(", ")
            ),
        }
    }

    /// The value of `key` as one of an enum's values (a [`Choice`]).
    pub fn enumerated<T: Choice>(&self, key: &str) -> Result<Option<T>> {
        let names: Vec<&'static str> = T::CHOICES.iter().map(|(name, _)| *name).collect();
        Ok(self
            .choice(key, &names)?
            .and_then(|name| T::CHOICES.iter().find(|(n, _)| *n == name))
            .map(|(_, value)| *value))
    }

    /// Column names of `schema` named by `key`: one name, or a bracketed
    /// list `[a, b]`. Names match exactly, or else case-insensitively.
    pub fn columns(&self, key: &str, schema: &DFSchema) -> Result<Option<Vec<String>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let list = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(v);
        let names: Vec<&str> = list
            .split(',')
            .map(|n| n.trim().trim_matches('"'))
            .collect();
        if names.iter().any(|n| n.is_empty()) {
            return plan_err!(
                "{}: option {key}={v} names an empty column; give column names, e.g. {key}=[a, b]",
                self.function
            );
        }
        let fields = schema.fields();
        names
            .into_iter()
            .map(|name| {
                let exact = fields.iter().find(|f| f.name() == name);
                let field = exact.or_else(|| {
                    let mut folded = fields.iter().filter(|f| f.name().eq_ignore_ascii_case(name));
                    folded.next().filter(|_| folded.next().is_none())
                });
                match field {
                    Some(f) => Ok(f.name().clone()),
                    None => plan_err!(
                        "{}: option {key} names column '{name}', which the source does not have; its columns: {}",
                        self.function,
                        fields.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                    ),
                }
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

/// Splits at commas that are not inside brackets or parentheses (lists,
/// and `ml_tune`'s `choice(a, b)`).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = (depth - 1).max(0),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An option whose values are the names of an enum's values.
pub trait Choice: Copy + PartialEq + 'static {
    /// Every value with its name, in the order messages list them.
    const CHOICES: &'static [(&'static str, Self)];

    /// The value's name.
    fn name(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, value)| *value == self)
            .map_or("", |(name, _)| name)
    }
}

impl Choice for crate::models::ModelType {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("linear_reg", Self::LinearReg),
        ("logistic_reg", Self::LogisticReg),
        ("boosted_tree_regressor", Self::BoostedTreeRegressor),
        ("boosted_tree_classifier", Self::BoostedTreeClassifier),
        ("kmeans", Self::Kmeans),
    ];
}

impl Choice for crate::registry::SplitMethod {
    const CHOICES: &'static [(&'static str, Self)] =
        &[("hash", Self::Hash), ("balanced", Self::Balanced)];
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[&str] = &["test_fraction", "folds", "key", "method"];

    #[test]
    fn parses_values_lists_and_case() {
        let o = Options::parse(
            "f",
            " Test_Fraction = 0.25, key=[a, b], folds=5 ,method=HASH",
            VALID,
        )
        .unwrap();
        assert_eq!(o.fraction_ppm("test_fraction", 0.1).unwrap(), 250_000);
        assert_eq!(o.integer("folds", 2).unwrap(), Some(5));
        assert_eq!(o.get("key"), Some("[a, b]"));
        assert_eq!(
            o.choice("method", &["hash", "balanced"]).unwrap(),
            Some("hash")
        );
        assert_eq!(
            Options::parse("f", "", VALID)
                .unwrap()
                .fraction_ppm("test_fraction", 0.1)
                .unwrap(),
            100_000
        );
    }

    #[test]
    fn errors_name_the_key_and_the_valid_ones() {
        let err = |text: &str| Options::parse("f", text, VALID).unwrap_err().to_string();
        assert!(err("tset_fraction=0.1").contains(
            "f: unknown option 'tset_fraction'; valid keys: test_fraction, folds, key, method"
        ));
        assert!(err("folds").contains("f: option 'folds' is not key=value"));
        assert!(err("folds=2, FOLDS=3").contains("option 'folds' is given twice"));
        let o = Options::parse("f", "test_fraction=1.5, folds=1, method=x", VALID).unwrap();
        assert!(o
            .fraction_ppm("test_fraction", 0.1)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(o
            .integer("folds", 2)
            .unwrap_err()
            .to_string()
            .contains("at least 2"));
        assert!(o
            .choice("method", &["hash", "balanced"])
            .unwrap_err()
            .to_string()
            .contains("valid values: hash, balanced"));
    }
}

/// Fuzzing: option strings from a grammar of real keys and values mixed
/// with arbitrary text. Parsing and every typed reading never panic, and
/// every rejection is a planning error naming the function (and the key).
#[cfg(test)]
mod fuzz {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::DataFusionError;
    use proptest::prelude::*;

    use super::*;
    use crate::models::ModelType;

    const KEYS: &[&str] = &[
        "test_fraction",
        "folds",
        "stratify",
        "method",
        "l2_reg",
        "model_type",
    ];

    /// 40,000 cases, or `MLFUSION_FUZZ_CASES` (a long run).
    fn cases() -> u32 {
        std::env::var("MLFUSION_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(40_000)
    }

    fn options_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            prop::sample::select(KEYS).prop_map(str::to_string),
            "[A-Za-z_]{0,12}",
            "\\PC{0,6}",
        ];
        let value = prop_oneof![
            "-?[0-9]{0,4}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})?",
            "\\[[A-Za-z, \"]{0,16}\\]?",
            prop::sample::select(vec![
                "NaN", "inf", "-inf", "1e309", "", "hash", "KMEANS", "[]", "[,]"
            ])
            .prop_map(str::to_string),
            "\\PC{0,10}",
        ];
        let item = (key, "[ =]{0,2}", value).prop_map(|(k, eq, v)| format!("{k}{eq}{v}"));
        prop_oneof![
            prop::collection::vec(item, 0..6).prop_map(|items| items.join(", ")),
            "\\PC{0,40}",
        ]
    }

    fn rejected(e: DataFusionError, key: Option<&str>) -> std::result::Result<(), TestCaseError> {
        prop_assert!(matches!(e, DataFusionError::Plan(_)), "{e}");
        prop_assert!(e.message().starts_with("ml_fuzz: "), "{e}");
        if let Some(key) = key {
            prop_assert!(e.message().contains(key), "{e} does not name {key}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn options_parse_or_say_what_is_wrong(text in options_text()) {
            let options = match Options::parse("ml_fuzz", &text, KEYS) {
                Ok(options) => options,
                Err(e) => return rejected(e, None),
            };
            let schema = DFSchema::try_from(Schema::new(vec![
                Field::new("a", DataType::Int64, true),
                Field::new("A", DataType::Int64, true),
                Field::new("plan", DataType::Utf8, true),
            ]))
            .unwrap();
            for &key in KEYS {
                let results = [
                    options.fraction_ppm(key, 0.2).map(|_| ()),
                    options.integer(key, 2).map(|_| ()),
                    options.number(key, 0.0).map(|_| ()),
                    options.choice(key, &["hash", "balanced"]).map(|_| ()),
                    options.enumerated::<ModelType>(key).map(|_| ()),
                    options.columns(key, &schema).map(|_| ()),
                ];
                for result in results {
                    if let Err(e) = result {
                        rejected(e, Some(key))?;
                    }
                }
            }
        }
    }
}
