//! ml_evaluate's metrics against scikit-learn's on the same predictions
//! (`tests/data/metrics_reference.json`, from `scripts/reference_metrics.py`).

use mlfusion::models::metrics::{classification, regression, Metrics};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("data/metrics_reference.json")).expect("JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn check(case: &str, got: Metrics, expected: &Value) {
    for (name, value) in got {
        let want = expected[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{case}: no {name}"));
        let value = value.unwrap_or_else(|| panic!("{case}: {name} is NULL"));
        assert!(
            (value - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{case}: {name} = {value}, scikit-learn says {want}"
        );
    }
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let r = reference();
    for (case, k) in [("binary", 2), ("multiclass", 3)] {
        let truth: Vec<usize> = floats(&r[case]["truth"])
            .iter()
            .map(|&t| t as usize)
            .collect();
        let probs = floats(&r[case]["probs"]);
        check(
            case,
            classification(&truth, &probs, k),
            &r[case]["expected"],
        );
    }
}

#[test]
fn regression_metrics_match_scikit_learn() {
    let r = reference();
    let c = &r["regression"];
    check(
        "regression",
        regression(&floats(&c["truth"]), &floats(&c["predicted"])),
        &c["expected"],
    );
}
