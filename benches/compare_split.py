#!/usr/bin/env python3
"""ml_split next to DuckDB, side by side in one run, on a generated 5M-row, 9-column table.

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare_split.py [--rows 5000000] [--runs 3] [--mlfusion target/release/mlfusion]

Both engines read the same Parquet file and compute the same thing, consumed by a GROUP BY so
that every row's assignment is computed and nothing is written:

* hash:     a 10% test split and 5 folds from a hash of every column
            (DuckDB: abs(hash(cols)) % 1000000; mlfusion: ml_split method=hash);
* balanced: a 10% test split and 5 folds, exactly balanced per label
            (DuckDB: row_number() OVER (PARTITION BY label ORDER BY hash(cols)) dealt into
            contiguous runs; mlfusion: ml_split stratify=label).

Times are the engines' own query times (DuckDB's Python API; the mlfusion CLI's "Elapsed"),
the median of --runs runs after one warm-up, with every available core.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = "id, label, user_id, age, income, score, city, signup, active"


def generate(path: str, rows: int) -> None:
    rng = np.random.default_rng(2026)
    cities = np.array(["Lisbon", "Oslo", "Lima", "Pune", "Osaka", "Accra", "Quito", "Perth"])
    table = pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "label": pa.array(np.where(rng.random(rows) < 0.2, "churned", "active")),
            "user_id": pa.array([f"u{v}" for v in rng.integers(0, rows // 10, rows)]),
            "age": rng.integers(18, 90, rows, dtype=np.int32),
            "income": rng.normal(50_000, 15_000, rows),
            "score": rng.random(rows),
            "city": pa.array(cities[rng.integers(0, len(cities), rows)]),
            "signup": pa.array(rng.integers(15_000, 20_000, rows, dtype=np.int32), pa.date32()),
            "active": pa.array(rng.random(rows) < 0.7),
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)


DUCKDB = {
    "hash": f"""
        SELECT split, fold, count(*) FROM (
          SELECT CASE WHEN b < 100000 THEN 'test' ELSE 'train' END AS split,
                 CASE WHEN b >= 100000 THEN (h // 1000000) % 5 END AS fold
          FROM (SELECT h, h % 1000000 AS b FROM (SELECT hash({COLUMNS}) AS h FROM read_parquet('{{path}}'))))
        GROUP BY ALL""",
    "balanced": f"""
        SELECT split, fold, count(*) FROM (
          SELECT CASE WHEN r < n * 100000 // 1000000 THEN 'test' ELSE 'train' END AS split,
                 CASE WHEN r >= n * 100000 // 1000000
                      THEN ((r + 1) * 5000000 - n * 500000 + n * 900000 - 1) // (n * 900000) - 1 END AS fold
          FROM (SELECT row_number() OVER (PARTITION BY label ORDER BY hash({COLUMNS})) - 1 AS r,
                       count(*) OVER (PARTITION BY label) AS n
                FROM read_parquet('{{path}}')))
        GROUP BY ALL""",
}

MLFUSION = {
    "hash": "SELECT split, fold, count(*) FROM ml_split('{path}', 'test_fraction=0.1, folds=5') GROUP BY split, fold",
    "balanced": "SELECT split, fold, count(*) FROM ml_split('{path}', 'test_fraction=0.1, folds=5, stratify=label') GROUP BY split, fold",
}


def time_duckdb(sql: str, runs: int) -> float:
    con = duckdb.connect()
    con.execute(sql).fetchall()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_mlfusion(binary: str, sql: str, runs: int) -> float:
    # One process: a warm-up, then the timed runs; the CLI prints each query's time.
    out = subprocess.run(
        [binary, "--format", "csv", "-c"] + [sql] * (runs + 1),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = [float(x) for x in re.findall(r"Elapsed ([0-9.]+) seconds", out)]
    if len(elapsed) != runs + 1:
        raise SystemExit(f"unexpected mlfusion output:\n{out}")
    return statistics.median(elapsed[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mlfusion", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "mlfusion"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.parquet")
        start = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} rows x 9 columns in {time.perf_counter() - start:.1f} s "
              f"({os.path.getsize(path) / 1e6:.0f} MB); DuckDB {duckdb.__version__}, {os.cpu_count()} cores")
        print(f"{'method':<10} {'DuckDB s':>9} {'mlfusion s':>11} {'DuckDB/mlfusion':>16}")
        for method in ("hash", "balanced"):
            d = time_duckdb(DUCKDB[method].format(path=path), args.runs)
            m = time_mlfusion(args.mlfusion, MLFUSION[method].format(path=path), args.runs)
            print(f"{method:<10} {d:>9.3f} {m:>11.3f} {d / m:>15.2f}x")


if __name__ == "__main__":
    main()
