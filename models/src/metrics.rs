//! The metrics of BigQuery ML.EVALUATE, defined as scikit-learn defines them
//! (tests compare with values computed by `sklearn.metrics`).
//!
//! Classification: the predicted class is the most probable one. With two
//! classes the positive class is the second in ascending order of the
//! label's values (`true`, `1`, …); with more, precision, recall, F1 and ROC
//! AUC are macro averages over the classes (ROC AUC one-vs-rest).
//! A metric that is undefined (ROC AUC with one class present, MSLE with
//! negative values) is NULL.

/// Metric names with their values, in ML.EVALUATE's column order.
pub type Metrics = Vec<(&'static str, Option<f64>)>;

pub const CLASSIFICATION: &[&str] = &[
    "precision",
    "recall",
    "accuracy",
    "f1_score",
    "log_loss",
    "roc_auc",
];

/// kmeans' metrics (ML.EVALUATE's), which need no label.
pub const KMEANS: &[&str] = &["davies_bouldin_index", "mean_squared_distance"];

pub const REGRESSION: &[&str] = &[
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "median_absolute_error",
    "r2_score",
    "explained_variance",
];

/// Whether a larger value of the metric is better (accuracy, R²), or a
/// smaller one (errors, log loss, the Davies–Bouldin index).
pub fn higher_is_better(metric: &str) -> bool {
    matches!(
        metric,
        "roc_auc"
            | "accuracy"
            | "f1_score"
            | "precision"
            | "recall"
            | "r2_score"
            | "explained_variance"
    )
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Area under the ROC curve of `scores` for the rows where `positive` is
/// true (the Mann–Whitney statistic, ties counted half).
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum += rank;
                positives += 1.0;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    finite((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Counts of true positives, false positives and false negatives of `class`.
fn confusion(truth: &[usize], predicted: &[usize], class: usize) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (&t, &p) in truth.iter().zip(predicted) {
        match (t == class, p == class) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fn_ += 1.0,
            _ => {}
        }
    }
    (tp, fp, fn_)
}

/// Precision, recall, F1 and ROC AUC of one class against the rest.
type PerClass = (f64, f64, f64, Option<f64>);

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Classification metrics from the true class indices and the n × k
/// probabilities.
pub fn classification(truth: &[usize], probs: &[f64], k: usize) -> Metrics {
    let n = truth.len();
    let predicted: Vec<usize> = super::argmax_rows(probs, k)
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let accuracy = ratio(
        truth.iter().zip(&predicted).filter(|(t, p)| t == p).count() as f64,
        n as f64,
    );
    // Clipped to [ε, 1 − ε] as scikit-learn does (ε of f64).
    let log_loss = -truth
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            probs[i * k + t]
                .clamp(f64::EPSILON, 1.0 - f64::EPSILON)
                .ln()
        })
        .sum::<f64>()
        / n as f64;
    let per_class = |c: usize| {
        let (tp, fp, fn_) = confusion(truth, &predicted, c);
        let (p, r) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
        let f1 = ratio(2.0 * tp, 2.0 * tp + fp + fn_);
        let scores: Vec<f64> = (0..n).map(|i| probs[i * k + c]).collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        (p, r, f1, roc_auc(&scores, &positive))
    };
    let (precision, recall, f1, auc) = if k == 2 {
        let (p, r, f1, auc) = per_class(1);
        (p, r, f1, auc)
    } else {
        // scikit-learn averages over the classes present in the true or
        // predicted labels.
        let present: Vec<usize> = (0..k)
            .filter(|c| truth.contains(c) || predicted.contains(c))
            .collect();
        let all: Vec<_> = present.iter().map(|&c| per_class(c)).collect();
        let mean = |f: fn(&PerClass) -> f64| all.iter().map(f).sum::<f64>() / all.len() as f64;
        let auc = all
            .iter()
            .map(|c| c.3)
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / all.len() as f64);
        (mean(|c| c.0), mean(|c| c.1), mean(|c| c.2), auc)
    };
    vec![
        ("precision", finite(precision)),
        ("recall", finite(recall)),
        ("accuracy", finite(accuracy)),
        ("f1_score", finite(f1)),
        ("log_loss", finite(log_loss)),
        ("roc_auc", auc),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// 1 − residual / variance; for constant true values, scikit-learn's 1.0
/// for a perfect fit and 0.0 otherwise.
fn score_vs_variance(residual: f64, variance: f64) -> f64 {
    if variance == 0.0 {
        if residual == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - residual / variance
    }
}

/// Regression metrics from the true and predicted values.
pub fn regression(truth: &[f64], predicted: &[f64]) -> Metrics {
    let n = truth.len() as f64;
    let mean = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / n;
    let errors: Vec<f64> = truth.iter().zip(predicted).map(|(t, p)| t - p).collect();
    let mae = mean(&mut errors.iter().map(|e| e.abs()));
    let mse = mean(&mut errors.iter().map(|e| e * e));
    let msle = if truth.iter().chain(predicted).any(|&v| v < 0.0) {
        f64::NAN
    } else {
        mean(
            &mut truth
                .iter()
                .zip(predicted)
                .map(|(t, p)| (t.ln_1p() - p.ln_1p()).powi(2)),
        )
    };
    let truth_mean = mean(&mut truth.iter().copied());
    let variance = mean(&mut truth.iter().map(|t| (t - truth_mean).powi(2)));
    let error_mean = mean(&mut errors.iter().copied());
    let error_variance = mean(&mut errors.iter().map(|e| (e - error_mean).powi(2)));
    vec![
        ("mean_absolute_error", finite(mae)),
        ("mean_squared_error", finite(mse)),
        ("mean_squared_log_error", finite(msle)),
        (
            "median_absolute_error",
            finite(median(errors.iter().map(|e| e.abs()).collect())),
        ),
        ("r2_score", Some(score_vs_variance(mse, variance))),
        (
            "explained_variance",
            Some(score_vs_variance(error_variance, variance)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_counts_ties_half() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        assert_eq!(auc, Some(0.75));
        // roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) = 0.875
        let auc = roc_auc(&[0.5, 0.5, 0.2, 0.9], &[false, true, false, true]);
        assert_eq!(auc, Some(0.875));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn macro_averages_skip_classes_absent_from_truth_and_predictions() {
        // Three classes, only 0 and 1 present and all right: scikit-learn's
        // macro precision, recall and F1 are 1.0.
        let probs = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.7, 0.2, 0.1];
        let m = classification(&[0, 1, 0], &probs, 3);
        for name in ["precision", "recall", "f1_score", "accuracy"] {
            let value = m.iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v);
            assert_eq!(value, Some(1.0), "{name}");
        }
    }

    #[test]
    fn constant_truth_scores_as_scikit_learn() {
        let r = regression(&[2.0, 2.0], &[2.0, 2.0]);
        assert_eq!(r[4], ("r2_score", Some(1.0)));
        let r = regression(&[2.0, 2.0], &[1.0, 3.0]);
        assert_eq!(r[4], ("r2_score", Some(0.0)));
    }
}
