"""The mlfusion Python package: sessions, results in pyarrow, pandas and polars, the
notebook view, errors as exceptions, models through the registry, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest

import mlfusion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUINS = os.path.join(ROOT, "data", "penguins.parquet")
SPLIT = f"SELECT * FROM ml_split('{PENGUINS}', 'test_fraction=0.2, folds=5, stratify=species, salt=py')"


@pytest.fixture
def ctx():
    return mlfusion.SessionContext()


def test_functions_are_registered(ctx):
    table = ctx.sql("SELECT farm_fingerprint('alphabet') AS f, abs_mod(-7, 3) AS m").to_arrow_table()
    # BigQuery's FARM_FINGERPRINT('alphabet').
    assert table.to_pylist() == [{"f": -2427165924636348523, "m": 1}]
    assert mlfusion.__version__


def test_split_as_pyarrow_pandas_and_polars(ctx):
    df = ctx.sql(f"SELECT split, species, count(*) AS n FROM ({SPLIT}) GROUP BY split, species ORDER BY split, species")
    table = df.to_arrow_table()
    assert isinstance(table, pa.Table)
    assert table.column_names == ["split", "species", "n"]
    assert sum(table.column("n").to_pylist()) == 344
    pdf = df.to_pandas()
    assert pdf.shape == (6, 3)
    # Stratified: 20% of the 152 Adelie penguins is 30.4, so 30 or 31.
    adelie_test = pdf[(pdf.split == "test") & (pdf.species == "Adelie")].n.iloc[0]
    assert adelie_test in (30, 31)
    polars = pytest.importorskip("polars")
    assert isinstance(df.to_polars(), polars.DataFrame)
    assert df.to_polars().height == 6
    batches = df.collect()
    assert sum(b.num_rows for b in batches) == 6


def train_rows(ctx):
    return ctx.sql(f"SELECT count(*) AS n FROM ({SPLIT}) WHERE split = 'train'").to_arrow_table()["n"][0].as_py()


def test_arrow_c_stream_interface(ctx):
    df = ctx.sql(f"SELECT * FROM ({SPLIT}) WHERE split = 'train'")
    n = train_rows(ctx)
    assert 270 <= n <= 280
    # Any Arrow-aware library reads the DataFrame through __arrow_c_stream__.
    assert pa.table(df).num_rows == n
    reader = pa.RecordBatchReader.from_stream(df)
    assert sum(b.num_rows for b in reader) == n
    assert df.schema().names[-2:] == ["split", "fold"]


def test_schema_does_not_run_the_query(ctx, tmp_path):
    ctx.set("mlfusion.registry", str(tmp_path / "registry"))
    df = ctx.sql(f"SELECT * FROM ml_train('m', '{PENGUINS}', 'species', 'model_type=logistic_reg')")
    assert df.schema().names[:2] == ["model", "version"]
    assert not (tmp_path / "registry").exists()


def test_notebook_views(ctx):
    df = ctx.sql(f"SELECT species, split, fold FROM ({SPLIT}) ORDER BY species LIMIT 30")
    page = df._repr_html_()
    assert page.startswith("<table>") and "<th>species</th>" in page
    assert page.count("<tr>") == 1 + mlfusion.DISPLAY_ROWS and "first 25 rows" in page
    text = repr(df)
    assert "| species" in text and "Adelie" in text


def test_register_parquet_csv_and_table(ctx, tmp_path):
    ctx.register_parquet("penguins", PENGUINS)
    assert ctx.table("penguins").limit(3).to_arrow_table().num_rows == 3
    csv = tmp_path / "points.csv"
    csv.write_text("x;label\n1;a\n2;b\n3;a\n")
    ctx.register_csv("points", str(csv), delimiter=";")
    assert ctx.sql("SELECT count(*) AS n FROM points WHERE label = 'a'").to_arrow_table().to_pylist() == [{"n": 2}]


def test_errors_are_exceptions_with_datafusion_messages(ctx):
    with pytest.raises(mlfusion.MlfusionError, match="not found"):
        ctx.sql("SELECT * FROM 'no/such/file.parquet'")
    with pytest.raises(mlfusion.MlfusionError, match="unknown option 'fols'; valid keys"):
        ctx.sql(f"SELECT * FROM ml_split('{PENGUINS}', 'fols=5')")
    with pytest.raises(mlfusion.MlfusionError, match="(?i)syntax|expected"):
        ctx.sql("SELEC 1")
    with pytest.raises(mlfusion.MlfusionError, match="delimiter"):
        ctx.register_csv("t", "x.csv", delimiter=";;")
    # The session still works after errors.
    assert ctx.sql("SELECT 1 AS one").to_arrow_table().to_pylist() == [{"one": 1}]


def test_assert_gates_as_in_the_cli(ctx):
    # A TRUE condition runs at once and gives an empty result.
    assert ctx.sql(f"ASSERT (SELECT count(*) FROM '{PENGUINS}') = 344 AS 'all penguins'").to_arrow_table().num_rows == 0
    assert ctx.sql(
        f"ASSERT NOT EXISTS (SELECT 1 FROM ({SPLIT}) WHERE split NOT IN ('train', 'test')) AS 'two splits'"
    ).to_arrow_table().num_rows == 0
    # FALSE and NULL raise, with the message unchanged (the text the CLI prints after "Error: <file>:<line>: ").
    with pytest.raises(mlfusion.MlfusionError) as failed:
        ctx.sql(f"ASSERT (SELECT count(*) FROM '{PENGUINS}') > 1000 AS 'too few penguins'")
    assert str(failed.value) == (
        f"Assertion failed: too few penguins (ASSERT (SELECT count(*) FROM '{PENGUINS}') > 1000: not TRUE)"
    )
    with pytest.raises(mlfusion.MlfusionError, match=r"^Assertion failed: ASSERT NULL: not TRUE$"):
        ctx.sql("ASSERT NULL")
    with pytest.raises(mlfusion.MlfusionError, match="ASSERT: the condition must be BOOLEAN, got Int64: 1 \\+ 1"):
        ctx.sql("ASSERT 1 + 1")

def test_train_evaluate_predict_through_the_registry(ctx, tmp_path):
    ctx.set("mlfusion.registry", str(tmp_path / "registry"))
    ctx.sql(f"CREATE VIEW splits AS {SPLIT}")
    trained = ctx.sql(
        "SELECT model, version, model_type, training_rows FROM ml_train('species', "
        "'SELECT * FROM splits WHERE split = ''train''', 'species', 'model_type=logistic_reg, l2_reg=1')"
    ).to_pandas()
    assert trained.to_dict("records") == [
        {"model": "species", "version": 1, "model_type": "logistic_reg", "training_rows": train_rows(ctx)}
    ]
    metrics = ctx.sql(
        "SELECT accuracy, roc_auc FROM ml_evaluate('species', 'SELECT * FROM splits WHERE split = ''test''')"
    ).to_pandas()
    assert metrics.accuracy[0] > 0.95 and metrics.roc_auc[0] > 0.99
    predictions = ctx.sql(
        "SELECT species, predicted_species, predicted_species_probs "
        "FROM ml_predict('species', 'SELECT * FROM splits WHERE split = ''test''')"
    ).to_arrow_table()
    assert predictions.num_rows == 344 - train_rows(ctx)
    probs = predictions.column("predicted_species_probs").to_pylist()[0]
    assert [p["label"] for p in probs] == ["Adelie", "Chinstrap", "Gentoo"]
    assert abs(sum(p["prob"] for p in probs) - 1.0) < 1e-12
    assert (tmp_path / "registry" / "species" / "1" / "model.json").exists()


def test_ctrl_c_interrupts_a_long_query():
    code = (
        "import mlfusion, sys\n"
        "ctx = mlfusion.SessionContext()\n"
        "df = ctx.sql('SELECT sum(row_fingerprint(v)) FROM generate_series(1, 20000000000) AS t(v)')\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    df.to_arrow_table()\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "interrupted" in out
        assert time.monotonic() - start < 10
    finally:
        proc.kill()
        proc.wait()


def test_ctrl_c_stops_a_training(tmp_path):
    # ml_train prints its progress to stderr every second after 3 s; once the
    # query is interrupted, the training thread must stop (no more progress
    # lines) and no version may be written.
    code = (
        "import mlfusion, sys, time\n"
        "ctx = mlfusion.SessionContext()\n"
        f"ctx.set('mlfusion.registry', {str(tmp_path / 'registry')!r})\n"
        "df = ctx.sql(\"SELECT * FROM ml_train('long', 'SELECT v % 1000 AS x, v % 7 AS y "
        "FROM generate_series(1, 200000) AS t(v)', 'y', 'model_type=boosted_tree_regressor, "
        "max_iterations=100000, max_depth=8')\")\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    df.to_arrow_table()\n"
        "except KeyboardInterrupt:\n"
        "    sys.stderr.write('INTERRUPTED\\n'); sys.stderr.flush()\n"
        "    time.sleep(3)\n"
        "    sys.stderr.write('DONE\\n'); sys.stderr.flush()\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(6.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        before, after = err.split("INTERRUPTED", 1)
        assert "ml_train long: iteration" in before, err
        # At most one line in flight when the flag was set.
        assert after.count("iteration") <= 1, err
        assert "DONE" in after
    finally:
        proc.kill()
        proc.wait()
    assert not (tmp_path / "registry" / "long").exists()


def test_a_displayed_action_runs_once(ctx, tmp_path):
    # Jupyter asks for the text and the HTML view of a cell's value: a
    # training query shown that way must train once.
    ctx.set("mlfusion.registry", str(tmp_path / "registry"))
    df = ctx.sql(
        f"SELECT model, version FROM ml_train('once', '{PENGUINS}', 'species', 'model_type=logistic_reg, l2_reg=1')"
    )
    assert "<td>1</td>" in df._repr_html_()
    assert "| once" in repr(df)
    versions = ctx.sql("SELECT count(*) AS n FROM ml_models() WHERE model = 'once'").to_arrow_table()
    assert versions.to_pylist() == [{"n": 1}]


def test_set_takes_option_names_only(ctx):
    with pytest.raises(mlfusion.MlfusionError, match="not an option name"):
        ctx.set("mlfusion.registry = 'x' --", "y")


def test_tune_reports_progress_and_keeps_its_trials(ctx, tmp_path, capsys):
    ctx.set("mlfusion.registry", str(tmp_path / "registry"))
    ctx.sql(f"CREATE VIEW splits AS {SPLIT}")
    trials = ctx.sql(
        "SELECT * FROM ml_tune('tuned', 'SELECT * EXCLUDE (split) FROM splits WHERE split = ''train''', "
        "'species', 'model_type=logistic_reg, trials=4, seed=5, l2_reg=range(0.01, 10, log)')"
    ).to_pandas()
    assert list(trials.trial_id) == [1, 2, 3, 4]
    assert trials.is_optimal.sum() == 1
    best = trials[trials.is_optimal].iloc[0]
    assert best.objective_mean == trials.objective_mean.max()
    assert set(trials.status) == {"succeeded"}
    # Progress goes through sys.stderr (capsys sees only that, not the process's fd 2),
    # which notebooks show under the cell.
    err = capsys.readouterr().err
    assert "ml_tune tuned: trial 1 of 4 (l2_reg=" in err
    assert "ml_tune tuned: trial 4 of 4" in err and "best" in err
    # The trials come back from the registry as ml_tune returned them.
    again = ctx.sql("SELECT * FROM ml_trials('tuned')").to_pandas()
    assert again.equals(trials)
    params = ctx.sql("SELECT params['l2_reg'] AS l2 FROM ml_models() WHERE model = 'tuned'").to_pandas()
    assert float(params.l2[0]) == best.l2_reg


def test_describe_covers_every_column(ctx):
    described = ctx.sql(f"SELECT * FROM ml_describe('{PENGUINS}', 'top_k=2')").to_pandas()
    columns = ctx.sql(f"SELECT * FROM '{PENGUINS}' LIMIT 0").to_arrow_table().column_names
    assert list(described.name) == columns
    species = described[described.name == "species"].iloc[0]
    assert species.num_rows == 344 and species.num_nulls == 0
    assert [dict(v) for v in species.top_values] == [
        {"value": "Adelie", "count": 152},
        {"value": "Gentoo", "count": 124},
    ]
    mass = described[described.name == "body_mass_g"].iloc[0]
    assert mass.num_nulls == 2 and len(mass.quantiles) == 3
