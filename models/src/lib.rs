//! Models: what `ml_train` learns and `ml_predict` applies.
//!
//! A [`Model`] is plain data (serialized as JSON, never code): the learned
//! preprocessing of every feature, the label's classes, and the fitted
//! parameters. Training is deterministic, and the JSON writer is too (fields
//! in a fixed order, floats in their shortest round-trip form), so the same
//! rows give the same artifact bytes.

use std::collections::BTreeMap;
use std::str::FromStr;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use serde::{Deserialize, Serialize};

mod error;

pub mod boosted;
pub mod estimator;
pub mod exact;
pub mod hyperparameters;
pub mod kmeans;
pub mod linear;
pub mod metrics;
pub mod optimize;
pub mod preprocess;
pub mod search;

pub use error::{Error, Result};
pub use estimator::{Estimator, Fitted, Task, TrainingData};
use preprocess::{Features, Matrix};

/// The version of this crate (mlfusion's: the workspace's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the artifact format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The model types `ml_train` knows.
pub const MODEL_TYPES: &[&str] = &[
    "linear_reg",
    "logistic_reg",
    "boosted_tree_regressor",
    "boosted_tree_classifier",
    "kmeans",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    LinearReg,
    LogisticReg,
    BoostedTreeRegressor,
    BoostedTreeClassifier,
    Kmeans,
}

impl ModelType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "linear_reg" => Some(Self::LinearReg),
            "logistic_reg" => Some(Self::LogisticReg),
            "boosted_tree_regressor" => Some(Self::BoostedTreeRegressor),
            "boosted_tree_classifier" => Some(Self::BoostedTreeClassifier),
            "kmeans" => Some(Self::Kmeans),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::LinearReg => "linear_reg",
            Self::LogisticReg => "logistic_reg",
            Self::BoostedTreeRegressor => "boosted_tree_regressor",
            Self::BoostedTreeClassifier => "boosted_tree_classifier",
            Self::Kmeans => "kmeans",
        }
    }

    pub fn is_classifier(self) -> bool {
        self.task() == Task::Classification
    }

    pub fn is_boosted(self) -> bool {
        matches!(
            self,
            Self::BoostedTreeRegressor | Self::BoostedTreeClassifier
        )
    }
}

/// The label a supervised model predicts (for `kmeans`: an empty name).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    /// The label's Arrow type (its `Display` form), so predictions come back
    /// in the same type.
    pub data_type: String,
    /// A classifier's classes in ascending order of the label's values, as
    /// strings; empty for a regressor.
    pub classes: Vec<String>,
}

impl Label {
    pub fn arrow_type(&self) -> Result<DataType> {
        DataType::from_str(&self.data_type).map_err(|e| {
            Error::Execution(format!(
                "model artifact: bad label type {}: {e}",
                self.data_type
            ))
        })
    }

    /// The classes as an array of the label's type.
    pub fn class_array(&self) -> Result<ArrayRef> {
        let strings: ArrayRef =
            std::sync::Arc::new(arrow::array::StringArray::from_iter_values(&self.classes));
        Ok(cast(&strings, &self.arrow_type()?)?)
    }
}

/// The fitted parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Params {
    /// y = intercept + coef · x.
    Linear {
        #[serde(with = "exact")]
        coef: Vec<f64>,
        #[serde(with = "exact")]
        intercept: f64,
    },
    /// One row of coefficients per class for multiclass (softmax), one row
    /// for binary (the logit of the second class).
    Logistic {
        #[serde(with = "exact")]
        coef: Vec<Vec<f64>>,
        #[serde(with = "exact")]
        intercept: Vec<f64>,
    },
    /// Gradient-boosted trees over the encoded inputs.
    Boosted(boosted::Ensemble),
    /// Cluster centers in the encoded inputs' space.
    Kmeans {
        #[serde(with = "exact")]
        centroids: Vec<Vec<f64>>,
    },
}

/// A trained model: everything `ml_predict` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub format_version: u32,
    pub model_type: ModelType,
    pub label: Label,
    pub features: Features,
    /// The hyperparameters, as given or defaulted.
    pub options: BTreeMap<String, String>,
    pub params: Params,
}

/// What a model computes for a batch of rows.
pub struct Predictions {
    /// Regression: the predicted values; classification: the index of the
    /// predicted class; k-means: the index of the nearest centroid.
    pub values: Vec<f64>,
    /// Classification: n × classes probabilities, row-major.
    pub probs: Option<Vec<f64>>,
}

