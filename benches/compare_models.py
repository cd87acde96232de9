#!/usr/bin/env python3
"""ml_train next to scikit-learn and LightGBM on a generated churn-like table: test AUC and
training time, side by side in one run.

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare_models.py [--rows 1000000] [--mlfusion target/release/mlfusion]

The table has ints, floats, a 50-value categorical with NULLs, a timestamp, a boolean and a
binary label that depends on them non-linearly. Rows with id % 5 = 0 are the test set; both
sides read the same train.parquet / test.parquet files. The peers get the preprocessing
mlfusion does inside its models (standardized numbers with NULLs at the mean, timestamps in
seconds, booleans as 0/1, one-hot strings with an "other" column), built with numpy:

* logistic_reg (l2_reg=1)       vs scikit-learn LogisticRegression(C=1, lbfgs, max_iter=100)
* boosted_tree_classifier       vs LightGBM LGBMClassifier
  (100 rounds, depth 6, learning rate 0.1, L2 1)   (same, num_leaves=64, max_bin=255)
                                and forust (the forust-ml crate's Python binding, same settings),
                                if installed: the crate we measured before writing our own

Times: mlfusion's is the CLI's "Elapsed" for the ml_train query (reading Parquet,
preprocessing, training, writing the artifact); the peers' include reading the Parquet files
and preprocessing. AUC is each model's ROC AUC on the test rows (mlfusion's from
ml_evaluate, the peers' from sklearn.metrics.roc_auc_score).
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
import lightgbm

try:  # the forust-ml crate's Python binding, measured as a candidate for boosting
    from forust import GradientBooster
except ImportError:
    GradientBooster = None

FEATURES = ["tenure", "visits", "spend", "income", "city", "signup", "promo"]


def generate(rows: int, path: str) -> None:
    rng = np.random.default_rng(2026)
    ids = np.arange(rows, dtype=np.int64)
    tenure = rng.integers(0, 120, rows)
    visits = rng.poisson(4, rows)
    spend = rng.gamma(2.0, 40.0, rows)
    income = rng.normal(50_000, 15_000, rows)
    city_ix = rng.integers(0, 50, rows)
    city_effect = np.sin(np.arange(50))[city_ix]
    signup = 1_600_000_000 + rng.integers(0, 100_000_000, rows)
    promo = rng.random(rows) < 0.3
    logit = (
        -1.0
        - 0.03 * tenure
        + 0.5 * (visits < 2)
        + 0.8 * np.sin(spend / 30.0)
        + 0.7 * city_effect
        + 0.4 * promo
        + 0.3 * ((signup - 1_600_000_000) / 1e8)
        + 0.5 * (income < 35_000) * (tenure < 24)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    city = np.array([f"city_{i:02d}" for i in range(50)], dtype=object)[city_ix]
    city[rng.random(rows) < 0.02] = None
    income = np.where(rng.random(rows) < 0.05, np.nan, income)
    table = pa.table(
        {
            "id": ids,
            "tenure": tenure,
            "visits": visits,
            "spend": spend,
            "income": pa.array(income, from_pandas=True),
            "city": pa.array(city),
            "signup": pa.array(signup * 1_000_000, pa.timestamp("us", tz="UTC")),
            "promo": promo,
            "churned": churned,
        }
    )
    test = (ids % 5) == 0
    pq.write_table(table.filter(pa.array(~test)), os.path.join(path, "train.parquet"), row_group_size=200_000)
    pq.write_table(table.filter(pa.array(test)), os.path.join(path, "test.parquet"), row_group_size=200_000)


class Preprocess:
    """mlfusion's in-model preprocessing, in numpy (see docs/models.md)."""

    def fit(self, t: pa.Table):
        self.stats = {}
        for name in FEATURES:
            col = t.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                counts = col.value_counts().to_pylist()
                counts = [c for c in counts if c["values"] is not None]
                counts.sort(key=lambda c: (-c["counts"], c["values"]))
                self.stats[name] = ("onehot", sorted(c["values"] for c in counts[:100]))
            else:
                x = self.numbers(col)
                x = x[np.isfinite(x)]
                std = x.std()
                self.stats[name] = ("num", x.mean(), std if std > 0 else 1.0)
        return self

    @staticmethod
    def numbers(col) -> np.ndarray:
        if pa.types.is_timestamp(col.type):
            return col.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False)

    def transform(self, t: pa.Table) -> np.ndarray:
        parts = []
        for name in FEATURES:
            col = t.column(name)
            kind = self.stats[name]
            if kind[0] == "num":
                x = (self.numbers(col) - kind[1]) / kind[2]
                parts.append(np.where(np.isfinite(x), x, 0.0)[:, None])
            else:
                cats = kind[1]
                index = {c: i for i, c in enumerate(cats)}
                values = col.to_pylist()
                m = np.zeros((len(values), len(cats) + 1))
                for i, v in enumerate(values):
                    if v is not None:
                        m[i, index.get(v, len(cats))] = 1.0
                parts.append(m)
        return np.hstack(parts)


