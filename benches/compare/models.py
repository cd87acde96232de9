#!/usr/bin/env python3
"""Model cases, side by side in one run on the generated churn table (benches/generate.py),
label `churn` (3 classes, imbalanced), features age, tenure_months, monthly_charges, plan
(50 values) and signup_at:

* logistic_train: ml_train logistic_reg (l2_reg=1) on 1M rows vs scikit-learn
                  LogisticRegression(C=1, lbfgs, multinomial), reading Parquet included;
* boosted_train:  ml_train boosted_tree_classifier (100 rounds, depth 6, learning rate 0.1,
                  L2 1) on 1M rows vs LightGBM (same, num_leaves=64, max_bin=255);
* logistic_predict / boosted_predict: ml_predict over 5M rows (counted by predicted class)
                  vs the peer's predict_proba, reading and preprocessing Parquet included.

Test AUC (macro one-vs-rest, scikit-learn's definition; mlfusion's from ml_evaluate) is
printed beside each training case, on a separately generated 200k-row table. The peers get
mlfusion's in-model preprocessing (standardized numbers with NULLs at the mean, timestamps
in seconds, one-hot strings with an "other" column), built with numpy.

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare/models.py [--train-rows 1000000] [--rows 5000000 (to predict)] [--runs 3]
"""
import os
import re
import shutil

import lightgbm
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from harness import Mlfusion, arguments, compare, header, row, save, table, timed

FEATURES = ["age", "tenure_months", "monthly_charges", "plan", "signup_at"]
LABEL = "churn"
LOGISTIC = "model_type=logistic_reg, l2_reg=1"
BOOSTED = "model_type=boosted_tree_classifier, max_iterations=100, max_depth=6, learning_rate=0.1, l2_reg=1"


class Preprocess:
    """mlfusion's in-model preprocessing, in numpy (see docs/models.md)."""

    def fit(self, t: pa.Table) -> "Preprocess":
        self.stats = {}
        for name in FEATURES:
            col = t.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                counts = [c for c in col.value_counts().to_pylist() if c["values"] is not None]
                counts.sort(key=lambda c: (-c["counts"], c["values"]))
                self.stats[name] = ("onehot", sorted(c["values"] for c in counts[:100]))
            else:
                x = self.numbers(col)
                x = x[np.isfinite(x)]
                self.stats[name] = ("num", x.mean(), x.std() or 1.0)
        return self

    @staticmethod
    def numbers(col) -> np.ndarray:
        if pa.types.is_timestamp(col.type):
            return col.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False)

    def transform(self, t: pa.Table) -> np.ndarray:
        parts = []
        for name in FEATURES:
            col, kind = t.column(name), self.stats[name]
            if kind[0] == "num":
                x = (self.numbers(col) - kind[1]) / kind[2]
                parts.append(np.where(np.isfinite(x), x, 0.0)[:, None])
            else:
                cats = kind[1]
                codes = pa.compute.index_in(col, value_set=pa.array(cats)).to_numpy(zero_copy_only=False)
                codes = np.where(np.isnan(codes.astype(np.float64)), len(cats), codes).astype(np.int64)
                m = np.zeros((len(codes), len(cats) + 1))
                valid = ~np.asarray(col.is_null())
                m[np.arange(len(codes))[valid], codes[valid]] = 1.0
                parts.append(m)
        return np.hstack(parts)


class Peer:
    """A peer model with its preprocessing: trained from Parquet, predicting from Parquet."""

    def __init__(self, make):
        self.make = make

    def train(self, path: str) -> None:
        t = pq.read_table(path, columns=FEATURES + [LABEL])
        self.pre = Preprocess().fit(t)
        self.model = self.make().fit(self.pre.transform(t), t.column(LABEL).to_numpy(zero_copy_only=False))

    def predict(self, path: str) -> np.ndarray:
        t = pq.read_table(path, columns=FEATURES)
        return self.model.predict_proba(self.pre.transform(t))

    def auc(self, path: str) -> float:
        y = pq.read_table(path, columns=[LABEL]).column(LABEL).to_numpy(zero_copy_only=False)
        return roc_auc_score(y, self.predict(path), multi_class="ovr", average="macro",
                             labels=self.model.classes_)


