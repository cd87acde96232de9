#!/usr/bin/env python3
"""Reference values for sql/ml_validate.slt, computed independently with NumPy and SciPy:
the same two generated tables as the .slt file, histograms of numeric columns over 10
equal-width buckets (NULL a bucket of its own) compared by the Jensen-Shannon divergence in
base 2 (scipy.spatial.distance.jensenshannon squared), value frequencies of the other
columns (NULL a value) by the L-infinity distance. Drift buckets span the range of both
tables; skew buckets the range of the training table (base), values outside going to the
end buckets.

    python3 scripts/reference_validation.py
"""
import numpy as np
from scipy.spatial.distance import jensenshannon

BUCKETS = 10


def base():
    v = np.arange(1, 1001)
    return {
        "age": (v % 50 + 20).astype(float),
        "income": np.where(v % 10 == 0, np.nan, (v % 97) * 1000.0),
        "city": np.array([["Oslo", "Lima", "Pune", "Kyiv"][i % 4] for i in v], dtype=object),
        "active": np.array([str(i % 3 == 0).lower() for i in v], dtype=object),
    }


def study():
    v = np.arange(1, 801)
    return {
        "age": (v % 50 + 45).astype(float),
        "income": np.where(v % 10 == 0, np.nan, (v % 97) * 1000.0),
        "city": np.array(["Oslo" if i % 10 < 6 else ["Lima", "Pune", None, "Kyiv"][i % 4] for i in v],
                         dtype=object),
        "active": np.array([str(i % 3 == 0).lower() for i in v], dtype=object),
    }


def histogram(x, low, high):
    counts = np.zeros(BUCKETS + 1)
    for value in x:
        if np.isnan(value):
            counts[BUCKETS] += 1
        else:
            b = int(np.floor((value - low) / (high - low) * BUCKETS)) if high > low else 0
            counts[min(max(b, 0), BUCKETS - 1)] += 1
    return counts / counts.sum()


def frequencies(x):
    values, counts = np.unique(np.array(["<NULL>" if v is None else v for v in x]), return_counts=True)
    return dict(zip(values, counts / counts.sum()))


def main():
    a, b = base(), study()
    for check in ["drift", "skew"]:
        print(check)
        for name in ["age", "income"]:
            both = np.concatenate([a[name], b[name]]) if check == "drift" else a[name]
            low, high = np.nanmin(both), np.nanmax(both)
            js = jensenshannon(histogram(a[name], low, high), histogram(b[name], low, high), base=2) ** 2
            print(f"{name} jensen_shannon_divergence {js:.12f}")
        for name in ["city", "active"]:
            fa, fb = frequencies(a[name]), frequencies(b[name])
            linf = max(abs(fa.get(k, 0.0) - fb.get(k, 0.0)) for k in set(fa) | set(fb))
            print(f"{name} l_infinity {linf:.12f}")


if __name__ == "__main__":
    main()
