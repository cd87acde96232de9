#!/usr/bin/env python3
"""The embedded engine against a Ballista cluster, side by side in one run on the generated churn
table (benches/generate.py): the same statements through one warm `mlfusion` process and one warm
`mlfusion --ballista` process, whose scheduler and two executors this script starts from the same
binary on loopback. Each statement's output is checked identical on both sides first.

* fold_counts:    abs_mod(row_fingerprint(all 9 columns), 10) with GROUP BY;
* split_balanced: ml_split stratified on churn (balanced), 5 folds, counted per split and fold,
                  with a content checksum (dataset_fingerprint);
* predict_counts: ml_predict of a logistic_reg model (trained first, on 100k rows), counted.

On one machine the cluster shares the same cores, so this measures what distribution costs, not
what it gains; on several machines the per-row cases divide by the executors (docs/cluster.md).

    cargo build --release --bin mlfusion
    python3 benches/compare/cluster.py [--rows 1000000] [--runs 3]
"""
import os
import socket
import statistics
import subprocess
import tempfile
import time

from harness import COLUMNS, Mlfusion, arguments, save, table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def start_cluster(binary: str, work: str) -> tuple[str, list[subprocess.Popen]]:
    scheduler = free_port()
    log = open(os.path.join(work, "cluster.log"), "w")
    processes = [subprocess.Popen([binary, "scheduler", "--bind", f"127.0.0.1:{scheduler}"],
                                  stdout=log, stderr=log)]
    wait_for(scheduler)
    for e in range(2):
        flight, grpc = free_port(), free_port()
        os.makedirs(os.path.join(work, f"e{e}"))
        processes.append(subprocess.Popen(
            [binary, "executor", "--scheduler", f"127.0.0.1:{scheduler}", "--bind", f"127.0.0.1:{flight}",
             "--grpc-port", str(grpc), "--work-dir", os.path.join(work, f"e{e}")], stdout=log, stderr=log))
        wait_for(flight)
    return f"df://127.0.0.1:{scheduler}", processes


def main() -> None:
    parser = arguments(__doc__, rows=1_000_000, runs=3)
    args = parser.parse_args()
    path = table(args.rows, args.data, seed=args.seed)
    train = table(100_000, args.data, seed=args.seed)
    work = tempfile.mkdtemp(prefix="mlfusion-cluster-bench-")
    url, processes = start_cluster(args.mlfusion, work)
    embedded = Mlfusion(args.mlfusion)
    distributed = Mlfusion(args.mlfusion, ("--ballista", url))
    registry = f"SET mlfusion.registry = '{os.path.join(work, 'registry')}'"
    cols = ", ".join(COLUMNS)
    cases = {
        "fold_counts": f"SELECT abs_mod(row_fingerprint({cols}), 10) AS fold, count(*) AS n "
                       f"FROM '{path}' GROUP BY fold ORDER BY fold",
        "split_balanced": f"SELECT split, fold, count(*) AS n, dataset_fingerprint(*) AS f FROM "
                          f"ml_split('{path}', 'test_fraction=0.1, folds=5, stratify=churn') "
                          f"GROUP BY 1, 2 ORDER BY 1, 2",
        "predict_counts": f"SELECT predicted_churn, count(*) AS n FROM ml_predict('m', '{path}') "
                          f"GROUP BY 1 ORDER BY 1",
    }
    results = []
    try:
        for side in (embedded, distributed):
            side.run(registry)
        embedded.run(f"SELECT version FROM ml_train('m', '{train}', 'churn', 'model_type=logistic_reg, "
                      f"features=[age, tenure_months, monthly_charges, plan]')")
        print(f"{args.rows:,} rows; {os.cpu_count()} cores shared by the client, the scheduler and two "
              f"executors; {time.strftime('%Y-%m-%d')}")
        print("| case | embedded s | cluster s | cluster / embedded | same output |")
        print("|---|---|---|---|---|")
        for case, sql in cases.items():
            # A warm-up each, checked identical, then alternating timed runs.
            (_, a), (_, b) = embedded.run(sql), distributed.run(sql)
            if a != b:
                raise SystemExit(f"{case}: outputs differ\n{''.join(a)}\n{''.join(b)}")
            times = {"embedded": [], "cluster": []}
            for _ in range(args.runs):
                times["embedded"].append(embedded.run(sql)[0])
                times["cluster"].append(distributed.run(sql)[0])
            e, c = statistics.median(times["embedded"]), statistics.median(times["cluster"])
            print(f"| {case} | {e:.3f} | {c:.3f} | {c / e:.2f} | yes |", flush=True)
            results.append({"case": case, "embedded_s": e, "cluster_s": c, "rows": args.rows, "all_s": times})
    finally:
        embedded.close()
        distributed.close()
        for p in processes:
            p.terminate()
            p.wait()
    save(results, args.json)


if __name__ == "__main__":
    main()
