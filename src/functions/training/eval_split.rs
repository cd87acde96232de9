//! The evaluation split inside training (BigQuery ML's `data_split_method`,
//! `data_split_eval_fraction`, `data_split_col`): rows held out of the fit,
//! on which the version's `eval_metrics` are measured, chosen by row
//! fingerprint (or by a column), never by a random draw, so the same rows in
//! any order or layout give the same evaluation rows.
//!
//! - `auto_split` (the default): fewer than 500 rows, no split; up to 50,000,
//!   20% of them; more, 10,000 of them.
//! - `random`: `data_split_eval_fraction` of the rows (default 0.2).
//! - `seq`: the rows ordered by `data_split_col`; the last fraction.
//! - `custom`: `data_split_col` is BOOLEAN, TRUE for evaluation rows.
//! - `no_split`: every row is fitted.
//!
//! A source with `ml_split`'s `split` column (marked by it) gives its
//! `validation` rows for evaluation unless a method is given (or it has
//! none, then `auto_split` applies), and may not hold `test` rows: those
//! must never reach training.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{
    cast, filter_record_batch, lexsort_to_indices, not, SortColumn, SortOptions,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, DFSchema, Result, ScalarValue};

use super::shared::FINGERPRINT;
use crate::functions::common::options::{Choice, Options};
use crate::functions::common::splits::has_split_column;

/// The options of the evaluation split.
pub(crate) const KEYS: &[&str] = &[
    "data_split_method",
    "data_split_eval_fraction",
    "data_split_col",
];

/// The column `ml_split` adds.
const SPLIT: &str = "split";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    AutoSplit,
    Random,
    Seq,
    Custom,
    NoSplit,
}

impl Choice for Method {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("auto_split", Self::AutoSplit),
        ("random", Self::Random),
        ("seq", Self::Seq),
        ("custom", Self::Custom),
        ("no_split", Self::NoSplit),
    ];
}

/// How a training function holds rows out, as its options say.
#[derive(Debug, Clone)]
pub(crate) struct EvalSplit {
    /// None: not given (ml_split's validation rows, or else auto_split).
    method: Option<Method>,
    fraction: f64,
    column: Option<String>,
    /// Whether the source has ml_split's `split` column.
    marked: bool,
}

/// The rows a model is fitted on and the rows it is evaluated on, both in
/// canonical order, and what chose them.
pub(crate) struct Held {
    pub fit: RecordBatch,
    pub eval: Option<RecordBatch>,
    pub description: String,
}

impl EvalSplit {
    /// Reads and checks the options against the source's schema.
    pub fn plan(function: &str, options: &Options, schema: &DFSchema) -> Result<Self> {
        let method = options.enumerated::<Method>("data_split_method")?;
        let fraction = match options.get("data_split_eval_fraction") {
            None => None,
            Some(text) => match text.parse::<f64>() {
                Ok(f) if f > 0.0 && f < 1.0 => Some(f),
                _ => {
                    return plan_err!(
                        "{function}: option data_split_eval_fraction={text} is not valid; give \
                         a fraction in (0, 1), e.g. data_split_eval_fraction=0.2"
                    )
                }
            },
        };
        let column = match options.columns("data_split_col", schema)? {
            None => None,
            Some(columns) => match columns.as_slice() {
                [column] => Some(column.clone()),
                _ => return plan_err!("{function}: option data_split_col names one column"),
            },
        };
        match (method, fraction.is_some(), &column) {
            (Some(Method::Random | Method::Seq), _, _) | (_, false, _) => {}
            _ => {
                return plan_err!(
                    "{function}: option data_split_eval_fraction goes with \
                     data_split_method=random or seq"
                )
            }
        }
        match (method, &column) {
            (Some(Method::Seq | Method::Custom), None) => {
                return plan_err!(
                    "{function}: data_split_method={} needs data_split_col, the column that {}",
                    method.map_or("", Method::name),
                    if method == Some(Method::Seq) {
                        "orders the rows"
                    } else {
                        "is TRUE for evaluation rows"
                    }
                )
            }
            (Some(Method::Seq | Method::Custom), Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return plan_err!(
                    "{function}: option data_split_col goes with data_split_method=seq or custom"
                )
            }
        }
        if let Some(name) = &column {
            let data_type = schema
                .field_with_unqualified_name(name)
                .map(|f| f.data_type().clone())?;
            match method {
                Some(Method::Custom) if data_type != DataType::Boolean => {
                    return plan_err!(
                        "{function}: data_split_col {name} is {data_type}; with \
                         data_split_method=custom it must be BOOLEAN (TRUE: evaluation rows)"
                    )
                }
                Some(Method::Seq) if data_type.is_nested() => {
                    return plan_err!(
                        "{function}: data_split_col {name} is {data_type}, which does not order \
                         rows; give a number, a date, a timestamp or a string"
                    )
                }
                _ => {}
            }
        }
        let marked = has_split_column(schema);
        Ok(Self {
            method,
            fraction: fraction.unwrap_or(0.2),
            column,
            marked,
        })
    }

