#!/usr/bin/env python3
"""Hashing cases, side by side in one run on the generated churn table (benches/generate.py):

* fold_counts:  abs_mod(row_fingerprint(all 9 columns), 10) with GROUP BY,
                vs DuckDB abs(hash(all 9 columns)) % 10;
* bq_buckets:   BigQuery-identical buckets MOD(ABS(FARM_FINGERPRINT(notes)), 10), counted,
                vs pandas + pyfarmhash (what notebook users do today), reading Parquet included;
                both sides' bucket counts are checked equal.

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare/hashing.py [--rows 5000000] [--runs 5] [--data /tmp/mlfusion-bench]
"""
import re

import duckdb
import farmhash
import pandas as pd

from harness import COLUMNS, Mlfusion, arguments, compare, header, row, save, table, timed


def fold_counts(path: str, ours: Mlfusion, runs: int) -> dict:
    cols = ", ".join(COLUMNS)
    con = duckdb.connect()
    duck = f"SELECT abs(hash({cols})) % 10 AS fold, count(*) AS n FROM read_parquet('{path}') GROUP BY fold"
    mine = f"SELECT abs_mod(row_fingerprint({cols}), 10) AS fold, count(*) AS n FROM '{path}' GROUP BY fold"
    return row(compare("fold_counts", lambda: ours.run(mine)[0], f"DuckDB {duckdb.__version__}",
                   lambda: timed(lambda: con.execute(duck).fetchall()), runs, 1.0))


def bq_buckets(path: str, ours: Mlfusion, runs: int) -> dict:
    mine = (f"SELECT abs_mod(farm_fingerprint(notes), 10) AS bucket, count(*) AS n FROM '{path}' "
            "GROUP BY bucket ORDER BY bucket")

    def signed(v: int) -> int:
        return v - (1 << 64) if v >= 1 << 63 else v

    def pandas_buckets() -> pd.Series:
        notes = pd.read_parquet(path, columns=["notes"])["notes"]
        return notes.map(lambda s: abs(signed(farmhash.fingerprint64(s))) % 10).value_counts().sort_index()

    # The same answer first: BigQuery's FARM_FINGERPRINT is FarmHash Fingerprint64 as INT64.
    expected = pandas_buckets()
    lines = ours.run(mine)[1]
    rows = [line.strip().split(",") for line in lines if re.fullmatch(r"\d+,\d+", line.strip())]
    got = {int(b): int(n) for b, n in rows}
    if got != {int(b): int(n) for b, n in expected.items()}:
        raise SystemExit(f"bucket counts differ: mlfusion {got} vs pandas {expected.to_dict()}")
    return row(compare("bq_buckets", lambda: ours.run(mine)[0], "pandas + pyfarmhash",
                   lambda: timed(pandas_buckets), runs, 0.05, "same counts checked"))


def main() -> None:
    args = arguments(__doc__).parse_args()
    path = table(args.rows, args.data, seed=args.seed)
    ours = Mlfusion(args.mlfusion)
    header()
    results = [fold_counts(path, ours, args.runs), bq_buckets(path, ours, max(1, args.runs // 2))]
    ours.close()
    save(results, args.json)


if __name__ == "__main__":
    main()
