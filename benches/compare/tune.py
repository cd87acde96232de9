#!/usr/bin/env python3
"""Does the search learn? The best cross-validated objective after N trials for ml_tune's
TPE, ml_tune's random search and Optuna's TPE (TPESampler, its default), on the same model
and the same folds, over several seeds.

Every trial is scored by mlfusion on the generated churn table (benches/generate.py, label
`churn`, 3 classes; features age, tenure_months, monthly_charges, plan, signup_at), with
5 hash folds (`abs_mod(row_fingerprint(*), 5)`), by the mean macro ROC AUC over the folds.
Optuna proposes each trial's hyperparameters and mlfusion scores them: a one-point
`ml_tune(..., 'algorithm=grid, max_depth=choice(d), ...')`, so the model, the folds and the
scoring are mlfusion's for all three; only the proposals differ. (Each one-point run also
trains and stores its final model, so the seconds printed are not comparable between the
searchers; the objective values are what this compares.)

    cargo build --release --bin mlfusion
    pip install -r benches/requirements.txt
    python3 benches/compare/tune.py [--rows 100000] [--trials 20] [--seeds 3]
"""
import re
import statistics
import time

import optuna

from harness import Mlfusion, arguments, save, table

FEATURES = "[age, tenure_months, monthly_charges, plan, signup_at]"
MODEL = f"model_type=boosted_tree_classifier, max_iterations=20, folds=5, features={FEATURES}"
# The searched hyperparameters: (key, ml_tune space, how Optuna suggests it).
SPACE = [
    ("max_depth", "range(2, 8)", lambda t: t.suggest_int("max_depth", 2, 8)),
    ("learning_rate", "range(0.01, 0.5, log)",
     lambda t: t.suggest_float("learning_rate", 0.01, 0.5, log=True)),
    ("l2_reg", "range(0, 10)", lambda t: t.suggest_float("l2_reg", 0.0, 10.0)),
    ("min_child_weight", "range(0, 50)", lambda t: t.suggest_float("min_child_weight", 0.0, 50.0)),
]
KEYS = [k for k, _, _ in SPACE]


def objective_means(lines: list[str]) -> list[float]:
    """The objective_mean column of ml_tune's CSV output (progress lines skipped), by trial;
    a failed trial (no mean) scores -inf."""
    rows = [l.strip().split(",") for l in lines if re.match(r"^\d+,", l)]
    return [float(r[1]) if r[1] else float("-inf") for r in sorted(rows, key=lambda r: int(r[0]))]


def best_so_far(values: list[float]) -> list[float]:
    out, best = [], float("-inf")
    for v in values:
        best = max(best, v)
        out.append(best)
    return out


def main() -> None:
    parser = arguments(__doc__, rows=100_000, runs=None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    path = table(args.rows, args.data, seed=args.seed)
    cli = Mlfusion(args.mlfusion)
    cli.run("SET mlfusion.registry = 'registry'")
    source = f"'{path}'"
    space = ", ".join(f"{k}={s}" for k, s, _ in SPACE)

    def ml_tune(algorithm: str, seed: int) -> list[float]:
        _, lines = cli.run(
            f"SELECT trial_id, objective_mean FROM ml_tune('bench_{algorithm}', {source}, 'churn', "
            f"'{MODEL}, algorithm={algorithm}, trials={args.trials}, seed={seed}, {space}')")
        return objective_means(lines)

    def optuna_tpe(seed: int) -> list[float]:
        def objective(trial: optuna.Trial) -> float:
            point = ", ".join(f"{k}=choice({suggest(trial)})" for k, _, suggest in SPACE)
            _, lines = cli.run(
                f"SELECT trial_id, objective_mean FROM ml_tune('bench_optuna', {source}, 'churn', "
                f"'{MODEL}, algorithm=grid, {point}')")
            return objective_means(lines)[0]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=args.trials)
        return [t.value for t in study.trials]

    checkpoints = sorted({n for n in (5, 10, args.trials // 2, args.trials) if 0 < n <= args.trials})
    results = {}
    print(f"{args.rows:,} rows, {args.trials} trials, seeds 0..{args.seeds - 1}; "
          f"mean over seeds of the best mean ROC AUC so far; {time.strftime('%Y-%m-%d')}", flush=True)
    for name, run in [("ml_tune tpe", lambda s: ml_tune("tpe", s)),
                      ("ml_tune random", lambda s: ml_tune("random", s)),
                      ("Optuna TPESampler", optuna_tpe)]:
        start = time.perf_counter()
        curves = [best_so_far(run(seed)) for seed in range(args.seeds)]
        results[name] = {
            "curves": curves,
            "seconds": round(time.perf_counter() - start, 1),
        }
        means = [statistics.mean(c[n - 1] for c in curves) for n in checkpoints]
        cells = " | ".join(f"{m:.5f}" for m in means)
        print(f"| {name} | {cells} | {results[name]['seconds']} s |", flush=True)
    print("columns: after " + ", ".join(str(n) for n in checkpoints) + " trials")
    cli.close()
    save([{"rows": args.rows, "trials": args.trials, "seeds": args.seeds, "results": results}], args.json)


if __name__ == "__main__":
    main()
