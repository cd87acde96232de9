//! What `ml_validate_drift` and `ml_validate_skew` share: their options,
//! the features they compare, the thresholds, and the anomaly rows they
//! return (BigQuery's ML.VALIDATE_DATA_DRIFT and ML.VALIDATE_DATA_SKEW).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{plan_err, DFSchema, Result};

use crate::functions::common::options::Options;
use crate::profile;
use crate::profile::{kind_of, Kind, Profile};

/// BigQuery's default thresholds.
pub const DEFAULT_THRESHOLD: f64 = 0.3;

/// The options of drift and skew checks.
pub const KEYS: &[&str] = &[
    "features",
    "thresholds",
    "categorical_default_threshold",
    "numerical_default_threshold",
];

/// The output of drift and skew checks.
pub fn anomaly_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("input", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("threshold", DataType::Float64, false),
        Field::new("value", DataType::Float64, true),
        Field::new("is_anomaly", DataType::Boolean, false),
    ]))
}

/// One compared feature.
#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub kind: Kind,
    pub threshold: f64,
}

/// The per-feature thresholds of the options: `thresholds=[age:0.1,
/// city:0.05]` over the defaults by kind. A name that is not one of
/// `features` is an error.
pub fn thresholds(
    function: &str,
    options: &Options,
    features: &[(String, Kind)],
) -> Result<Vec<Feature>> {
    let number =
        |key| -> Result<f64> { Ok(options.number(key, 0.0)?.unwrap_or(DEFAULT_THRESHOLD)) };
    let categorical = number("categorical_default_threshold")?;
    let numerical = number("numerical_default_threshold")?;
    let mut given: BTreeMap<String, f64> = BTreeMap::new();
    if let Some(text) = options.get("thresholds") {
        let list = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let parsed = item
                .split_once(':')
                .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<f64>().ok()?)));
            let Some((name, value)) = parsed.filter(|(_, v)| v.is_finite() && *v >= 0.0) else {
                return plan_err!(
                    "{function}: option thresholds has '{item}'; write feature:threshold with \
                     a threshold of at least 0, e.g. thresholds=[age:0.1, city:0.05]"
                );
            };
            let Some((feature, _)) = features
                .iter()
                .find(|(f, _)| f == name)
                .or_else(|| features.iter().find(|(f, _)| f.eq_ignore_ascii_case(name)))
            else {
                return plan_err!(
                    "{function}: option thresholds names {name}, which is not a compared \
                     feature; the features are {}",
                    features
                        .iter()
                        .map(|(f, _)| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            given.insert(feature.clone(), value);
        }
    }
    Ok(features
        .iter()
        .map(|(name, kind)| Feature {
            name: name.clone(),
            kind: *kind,
            threshold: given.get(name).copied().unwrap_or(match kind {
                Kind::Categorical => categorical,
                Kind::Numeric => numerical,
            }),
        })
        .collect())
}

/// The features to compare: those named by `features=[...]`, or else every
/// column of `base` of a comparable type that `other` has, each with its
/// kind. Each must be in `other` with the same kind.
pub fn compared_features(
    function: &str,
    options: &Options,
    base: &DFSchema,
    other: &DFSchema,
    other_name: &str,
) -> Result<Vec<(String, Kind)>> {
    let named = options.columns("features", base)?;
    let candidates: Vec<String> = match &named {
        Some(names) => names.clone(),
        None => base.fields().iter().map(|f| f.name().clone()).collect(),
    };
    let mut features = Vec::new();
    for name in candidates {
        let Ok(field) = base.field_with_unqualified_name(&name) else {
            continue;
        };
        let Some(kind) = kind_of(field.data_type()) else {
            if named.is_some() {
                return plan_err!(
                    "{function}: feature {name} has type {}; drift is measured on numbers, \
                     strings and booleans",
                    field.data_type()
                );
            }
            continue;
        };
        match other.field_with_unqualified_name(&name) {
            Ok(f) if kind_of(f.data_type()) == Some(kind) => features.push((name, kind)),
            Ok(f) => {
                return plan_err!(
                    "{function}: feature {name} is {} in one source and {} in the {other_name}; \
                     compare columns of one kind (numbers, or strings and booleans)",
                    field.data_type(),
                    f.data_type()
                )
            }
            Err(_) if named.is_some() => {
                return plan_err!("{function}: the {other_name} has no column {name}")
            }
            Err(_) => {}
        }
    }
    if features.is_empty() {
        return plan_err!(
            "{function}: the sources have no column in common to compare (numbers, strings or \
             booleans)"
        );
    }
    Ok(features)
}

/// The anomaly rows of features: each feature's profile in `before` against
/// the one in `after`, by `profile::distance`.
pub fn anomaly_rows(
    features: &[Feature],
    before: &[Profile],
    after: &[Profile],
) -> Result<RecordBatch> {
    let values: Vec<Option<f64>> = before
        .iter()
        .zip(after)
        .map(|(a, b)| profile::distance(a, b))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            features.iter().map(|f| &f.name),
        )),
        Arc::new(StringArray::from_iter_values(
            features.iter().map(|f| profile::metric(f.kind)),
        )),
        Arc::new(Float64Array::from_iter_values(
            features.iter().map(|f| f.threshold),
        )),
        Arc::new(Float64Array::from_iter(values.iter().copied())),
        Arc::new(BooleanArray::from_iter(
            features
                .iter()
                .zip(values)
                .map(|(f, v)| Some(v.is_some_and(|x| x > f.threshold))),
        )),
    ];
    Ok(RecordBatch::try_new(anomaly_schema(), columns)?)
}
