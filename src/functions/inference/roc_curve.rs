//! `ml_roc_curve(model, source)`: BigQuery ML.ROC_CURVE for a binary
//! classifier: at thresholds at the percentiles of the predicted
//! probability of the positive class (the second class), the counts of a
//! "positive if prob ≥ threshold" rule and its recall and false positive
//! rate, from the highest threshold down.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::Signature;
use crate::functions::common::model_args::model_and_source;
use crate::scoring::score_classes;

const NAME: &str = "ml_roc_curve";

/// Thresholds at the 0th, 1st, … 100th percentile of the scores.
const POINTS: usize = 100;

#[derive(Debug, Default)]
pub struct MlRocCurve;

fn schema() -> Arc<Schema> {
    let count = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        Field::new("threshold", DataType::Float64, false),
        Field::new("recall", DataType::Float64, true),
        Field::new("false_positive_rate", DataType::Float64, true),
        count("true_positives"),
        count("false_positives"),
        count("true_negatives"),
        count("false_negatives"),
    ]))
}

/// A point of the curve: (threshold, tp, fp, tn, fn).
type Point = (f64, i64, i64, i64, i64);

/// The curve's points, from the highest threshold down.
pub fn curve(scores: &[f64], positive: &[bool]) -> Vec<Point> {
    let mut sorted: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(positive.iter().copied())
        .collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = sorted.len();
    if n == 0 {
        return vec![];
    }
    let mut thresholds: Vec<f64> = (0..=POINTS)
        .map(|q| sorted[((n - 1) * q) / POINTS].0)
        .collect();
    thresholds.dedup();
    let (all_pos, all_neg) = (
        positive.iter().filter(|&&p| p).count() as i64,
        positive.iter().filter(|&&p| !p).count() as i64,
    );
    let (mut i, mut tp, mut fp) = (0, 0i64, 0i64);
    thresholds
        .into_iter()
        .map(|t| {
            while i < n && sorted[i].0 >= t {
                if sorted[i].1 {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            }
            (t, tp, fp, all_neg - fp, all_pos - tp)
        })
        .collect()
}

/// The arguments of `ml_roc_curve`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source"],
    required: 2,
    example: "ml_roc_curve('churn', 'data/new.parquet') or ml_roc_curve('churn@3', 'new_rows')",
};

impl TableFunctionImpl for MlRocCurve {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source(&SIGNATURE, &args, true)?;
        if model.label.classes.len() != 2 {
            return plan_err!(
                "{NAME}: model {}@{} has {} classes; a ROC curve needs a binary classifier",
                metadata.model,
                metadata.version,
                model.label.classes.len()
            );
        }
        let model = Arc::new(model);
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema(),
            Box::new(move |state| {
                let (source, metadata, model) =
                    (source.clone(), metadata.clone(), Arc::clone(&model));
                Box::pin(async move {
                    let (truth, probs) =
                        score_classes(NAME, state, source, &metadata, &model).await?;
                    let scores: Vec<f64> = probs.chunks_exact(2).map(|p| p[1]).collect();
                    let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
                    let rows = curve(&scores, &positive);
                    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
                    let col = |f: &dyn Fn(&Point) -> i64| -> ArrayRef {
                        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
                    };
                    let columns: Vec<ArrayRef> = vec![
                        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.0))),
                        Arc::new(Float64Array::from_iter(
                            rows.iter().map(|r| ratio(r.1, r.1 + r.4)),
                        )),
                        Arc::new(Float64Array::from_iter(
                            rows.iter().map(|r| ratio(r.2, r.2 + r.3)),
                        )),
                        col(&|r| r.1),
                        col(&|r| r.2),
                        col(&|r| r.3),
                        col(&|r| r.4),
                    ];
                    Ok(vec![RecordBatch::try_new(schema(), columns)?])
                })
            }),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_at_or_above_each_threshold() {
        let rows = curve(
            &[0.9, 0.8, 0.8, 0.3, 0.1],
            &[true, false, true, true, false],
        );
        // Highest threshold first; the last one takes every row.
        assert_eq!(rows.first(), Some(&(0.9, 1, 0, 2, 2)));
        assert!(rows.contains(&(0.8, 2, 1, 1, 1)));
        assert_eq!(rows.last(), Some(&(0.1, 3, 2, 0, 0)));
    }
}