impl Model {
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("model to JSON: {e}")))
    }

    /// Reads an artifact, refusing newer formats and corrupt bytes clearly.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
        }
        let head: Head = match serde_json::from_slice(bytes) {
            Ok(h) => h,
            Err(e) => return exec_err!("{what} is not a valid mlfusion model artifact: {e}"),
        };
        if head.format_version > FORMAT_VERSION {
            return exec_err!(
                "{what} has artifact format {} but this mlfusion ({}) reads formats up to \
                 {FORMAT_VERSION}; upgrade mlfusion to use it",
                head.format_version,
                VERSION
            );
        }
        serde_json::from_slice(bytes).map_err(|e| {
            Error::Execution(format!(
                "{what} is not a valid mlfusion model artifact: {e}"
            ))
        })
    }

    pub fn predict(&self, batch: &RecordBatch) -> Result<Predictions> {
        Ok(self.predict_matrix(&self.features.transform(batch)?))
    }

    /// Predictions for rows already transformed by this model's features.
    pub fn predict_matrix(&self, x: &Matrix) -> Predictions {
        match &self.params {
            Params::Linear { coef, intercept } => Predictions {
                values: linear::predict_linear(x, coef, *intercept),
                probs: None,
            },
            Params::Logistic { coef, intercept } => {
                self.classified(linear::predict_proba(x, coef, intercept))
            }
            Params::Boosted(ensemble) => self.boosted(ensemble, ensemble.raw(x)),
            Params::Kmeans { centroids } => Predictions {
                values: (0..x.rows)
                    .map(|i| kmeans::nearest(x.row(i), centroids).0 as f64)
                    .collect(),
                probs: None,
            },
        }
    }
}

impl Model {
    /// A boosted model's predictions from its raw scores
    /// ([`boosted::Ensemble::raw`]).
    pub fn boosted(&self, ensemble: &boosted::Ensemble, raw: Vec<f64>) -> Predictions {
        if self.model_type.is_classifier() {
            self.classified(ensemble.probabilities(raw))
        } else {
            Predictions {
                values: raw,
                probs: None,
            }
        }
    }

    fn classified(&self, probs: Vec<f64>) -> Predictions {
        Predictions {
            values: argmax_rows(&probs, self.label.classes.len()),
            probs: Some(probs),
        }
    }
}

/// The index of the largest value of each row (the first on ties).
/// The type a model records for a column of type `t`: strings and binaries
/// as Utf8 and Binary whatever their layout (views, large offsets,
/// dictionaries), so that the same rows give the same artifact on any
/// engine: DataFusion reads Parquet strings as Utf8View, Ballista as Utf8.
pub fn recorded_type(t: &DataType) -> DataType {
    match t {
        DataType::Dictionary(_, value) => recorded_type(value),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        t => t.clone(),
    }
}

/// The cores training may use (1 if unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn argmax_rows(probs: &[f64], k: usize) -> Vec<f64> {
    probs
        .chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (j, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = j;
                }
            }
            best as f64
        })
        .collect()
}

/// The numeric values of a regression label column (NULLs refused).
pub fn numeric_label(function: &str, name: &str, array: &ArrayRef) -> Result<Vec<f64>> {
    if !array.data_type().is_numeric() {
        return plan_err!(
            "{function}: label {name} has type {}, but a regression needs a numeric label",
            array.data_type()
        );
    }
    if array.null_count() > 0 {
        return plan_err!(
            "{function}: label {name} has {} NULL values; filter them out first (WHERE {name} \
             IS NOT NULL)",
            array.null_count()
        );
    }
    let values = cast(array, &DataType::Float64)?;
    let values: &Float64Array = values.as_primitive();
    if let Some(bad) = values.values().iter().find(|v| !v.is_finite()) {
        return plan_err!(
            "{function}: label {name} has the value {bad}; a regression needs finite numbers \
             (filter out NaN and infinities first)"
        );
    }
    Ok(values.values().to_vec())
}

/// A label column's values as strings, the classes' names. Float labels
/// have -0.0 read as 0.0 (one value, as row fingerprints see it).
pub fn label_strings(array: &ArrayRef) -> Result<ArrayRef> {
    let array = match array.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(array, &DataType::Float64)?;
            let floats: &Float64Array = floats.as_primitive();
            // x + 0.0 turns -0.0 into 0.0 and keeps every other value.
            &(std::sync::Arc::new(floats.unary::<_, arrow::datatypes::Float64Type>(|v| v + 0.0))
                as ArrayRef)
        }
        _ => array,
    };
    Ok(cast(array, &DataType::Utf8)?)
}

/// The class index of every label value (NULLs refused, unseen classes are
/// `None`), given the classes as strings.
pub fn class_indices(
    function: &str,
    name: &str,
    array: &ArrayRef,
    classes: &[String],
) -> Result<Vec<Option<usize>>> {
    if array.null_count() > 0 {
        return plan_err!(
            "{function}: label {name} has {} NULL values; filter them out first (WHERE {name} \
             IS NOT NULL)",
            array.null_count()
        );
    }
    let strings = label_strings(array)?;
    let strings = strings.as_string::<i32>();
    let index: std::collections::HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    Ok(strings
        .iter()
        .map(|s| s.and_then(|s| index.get(s).copied()))
        .collect())
}

/// Training data after preprocessing.
pub struct TrainingSet {
    pub x: Matrix,
    /// Regression targets or class indices.
    pub y: Vec<f64>,
}

/// SplitMix64: a small, fixed pseudo-random stream (k-means++ seeding,
/// hyperparameter search), the same on every machine.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    /// A uniform draw in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}
