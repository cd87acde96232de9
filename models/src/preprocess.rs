//! Preprocessing learned at training and applied at prediction, as BigQuery
//! ML does inside a model: numbers, booleans, dates and timestamps are
//! standardized (NULL and NaN become the training mean, i.e. 0); strings are
//! one-hot encoded over their most frequent values, with one "other" column
//! for the rest and for values never seen in training, and NULL as all zeros.

use std::collections::HashMap;
use std::str::FromStr;

use crate::{exec_err, plan_err, Result};
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

/// A dense row-major matrix of f64.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// (x − mean) / std; missing values become 0.
    Numeric {
        #[serde(with = "super::exact")]
        mean: f64,
        #[serde(with = "super::exact")]
        std: f64,
    },
    /// One column per kept category, then one "other" column.
    OneHot { categories: Vec<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    /// The training column's Arrow type, as text.
    pub data_type: String,
    pub encoding: Encoding,
}

impl Feature {
    fn width(&self) -> usize {
        match &self.encoding {
            Encoding::Numeric { .. } => 1,
            Encoding::OneHot { categories } => categories.len() + 1,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Features {
    pub columns: Vec<Feature>,
}

fn is_categorical(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_categorical(v),
        _ => false,
    }
}

fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
        || matches!(
            t,
            DataType::Boolean | DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
        )
}

/// Numbers as f64: booleans as 0/1, dates and timestamps as seconds since
/// the epoch (so the unit and time zone of the column do not matter).
fn as_f64(array: &ArrayRef) -> Result<Float64Array> {
    let seconds_per = |unit: &TimeUnit| match unit {
        TimeUnit::Second => 1.0,
        TimeUnit::Millisecond => 1e-3,
        TimeUnit::Microsecond => 1e-6,
        TimeUnit::Nanosecond => 1e-9,
    };
    let scaled = |array: &ArrayRef, scale: f64| -> Result<Float64Array> {
        let ints = cast(array, &DataType::Int64)?;
        let ints = ints.as_primitive::<arrow::datatypes::Int64Type>();
        Ok(ints.unary(|v| v as f64 * scale))
    };
    match array.data_type() {
        DataType::Timestamp(unit, _) => scaled(array, seconds_per(unit)),
        DataType::Date32 => scaled(array, 86_400.0),
        DataType::Date64 => scaled(array, 1e-3),
        _ => Ok(cast(array, &DataType::Float64)?.as_primitive().clone()),
    }
}

fn column<'a>(function: &str, batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    match batch.schema().index_of(name) {
        Ok(i) => Ok(batch.column(i)),
        Err(_) => plan_err!(
            "{function}: the model's feature column {name} is missing from the data; the model \
             was trained on it, so the data must have it"
        ),
    }
}

impl Features {
    /// Learns the encoding of `names` from the training rows.
    pub fn fit(batch: &RecordBatch, names: &[String], max_categories: usize) -> Result<Self> {
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            let array = column("ml_train", batch, name)?;
            let t = array.data_type();
            let encoding = if is_categorical(t) {
                let strings = cast(array, &DataType::Utf8)?;
                let mut counts: HashMap<&str, u64> = HashMap::new();
                for s in strings.as_string::<i32>().iter().flatten() {
                    *counts.entry(s).or_default() += 1;
                }
                let mut by_count: Vec<(&str, u64)> = counts.into_iter().collect();
                // Most frequent first; ties by value, so the order is fixed.
                by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                by_count.truncate(max_categories);
                let mut categories: Vec<String> =
                    by_count.into_iter().map(|(s, _)| s.to_string()).collect();
                categories.sort();
                Encoding::OneHot { categories }
            } else if is_numeric(t) {
                let values = as_f64(array)?;
                let finite = || values.iter().flatten().filter(|v| v.is_finite());
                let n = finite().count();
                let mean = if n == 0 {
                    0.0
                } else {
                    finite().sum::<f64>() / n as f64
                };
                let var = if n == 0 {
                    0.0
                } else {
                    finite().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64
                };
                let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                Encoding::Numeric { mean, std }
            } else {
                return plan_err!(
                    "ml_train: feature {name} has type {t}, which models cannot use (numbers, \
                     booleans, dates, timestamps and strings can); leave it out with \
                     features=[...] or convert it in the source query"
                );
            };
            columns.push(Feature {
                name: name.clone(),
                data_type: super::recorded_type(t).to_string(),
                encoding,
            });
        }
        Ok(Self { columns })
    }

    /// The number of model inputs after encoding.
    pub fn width(&self) -> usize {
        self.columns.iter().map(Feature::width).sum()
    }

    /// The (first input, width) of every one-hot block.
    pub fn one_hot_blocks(&self) -> Vec<(usize, usize)> {
        let mut offset = 0;
        let mut blocks = Vec::new();
        for f in &self.columns {
            if let Encoding::OneHot { .. } = f.encoding {
                blocks.push((offset, f.width()));
            }
            offset += f.width();
        }
        blocks
    }

    /// The names of the model inputs after encoding (`city=Oslo`, …).
    pub fn input_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width());
        for f in &self.columns {
            match &f.encoding {
                Encoding::Numeric { .. } => names.push(f.name.clone()),
                Encoding::OneHot { categories } => {
                    names.extend(categories.iter().map(|c| format!("{}={c}", f.name)));
                    names.push(format!("{}=(other)", f.name));
                }
            }
        }
        names
    }

    /// Encodes a batch exactly as training did.
    pub fn transform(&self, batch: &RecordBatch) -> Result<Matrix> {
        let rows = batch.num_rows();
        let cols = self.width();
        let mut data = vec![0.0; rows * cols];
        let mut offset = 0;
        for f in &self.columns {
            let array = column("ml_predict", batch, &f.name)?;
            if array.data_type() == &DataType::Null {
                // Every value missing: the training mean / all zeros.
                offset += f.width();
                continue;
            }
            match &f.encoding {
                Encoding::Numeric { mean, std } => {
                    // Dates and timestamps are seconds since the epoch: a
                    // plain number in their place would be read in another
                    // unit, so the kinds must match.
                    let trained_temporal = DataType::from_str(&f.data_type)
                        .map(|t| is_temporal(&t))
                        .unwrap_or(false);
                    if !is_numeric(array.data_type())
                        || is_temporal(array.data_type()) != trained_temporal
                    {
                        return exec_err!(
                            "ml_predict: feature {} has type {}, but the model was trained on \
                             {}; convert it to that type",
                            f.name,
                            array.data_type(),
                            f.data_type
                        );
                    }
                    let values = as_f64(array)?;
                    for (i, v) in values.iter().enumerate() {
                        if let Some(v) = v.filter(|v| v.is_finite()) {
                            data[i * cols + offset] = (v - mean) / std;
                        }
                    }
                }
                Encoding::OneHot { categories } => {
                    if !is_categorical(array.data_type()) {
                        return exec_err!(
                            "ml_predict: feature {} has type {}, but the model was trained on \
                             {} (a string)",
                            f.name,
                            array.data_type(),
                            f.data_type
                        );
                    }
                    let index: HashMap<&str, usize> = categories
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.as_str(), i))
                        .collect();
                    let other = categories.len();
                    let strings = cast(array, &DataType::Utf8)?;
                    for (i, s) in strings.as_string::<i32>().iter().enumerate() {
                        if let Some(s) = s {
                            let j = index.get(s).copied().unwrap_or(other);
                            data[i * cols + offset + j] = 1.0;
                        }
                    }
                }
            }
            offset += f.width();
        }
        Ok(Matrix { rows, cols, data })
    }
}