    /// The source's column that chooses the evaluation rows (never a
    /// feature or the label).
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// An error unless `label` and `features` leave the split's column out.
    pub fn check_column(&self, function: &str, label: &str, features: &[String]) -> Result<()> {
        let Some(column) = &self.column else {
            return Ok(());
        };
        if column == label || features.contains(column) {
            return plan_err!(
                "{function}: data_split_col {column} chooses the evaluation rows; it cannot also \
                 be {}",
                if column == label {
                    "the label"
                } else {
                    "a feature"
                }
            );
        }
        Ok(())
    }

    /// Splits `data` (in canonical order, with [`FINGERPRINT`] last).
    pub fn apply(&self, function: &str, data: &RecordBatch) -> Result<Held> {
        let n = data.num_rows();
        let marks = match self.marked {
            true => Some(cast(
                data.column(data.schema().index_of(SPLIT)?),
                &DataType::Utf8,
            )?),
            false => None,
        };
        if let Some(marks) = &marks {
            let test = eq(marks, &ScalarValue::from("test").to_scalar()?)?;
            if test.true_count() > 0 {
                return plan_err!(
                    "{function}: the source has {} rows with split = 'test': test rows must \
                     never reach training (and ml_split's validation rows are already held out \
                     for evaluation); filter them out, e.g. WHERE split <> 'test'",
                    test.true_count()
                );
            }
        }
        let validation = match &marks {
            Some(marks) => Some(eq(marks, &ScalarValue::from("validation").to_scalar()?)?),
            None => None,
        };
        // An explicit fraction holds out at least one row and leaves one.
        let count = |fraction: f64| ((n as f64 * fraction).round() as usize).clamp(1, n.max(2) - 1);
        let (mask, description) = match (self.method, validation) {
            (None, Some(validation)) if validation.true_count() > 0 => {
                (validation, "ml_split's validation rows".to_string())
            }
            (None | Some(Method::AutoSplit), _) => match n {
                0..500 => (
                    BooleanArray::from(vec![false; n]),
                    "auto_split: under 500 rows, no split".into(),
                ),
                500..=50_000 => (
                    lowest(data, (n as f64 * 0.2).round() as usize)?,
                    "auto_split: 20% of the rows by row fingerprint".into(),
                ),
                _ => (
                    lowest(data, 10_000)?,
                    "auto_split: 10,000 rows by row fingerprint".into(),
                ),
            },
            (Some(Method::Random), _) => (
                lowest(data, count(self.fraction))?,
                format!("random: {} of the rows by row fingerprint", self.fraction),
            ),
            (Some(Method::Seq), _) => {
                let column = self.column.as_deref().unwrap_or_default();
                (
                    last_by(data, column, count(self.fraction))?,
                    format!("seq: the last {} of the rows by {column}", self.fraction),
                )
            }
            (Some(Method::Custom), _) => {
                let column = self.column.as_deref().unwrap_or_default();
                let flags = data.column(data.schema().index_of(column)?);
                if flags.null_count() > 0 {
                    return plan_err!(
                        "{function}: data_split_col {column} has {} NULL values; with \
                         data_split_method=custom each row must be TRUE (evaluation) or FALSE",
                        flags.null_count()
                    );
                }
                (
                    flags.as_boolean().clone(),
                    format!("custom: rows where {column} is TRUE"),
                )
            }
            (Some(Method::NoSplit), _) => (BooleanArray::from(vec![false; n]), "no_split".into()),
        };
        let held_out = mask.true_count();
        if held_out == n {
            return plan_err!(
                "{function}: every one of the {n} rows is an evaluation row ({description}); \
                 none is left to fit"
            );
        }
        let fit = filter_record_batch(data, &not(&mask)?)?;
        let eval = (held_out > 0)
            .then(|| filter_record_batch(data, &mask))
            .transpose()?;
        Ok(Held {
            fit,
            eval,
            description,
        })
    }
}

/// The `k` rows whose fingerprints, mixed with a constant of their own (so
/// that they are independent of `ml_split`'s, which hash the same rows), are
/// lowest: a sample that depends on the rows only.
fn lowest(data: &RecordBatch, k: usize) -> Result<BooleanArray> {
    let fingerprints: &Int64Array = data
        .column(data.schema().index_of(FINGERPRINT)?)
        .as_primitive();
    let mut ranked: Vec<(u64, usize)> = fingerprints
        .values()
        .iter()
        .enumerate()
        .map(|(i, &fp)| (mix(fp as u64), i))
        .collect();
    ranked.sort_unstable();
    let mut mask = vec![false; data.num_rows()];
    for &(_, i) in ranked.iter().take(k) {
        mask[i] = true;
    }
    Ok(BooleanArray::from(mask))
}

