#!/usr/bin/env python3
"""ml_split cases, side by side in one run on the generated churn table (benches/generate.py):

* split_balanced: ml_split stratified and exactly balanced (10% test, 5 folds, stratify=churn),
                  counted by split and fold, vs DuckDB's row_number() OVER (PARTITION BY churn
                  ORDER BY hash(all columns)) dealt into contiguous runs of the same sizes
                  (without ml_split's per-stratum phase: comparable work, not the same rows);
* split_parquet:  ml_split (hash method: 10% test, 5 folds) written as Parquet partitioned by
                  split, vs DuckDB COPY … (FORMAT parquet, PARTITION_BY (split)) of the same
                  hash assignment; both write Snappy Parquet into an emptied folder.

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare/splits.py [--rows 5000000] [--runs 5] [--data /tmp/mlfusion-bench]
"""
import os
import shutil

import duckdb

from harness import COLUMNS, Mlfusion, arguments, compare, header, row, save, table, timed

COLS = ", ".join(COLUMNS)

DUCKDB_BALANCED = f"""
    SELECT split, fold, count(*) FROM (
      SELECT CASE WHEN r < n * 100000 // 1000000 THEN 'test' ELSE 'train' END AS split,
             CASE WHEN r >= n * 100000 // 1000000
                  THEN ((r + 1) * 5000000 - n * 500000 + n * 900000 - 1) // (n * 900000) - 1 END AS fold
      FROM (SELECT row_number() OVER (PARTITION BY churn ORDER BY hash({COLS})) - 1 AS r,
                   count(*) OVER (PARTITION BY churn) AS n
            FROM read_parquet('{{path}}')))
    GROUP BY ALL"""

DUCKDB_HASH_ROWS = f"""
    SELECT * EXCLUDE (h, b),
           CASE WHEN b < 100000 THEN 'test' ELSE 'train' END AS split,
           CASE WHEN b >= 100000 THEN (h // 1000000) % 5 END AS fold
    FROM (SELECT *, hash({COLS}) AS h, hash({COLS}) % 1000000 AS b FROM read_parquet('{{path}}'))"""


def split_balanced(path: str, ours: Mlfusion, runs: int) -> dict:
    con = duckdb.connect()
    duck = DUCKDB_BALANCED.format(path=path)
    mine = (f"SELECT split, fold, count(*) FROM ml_split('{path}', "
            "'test_fraction=0.1, folds=5, stratify=churn') GROUP BY split, fold")
    return row(compare("split_balanced", lambda: ours.run(mine)[0], f"DuckDB {duckdb.__version__}",
                   lambda: timed(lambda: con.execute(duck).fetchall()), runs, 0.8))


def split_parquet(path: str, ours: Mlfusion, runs: int, out: str) -> dict:
    con = duckdb.connect()
    mine_dir, duck_dir = os.path.join(out, "mlfusion"), os.path.join(out, "duckdb")

    def ours_run() -> float:
        shutil.rmtree(mine_dir, ignore_errors=True)
        return ours.run(f"COPY (SELECT * FROM ml_split('{path}', 'test_fraction=0.1, folds=5')) "
                        f"TO '{mine_dir}/' STORED AS PARQUET PARTITIONED BY (split) "
                        "OPTIONS ('format.compression' 'snappy')")[0]

    def duck_run() -> float:
        shutil.rmtree(duck_dir, ignore_errors=True)
        return timed(lambda: con.execute(
            f"COPY ({DUCKDB_HASH_ROWS.format(path=path)}) TO '{duck_dir}' "
            "(FORMAT parquet, COMPRESSION snappy, PARTITION_BY (split))"))

    result = row(compare("split_parquet", ours_run, f"DuckDB {duckdb.__version__}", duck_run, runs, 1.0))
    shutil.rmtree(out, ignore_errors=True)
    return result


def main() -> None:
    args = arguments(__doc__).parse_args()
    path = table(args.rows, args.data, seed=args.seed)
    ours = Mlfusion(args.mlfusion)
    header()
    results = [
        split_balanced(path, ours, args.runs),
        split_parquet(path, ours, args.runs, os.path.join(args.data, "split_out")),
    ]
    ours.close()
    save(results, args.json)


if __name__ == "__main__":
    main()