def peer(path: str, make):
    start = time.perf_counter()
    train = pq.read_table(os.path.join(path, "train.parquet"))
    pre = Preprocess().fit(train)
    x, y = pre.transform(train), train.column("churned").to_numpy()
    model = make().fit(x, y)
    elapsed = time.perf_counter() - start
    test = pq.read_table(os.path.join(path, "test.parquet"))
    xt = pre.transform(test)
    scores = model.predict_proba(xt)[:, 1] if hasattr(model, "predict_proba") else model.predict(xt)
    auc = roc_auc_score(test.column("churned").to_numpy(), scores)
    return auc, elapsed


class _Forust:
    """forust's fit takes the labels as floats."""

    def __init__(self, booster):
        self.booster = booster

    def fit(self, x, y):
        self.booster.fit(x, y.astype(np.float64))
        return self

    def predict(self, x):
        return self.booster.predict(x)


def mlfusion(binary: str, path: str, name: str, options: str):
    sql = [
        f"SET mlfusion.registry = '{path}/registry'",
        f"SELECT version FROM ml_train('{name}', '{path}/train.parquet', 'churned', "
        f"'{options}, features=[{', '.join(FEATURES)}]')",
        f"SELECT roc_auc FROM ml_evaluate('{name}', '{path}/test.parquet')",
    ]
    out = subprocess.run([binary, "--format", "csv"] + [a for s in sql for a in ("-c", s)],
                         check=True, capture_output=True, text=True).stdout
    elapsed = [float(x) for x in re.findall(r"Elapsed ([0-9.]+) seconds", out)]
    auc = float(re.findall(r"roc_auc\n([0-9.]+)", out)[-1])
    return auc, elapsed[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mlfusion", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "mlfusion"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(args.rows, tmp)
        print(f"{args.rows:,} rows (80% train), {os.cpu_count()} cores; "
              f"LightGBM {lightgbm.__version__}")
        print(f"{'model':<26} {'AUC mlfusion':>12} {'AUC peer':>9} {'diff':>8} "
              f"{'mlfusion s':>10} {'peer s':>7} {'ratio':>6}")
        cases = [
            ("logistic_reg", "model_type=logistic_reg, l2_reg=1",
             "scikit-learn", lambda: LogisticRegression(C=1.0, max_iter=100)),
            ("boosted_tree_classifier",
             "model_type=boosted_tree_classifier, max_iterations=100, max_depth=6, learning_rate=0.1, l2_reg=1",
             "LightGBM", lambda: lightgbm.LGBMClassifier(
                 n_estimators=100, max_depth=6, num_leaves=64, learning_rate=0.1, reg_lambda=1.0,
                 min_child_weight=1.0, min_child_samples=1, max_bin=255, verbose=-1)),
        ]
        if GradientBooster is not None:
            cases.append((
                "boosted_tree_classifier",
                "model_type=boosted_tree_classifier, max_iterations=100, max_depth=6, learning_rate=0.1, l2_reg=1",
                "forust-ml", lambda: _Forust(GradientBooster(
                    objective_type="LogLoss", iterations=100, max_depth=6, learning_rate=0.1, l2=1.0,
                    min_leaf_weight=1.0, nbins=256))))
        for model_type, options, peer_name, make in cases:
            m_auc, m_s = mlfusion(args.mlfusion, tmp, model_type, options)
            p_auc, p_s = peer(tmp, make)
            print(f"{model_type:<26} {m_auc:>12.4f} {p_auc:>9.4f} {m_auc - p_auc:>+8.4f} "
                  f"{m_s:>10.2f} {p_s:>7.2f} {m_s / p_s:>6.2f}  ({peer_name})")


if __name__ == "__main__":
    main()
