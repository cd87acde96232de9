#!/usr/bin/env python3
"""Memory cases on the generated churn table (benches/generate.py), each in a fresh
`mlfusion` process whose peak resident set (RSS, from wait4) is reported:

* ml_split, both methods, with DataFusion's memory limit at 256 MB (`--memory-limit 256M`),
  every row written to Parquet: the hash method streams; the balanced one sorts and spills;
* ml_predict over 1M and over 5M rows (no limit): peak RSS should not grow with the input.

    cargo build --release --bin mlfusion
    python3 benches/compare/memory.py [--rows 5000000] [--small-rows 1000000]
"""
import os
import shutil
import subprocess
import sys

from harness import arguments, save, table

# Linux starts a process's peak RSS at the peak of the process that forked it, so a child
# of this script (which holds generated tables and numpy) would report at least this
# script's RSS. The measured process is therefore started by a fresh, small interpreter,
# which passes its output through and writes the seconds and the peak (KiB) to a pipe.
SPAWN = """import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
os.write(int(sys.argv[1]), f"{time.perf_counter() - start} {usage.ru_maxrss}".encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(binary: str, statements: list[str], args: tuple = ()) -> tuple[float, float]:
    """Runs `statements` in a fresh process: (seconds, peak RSS in MB)."""
    command = [binary, "--format", "csv", *args]
    for s in statements:
        command += ["-c", s]
    read_end, write_end = os.pipe()
    proc = subprocess.run([sys.executable, "-S", "-c", SPAWN, str(write_end), *command],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as f:
        measured = f.read().split()
    if proc.returncode != 0 or "Error" in proc.stdout or len(measured) != 2:
        raise SystemExit(f"mlfusion failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    return float(measured[0]), int(measured[1]) / 1024


def main() -> None:
    parser = arguments(__doc__, runs=None)
    parser.add_argument("--small-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    big, small = table(args.rows, args.data, seed=args.seed), table(args.small_rows, args.data, seed=args.seed)
    out = os.path.join(args.data, "memory_out")
    registry = os.path.join(args.data, "memory_registry")
    results = []

    def report(case: str, rows: int, limit: str, seconds: float, rss: float) -> None:
        results.append({"case": case, "rows": rows, "memory_limit": limit, "seconds": round(seconds, 2),
                        "peak_rss_mb": round(rss)})
        print(f"| {case} | {rows:,} | {limit} | {seconds:.1f} | {rss:.0f} |", flush=True)

    print("| case | rows | memory limit | seconds | peak RSS MB |")
    print("|---|---|---|---|---|")
    for method, options in [("hash", "test_fraction=0.1, folds=5"),
                            ("balanced", "test_fraction=0.1, folds=5, stratify=churn")]:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        seconds, rss = run(args.mlfusion, [
            f"COPY (SELECT * FROM ml_split('{big}', '{options}')) TO '{out}/split.parquet' STORED AS PARQUET"
        ], ("--memory-limit", "256M"))
        report(f"ml_split {method} → Parquet", args.rows, "256 MB", seconds, rss)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(registry, ignore_errors=True)
    run(args.mlfusion, [
        f"SET mlfusion.registry = '{registry}'",
        f"SELECT version FROM ml_train('m', '{small}', 'churn', 'model_type=boosted_tree_classifier, "
        "max_iterations=20, features=[age, tenure_months, monthly_charges, plan, signup_at]')",
    ])
    for rows, path in [(args.small_rows, small), (args.rows, big)]:
        seconds, rss = run(args.mlfusion, [
            f"SET mlfusion.registry = '{registry}'",
            f"SELECT predicted_churn, count(*) FROM ml_predict('m', '{path}') GROUP BY 1",
        ])
        report("ml_predict (boosted, 20 rounds)", rows, "none", seconds, rss)
    shutil.rmtree(registry, ignore_errors=True)
    save(results, args.json)


if __name__ == "__main__":
    main()
