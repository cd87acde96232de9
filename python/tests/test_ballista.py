"""mlfusion.SessionContext(ballista=...): the same SQL on a Ballista cluster (a scheduler and an
executor started here from the ``mlfusion`` binary that ``MLFUSION_BIN`` names, as
scripts/test.sh sets it) gives the embedded session's results."""

import os
import socket
import subprocess
import time

import pytest

import mlfusion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUINS = os.path.join(ROOT, "data", "penguins.parquet")


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
    pytest.fail(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and one executor on loopback: the scheduler's df:// URL."""
    binary = os.environ.get("MLFUSION_BIN")
    if not binary:
        pytest.skip("MLFUSION_BIN names no mlfusion binary (scripts/test.sh sets it)")
    work = tmp_path_factory.mktemp("executor")
    scheduler, flight, grpc = free_port(), free_port(), free_port()
    processes = [subprocess.Popen([binary, "scheduler", "--bind", f"127.0.0.1:{scheduler}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(scheduler)
        processes.append(subprocess.Popen(
            [binary, "executor", "--scheduler", f"127.0.0.1:{scheduler}", "--bind", f"127.0.0.1:{flight}",
             "--grpc-port", str(grpc), "--work-dir", str(work)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(flight)
        yield f"df://127.0.0.1:{scheduler}"
    finally:
        for p in processes:
            p.terminate()
            p.wait()


def test_a_cluster_session_answers_as_the_embedded_one(cluster, tmp_path):
    queries = [
        f"SELECT split, fold, species, count(*) AS n, dataset_fingerprint(*) AS f "
        f"FROM ml_split('{PENGUINS}', 'test_fraction=0.2, folds=5, stratify=species') "
        f"GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        f"SELECT species, predicted_species, count(*) AS n FROM ml_predict('p', '{PENGUINS}') "
        f"GROUP BY 1, 2 ORDER BY 1, 2",
    ]
    embedded, distributed = mlfusion.SessionContext(), mlfusion.SessionContext(ballista=cluster)
    for ctx in [embedded, distributed]:
        ctx.set("mlfusion.registry", str(tmp_path / "registry"))
    embedded.sql(f"SELECT * FROM ml_train('p', '{PENGUINS}', 'species', 'model_type=logistic_reg')").collect()
    for q in queries:
        expected = embedded.sql(q).to_arrow_table()
        assert expected.num_rows > 0
        assert distributed.sql(q).to_arrow_table().to_pylist() == expected.to_pylist()


def test_a_bad_scheduler_url_is_a_clear_error():
    with pytest.raises(mlfusion.MlfusionError, match="df://host:port"):
        mlfusion.SessionContext(ballista="http://127.0.0.1:50050")
