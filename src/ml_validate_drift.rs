//! `ml_validate_drift(base, study [, options])`: how far each feature's
//! distribution moved between two sources, as BigQuery's
//! ML.VALIDATE_DATA_DRIFT: one row per feature with `input`, `metric`,
//! `threshold`, `value`, `is_anomaly`.
//!
//! Categorical features compare by the L-infinity distance of their value
//! frequencies, numeric ones by the Jensen–Shannon divergence of their
//! histograms over shared buckets (equal-width over the range of both
//! sources); see `profile`.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, DFSchema, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use crate::action_table::ActionTable;
use crate::options::Options;
use crate::profile::{self, kind_of, Kind, Profile, Request};
use crate::source::{options_arg, resolve, session_state, string_arg};

const NAME: &str = "ml_validate_drift";

/// BigQuery's default thresholds.
const DEFAULT_THRESHOLD: f64 = 0.3;

/// The options of drift and skew checks.
pub const KEYS: &[&str] = &[
    "features",
    "thresholds",
    "categorical_default_threshold",
    "numerical_default_threshold",
];

#[derive(Debug, Default)]
pub struct MlValidateDrift;

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

struct Plan {
    base: LogicalPlan,
    study: LogicalPlan,
    features: Vec<Feature>,
}

impl Plan {
    async fn run(&self, state: SessionState) -> Result<Vec<RecordBatch>> {
        // Shared buckets: over the range of both sources.
        let numeric: Vec<String> = self
            .features
            .iter()
            .filter(|f| f.kind == Kind::Numeric)
            .map(|f| f.name.clone())
            .collect();
        let base_ranges = profile::ranges(&state, &self.base, &numeric).await?;
        let study_ranges = profile::ranges(&state, &self.study, &numeric).await?;
        let mut shared = numeric
            .iter()
            .zip(base_ranges.iter().zip(&study_ranges))
            .map(|(_, (a, b))| match (a, b) {
                (Some(a), Some(b)) => (a.0.min(b.0), a.1.max(b.1)),
                (Some(r), None) | (None, Some(r)) => *r,
                (None, None) => (0.0, 0.0),
            });
        let requests: Vec<Request> = self
            .features
            .iter()
            .map(|f| Request {
                name: f.name.clone(),
                kind: f.kind,
                range: match f.kind {
                    Kind::Numeric => shared.next(),
                    Kind::Categorical => None,
                },
            })
            .collect();
        let (base_rows, base) = profile::profiles(&state, &self.base, &requests).await?;
        let (study_rows, study) = profile::profiles(&state, &self.study, &requests).await?;
        for (rows, which) in [(base_rows, "base"), (study_rows, "study")] {
            if rows == 0 {
                return exec_err!("{NAME}: the {which} source has no rows");
            }
        }
        Ok(vec![anomaly_rows(&self.features, &base, &study)?])
    }
}

impl TableFunctionImpl for MlValidateDrift {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() < 2 || exprs.len() > 3 {
            return plan_err!(
                "{NAME}: expects (base, study [, options]), got {} arguments; e.g. \
                 {NAME}('last_week', 'this_week', 'thresholds=[age:0.1]')",
                exprs.len()
            );
        }
        let base_text = string_arg(NAME, "base", &exprs[0])?;
        let study_text = string_arg(NAME, "study", &exprs[1])?;
        let options_text = options_arg(NAME, exprs, 2)?;
        let options = Options::parse(NAME, &options_text, KEYS)?;
        let state = session_state(NAME, args.session())?;
        let base = resolve(NAME, state, &base_text)?;
        let study = resolve(NAME, state, &study_text)?;
        let features = compared_features(
            NAME,
            &options,
            base.schema(),
            study.schema(),
            "study source",
        )?;
        let features = thresholds(NAME, &options, &features)?;
        let plan = Arc::new(Plan {
            base,
            study,
            features,
        });
        Ok(Arc::new(ActionTable::new(
            NAME,
            anomaly_schema(),
            Box::new(move |state| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { plan.run(state).await })
            }),
        )))
    }
}
