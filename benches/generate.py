#!/usr/bin/env python3
"""A churn-like table for the benchmarks: deterministic (a seed), any size, Parquet with
row groups of 1M rows (about 60 MB each, Snappy), as an export from a warehouse has.

    python3 benches/generate.py churn.parquet --rows 5000000 [--seed 2026]

Nine columns:

    customer_id      BIGINT     unique, in shuffled order
    household_id     BIGINT     the group key: about 2.5 customers per household
    age              INT        18..90
    tenure_months    INT        0..120
    monthly_charges  DOUBLE     log-normal, 2% NULL
    plan             VARCHAR    50 values, Zipf-like frequencies
    signup_at        TIMESTAMP  2015..2025, microseconds
    notes            VARCHAR    free text, 3..12 words
    churn            VARCHAR    the label: stayed (~90%), churned (~5%), downgraded (~5%),
                                from the other columns plus noise (so models have signal)

The same seed and row count give the same bytes of data (the Parquet writer's metadata
aside), however the rows are chunked.
"""
import argparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 1_000_000
PLANS = [f"plan_{i:02d}" for i in range(50)]
WORDS = (
    "account billing call cancel charge contract customer data device discount email fee "
    "fiber internet late line mobile modem monthly network offer outage paid payment phone "
    "plan price promo rate refund renew roaming router service signal speed support switch "
    "tablet tv upgrade usage voice wifi wireless bundle credit dispute install".split()
)


def chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    ids = rng.permutation(np.arange(start, start + n, dtype=np.int64))
    household = (ids // 5) * 2 + rng.integers(0, 2, n)
    age = rng.integers(18, 91, n, dtype=np.int32)
    tenure = np.minimum(rng.exponential(30, n), 120).astype(np.int32)
    charges = np.round(rng.lognormal(4.0, 0.45, n), 2)
    charges_null = rng.random(n) < 0.02
    # Zipf-like plan popularity.
    weights = 1.0 / np.arange(1, len(PLANS) + 1)
    plan_idx = rng.choice(len(PLANS), n, p=weights / weights.sum())
    signup = rng.integers(1_420_070_400_000_000, 1_735_689_600_000_000, n)
    lengths = rng.integers(3, 13, n)
    word_idx = rng.integers(0, len(WORDS), (n, 12))
    words = np.array(WORDS, dtype=object)
    notes = [" ".join(words[word_idx[i, : lengths[i]]]) for i in range(n)]
    # The label: a multinomial logit of the features.
    z_churn = -2.4 + 0.025 * (45 - age) - 0.03 * tenure + 0.012 * (charges - 60) + 0.02 * plan_idx
    z_down = -3.2 + 0.015 * (charges - 60) + 0.01 * tenure - 0.01 * plan_idx
    noise = rng.gumbel(size=(n, 3))
    scores = np.stack([np.zeros(n), z_churn, z_down], axis=1) + noise
    label = np.array(["stayed", "churned", "downgraded"], dtype=object)[scores.argmax(axis=1)]
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "household_id": pa.array(household),
            "age": pa.array(age),
            "tenure_months": pa.array(tenure),
            "monthly_charges": pa.array(charges, mask=charges_null),
            "plan": pa.array(np.array(PLANS, dtype=object)[plan_idx], pa.string()),
            "signup_at": pa.array(signup, pa.timestamp("us")),
            "notes": pa.array(notes, pa.string()),
            "churn": pa.array(label, pa.string()),
        }
    )


def generate(path: str, rows: int, seed: int = 2026) -> None:
    writer = None
    for start in range(0, rows, ROW_GROUP):
        n = min(ROW_GROUP, rows - start)
        # One generator per row group, seeded by its position: chunks are independent.
        table = chunk(np.random.default_rng([seed, start]), start, n)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=ROW_GROUP)
    if writer is not None:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    generate(args.path, args.rows, args.seed)


if __name__ == "__main__":
    main()