/// The evaluation split's own constant: "mlfusion" rotated, with ".eval".
const SALT: u64 = 0xb633_3a97_d1c1_d65a;

/// SplitMix64's finalizer over `x` mixed with [`SALT`].
fn mix(x: u64) -> u64 {
    let mut z = x ^ SALT;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The last `k` rows in the order of `column` (NULLs first, ties by the
/// canonical order: by fingerprint).
fn last_by(data: &RecordBatch, column: &str, k: usize) -> Result<BooleanArray> {
    let schema = data.schema();
    let key = |name: &str| -> Result<SortColumn> {
        Ok(SortColumn {
            values: Arc::clone(data.column(schema.index_of(name)?)),
            options: Some(SortOptions {
                descending: false,
                nulls_first: true,
            }),
        })
    };
    let order = lexsort_to_indices(&[key(column)?, key(FINGERPRINT)?], None)?;
    let n = data.num_rows();
    let mut mask = vec![false; n];
    for i in order.values().iter().skip(n.saturating_sub(k)) {
        mask[*i as usize] = true;
    }
    Ok(BooleanArray::from(mask))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::compute::take;
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    /// `n` rows: an id, a `split` column when `marks` are given, and the
    /// fingerprint column (a hash of the id), in canonical order.
    fn rows(n: i64, marks: Option<&[&str]>) -> RecordBatch {
        let ids: Vec<i64> = (0..n).collect();
        let fps: Vec<i64> = ids.iter().map(|&i| mix(i as u64 * 7919) as i64).collect();
        let mut fields = vec![Field::new("id", DataType::Int64, false)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids))];
        if let Some(marks) = marks {
            fields.push(Field::new(SPLIT, DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from_iter_values(
                (0..n as usize).map(|i| marks[i % marks.len()]),
            )));
        }
        fields.push(Field::new(FINGERPRINT, DataType::Int64, false));
        columns.push(Arc::new(Int64Array::from(fps)));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        // Canonical order: by fingerprint.
        let order = datafusion::arrow::compute::sort_to_indices(
            batch.column(batch.num_columns() - 1),
            None,
            None,
        )
        .unwrap();
        let columns = batch
            .columns()
            .iter()
            .map(|c| take(c, &order, None).unwrap())
            .collect();
        RecordBatch::try_new(batch.schema(), columns).unwrap()
    }

    fn split(
        method: Option<Method>,
        fraction: f64,
        column: Option<&str>,
        marked: bool,
    ) -> EvalSplit {
        EvalSplit {
            method,
            fraction,
            column: column.map(str::to_string),
            marked,
        }
    }

    fn ids(batch: &Option<RecordBatch>) -> Vec<i64> {
        let Some(batch) = batch else { return vec![] };
        let mut ids: Vec<i64> = batch
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .values()
            .to_vec();
        ids.sort();
        ids
    }

    #[test]
    fn auto_split_follows_bigquerys_sizes() {
        let auto = split(None, 0.2, None, false);
        assert!(auto.apply("f", &rows(499, None)).unwrap().eval.is_none());
        let held = auto.apply("f", &rows(1000, None)).unwrap();
        assert_eq!((held.fit.num_rows(), ids(&held.eval).len()), (800, 200));
        let held = auto.apply("f", &rows(60_000, None)).unwrap();
        assert_eq!(ids(&held.eval).len(), 10_000);
    }

    #[test]
    fn the_same_rows_in_another_order_hold_out_the_same_rows() {
        let data = rows(3000, None);
        let reversed: Vec<ArrayRef> = data
            .columns()
            .iter()
            .map(|c| {
                let order = Int64Array::from_iter_values((0..3000).rev());
                take(c, &order, None).unwrap()
            })
            .collect();
        let reversed = RecordBatch::try_new(data.schema(), reversed).unwrap();
        for method in [Method::AutoSplit, Method::Random, Method::Seq] {
            let s = split(Some(method), 0.3, Some("id"), false);
            let a = s.apply("f", &data).unwrap();
            let b = s.apply("f", &reversed).unwrap();
            assert_eq!(ids(&a.eval), ids(&b.eval), "{method:?}");
        }
    }

    #[test]
    fn seq_holds_out_the_last_rows_by_the_column() {
        let held = split(Some(Method::Seq), 0.1, Some("id"), false)
            .apply("f", &rows(1000, None))
            .unwrap();
        assert_eq!(ids(&held.eval), (900..1000).collect::<Vec<_>>());
    }

    #[test]
    fn ml_splits_validation_rows_evaluate_and_test_rows_are_refused() {
        let held = split(None, 0.2, None, true)
            .apply("f", &rows(90, Some(&["train", "validation", "train"])))
            .unwrap();
        assert_eq!((held.fit.num_rows(), ids(&held.eval).len()), (60, 30));
        let error = split(None, 0.2, None, true)
            .apply("f", &rows(90, Some(&["train", "test"])))
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("45 rows with split = 'test'"),
            "{error}"
        );
    }
}
