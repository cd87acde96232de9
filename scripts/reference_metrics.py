#!/usr/bin/env python3
"""Reference values for ml_evaluate's metrics, computed by scikit-learn.

Writes tests/data/metrics_reference.json: deterministic inputs (true labels and
predicted probabilities or values, with ties) and what sklearn.metrics says of
them. tests/models_metrics.rs feeds the same inputs to mlfusion's metrics and
compares. Regenerate (needs numpy and scikit-learn):

    python3 scripts/reference_metrics.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn import metrics as m

rng = np.random.default_rng(2026)


def classification(truth, probs):
    k = probs.shape[1]
    predicted = probs.argmax(axis=1)
    if k == 2:
        avg = dict(average="binary", pos_label=1)
        auc = m.roc_auc_score(truth, probs[:, 1])
    else:
        avg = dict(average="macro")
        auc = m.roc_auc_score(truth, probs, multi_class="ovr", average="macro")
    return {
        "precision": m.precision_score(truth, predicted, zero_division=0, **avg),
        "recall": m.recall_score(truth, predicted, zero_division=0, **avg),
        "accuracy": m.accuracy_score(truth, predicted),
        "f1_score": m.f1_score(truth, predicted, zero_division=0, **avg),
        "log_loss": m.log_loss(truth, probs, labels=list(range(k))),
        "roc_auc": auc,
    }


# Binary, with scores rounded to two digits so that many tie.
n = 500
truth = rng.integers(0, 2, n)
p1 = np.clip(np.round(0.35 * truth + 0.65 * rng.random(n), 2), 0.01, 0.99)
binary_probs = np.column_stack([1 - p1, p1])

# Three classes, imbalanced.
n = 400
truth3 = rng.choice(3, n, p=[0.6, 0.3, 0.1])
logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[truth3]
probs3 = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

# Regression, positive values.
n = 300
y = rng.gamma(2.0, 10.0, n)
yhat = np.abs(y + rng.normal(0, 4.0, n))

out = {
    "generator": f"scripts/reference_metrics.py, scikit-learn {sklearn.__version__}",
    "binary": {
        "truth": truth.tolist(),
        "probs": binary_probs.ravel().tolist(),
        "expected": classification(truth, binary_probs),
    },
    "multiclass": {
        "truth": truth3.tolist(),
        "probs": probs3.ravel().tolist(),
        "expected": classification(truth3, probs3),
    },
    "regression": {
        "truth": y.tolist(),
        "predicted": yhat.tolist(),
        "expected": {
            "mean_absolute_error": m.mean_absolute_error(y, yhat),
            "mean_squared_error": m.mean_squared_error(y, yhat),
            "mean_squared_log_error": m.mean_squared_log_error(y, yhat),
            "median_absolute_error": m.median_absolute_error(y, yhat),
            "r2_score": m.r2_score(y, yhat),
            "explained_variance": m.explained_variance_score(y, yhat),
        },
    },
}
path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "metrics_reference.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}")