def mlfusion_auc(ours: Mlfusion, name: str, test: str) -> float:
    lines = ours.run(f"SELECT roc_auc FROM ml_evaluate('{name}', '{test}')")[1]
    values = [line.strip() for line in lines if re.fullmatch(r"[0-9.eE+-]+", line.strip())]
    return float(values[-1])


def train_case(case: str, options: str, peer_name: str, peer: Peer, ours: Mlfusion, train: str,
               test: str, runs: int, goal: float) -> dict:
    features = ", ".join(FEATURES)
    sql = f"SELECT version FROM ml_train('{case}', '{train}', '{LABEL}', '{options}, features=[{features}]')"
    result = compare(case, lambda: ours.run(sql)[0], peer_name, lambda: timed(lambda: peer.train(train)),
                     runs, goal)
    m_auc, p_auc = mlfusion_auc(ours, case, test), peer.auc(test)
    result["note"] = f"AUC {m_auc:.4f} vs {p_auc:.4f}"
    return row(result | {"auc_mlfusion": m_auc, "auc_peer": p_auc})


def predict_case(case: str, model: str, peer_name: str, peer: Peer, ours: Mlfusion, path: str,
                 runs: int) -> dict:
    sql = f"SELECT predicted_{LABEL}, count(*) FROM ml_predict('{model}', '{path}') GROUP BY 1"
    return row(compare(case, lambda: ours.run(sql)[0], peer_name,
                       lambda: timed(lambda: peer.predict(path)), runs, 1.0))


def main() -> None:
    parser = arguments(__doc__, rows=5_000_000, runs=3)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--cases", default="logistic_train,boosted_train,logistic_predict,boosted_predict",
                        help="comma-separated subset (a predict case needs its train case)")
    args = parser.parse_args()
    cases = args.cases.split(",")
    train = table(args.train_rows, args.data, seed=args.seed)
    big = table(args.rows, args.data, seed=args.seed) if any(c.endswith("_predict") for c in cases) else None
    # The evaluation table has a seed of its own, never the training table's.
    test = table(200_000, args.data, name="churn_test", seed=7 if args.seed != 7 else 8)
    registry = os.path.join(args.data, "registry")
    shutil.rmtree(registry, ignore_errors=True)
    ours = Mlfusion(args.mlfusion)
    ours.run(f"SET mlfusion.registry = '{registry}'")
    sklearn_peer = Peer(lambda: LogisticRegression(C=1.0, max_iter=100))
    lightgbm_peer = Peer(lambda: lightgbm.LGBMClassifier(
        n_estimators=100, max_depth=6, num_leaves=64, learning_rate=0.1, reg_lambda=1.0,
        min_child_weight=1.0, min_child_samples=1, max_bin=255, verbose=-1))
    header()
    runners = {
        "logistic_train": lambda: train_case("logistic_train", LOGISTIC, "scikit-learn", sklearn_peer, ours,
                                             train, test, args.runs, 1.0),
        "boosted_train": lambda: train_case("boosted_train", BOOSTED, f"LightGBM {lightgbm.__version__}",
                                            lightgbm_peer, ours, train, test, args.runs, 1.5),
        "logistic_predict": lambda: predict_case("logistic_predict", "logistic_train", "scikit-learn",
                                                 sklearn_peer, ours, big, args.runs),
        "boosted_predict": lambda: predict_case("boosted_predict", "boosted_train",
                                                f"LightGBM {lightgbm.__version__}", lightgbm_peer, ours, big,
                                                args.runs),
    }
    results = [runners[case]() for case in cases]
    ours.close()
    save(results, args.json)


if __name__ == "__main__":
    main()
