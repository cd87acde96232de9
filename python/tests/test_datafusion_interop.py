"""mlfusion's functions inside a datafusion-python context: the scalar and aggregate
functions through DataFusion's FFI, the table functions as Python table functions over a
private mlfusion session."""

import os

import pytest

import mlfusion

datafusion = pytest.importorskip("datafusion")


def test_register_into_a_datafusion_context():
    ctx = datafusion.SessionContext()
    mlfusion.register(ctx)
    table = ctx.sql(
        "SELECT farm_fingerprint('alphabet') AS f, abs_mod(farm_fingerprint('alphabet'), 10) AS bucket"
    ).to_arrow_table()
    assert table.to_pylist() == [{"f": -2427165924636348523, "bucket": 3}]
    ctx.sql("CREATE VIEW users AS SELECT v AS id, 'u' || CAST(v AS VARCHAR) AS email FROM generate_series(1, 1000) AS t(v)")
    # The same values as in mlfusion's own context.
    query = (
        "SELECT dataset_fingerprint(id, email) AS d, sum(abs_mod(row_fingerprint('s', id, email), 7)) AS s "
        "FROM users"
    )
    ours = mlfusion.SessionContext()
    ours.sql("CREATE VIEW users AS SELECT v AS id, 'u' || CAST(v AS VARCHAR) AS email FROM generate_series(1, 1000) AS t(v)")
    assert ctx.sql(query).to_arrow_table().to_pylist() == ours.sql(query).to_arrow_table().to_pylist()


def test_other_major_versions_are_refused(monkeypatch):
    monkeypatch.setattr(datafusion, "__version__", "54.1.0")
    with pytest.raises(mlfusion.MlfusionError, match="speaks the FFI of DataFusion 55"):
        mlfusion.register(datafusion.SessionContext())


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUINS = os.path.join(ROOT, "data", "penguins.parquet")
SPLIT_OPTIONS = "test_fraction=0.2, folds=5, stratify=species, salt=py"


def both_contexts(registry):
    """A datafusion-python context with mlfusion registered and mlfusion's own, each with
    the penguins as table ``penguins`` and the same model registry."""
    theirs = datafusion.SessionContext()
    mlfusion.register(theirs, registry=str(registry))
    theirs.register_parquet("penguins", PENGUINS)
    ours = mlfusion.SessionContext()
    ours.set("mlfusion.registry", str(registry))
    ours.register_parquet("penguins", PENGUINS)
    return theirs, ours


def rows(ctx, query):
    return ctx.sql(query).to_arrow_table().to_pylist()


def test_table_functions_in_a_datafusion_context(tmp_path):
    theirs, ours = both_contexts(tmp_path / "registry")
    # A table of the datafusion context, a query over it, and a path as sources: the same
    # splits as mlfusion's own context gives.
    for source in ["penguins", "SELECT * FROM penguins WHERE island <> ''Dream''", PENGUINS]:
        query = (
            f"SELECT split, fold, species, count(*) AS n, dataset_fingerprint(species, island, body_mass_g) AS d "
            f"FROM ml_split('{source}', '{SPLIT_OPTIONS}') GROUP BY split, fold, species ORDER BY split, fold, species"
        )
        assert rows(theirs, query) == rows(ours, query)
    theirs.sql(f"CREATE VIEW splits AS SELECT * FROM ml_split('penguins', '{SPLIT_OPTIONS}')")
    trained = rows(
        theirs,
        "SELECT model, version, training_rows, data_fingerprint, artifact_uri FROM ml_train('species', "
        "'SELECT * FROM splits WHERE split = ''train''', 'species', 'model_type=logistic_reg, l2_reg=1')",
    )
    ours.sql(f"CREATE VIEW splits AS SELECT * FROM ml_split('penguins', '{SPLIT_OPTIONS}')")
    expected = rows(ours, "SELECT count(*) AS n, dataset_fingerprint(*) AS d FROM splits WHERE split = 'train'")[0]
    assert trained[0]["version"] == 1 and trained[0]["training_rows"] == expected["n"]
    assert trained[0]["data_fingerprint"] == expected["d"]
    assert trained[0]["artifact_uri"].startswith((tmp_path / "registry").as_uri())
    # The model trained there is read back here, and evaluates and predicts the same.
    evaluate = "SELECT accuracy, roc_auc FROM ml_evaluate('species', 'SELECT * FROM splits WHERE split = ''test''')"
    assert rows(theirs, evaluate) == rows(ours, evaluate)
    assert rows(theirs, evaluate)[0]["accuracy"] > 0.95
    predict = (
        "SELECT predicted_species, count(*) AS n FROM ml_predict('species@1', 'penguins') "
        "GROUP BY predicted_species ORDER BY predicted_species"
    )
    assert rows(theirs, predict) == rows(ours, predict)
    assert rows(theirs, "SELECT model, version FROM ml_models()") == [{"model": "species", "version": 1}]


def test_host_tables_projected_reordered_and_quoted(tmp_path):
    theirs, ours = both_contexts(tmp_path / "registry")
    # A table whose name needs quoting, and a source query that reorders and drops columns.
    for ctx in (theirs, ours):
        ctx.sql('CREATE VIEW "Pen.guins" AS SELECT body_mass_g, species, island FROM penguins')
    query = (
        "SELECT split, count(*) AS n, dataset_fingerprint(island, species) AS d FROM "
        "ml_split('SELECT island, species FROM \"Pen.guins\" WHERE body_mass_g > 4000', 'folds=3') "
        "GROUP BY split ORDER BY split"
    )
    assert rows(theirs, query) == rows(ours, query)
    assert sum(r["n"] for r in rows(theirs, query)) == rows(ours, 'SELECT count(*) AS n FROM "Pen.guins" WHERE body_mass_g > 4000')[0]["n"]
    assert rows(theirs, """SELECT count(*) AS n FROM ml_split('"Pen.guins"')""") == [{"n": 344}]


def test_table_function_errors_in_a_datafusion_context(tmp_path):
    theirs, _ = both_contexts(tmp_path / "registry")
    with pytest.raises(Exception, match="ml_split: cannot read the source 'no_such_table'"):
        theirs.sql("SELECT * FROM ml_split('no_such_table')")
    with pytest.raises(Exception, match="unknown option 'fols'"):
        theirs.sql("SELECT * FROM ml_split('penguins', 'fols=5')")
    with pytest.raises(Exception, match="ml_predict: no model named nothing in the registry"):
        theirs.sql("SELECT * FROM ml_predict('nothing', 'penguins')").to_arrow_table()
    # The context still works.
    assert rows(theirs, "SELECT count(*) AS n FROM penguins") == [{"n": 344}]
