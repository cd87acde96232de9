"""What the comparison scripts share: the generated table, a warm mlfusion process, and the
side-by-side timing (alternating runs, medians, the ratio against the goal)."""
import argparse
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from generate import generate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLUMNS = [
    "customer_id", "household_id", "age", "tenure_months", "monthly_charges",
    "plan", "signup_at", "notes", "churn",
]
DEFAULT_BINARY = os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mlfusion"
)


SEED = 2026  # the generator's default: the tables the results in benches/README.md come from


def table(rows: int, folder: str, name: str = "churn", seed: int = SEED) -> str:
    """The generated churn table of `rows` rows (made once, kept in `folder`; written under
    another name first, so an interrupted run leaves no partial table behind). Another seed
    gives a held-out table of the same shape, kept under its own name."""
    os.makedirs(folder, exist_ok=True)
    suffix = "" if seed == SEED else f"_seed{seed}"
    path = os.path.join(folder, f"{name}_{rows}{suffix}.parquet")
    if not os.path.exists(path):
        start = time.perf_counter()
        generate(path + ".tmp", rows, seed=seed)
        os.replace(path + ".tmp", path)
        print(f"generated {path} ({rows:,} rows, {os.path.getsize(path) / 1e6:.0f} MB) "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
    return path


class Mlfusion:
    """One `mlfusion` CLI process fed statements on stdin, so runs are warm like the peers'
    in-process runs; a run's time is the CLI's own "Elapsed" for the statement."""

    def __init__(self, binary: str = DEFAULT_BINARY, args: tuple = ()):
        if not os.path.exists(binary):
            raise SystemExit(f"{binary} not found: cargo build --release --bin mlfusion")
        # In a scratch folder: the CLI writes its REPL history where it runs.
        self.proc = subprocess.Popen(
            [binary, "--format", "csv", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=tempfile.mkdtemp(prefix="mlfusion-bench-"),
        )
        self.pid = self.proc.pid
        self.pending = b""

    # A statement sent after each one: its output ends the first one's, whether that one
    # printed its time or failed in whatever way.
    END = "mlfusion-bench-end"

    def run(self, sql: str) -> tuple[float, list[str]]:
        """Runs one statement: (seconds, output lines). Fails unless the CLI timed it."""
        statement = " ".join(sql.splitlines()).strip().rstrip(";")
        self.proc.stdin.write(f"{statement};\nSELECT '{self.END}' AS end;\n".encode())
        self.proc.stdin.flush()
        lines, elapsed = [], None
        while True:
            line = self._line()
            if line.strip() == self.END:
                while not self._line().startswith("Elapsed "):
                    pass
                if elapsed is None:
                    raise RuntimeError(f"mlfusion: {''.join(lines).strip()}\nfor: {sql}")
                return elapsed, lines
            found = re.match(r"Elapsed ([0-9.]+) seconds", line)
            if elapsed is None and found:
                elapsed = float(found.group(1))
            elif elapsed is None:
                lines.append(line)

    def _line(self) -> str:
        """The CLI's next output line. A statement the CLI cannot parse prints no newline:
        the REPL waits for more lines to complete it, so it is an error here."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                if b"Invalid statement" in self.pending:
                    raise RuntimeError(f"mlfusion: {self.pending.decode(errors='replace').strip()}")
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError("mlfusion exited:\n" + self.pending.decode(errors="replace"))
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode(errors="replace") + "\n"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def arguments(doc: str, rows: int = 5_000_000, runs: int | None = 5) -> argparse.ArgumentParser:
    """The options the comparison scripts take (each adds its own); no --runs if `runs` is None."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--rows", type=int, default=rows, help="rows of the generated table")
    if runs is not None:
        parser.add_argument("--runs", type=int, default=runs, help="timed runs of each side")
    parser.add_argument("--data", default="/tmp/mlfusion-bench", help="where generated tables are kept")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the generated tables (another seed: a held-out table of the same shape)")
    parser.add_argument("--mlfusion", default=DEFAULT_BINARY, help="the mlfusion binary (a release build)")
    parser.add_argument("--json", help="also write the results here")
    return parser


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(case: str, ours: Callable[[], float], peer_name: str, peer: Callable[[], float],
            runs: int, goal: float, note: str = "") -> dict:
    """One warm-up of each, then `runs` alternating timed runs; `ours` and `peer` return
    their run's seconds. Returns the medians and the ratio ours / peer (`row` prints it)."""
    ours()
    peer()
    times = {"mlfusion": [], peer_name: []}
    for _ in range(runs):
        times["mlfusion"].append(ours())
        times[peer_name].append(peer())
    m = statistics.median(times["mlfusion"])
    p = statistics.median(times[peer_name])
    result = {
        "case": case, "peer": peer_name, "mlfusion_s": round(m, 3), "peer_s": round(p, 3),
        "ratio": round(m / p, 3), "goal": goal, "met": m / p <= goal, "runs": runs,
        "all_s": {k: [round(t, 3) for t in v] for k, v in times.items()}, "note": note,
    }
    return result


def row(result: dict) -> dict:
    """Prints `result` as a row of the results table."""
    r = result
    print(f"| {r['case']} | {r['peer']} | {r['mlfusion_s']:.3f} | {r['peer_s']:.3f} | {r['ratio']:.2f} | "
          f"≤ {r['goal']} | {'yes' if r['met'] else 'no'} | {r['note']} |", flush=True)
    return result


def header() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d')}")
    print("| case | peer | mlfusion s | peer s | ratio | goal | met | note |")
    print("|---|---|---|---|---|---|---|---|")


def save(results: list[dict], path: str | None) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
